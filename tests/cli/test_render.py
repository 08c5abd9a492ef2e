"""render_file: the `render FILE` command's function, on a model file."""

from __future__ import annotations

from pathlib import Path

from graphnn.cli.render import render_file

EXAMPLES = Path(__file__).parents[2] / "examples"


def test_render_file_draws_a_model_file_with_its_feed(tmp_path):
    out = render_file(EXAMPLES / "02_neuron.py", tmp_path / "neuron.svg")
    assert out.is_absolute() and out.exists()
    assert "0.73" in out.read_text()
    dot = render_file(EXAMPLES / "02_neuron.py", tmp_path / "neuron_gradient.dot",
                      view="gradient")
    assert "∂f/∂w0" in dot.read_text()
