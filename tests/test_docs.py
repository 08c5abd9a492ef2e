"""The numbers the docs quote are the numbers the code prints, rounded as it rounds them.

docs/getting-started.md runs as one script: an output block after a python block is what that
block prints, and a comment after an expression (`gn.evaluate(...)   # [2.0, 0.0]`) quotes its
value. The lecture neuron, quoted in getting-started.md, rendering.md, verification.md and
examples/02_neuron.py at different precisions, and the other numbers rendering.md quotes from
its drawings, are checked against the values graphnn computes. A quoted number must be the
value rounded to the digits shown (-0.197 for -0.19661, never -0.196). docs/training.md and
the README's training example have their own test (tests/nn/test_docs.py).
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
import runpy
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

import graphnn as gn

ROOT = Path(__file__).parents[1]
DOCS = ROOT / "docs"
PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", flags=re.S)
OUTPUT_AFTER_PYTHON = re.compile(r"```python\n.*?```\s*```\n(.*?)```", flags=re.S)
# a number on its own, not a digit inside a name (w0, df/dx1) or a version
NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d*)?(?:e[-+]?\d+)?(?![\w.]*\w)")
NEURON_FEED = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}


def numbers(text: str) -> list[str]:
    """The numbers written in `text`, as written."""
    return NUMBER.findall(text)


def assert_rounded(quoted: Sequence[str], values: Sequence[float], where: str) -> None:
    """Each quoted number is its value rounded to the decimals it shows."""
    values = [float(v) for v in values]
    assert len(quoted) == len(values), f"{where} quotes {quoted}, the code gives {values}"
    for text, value in zip(quoted, values):
        decimals = len(text.split(".")[1]) if "." in text else 0
        rounded = f"{value:.{decimals}f}"
        assert abs(float(text) - value) <= 0.5 * 10.0 ** -decimals * (1 + 1e-9), \
            f"{where} says {text}; the code gives {value!r}, which rounds to {rounded}"


def _flat(value) -> list[float]:
    parts = value if isinstance(value, (list, tuple)) else [value]
    return [float(v) for part in parts for v in np.ravel(part)]


def _comment_after(lines: list[str], statement: ast.stmt) -> str | None:
    """The comment on the statement's last line, or on the lines right after it."""
    last = lines[statement.end_lineno - 1]
    rest = last[statement.end_col_offset:].strip()
    if rest.startswith("#"):
        return rest[1:]
    following = []
    for line in lines[statement.end_lineno:]:
        if not line.startswith("#"):
            break
        following.append(line[1:])
    return " ".join(following) or None


def run_page(path: Path) -> tuple[str, list[tuple[str, str, list[float]]]]:
    """Run a page's python blocks in order as one script: what they print, and for each
    expression statement with a comment, (its source, the comment, its value flattened)."""
    namespace: dict = {}
    quotes = []
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for block in PYTHON_BLOCK.findall(path.read_text(encoding="utf-8")):
            lines = block.splitlines()
            for statement in ast.parse(block).body:
                code = ast.get_source_segment(block, statement)
                comment = _comment_after(lines, statement)
                if isinstance(statement, ast.Expr) and comment is not None:
                    value = eval(compile(ast.Expression(statement.value), str(path), "eval"),
                                 namespace)
                    quotes.append((code, comment, _flat(value)))
                else:
                    exec(compile(ast.Module([statement], []), str(path), "exec"), namespace)
    return out.getvalue(), quotes


def test_getting_started_prints_and_evaluates_to_what_it_says():
    # the reproducer: the page said df/dw0 = -0.196 where the code gives -0.19661 (-0.197)
    page = DOCS / "getting-started.md"
    out, quotes = run_page(page)
    for block in OUTPUT_AFTER_PYTHON.findall(page.read_text(encoding="utf-8")):
        assert " ".join(block.split()) in " ".join(out.split()), f"not printed:\n{block}"
    assert len(quotes) >= 3
    for code, comment, values in quotes:
        assert_rounded(numbers(comment), values, f"getting-started.md, `{code}`  #{comment}")


@pytest.fixture(scope="module")
def neuron():
    """The lecture neuron's f, its five gradients and the σ gate's local derivative."""
    w0, x0, w1, x1, w2 = inputs = [gn.input(name) for name in NEURON_FEED]
    f = gn.sigmoid(w0 * x0 + w1 * x1 + w2, name="f")
    values = [float(v) for v in gn.evaluate([f, *gn.grad(f, inputs)], NEURON_FEED)]
    return f, inputs, values + [values[0] * (1 - values[0])]


def _sentence(path: Path, pattern: str) -> str:
    text = " ".join(path.read_text(encoding="utf-8").split())
    found = re.search(pattern, text)
    assert found, f"{path.name} no longer has a sentence matching {pattern!r}"
    return found.group(1)


