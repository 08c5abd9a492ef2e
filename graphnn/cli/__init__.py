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

One module per command (demo, show, render: render and animate, optimize, verify, export,
ops; the onnx commands live with the ONNX code, graphnn/onnx/command.py), and commands.py,
the argument parser that dispatches to them. Model files are read by graphnn/model_file.py.
"""

from graphnn.cli.commands import main, parser

__all__ = ["main", "parser"]
