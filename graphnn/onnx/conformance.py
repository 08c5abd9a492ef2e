"""The ONNX backend node tests, run through graphnn: which cases of each claimed operator pass,
and why the others are refused.

Stage: verification. Input: the test cases that ship inside the onnx package (a model, its
inputs and expected outputs, tolerances). Output: one `CaseResult` per case and path
("evaluate", the NumPy reference, or "compile", native code), and the table
`python -m graphnn onnx conformance` prints.

A case of a claimed operator either passes (every output within the case's rtol and atol),
or is refused with an OnnxError whose reason the table shows; anything else (a wrong value,
another exception) is a failure.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx

from graphnn.errors import GraphnnError
from graphnn.evaluate import evaluate
from graphnn.ir import DTYPES
from graphnn.onnx.context import STATIC_REASON
from graphnn.onnx.errors import OnnxError
from graphnn.onnx.importer import load
from graphnn.onnx.model import OnnxModel
from graphnn.onnx.registry import claimed
from graphnn.onnx.tensors import to_array

PASSED, UNSUPPORTED, FAILED = "passed", "unsupported", "failed"


@dataclass(frozen=True)
class CaseResult:
    """One test case run one way: status passed, unsupported (reason: the refusal) or
    failed (reason: what went wrong)."""

    case: str
    operator: str
    path: str
    status: str
    reason: str = ""


def collect(operators: Iterable[str] | None = None) -> dict[str, list[Any]]:
    """The onnx package's node test cases by operator (of claimed operators by default).

    A case belongs to its node's operator; an "_expanded" case (the operator's function body
    in other operators) belongs to the operator of the case it expands.
    """
    from onnx.backend.test.case import node
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        every = node.collect_testcases(None)
    wanted = set(claimed() if operators is None else operators)
    single = {c.name: c.model.graph.node[0].op_type for c in every
              if len({n.op_type for n in c.model.graph.node}) == 1}
    grouped: dict[str, list[Any]] = defaultdict(list)
    for case in every:
        operator = single.get(case.name) or single.get(_base_name(case.name))
        if operator in wanted:
            grouped[operator].append(case)
    return {op: sorted(grouped[op], key=lambda c: c.name) for op in sorted(grouped)}


def _base_name(name: str) -> str:
    return re.sub(r"_expanded(_ver\d+)?$", "", name)


def run_case(case: Any, operator: str, path: str = "evaluate") -> CaseResult:
    """Import and run one case on every data set, through `path` ("evaluate" or "compile")."""
    def result(status: str, reason: str = "") -> CaseResult:
        return CaseResult(case.name, operator, path, status, reason)

    for inputs, expected in case.data_sets:
        try:
            inputs, expected = _arrays(inputs, "input"), _arrays(expected, "expected output")
            model, feed = _imported(case.model, inputs)
            function = model.compile() if path == "compile" else None
        except OnnxError as error:
            return result(UNSUPPORTED, error.reason)
        except Exception as error:  # noqa: BLE001 (any other exception is the failure reported)
            return result(FAILED, f"import raised {type(error).__name__}: {error}")
        try:
            if function is not None:
                actual = function(*feed)
                actual = actual if isinstance(actual, list) else [actual]
            else:
                # an input the outputs do not reach (Shape's, CastLike's `like`) is fed too
                actual = evaluate(model.outputs, dict(zip(model.inputs, feed)),
                                  allow_extra=True)
        except GraphnnError as error:
            return result(FAILED, f"running raised {type(error).__name__}: {error}")
        problem = _compare(actual, expected, case.rtol, case.atol)
        if problem:
            return result(FAILED, problem)
    return result(PASSED)


def _arrays(values: Sequence[Any], what: str) -> list[Any]:
    """A data set's values as arrays (some cases store TensorProtos, float8 and casts, or
    NumPy scalars)."""
    return [to_array(v, f"a test {what}") if isinstance(v, onnx.TensorProto) else
            np.asarray(v) if isinstance(v, np.generic) else v for v in values]


def _imported(proto: Any, inputs: Sequence[np.ndarray]) -> tuple[OnnxModel, list[np.ndarray]]:
    """The case's model and the values to feed it. Inputs of dtypes graphnn graphs do not hold
    are fixed at import as `constants`. When the model needs a value known at import that a
    case feeds as a graph input (a Reshape's target, a OneHot's depth: graphnn graphs have
    static shapes and attributes), the trailing inputs (where ONNX puts such operands, after
    the data) are fixed too, one more at a time, until it imports; the first stays an input."""
    initializers = {t.name for t in proto.graph.initializer}
    names = [i.name for i in proto.graph.input if i.name not in initializers]
    arrays = dict(zip(names, inputs))
    odd = {n for n, a in arrays.items()
           if isinstance(a, np.ndarray) and a.dtype.name not in DTYPES}
    last = max(len(names) - 1, 0)
    for trailing in range(last + 1):
        fixed = {n: arrays[n] for n in names if n in odd or n in names[len(names) - trailing:]}
        try:
            model = load(proto, constants=fixed)
            break
        except OnnxError as error:
            if not error.reason.endswith(STATIC_REASON) or trailing == last:
                raise
    return model, [arrays[n] for n in names if n not in fixed]


def _compare(actual: Sequence[np.ndarray], expected: Sequence[np.ndarray], rtol: float,
             atol: float) -> str:
    if len(actual) != len(expected):
        return f"{len(actual)} outputs, expected {len(expected)}"
    for k, (a, e) in enumerate(zip(actual, expected)):
        e = np.asarray(e)
        if a.dtype != e.dtype or a.shape != e.shape:
            return f"output {k} is {a.dtype}{a.shape}, expected {e.dtype}{e.shape}"
        try:
            np.testing.assert_allclose(a, e, rtol=rtol, atol=atol)
        except AssertionError as error:
            return f"output {k} differs: {str(error).strip().splitlines()[2:4]}"
    return ""


def run(cases: dict[str, list[Any]]) -> list[CaseResult]:
    """Evaluate every case with the NumPy reference."""
    return [run_case(case, operator) for operator, group in cases.items() for case in group]


def run_compiled(cases: dict[str, list[Any]], evaluated: Sequence[CaseResult]
                 ) -> list[CaseResult]:
    """Compile and run every case that passed evaluation (the others were refused at import,
    which compiling does the same way)."""
    passed = {r.case for r in evaluated if r.path == "evaluate" and r.status == PASSED}
    return [run_case(case, operator, "compile") for operator, group in cases.items()
            for case in group if case.name in passed]


def table(results: Sequence[CaseResult], markdown: bool = False) -> str:
    """Per operator: cases, passed (evaluated; compiled), and the reasons of the rest."""
    rows = []
    by_operator: dict[str, list[CaseResult]] = defaultdict(list)
    for r in results:
        by_operator[r.operator].append(r)
    for operator in sorted(by_operator):
        group = by_operator[operator]
        evaluated = [r for r in group if r.path == "evaluate"]
        compiled = [r for r in group if r.path == "compile"]
        passed = sum(r.status == PASSED for r in evaluated)
        built = f"{sum(r.status == PASSED for r in compiled)}/{len(compiled)}"
        reasons = Counter(r.reason for r in evaluated if r.status != PASSED)
        why = "; ".join(f"{reason} ({count})" for reason, count in sorted(
            reasons.items(), key=lambda item: (-item[1], item[0])))
        rows.append((operator, str(len(evaluated)), str(passed), built, why))
    header = ("operator", "cases", "passed", "compiled", "why the rest do not run")
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
        return "\n".join(lines) + "\n"
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(4)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)) + "  " + header[4]]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[4] for r in rows]
    return "\n".join(lines) + "\n"
