"""The demo's pictures of the lecture neuron: with and without Graphviz, and only of a neuron."""

from __future__ import annotations

import pytest

import graphnn as gn
from graphnn.cli.demo import write_neuron_pictures
from graphnn.render import drawing
from tests.render.test_pictures import NEURON, neuron


def test_the_demo_writes_both_neuron_pictures(tmp_path, monkeypatch):
    f, inputs = neuron(primitives=False)
    paths = write_neuron_pictures(f, inputs, NEURON, tmp_path)
    assert [p.name for p in paths] == ["neuron.svg", "neuron_primitives.svg"]
    assert all(p.is_absolute() and "0.73" in p.read_text() for p in paths)
    assert ">1/x<" in paths[1].read_text()
    monkeypatch.setattr(drawing, "find_dot", lambda: None)
    monkeypatch.setattr(drawing, "_pygraphviz", lambda: None)
    dots = write_neuron_pictures(f, inputs, NEURON, tmp_path / "plain")
    assert [p.name for p in dots] == ["neuron.dot", "neuron_primitives.dot"]
    with pytest.raises(gn.OpError, match="sigmoid"):
        write_neuron_pictures(gn.exp(inputs[0]), inputs, NEURON, tmp_path)
