"""`python -m graphnn onnx info|render|verify|run|bench|conformance`: ONNX models from the
command line.

Stage: user interface. The parser is added to graphnn's CLI by `add_parser`; the onnx package
is imported only when one of these commands runs.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from graphnn.errors import GraphnnError, InputError
from graphnn.onnx.errors import OnnxError

COMMANDS = ("info", "render", "verify", "run", "bench", "conformance")


def _shape(text: str) -> tuple[str, tuple[int, ...]]:
    """NAME=D1,D2,...: an input's shape (`--shape x=1,3,32,32`)."""
    name, _, dims = text.partition("=")
    try:
        return name, tuple(int(d) for d in dims.split(",") if d)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected NAME=D1,D2,..., got {text!r}") from None


def _array_file(text: str) -> tuple[str, str]:
    name, equals, path = text.partition("=")
    if not equals or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=FILE.npy, got {text!r}")
    return name, path


def add_parser(commands: Any) -> None:
    """Add the `onnx` command and its subcommands to graphnn's argument parser."""
    top = commands.add_parser("onnx", help="ONNX models: info, render, verify, run, bench, "
                              "conformance")
    sub = top.add_subparsers(dest="onnx_command", required=True, metavar="subcommand")
    parsers = {
        "info": sub.add_parser("info", help="operators, inputs, outputs and parameters"),
        "render": sub.add_parser("render", help="draw the graph, a cluster per ONNX node"),
        "verify": sub.add_parser("verify", help="check gradients by finite differences"),
        "run": sub.add_parser("run", help="run on random or given .npy inputs"),
        "bench": sub.add_parser("bench", help="time the compiled model (and onnxruntime)"),
    }
    for parser in parsers.values():
        parser.add_argument("model", help="an .onnx file")
        parser.add_argument("--shape", action="append", type=_shape, metavar="NAME=D1,D2",
                            help="the shape of an input with symbolic dimensions")
        parser.add_argument("--batch", type=int, help="the size of symbolic leading dimensions")
    parsers["render"].add_argument("-o", "--out", required=True, help=".svg .png .pdf or .dot")
    parsers["render"].add_argument("--collapse", action="store_true",
                                   help="draw each ONNX node as one box")
    parsers["verify"].add_argument("--params", action="store_true",
                                   help="also check gradients with respect to the weights")
    parsers["verify"].add_argument("--seed", type=int, default=0)
    parsers["run"].add_argument("--input", action="append", type=_array_file, default=[],
                                metavar="NAME=FILE.npy", help="an input's value (else random)")
    parsers["run"].add_argument("--evaluate", action="store_true",
                                help="use the NumPy reference instead of compiling")
    parsers["run"].add_argument("--out", metavar="DIR", help="write each output as DIR/NAME.npy")
    parsers["run"].add_argument("--seed", type=int, default=0)
    parsers["bench"].add_argument("--repeat", type=int, default=50, help="calls timed")
    parsers["bench"].add_argument("--threads", type=int, help="threads (both runtimes)")
    conformance = sub.add_parser("conformance", help="run the ONNX backend node tests")
    conformance.add_argument("--op", action="append", help="only this operator (repeatable)")
    conformance.add_argument("--markdown", action="store_true", help="print a markdown table")
    conformance.add_argument("--no-compile", action="store_true",
                             help="evaluate only (skip compiling the passing cases)")


def run(args: argparse.Namespace, out: Any = None) -> int:
    """Run `python -m graphnn onnx <subcommand>`; 0 on success, 1 when a check fails."""
    out = out or sys.stdout
    handler = globals()[f"_{args.onnx_command}"]
    try:
        return handler(args, out)
    except (OnnxError, GraphnnError) as error:
        print(f"graphnn: error: {error}", file=sys.stderr)
        return 2


def _load(args: argparse.Namespace, params: str = "constants") -> Any:
    from graphnn.onnx.importer import load
    return load(args.model, params, shapes=dict(args.shape or ()), batch=args.batch)


