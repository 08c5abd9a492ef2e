"""examples/onnx/01_transfer_learning.py in a short form: an exported CNN imported, cut,
frozen, and a new head trained on its features for classes the body never saw."""

from __future__ import annotations

import runpy
from pathlib import Path

EXAMPLE = Path(__file__).parents[2] / "examples" / "onnx" / "01_transfer_learning.py"


def test_transfer_learning_example_trains_a_head_on_the_frozen_body(tmp_path, capsys):
    main = runpy.run_path(str(EXAMPLE))["main"]
    result = main(epochs=2, head_epochs=10, workdir=str(tmp_path))
    assert (tmp_path / "digits_cnn.onnx").exists()
    assert result["features"] == (1797, 64)
    assert result["accuracy"] > 0.8            # chance is 0.2; the full run reaches ~93%
    assert "digits 5-9 test accuracy" in capsys.readouterr().out
    assert "python examples/onnx/01_transfer_learning.py" in EXAMPLE.read_text()
