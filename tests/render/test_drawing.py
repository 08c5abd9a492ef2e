"""Drawing: SVG and PNG through the system `dot` or pygraphviz's bundled Graphviz, DOT with
neither, and the Rendering object (save by suffix, Jupyter display)."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
import zlib

import pytest

import graphnn as gn
from graphnn.render import drawing
from graphnn.render.drawing import RenderError, Rendering
from graphnn.render.pictures import render

SOURCE = 'digraph f {\n\tgraph [rankdir=LR]\n\ta [label="σ"]\n\tb [label="b"]\n\ta -> b\n}\n'
# Every test taking `backend` runs with pygraphviz's bundled Graphviz, which draws whenever
# pygraphviz is installed. The "dot" runs test the other route (no pygraphviz), the `graphviz`
# package piping to a `dot` program on the PATH; pygraphviz's wheel bundles Graphviz's
# libraries and plugins but no `dot` program (its bin/ holds gvpr, tred and a few other
# tools), so that route needs a system Graphviz and is skipped without one.
NO_DOT = ("the system-dot route only: no `dot` program on the PATH (pygraphviz's wheel "
          "bundles Graphviz's libraries, not a `dot` program); these tests ran with the "
          "bundled Graphviz as the pygraphviz backend")
BACKENDS = ["pygraphviz", pytest.param("dot", marks=pytest.mark.skipif(
    shutil.which("dot") is None, reason=NO_DOT))]


@pytest.fixture(params=BACKENDS)
def backend(request, monkeypatch):
    """Each Graphviz in turn: pygraphviz's bundled one, or the system `dot` with pygraphviz
    hidden."""
    if request.param == "dot":
        monkeypatch.setattr(drawing, "_pygraphviz", lambda: None)
    assert drawing.backend() == request.param
    return request.param


@pytest.fixture
def no_graphviz(monkeypatch):
    monkeypatch.setattr(drawing, "find_dot", lambda: None)
    monkeypatch.setattr(drawing, "_pygraphviz", lambda: None)


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """The chunks of a PNG file, each checked against its CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, offset = [], 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset:offset + 4])
        kind, body = data[offset + 4:offset + 8], data[offset + 8:offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length:offset + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
        chunks.append((kind, body))
        offset += 12 + length
    return chunks


def test_svg_is_xml_with_the_labels(backend):
    root = ET.fromstring(Rendering(SOURCE, "f").svg())
    assert root.tag.endswith("svg")
    texts = [t.text for t in root.iter() if t.tag.endswith("text")]
    assert texts == ["σ", "b"]


def test_png_is_a_valid_image(backend):
    data = Rendering(SOURCE, "f").pipe("png")
    chunks = png_chunks(data)
    kinds = [kind for kind, _ in chunks]
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"IDAT" in kinds
    width, height, depth, color = struct.unpack(">IIBB", chunks[0][1][:10])
    assert width > 50 and height > 20 and depth == 8
    channels = {2: 3, 6: 4}[color]
    pixels = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    assert len(pixels) == height * (1 + width * channels)   # a filter byte per row


def test_pdf_is_drawn(backend):
    assert Rendering(SOURCE, "f").pipe("pdf").startswith(b"%PDF")


def test_save_chooses_the_format_by_suffix(backend, tmp_path):
    r = Rendering(SOURCE, "f")
    for suffix, magic in ((".svg", b"<?xml"), (".png", b"\x89PNG"), (".pdf", b"%PDF"),
                          (".dot", b"digraph")):
        path = r.save(tmp_path / "sub" / f"f{suffix}")
        assert path.read_bytes().lstrip().startswith(magic)
    with pytest.raises(RenderError, match="suffix"):
        r.save(tmp_path / "f.jpeg")


def test_jupyter_display(backend):
    r = Rendering(SOURCE, "f")
    bundle = r._repr_mimebundle_()
    assert bundle["image/svg+xml"].lstrip().startswith("<?xml")
    assert r._repr_svg_() == bundle["image/svg+xml"]


def test_without_graphviz_dot_saves_and_drawing_says_what_to_install(no_graphviz, tmp_path):
    r = Rendering(SOURCE, "f")
    assert r.save(tmp_path / "f.dot").read_text() == SOURCE
    with pytest.raises(RenderError) as error:
        r.save(tmp_path / "f.svg")
    assert "pip install pygraphviz" in str(error.value)
    assert "apt-get install graphviz" in str(error.value)
    assert "image/svg+xml" not in r._repr_mimebundle_()
    assert "pygraphviz" in r._repr_mimebundle_()["text/plain"]


def test_unknown_formats_are_refused():
    with pytest.raises(RenderError, match="formats are svg, png, pdf"):
        drawing.draw(SOURCE, "gif")


def test_rendering_works_with_the_system_dot_hidden(tmp_path):
    # a fresh process whose PATH has no `dot`: pygraphviz's bundled Graphviz draws
    script = ("import graphnn as gn\n"
              "from graphnn.render import drawing\n"
              "from graphnn.render.pictures import render\n"
              "x = gn.input('x')\n"
              "assert drawing.backend() == 'pygraphviz', drawing.backend()\n"
              f"render(gn.sigmoid(x), feed={{'x': 0.0}}, grads=True).save({str(tmp_path)!r}"
              " + '/s.svg')\n")
    env = {**os.environ, "PATH": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Fontconfig warning" not in result.stderr
    texts = [t.text for t in ET.parse(tmp_path / "s.svg").iter() if t.tag.endswith("text")]
    assert "0.50" in texts and "σ" in texts


def test_a_render_draws_in_every_format(backend, tmp_path):
    x = gn.input("x")
    r = render(gn.exp(x), feed={"x": 1.0}, grads=True)
    assert "2.72" in r.svg()
    assert r.save(tmp_path / "e.png").stat().st_size > 1000
