"""Drawing DOT source as SVG, PNG or PDF, and the `Rendering` object users get back.

Stage: rendering. Input: DOT text. Output: image bytes or files. pygraphviz draws when it is
installed (a dependency everywhere but Windows): its wheel bundles a recent Graphviz, so
`pip install` alone draws, and every machine draws with the same Graphviz release, whatever
its system has (Debian 12's `dot` is 2.43, from 2019, whose spline router fails on some of the
slide layouts). Without pygraphviz the system `dot` program draws, through the `graphviz`
package. With neither, DOT text can still be saved, and drawing raises an error that says
what to install.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from graphnn.errors import GraphnnError

FORMATS = ("svg", "png", "pdf")
PNG_DPI = 144        # slides and screens: twice Graphviz's 72 points per inch
PNG_MAX_INCHES = 50  # larger layouts are scaled down: at most 7200 pixels a side (use SVG)
INSTALL_HINT = ("no Graphviz to draw with: install pygraphviz (`pip install pygraphviz`, whose "
                "wheel bundles Graphviz) or the Graphviz `dot` program (`apt-get install "
                "graphviz`, `brew install graphviz`, or graphviz.org/download); saving to .dot "
                "needs neither")


class RenderError(GraphnnError, RuntimeError):
    """A drawing cannot be made: no Graphviz, an unknown format, or Graphviz failed."""


def find_dot() -> str | None:
    """The system `dot` program, or None."""
    return shutil.which("dot")


def _pygraphviz() -> ModuleType | None:
    try:
        import pygraphviz
    except ImportError:
        return None
    return pygraphviz


def backend() -> str | None:
    """Which Graphviz draws: "pygraphviz" (bundled), "dot" (the system program), or None."""
    if _pygraphviz() is not None:
        return "pygraphviz"
    return "dot" if find_dot() else None


@contextlib.contextmanager
def _quiet_fontconfig(heard: list[str] | None = None) -> Iterator[None]:
    """Drop the bundled fontconfig's complaints about a newer system configuration; with
    `heard`, everything else Graphviz says goes into that list instead of the terminal.

    pygraphviz's Graphviz writes to file descriptor 2 directly, so Python cannot intercept
    it; this captures the descriptor for the call and passes every other line on.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines(keepends=True):
                if line.startswith("Fontconfig warning"):
                    continue
                if heard is None:
                    sys.stderr.write(line)
                else:
                    heard.append(line.rstrip("\n"))


def _bitmap(source: str) -> str:
    """The same DOT with a resolution and a size limit for bitmap output (SVG and PDF are in
    points, and scale)."""
    brace = source.index("{") + 1
    settings = f'dpi={PNG_DPI} size="{PNG_MAX_INCHES},{PNG_MAX_INCHES}"'
    return f"{source[:brace]}\n\tgraph [{settings}]{source[brace:]}"


def draw(source: str, format: str, heard: list[str] | None = None) -> bytes:  # noqa: A002
    """DOT text drawn by Graphviz's dot layout as `format` ("svg", "png" or "pdf"). With
    `heard`, the bundled Graphviz's warnings go into that list, off the terminal (a layout
    tried and measured); the system `dot` is always quiet."""
    if format not in FORMATS:
        raise RenderError(f"cannot draw {format!r}: the formats are {', '.join(FORMATS)} "
                          "(and dot, which is the source itself)")
    if format == "png":
        source = _bitmap(source)
    which = backend()
    if which == "dot":
        import graphviz
        try:
            return graphviz.pipe("dot", format, source.encode(), quiet=True)
        except graphviz.CalledProcessError as error:
            raise RenderError(f"Graphviz dot failed: {error.stderr!r}") from None
    if which == "pygraphviz":
        agraph = _pygraphviz().AGraph(string=source)
        with _quiet_fontconfig(heard):
            return agraph.draw(format=format, prog="dot")
    raise RenderError(INSTALL_HINT)


class Rendering:
    """A drawing of a graph: its DOT `source`, saved by suffix, displayed by Jupyter.

    >>> r = Rendering('digraph f {\\n\\ta -> b\\n}\\n', "f")
    >>> r.source.splitlines()[1]
    '\\ta -> b'
    >>> r.svg().lstrip().startswith("<?xml")
    True
    """

    def __init__(self, source: str, name: str = "graph") -> None:
        self._source = source
        self.name = name
        self._drawn: dict[str, bytes] = {}

    @property
    def source(self) -> str:
        """The DOT text (byte-identical for the same graph in every process)."""
        return self._source

    def pipe(self, format: str = "svg") -> bytes:  # noqa: A002
        """The drawing as bytes of `format` ("svg", "png", "pdf"); drawn once, then kept."""
        if format not in self._drawn:
            self._drawn[format] = draw(self._source, format)
        return self._drawn[format]

    def svg(self) -> str:
        """The drawing as SVG text."""
        return self.pipe("svg").decode()

    def save(self, path: str | os.PathLike) -> Path:
        """Write the drawing; the format comes from the suffix: .svg .png .pdf or .dot.

        Returns the path written; missing parent directories are created.
        """
        path = Path(path)
        suffix = path.suffix.lower().lstrip(".")
        if suffix not in (*FORMATS, "dot", "gv"):
            raise RenderError(f"cannot tell the format of {str(path)!r}: use a .svg, .png, "
                              ".pdf or .dot suffix")
        data = self._source.encode() if suffix in ("dot", "gv") else self.pipe(suffix)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, str]:
        """Jupyter shows the SVG; without Graphviz, the reason and the DOT text."""
        try:
            return {"image/svg+xml": self.svg(), "text/plain": repr(self)}
        except RenderError as error:
            return {"text/plain": f"{self!r}\n({error})"}

    def _repr_svg_(self) -> str:
        return self.svg()

    def __repr__(self) -> str:
        return f"<Rendering {self.name}: DOT source; .save('{self.name}.svg') draws it>"
