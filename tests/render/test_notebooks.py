"""The course notebooks in docs/notebooks run from top to bottom in a fresh kernel, and their
drawings display inline. Skipped, with the reason, without the `notebooks` extra
(pip install ".[notebooks]": nbclient, nbformat, ipykernel)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parents[2] / "docs" / "notebooks").glob("*.ipynb"))
nbformat = pytest.importorskip("nbformat", reason='needs the notebooks extra: '
                               'pip install ".[notebooks]"')
nbclient = pytest.importorskip("nbclient", reason='needs the notebooks extra: '
                               'pip install ".[notebooks]"')
pytest.importorskip("ipykernel", reason='needs the notebooks extra (a Python kernel): '
                    'pip install ".[notebooks]"')


def test_the_course_notebooks_are_there():
    assert [p.stem for p in NOTEBOOKS] == [
        "01_backprop_by_hand", "02_neuron", "03_logistic_regression", "04_mlp",
        "05_vanishing_gradients", "06_step_through"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_displays_its_drawings(path, tmp_path, monkeypatch):
    # the kernel imports graphnn from this tree and writes its files into tmp_path
    root = str(Path(__file__).parents[2])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [root, *filter(None, [os.environ.get("PYTHONPATH")])]))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    book = nbformat.read(path, as_version=4)
    assert all(not cell.get("outputs") for cell in book.cells if cell.cell_type == "code"), \
        "notebooks are committed without outputs"
    client = nbclient.NotebookClient(book, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = [o for cell in book.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    kinds = {kind for o in outputs for kind in o.get("data", {})}
    assert "image/svg+xml" in kinds or "image/png" in kinds, "nothing was drawn"
