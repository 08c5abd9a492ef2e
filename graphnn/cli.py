"""The command line: `python -m graphnn <command>` (also the `graphnn` console script);
`python -m graphnn --version` prints the version.

    demo              the lecture neuron: build, differentiate, evaluate, compile, draw, verify
    show FILE         print the text form of a model file's graph (and its gradients)
    render FILE -o OUT  draw a model file's graph with values and gradients (.svg .png .pdf .dot);
                      --set NAME=VALUE (repeatable) gives an input's value instead of the feed's
    optimize FILE     print a model file's graphs before and after optimization, with a report
    verify FILE       check a model file's gradients with SymPy (or finite differences)
    export FILE --out DIR  write a model file's graph as a C library (.so or .o) and header
    ops               print the op reference (docs/ops.md) from the registry
    animate FILE --out OUT  backpropagation step by step: a web page (.html), a PDF with a
                      page per frame (.pdf), or a directory of numbered frames (--format)
    onnx SUBCOMMAND MODEL  ONNX models: info, render, verify, run, bench, conformance
                      (graphnn/onnx/command.py)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from graphnn.autodiff import grad
from graphnn.compiler import command as export_command
from graphnn.compiler import compile as compile_graph
from graphnn.errors import GraphnnError
from graphnn.evaluate import evaluate
from graphnn.graph import Graph
from graphnn.ir import input as declare
from graphnn.model_file import load_model
from graphnn.onnx import command as onnx_command
from graphnn.ops import sigmoid
from graphnn.passes.command import run_optimize
from graphnn.render.animate import animate_file, write_neuron_steps
from graphnn.render.display import display_text
from graphnn.render.layout import LAYOUTS
from graphnn.render.opdoc import op_reference
from graphnn.render.pictures import VIEWS, render_file, write_neuron_pictures
from graphnn.symbolic import check_gradients, run_verify
from graphnn.symbolic.gradients import MAX_PARTIALS, TIMEOUT
from graphnn.symbolic.translate import MAX_OPS
from graphnn.version import __version__

NEURON_FEED = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}


def lecture_neuron():
    """f = sigmoid(w0 x0 + w1 x1 + w2) over five scalar inputs, and the inputs in order."""
    w0, x0, w1, x1, w2 = (declare(name) for name in NEURON_FEED)
    return sigmoid(w0 * x0 + w1 * x1 + w2, name="f"), [w0, x0, w1, x1, w2]


def demo(out=None, pictures: str = "out") -> int:
    out = out or sys.stdout
    f, inputs = lecture_neuron()
    grads = grad(f, inputs)
    say = lambda *parts: print(*parts, file=out)  # noqa: E731
    say("graphnn demo: the lecture neuron  f = sigmoid(w0*x0 + w1*x1 + w2)\n")
    say(f"{Graph(f, name='neuron')}\n")
    say("Its gradient, built by reverse mode as a graph of its own:\n")
    say(f"{display_text(Graph(grads, name='neuron_gradient'))}\n")
    feed_text = ", ".join(f"{k} = {v:g}" for k, v in NEURON_FEED.items())
    say(f"Evaluated with the NumPy reference at {feed_text}:\n")
    values = evaluate([f, *grads], NEURON_FEED)
    say(f"  {'f':<6} = {float(values[0]):+.4f}")
    for node, value in zip(inputs, values[1:]):
        say(f"  {'df/d' + node.name:<6} = {float(value):+.4f}")
    say("\nCompiled to native code through LLVM and called with the same values:\n")
    function = compile_graph([f, *grads], inputs, name="neuron")
    compiled = function(**NEURON_FEED)
    worst = max(abs(float(a) - float(b)) for a, b in zip(compiled, values))
    say("  " + ", ".join(f"{float(v):+.4f}" for v in compiled))
    say(f"  largest difference from the NumPy reference: {worst:.1e}")
    say("\nIts loop IR (one fused loop body, no intermediate arrays):\n")
    say(function.loop_ir)
    drawn = write_neuron_pictures(f, inputs, NEURON_FEED, Path(pictures))
    say("\nDrawn with values (green), gradients (red) and the chain rule on every edge:")
    for path in drawn:
        say(f"  {path}")
    say("\nBackpropagation step by step, a page to open in a browser (arrow keys step):")
    say(f"  {write_neuron_steps(f, inputs, NEURON_FEED, Path(pictures))}")
    say("\nVerified with SymPy: sympy.diff of f against graphnn's gradient graph in SymPy:\n")
    report = check_gradients(f, inputs, feed=NEURON_FEED)
    say(report)
    return 0 if report.ok else 1


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


def show(path: str, with_grad: bool, out=None, raw: bool = False) -> int:
    out = out or sys.stdout
    model = load_model(path)
    print(model.graph, file=out)
    if with_grad:
        y = model.graph.outputs[0]
        grads = grad(y, model.wrt)
        print(f"\n# gradients of output 0 with respect to "
              f"{', '.join(w.name or w.op for w in model.wrt)}", file=out)
        print(display_text(Graph(grads, name=f"{model.graph.name}_gradient"), raw=raw),
              file=out)
    if model.feed:
        values = evaluate(list(model.graph.outputs), model.feed)
        with np.printoptions(precision=4, suppress=True, threshold=20):
            for k, value in enumerate(values):
                print(f"# output {k} = {value}", file=out)
    return 0


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
    show_parser.add_argument("--raw", action="store_true", help="print the gradients as "
                             "gn.grad built them, with the seed's products by 1")
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
            written = animate_file(args.file, args.out, layout=args.layout, expand=args.expand,
                                   values=dict(args.values or ()), digits=args.digits,
                                   format=args.format)
            print(f"wrote {written}")
            return 0
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
