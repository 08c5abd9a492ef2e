"""`graphnn render FILE -o OUT` and `graphnn animate FILE --out OUT`: a model file drawn.

Stage: command line. Input: a model file (`outputs`, optional `feed` and `wrt`; see
docs/cli.md) and `--set NAME=VALUE` values. Output: a picture (`render`, through
graphnn.render.pictures) or a step-through (`animate`, through graphnn.render.animate), and the
line naming the file written.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from graphnn.model_file import load_model
from graphnn.render.animate import animate
from graphnn.render.pictures import write_picture


def input_value(text: str) -> tuple[str, float | list[float]]:
    """A `--set` argument: NAME=VALUE, the value a number or, for a 1-D input, numbers
    separated by commas. Lists are left to the evaluator, which converts them to the input's
    dtype and reports a wrong length with the shape it expects.

    >>> input_value("x=-2"), input_value("w=0.5,1e-3")
    (('x', -2.0), ('w', [0.5, 0.001]))
    """
    name, equals, value = text.partition("=")
    try:
        numbers = [float(part) for part in value.split(",")]
    except ValueError:
        numbers = []
    if not equals or not name.strip() or not numbers:
        raise argparse.ArgumentTypeError(
            f"expected NAME=VALUE with a number or comma-separated numbers, got {text!r}")
    return name.strip(), numbers if "," in value else numbers[0]


def render_command(args: argparse.Namespace, out=None) -> int:
    collapse = True if args.collapse == [] else tuple(args.collapse or ())
    written = render_file(args.file, args.out, view=args.view, expand=args.expand,
                          values=dict(args.values or ()), collapse=collapse, digits=args.digits)
    print(f"wrote {written}", file=out or sys.stdout)
    return 0


def animate_command(args: argparse.Namespace, out=None) -> int:
    written = animate_file(args.file, args.out, layout=args.layout, expand=args.expand,
                           values=dict(args.values or ()), digits=args.digits,
                           format=args.format)
    print(f"wrote {written}", file=out or sys.stdout)
    return 0


def render_file(path: str | os.PathLike, out: str | os.PathLike, view: str = "forward",
                expand: bool = False, values: Mapping[str, Any] | None = None,
                **options: Any) -> Path:
    """Render a model file (`outputs`, optional `feed` and `wrt`) to `out`; the path written.

    Values come from the file's feed, updated with `values` (input name to value, from the
    command line's `--set`), so one file can be drawn at other points without editing it;
    gradients of its first output with respect to its `wrt` (default: every input) are drawn
    when that output is a scalar and there are values (or the view is not "forward").
    `options` are render's.

    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "model.py").write_text(
    ...     "import graphnn as gn\\nx = gn.input('x')\\noutputs = [gn.exp(x)]\\nfeed = {'x': 0.0}")
    >>> "∂exp/∂x = exp = 1.00" in render_file(folder / "model.py", folder / "m.dot").read_text()
    True
    >>> "2.72" in render_file(folder / "model.py", folder / "m.dot", values={"x": 1.0}).read_text()
    True
    """
    model = load_model(os.fspath(path))
    feed = {**model.feed, **(values or {})}
    root = model.graph.outputs[0]
    differentiate = root.shape == () and (bool(feed) or view != "forward")
    return write_picture(model.graph, out, feed=feed or None,
                         grads=model.wrt if differentiate else None, view=view,
                         expand=expand, **options)


def animate_file(path: str | os.PathLike, out: str | os.PathLike, *, layout: str = "slide",
                 values: Mapping[str, Any] | None = None, expand: bool = False,
                 digits: int = 2, format: str | None = None) -> Path:  # noqa: A002
    """The step-through of a model file (`outputs`, `feed`, `wrt`; see docs/cli.md) saved to
    `out` (.html, .pdf, or a directory of frames); `values` complete or replace its feed.

    >>> import tempfile
    >>> model = Path(tempfile.mkdtemp()) / "square.py"
    >>> _ = model.write_text("import graphnn as gn\\noutputs = gn.square(gn.input('x'))")
    >>> page = animate_file(model, model.with_suffix(".html"), values={"x": 3.0})
    >>> "∂square/∂x = 2x = 6; upstream 1 × local 6 = 6" in page.read_text()
    True
    """
    model = load_model(os.fspath(path))
    feed = {**model.feed, **(values or {})}
    root = model.graph.outputs[0]
    grads = model.wrt if root.shape == () else None
    animation = animate(model.graph, feed=feed or None, grads=grads, layout=layout,
                        expand=expand, digits=digits)
    return animation.save(out, format=format)