def _info(args: argparse.Namespace, out: Any) -> int:
    from collections import Counter

    from graphnn.onnx.reader import opset_of, read_model
    from graphnn.onnx.registry import find
    proto = read_model(args.model)
    opset = opset_of(proto)
    say = lambda *parts: print(*parts, file=out)  # noqa: E731
    say(f"{args.model}: opset {opset}, producer {proto.producer_name or '?'} "
        f"{proto.producer_version}".rstrip())
    counts = Counter(n.op_type for n in proto.graph.node)
    say(f"{sum(counts.values())} nodes:")
    for op_type, count in sorted(counts.items()):
        mark = "" if find(op_type, opset) is not None else "   (no converter)"
        say(f"  {op_type:<28} {count:>5}{mark}")
    sizes = sum(int(np.prod(t.dims)) for t in proto.graph.initializer)
    say(f"{len(proto.graph.initializer)} initializers, {sizes:,} numbers")
    try:
        model = _load(args)
    except OnnxError as error:
        say(f"import: {error}")
        return 1
    say("inputs:")
    for node in model.inputs:
        say(f"  {model.onnx_names[node.name]!r} as {node.name}: {node.dtype} {node.shape}")
    say("outputs:")
    for name, node in zip(model.output_names, model.outputs):
        say(f"  {name!r}: {node.dtype} {node.shape}")
    say(f"graphnn graph: {len(model.graph.nodes)} nodes")
    return 0


def _render(args: argparse.Namespace, out: Any) -> int:
    from graphnn.render.pictures import render
    model = _load(args)
    drawing = render(model.outputs, collapse=bool(args.collapse), title=Path(args.model).name)
    written = drawing.save(args.out)
    print(f"wrote {written}", file=out)
    return 0


def _random_feed(model: Any, seed: int) -> dict[Any, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {n: rng.standard_normal(n.shape).astype(n.dtype) for n in model.inputs}


def _verify(args: argparse.Namespace, out: Any) -> int:
    from graphnn.onnx.check import gradient_check
    model = _load(args, "inputs" if args.params else "constants")
    report = gradient_check(model, seed=args.seed, params=args.params)
    print(report.text(), file=out)
    return 0 if report.ok else 1


def _run(args: argparse.Namespace, out: Any) -> int:
    from graphnn.evaluate import evaluate
    from graphnn.onnx.names import python_name
    model = _load(args)
    feed = _random_feed(model, args.seed)
    by_name = {model.onnx_names[n.name]: n for n in model.inputs}
    by_name.update({n.name: n for n in model.inputs})
    for name, path in args.input:
        if name not in by_name:
            raise InputError(f"--input names {name!r}, which is not an input of the model "
                             f"({', '.join(repr(k) for k in model.names)})")
        try:
            feed[by_name[name]] = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise InputError(f"--input {name}: cannot read {path!r} as a .npy array: "
                             f"{error}") from None
    if args.evaluate:
        values = evaluate(model.outputs, feed)
    else:
        function = model.compile()
        values = function(*(feed[n] for n in model.inputs))
        values = values if isinstance(values, list) else [values]
    for name, value in zip(model.output_names, values):
        with np.printoptions(precision=4, suppress=True, threshold=10, edgeitems=3):
            print(f"{name}: {value.dtype} {value.shape}\n{value}", file=out)
        if args.out:
            target = Path(args.out)
            target.mkdir(parents=True, exist_ok=True)
            np.save(target / f"{python_name(name)}.npy", value)
    return 0


def _bench(args: argparse.Namespace, out: Any) -> int:
    from graphnn.onnx.check import time_calls
    model = _load(args)
    feed = _random_feed(model, 0)
    arrays = [feed[n] for n in model.inputs]
    start = time.perf_counter()
    options = {} if args.threads is None else {"threads": args.threads}
    function = model.compile(**options)
    print(f"compiled in {time.perf_counter() - start:.2f} s", file=out)
    ours = time_calls(lambda: function(*arrays), args.repeat)
    print(f"graphnn      {ours * 1e3:9.3f} ms per call (median of {args.repeat})", file=out)
    try:
        import onnxruntime
    except ImportError:
        print("onnxruntime is not installed: nothing to compare with", file=out)
        return 0
    settings = onnxruntime.SessionOptions()
    if args.threads is not None:
        settings.intra_op_num_threads = args.threads
    session = onnxruntime.InferenceSession(args.model, settings,
                                           providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    theirs_feed = {model.onnx_names[n.name]: a for n, a in zip(model.inputs, arrays)
                   if model.onnx_names[n.name] in names}
    theirs = time_calls(lambda: session.run(None, theirs_feed), args.repeat)
    print(f"onnxruntime  {theirs * 1e3:9.3f} ms per call", file=out)
    print(f"graphnn / onnxruntime = {ours / theirs:.2f}", file=out)
    return 0


def _conformance(args: argparse.Namespace, out: Any) -> int:
    from graphnn.onnx import conformance
    cases = conformance.collect(args.op)
    results = conformance.run(cases)
    if not args.no_compile:
        results += conformance.run_compiled(cases, results)
    print(conformance.table(results, markdown=args.markdown), end="", file=out)
    failed = [r for r in results if r.status == conformance.FAILED]
    for r in failed:
        print(f"FAILED {r.case} ({r.path}): {r.reason}", file=out)
    return 1 if failed else 0
