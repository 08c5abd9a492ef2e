"""docs/training.md and the README's training example run, and print what they say they print.

The tutorial's python blocks run in order as one script (a tutorial that does not run teaches
the wrong thing). The expected outputs are read from the page itself, so changing the code or
the page alone fails: the output blocks after a python block, the exact lines its comments
quote, and the numbers to the digits shown (`# 0.0555, 97.8%`; `0.045...` is a value whose
digits start so). The README's example is found under its heading and checked against the
accuracy its comment states (`# ~99%`: within half a percent).
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
DOC = ROOT / "docs" / "training.md"
README = ROOT / "README.md"
README_HEADING = "## Training a network"

PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", flags=re.S)
OUTPUT_AFTER_PYTHON = re.compile(r"```python\n.*?```\s*```\n(.*?)```", flags=re.S)


def _normalized(text: str) -> str:
    """One space between words: the page wraps long printed lines (the step's input list)."""
    return " ".join(text.split())


def _quoted(pattern: str) -> re.Match:
    """A comment of the page that states what a line prints."""
    found = re.search(pattern, DOC.read_text(encoding="utf-8"))
    assert found, f"docs/training.md no longer has a comment matching {pattern!r}"
    return found


def _printed(out: str, pattern: str) -> re.Match:
    found = re.search(pattern, out, flags=re.M)
    assert found, f"the tutorial printed no line matching {pattern!r}:\n{out}"
    return found


@pytest.fixture(scope="module")
def tutorial():
    """The tutorial's namespace and what it printed, run once for the tests below."""
    blocks = PYTHON_BLOCK.findall(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 8
    namespace: dict = {}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile("\n".join(blocks), str(DOC), "exec"), namespace)
    return namespace, out.getvalue()


def test_the_tutorial_runs(tutorial):
    namespace, out = tutorial
    assert "dense1_w (64, 64) float32" in out
    assert "parameter 'dense1_w': the model expects float32 (64, 128)" in out
    assert namespace["history"].val_loss[-1] is not None


def test_the_output_blocks_are_what_the_blocks_before_them_print(tutorial):
    _, out = tutorial
    expected = OUTPUT_AFTER_PYTHON.findall(DOC.read_text(encoding="utf-8"))
    assert len(expected) >= 3            # the summary, the forward graph, the step's inputs
    for block in expected:
        assert _normalized(block) in _normalized(out), f"not printed:\n{block}"


def test_the_data_line_is_the_one_quoted(tutorial):
    # print(x_train.shape, x_train.dtype, y_train[:5])     # (1438, 64) float32 [6 6 6 2 5]
    _, out = tutorial
    quoted = _quoted(r"print\(x_train\.shape.*?\)\s*# (.+)").group(1).strip()
    assert quoted in out.splitlines()


def test_the_test_loss_and_accuracy_are_the_numbers_quoted(tutorial):
    # print(f"test loss {loss:.4f}, test accuracy {accuracy:.1%}")      # 0.0555, 97.8%
    _, out = tutorial
    loss, accuracy = _quoted(r'print\(f"test loss .*?\)\s*# ([\d.]+), ([\d.]+)%').groups()
    printed = _printed(out, r"^test loss (\S+), test accuracy (\S+)%$")
    assert printed.groups() == (loss, accuracy)


def test_fit_evaluates_to_the_digits_quoted(tutorial):
    # print(model.evaluate(...))   # (0.045..., 0.986...): the printed values start so
    _, out = tutorial
    digits = _quoted(r"print\(model\.evaluate\(.*?\)\)\s*# \(([\d.]+)\.\.\., ([\d.]+)\.\.\.\)")
    printed = _printed(out, r"^\(([\d.e-]+), ([\d.e-]+)\)$")
    for value, prefix in zip(printed.groups(), digits.groups()):
        assert value.startswith(prefix), f"printed {value}, the page says {prefix}..."


def _readme_example() -> str:
    text = README.read_text(encoding="utf-8")
    assert README_HEADING in text, f"README.md has no heading {README_HEADING!r}"
    block = PYTHON_BLOCK.search(text.split(README_HEADING, 1)[1])
    assert block, f"no python block under {README_HEADING!r} in README.md"
    return block.group(1)


def test_the_readme_training_example_reaches_the_accuracy_it_states(tmp_path, monkeypatch):
    code = _readme_example()
    # loss, accuracy = model.evaluate(...)   # ~99%: the stated precision is a whole percent
    stated = re.search(r"accuracy = model\.evaluate\(.*?#\s*~(\d+)%", code)
    assert stated, "the README's example no longer states its accuracy as # ~NN%"
    monkeypatch.chdir(tmp_path)              # it saves digits_mlp.npz where it runs
    namespace: dict = {}
    exec(compile(code, str(README), "exec"), namespace)
    accuracy = 100 * namespace["accuracy"]
    assert abs(accuracy - int(stated.group(1))) <= 0.5, \
        f"the README says ~{stated.group(1)}%, the example reaches {accuracy:.2f}%"
    assert (tmp_path / "digits_mlp.npz").exists()


SEQUENCE_DOC = ROOT / "docs" / "sequence-models.md"


def test_the_sequence_models_page_runs_and_reaches_the_accuracy_it_states():
    text = SEQUENCE_DOC.read_text(encoding="utf-8")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile("\n".join(PYTHON_BLOCK.findall(text)), str(SEQUENCE_DOC), "exec"), {})
    printed = out.getvalue()
    for block in OUTPUT_AFTER_PYTHON.findall(text):
        assert _normalized(block) in _normalized(printed), f"not printed:\n{block}"
    stated = float(re.search(r"# at least (\d\.\d+)", text).group(1))
    assert float(_printed(printed, r"^test accuracy (\d\.\d+)$").group(1)) >= stated