@pytest.mark.parametrize("path, pattern", [
    (DOCS / "rendering.md", r"w2 = -3: (f = .*? = \S+) \(`examples/02_neuron.py`\)"),
    (ROOT / "examples" / "02_neuron.py", r"w2 = -3: (f = .*? = \S+)\. Run:"),
])
def test_the_neurons_numbers_are_quoted_rounded(neuron, path, pattern):
    # "f = 0.73, and the five gradients are -0.20, ... σ(1 - σ) = 0.20": two decimals
    sentence = _sentence(path, pattern).replace("σ(1 - σ)", "σ'")
    assert_rounded(numbers(sentence), neuron[2], path.name)


def test_the_verification_report_is_the_one_printed(neuron):
    f, inputs, values = neuron
    report = str(gn.check_gradients(f, inputs, feed=NEURON_FEED))
    assert report in (DOCS / "verification.md").read_text(encoding="utf-8")
    rows = [line.split() for line in report.splitlines() if line.split()[:1] in
            [[name] for name in NEURON_FEED]]
    for column in (-4, -3):                      # SymPy at the feed, graphnn at the feed
        assert_rounded([row[column] for row in rows], values[1:6], "verification.md's table")


def _example(name: str) -> dict:
    return runpy.run_path(str(ROOT / "examples" / f"{name}.py"))


def test_rendering_quotes_what_the_drawings_show():
    page = DOCS / "rendering.md"
    logistic = _example("03_logistic_regression")
    dz = gn.evaluate(gn.grad(logistic["loss"], [logistic["z"]]), logistic["feed"])
    assert_rounded(numbers(_sentence(page, r"the loss's gradient at z is a - y = (\S+),")), dz,
                   "rendering.md, logistic regression")
    patterns = _example("06_gradient_patterns")
    x, y, f = patterns["x"], patterns["y"], patterns["f"]
    values = gn.evaluate([f, *gn.grad(f, [x, y])], patterns["feed"])
    sentence = " ".join([_sentence(page, r"w = -1: f = (\S+) "),
                         _sentence(page, r"x receives 2·y = (\S+) and y"),
                         _sentence(page, r"y receives 2·x = (\S+);")])
    assert_rounded(numbers(sentence), values, "rendering.md, the patterns")
    # h = x (x + q): x gets x = 3 back through q's `+` and q = x + y = -1 through the `×`
    feed = patterns["fan_out_feed"]
    through_add, through_mul = gn.evaluate([x, patterns["q"]], feed)
    total = gn.evaluate(gn.grad(patterns["h"], [x]), feed)[0]
    fan_out = _sentence(page, r"the `∇ (\S+ - \S+ = \S+)` beside x").replace(" - ", " -")
    assert_rounded(numbers(fan_out), [through_add, through_mul, total], "rendering.md, fan-out")


def _run_block(path: Path, index: int = 0) -> dict:
    namespace: dict = {"gn": gn, "np": np}
    exec(compile(PYTHON_BLOCK.findall(path.read_text(encoding="utf-8"))[index], str(path),
                 "exec"), namespace)
    return namespace


def test_the_stages_shown_are_what_the_code_prints():
    # compiler.md: "Everything shown is real output: run the snippet and print the same
    # attributes" (the graph and its loop IR); architecture.md: the declared graph
    page = DOCS / "compiler.md"
    ran = _run_block(page)
    text = page.read_text(encoding="utf-8")
    inputs = [ran["x"], ran["w"], ran["b"]]
    assert str(gn.Graph([ran["loss"], ran["dw"], ran["db"]], inputs)) in text
    assert ran["f"].loop_ir in text
    assert float(ran["loss_value"]) == pytest.approx(float(gn.evaluate(
        ran["loss"], {"x": ran["xv"], "w": ran["wv"], "b": ran["bv"]})), rel=1e-5)
    page = DOCS / "architecture.md"
    ran = _run_block(page)
    assert str(gn.Graph(ran["y"], [ran["x"], ran["w"]])) in page.read_text(encoding="utf-8")


def test_readme_embedding_example_prints_what_it_says():
    # the block runs after the README's first one (its imports), and prints the block after it
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Integer indices: an embedding lookup", 1)[1].split("\n## ", 1)[0]
    setup = PYTHON_BLOCK.findall(text)[0]
    (code,), (printed,) = PYTHON_BLOCK.findall(section), OUTPUT_AFTER_PYTHON.findall(section)
    namespace: dict = {}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(setup + code, "README.md", "exec"), namespace)
    assert " ".join(out.getvalue().split()).endswith(" ".join(printed.split()))
