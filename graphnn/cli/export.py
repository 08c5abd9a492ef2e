"""`python -m graphnn export MODEL.py --out DIR`: a model file's graph as a C library and header.

Stage: the command line's export (graphnn/cli/commands.py dispatches here). Input: a model file (see
docs/cli.md: `outputs`, optionally `feed`), the output directory and options. Output:
DIR/NAME.so (or NAME.o) and DIR/NAME.h, and a line per file written. The graph is planned as
`gn.compile` plans it; no kernel is compiled for this process.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from codegen.aot import shared_suffix
from codegen.llvm import X86_LEVELS
from graphnn.compiler.export import export_graph
from graphnn.model_file import load_model


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The export subcommand's arguments."""
    parser.add_argument("file", help="a Python file defining `outputs` (see docs/cli.md)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="the directory to write NAME.so (or NAME.o) and NAME.h into")
    parser.add_argument("--cpu", default="host", choices=["host", *X86_LEVELS],
                        help="the instruction set: host (this CPU, the default) or an x86-64 "
                             "level, for a library that runs on every CPU of that level")
    parser.add_argument("--name", help="the C name prefixing every symbol (default: the "
                                       "model file's name without its number, e.g. neuron)")
    parser.add_argument("--object", action="store_true",
                        help=f"write an object file NAME.o instead of NAME{shared_suffix()}")
    batch = parser.add_mutually_exclusive_group()
    batch.add_argument("--batch", metavar="INPUT,...", type=lambda text: text.split(","),
                       help="the batched inputs of NAME_batch (default: inferred)")
    batch.add_argument("--no-batch", action="store_true", help="export no NAME_batch")


def run_export(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Export the model file as the arguments say; print what was written."""
    out = out or sys.stdout
    model = load_model(args.file)
    name = args.name or model.graph.name
    path = Path(args.out) / f"{name}{'.o' if args.object else shared_suffix()}"
    batch = False if args.no_batch else args.batch
    exported = export_graph(model.graph, path, name=name, cpu=args.cpu, batch=batch)
    print(f"wrote {exported.path} and {exported.header}", file=out)
    print(f"  exports {', '.join(exported.symbols)}", file=out)
    print(f"  needs the C library{''.join(', lib' + n for n in exported.libraries)}", file=out)
    return 0
