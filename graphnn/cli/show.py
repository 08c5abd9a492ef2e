"""`graphnn show FILE`: a model file's graph as text, with its gradients and output values.

Stage: command line. Input: a model file (graphnn/model_file.py). Output: printed text.
"""

from __future__ import annotations

import sys

import numpy as np

from graphnn.autodiff import grad
from graphnn.evaluate import evaluate
from graphnn.graph import Graph
from graphnn.model_file import load_model


def show(path: str, with_grad: bool, out=None, raw: bool = False) -> int:
    out = out or sys.stdout
    model = load_model(path)
    print(model.graph.text(raw=raw), file=out)
    if with_grad:
        y = model.graph.outputs[0]
        grads = grad(y, model.wrt)
        print(f"\n# gradients of output 0 with respect to "
              f"{', '.join(w.name or w.op for w in model.wrt)}", file=out)
        print(Graph(grads, name=f"{model.graph.name}_gradient").text(raw=raw), file=out)
    if model.feed:
        values = evaluate(list(model.graph.outputs), model.feed)
        with np.printoptions(precision=4, suppress=True, threshold=20):
            for k, value in enumerate(values):
                print(f"# output {k} = {value}", file=out)
    return 0
