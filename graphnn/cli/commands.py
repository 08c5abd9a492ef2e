"""The command line: `python -m graphnn <command>` (also the `graphnn` console script);
`python -m graphnn --version` prints the version.

Stage: command line. Input: the arguments. Output: the command's printed output and exit status
(2 with a one-line message for a graphnn error). The commands are listed in graphnn/cli's
docstring; each lives in its own module of this package.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from graphnn.cli import export as export_command
from graphnn.cli.demo import demo
from graphnn.cli.ops import op_reference
from graphnn.cli.optimize import run_optimize
from graphnn.cli.render import animate_command, input_value, render_command
from graphnn.cli.show import show
from graphnn.cli.verify import run_verify
from graphnn.errors import GraphnnError
from graphnn.onnx import command as onnx_command
from graphnn.render.layout import LAYOUTS
from graphnn.render.pictures import VIEWS
from graphnn.symbolic.gradients import MAX_PARTIALS, TIMEOUT
from graphnn.symbolic.translate import MAX_OPS
from graphnn.version import __version__


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="graphnn", description=__doc__.split("\n")[0])
    top.add_argument("--version", action="version", version=f"graphnn {__version__}")
    commands = top.add_subparsers(dest="command", required=True, metavar="command")
    demo_parser = commands.add_parser("demo", help="the lecture neuron: build, differentiate, "
                                      "evaluate, compile, draw, verify")
    demo_parser.add_argument("--out", default="out", metavar="DIR",
                             help="where to write the neuron's pictures (default: out)")
    render_parser = commands.add_parser(
        "render", help="draw a model file's graph with its feed's values and gradients")
    render_parser.add_argument("file", help="a Python file defining `outputs` (see docs/cli.md)")
    render_parser.add_argument("-o", "--out", required=True,
                               help="the picture to write: .svg, .png, .pdf or .dot")
    render_parser.add_argument("--view", choices=VIEWS, default="forward",
                               help="forward (default), gradient, or optimized (before/after)")
    render_parser.add_argument("--expand", action="store_true",
                               help="draw composite ops (mse, softmax, ...) as primitives")
    render_parser.add_argument("--collapse", nargs="*", metavar="SCOPE",
                               help="draw these scopes (none named: every scope) as one box")
    render_parser.add_argument("--digits", type=int, default=2, help="decimals shown")
    render_parser.add_argument(
        "--set", dest="values", action="append", type=input_value, metavar="NAME=VALUE",
        help="an input's value, replacing or completing the file's feed: a number, or "
             "comma-separated numbers for a 1-D input (repeatable)")
    show_parser = commands.add_parser("show", help="print a model file's graph as text")
    show_parser.add_argument("file", help="a Python file defining `outputs` (see docs/cli.md)")
    show_parser.add_argument("--grad", action="store_true", help="also print its gradients")
    show_parser.add_argument("--raw", action="store_true", help="print the graphs as built "
                             "(gn.grad's gradients with the seed's products by 1)")
    optimize_parser = commands.add_parser(
        "optimize", help="print a model file's graph and gradients before and after optimization")
    optimize_parser.add_argument("file", help="a Python file defining `outputs` (see docs/cli.md)")
    optimize_parser.add_argument("--diff", action="store_true", help="also print a unified diff")
    commands.add_parser("ops", help="print the op reference (markdown) from the registry")
    animate_parser = commands.add_parser(
        "animate", help="backpropagation step by step: a page with a frame per step")
    animate_parser.add_argument("file", help="a Python file defining `outputs` (see docs/cli.md)")
    animate_parser.add_argument("--out", required=True, help="x.html (a page), x.pdf (a page "
                                "per frame) or a directory for numbered frames")
    animate_parser.add_argument("--format", choices=("svg", "png"),
                                help="write the frames into the directory --out in this format")
    animate_parser.add_argument("--layout", choices=LAYOUTS, default="slide",
                                help="slide (16:9, default) or lecture (left to right)")
    animate_parser.add_argument("--expand", action="store_true",
                                help="draw composite ops (mse, softmax, ...) as primitives")
    animate_parser.add_argument("--digits", type=int, default=2, help="decimals shown")
    animate_parser.add_argument(
        "--set", dest="values", action="append", type=input_value, metavar="NAME=VALUE",
        help="an input's value, replacing or completing the file's feed (repeatable)")
    verify_parser = commands.add_parser(
        "verify", help="check a model file's gradients with SymPy (or finite differences)")
    verify_parser.add_argument("file", help="a Python file defining `outputs` (see docs/cli.md)")
    verify_parser.add_argument(
        "--method", choices=("auto", "symbolic", "numeric"), default="auto",
        help="auto (default): SymPy when the graph is small enough, else finite differences")
    verify_parser.add_argument("--max-ops", type=int, default=MAX_OPS,
                               help=f"size bound for SymPy in scalar operations ({MAX_OPS:,})")
    verify_parser.add_argument("--max-partials", type=int, default=MAX_PARTIALS,
                               help=f"bound on partial derivatives for SymPy ({MAX_PARTIALS})")
    verify_parser.add_argument("--timeout", type=float, default=TIMEOUT,
                               help=f"seconds of SymPy work before giving up ({TIMEOUT:g})")
    export_command.add_arguments(commands.add_parser(
        "export", help="write a model file's graph as a C library (.so or .o) and header"))
    onnx_command.add_parser(commands)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "demo":
            return demo(pictures=args.out)
        if args.command == "render":
            return render_command(args)
        if args.command == "optimize":
            return run_optimize(args.file, diff=args.diff)
        if args.command == "verify":
            return run_verify(args.file, args.method, max_ops=args.max_ops,
                              max_partials=args.max_partials, timeout=args.timeout)
        if args.command == "animate":
            return animate_command(args)
        if args.command == "export":
            return export_command.run_export(args)
        if args.command == "onnx":
            return onnx_command.run(args)
        if args.command == "ops":
            print(op_reference(), end="")
            return 0
        return show(args.file, args.grad, raw=args.raw)
    except GraphnnError as error:
        print(f"graphnn: error: {error}", file=sys.stderr)
        return 2
