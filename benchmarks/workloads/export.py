"""export: exported functions called from C against the same functions called from Python.

The lecture neuron (value and 5 gradients, float64) and the MLP's SGD step at batch 64
(784-256-10, float32; benchmarks/workloads/mlp.py) are compiled, exported as shared libraries
(`f.export`) and timed three ways: called from Python (the compiled function, outputs
preallocated with out=, as a training loop calls it), through ctypes (the library from Python,
marshalling excluded), and from C (a timing harness this module writes and builds with the
system C compiler, calling the library in a loop). Both sides run one thread (an exported
function's default) and graphnn's own GEMM (the one an export uses), so they run the same
kernels and differ by the call. Needs `cc`; without it the workload reports nothing and says
why.

    python -m benchmarks --only export
"""

from __future__ import annotations

import ctypes
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import graphnn as gn
from benchmarks.timing import median_seconds
from benchmarks.workload import CheckError
from benchmarks.workloads import mlp, neuron

HARNESS_BATCHES = 15


def functions() -> dict[str, tuple[object, list[np.ndarray]]]:
    """name -> (compiled function, input arrays) of the functions exported."""
    inputs = [gn.input(n) for n in ["w0", "x0", "w1", "x1", "w2"]]
    w0, x0, w1, x1, w2 = inputs
    f = gn.sigmoid(w0 * x0 + w1 * x1 + w2)
    lecture = gn.compile([f, *gn.grad(f, inputs)], inputs, name="neuron")
    data, params = mlp.initial(64)
    graph = mlp.graphnn_step(64).graph
    # one thread and graphnn's own GEMM on both sides: the same kernels, so the difference is
    # the call (and a loaded 2-core machine does not decide the comparison)
    step = gn.compile(list(graph.outputs), list(graph.inputs), gemm="native", threads=1,
                      name="mlp_step")
    return {"neuron": (lecture, [np.array(v) for v in neuron.VALUES]),
            "mlp_step": (step, [data["x"], data["t"], *params])}


_C_TYPES = {"float32": "float", "float64": "double"}
_PRELUDE = [
    "#include <stdio.h>", "#include <stdlib.h>", "#include <time.h>",
    "static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t);",
    "  return t.tv_sec + 1e-9 * t.tv_nsec; }",
    "static int cmp(const void *a, const void *b) {",
    "  double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }",
    "static void *load(const char *path, size_t bytes) {",
    "  void *data = aligned_alloc(64, (bytes + 63) / 64 * 64);",
    '  FILE *f = fopen(path, "rb");',
    "  if (!f || fread(data, 1, bytes, f) != bytes) { perror(path); exit(1); }",
    "  fclose(f); return data; }",
]


def harness(names: dict[str, tuple[object, list[np.ndarray]]], folder: Path) -> str:
    """C source timing each exported function: its inputs read from NAME.in<k>.bin, its first
    results written to NAME.out<k>.bin, and the median seconds per call over HARNESS_BATCHES
    batches printed as "NAME SECONDS"."""
    lines = [*_PRELUDE, *(f'#include "{name}.h"' for name in names),
             "int main(int argc, char **argv) {", "  double budget = atof(argv[1]);"]
    for name, (function, arrays) in names.items():
        lines += ["  {", *_timing(name, function, arrays, folder), "  }"]
    return "\n".join(lines + ["  return 0;", "}", ""])


def _timing(name: str, function, arrays: list[np.ndarray], folder: Path) -> list[str]:
    """The C block that loads, calls once, saves the results and times one function."""
    lines, args = [], []
    for k, array in enumerate(arrays):
        path = folder / f"{name}.in{k}.bin"
        array.tofile(path)
        lines.append(f'    {_C_TYPES[str(array.dtype)]} *in{k} = load("{path}", {array.nbytes});')
        args.append(f"in{k}")
    outs = [(_C_TYPES[n.dtype], int(np.prod(n.shape))) for n in function.graph.outputs]
    for k, (kind, size) in enumerate(outs):
        lines.append(f"    {kind} *out{k} = aligned_alloc(64, ({size} * sizeof({kind}) + 63) "
                     "/ 64 * 64);")
        args.append(f"out{k}")
    call = f"{name}({', '.join(args)})"
    lines.append(f"    if ({call}) return 1;")
    for k, (_, size) in enumerate(outs):          # the first call's results, to be checked
        lines.append(f'    {{ FILE *f = fopen("{folder / f"{name}.out{k}.bin"}", "wb"); '
                     f"fwrite(out{k}, sizeof(*out{k}), {size}, f); fclose(f); }}")
    return lines + [
        "    long count = 1;             /* calls per batch: a batch lasts a while */",
        f"    for (;;) {{ double t0 = now(); for (long i = 0; i < count; i++) {call};",
        f"      if (now() - t0 >= budget / {HARNESS_BATCHES * 4}) break; count *= 2; }}",
        f"    double times[{HARNESS_BATCHES}];",
        f"    for (int r = 0; r < {HARNESS_BATCHES}; r++) {{",
        f"      double t0 = now(); for (long i = 0; i < count; i++) {call};",
        "      times[r] = (now() - t0) / count; }",
        f"    qsort(times, {HARNESS_BATCHES}, sizeof times[0], cmp);",
        f'    printf("{name} %.9g\\n", times[{HARNESS_BATCHES // 2}]);']


def check(name: str, want: list[np.ndarray], folder: Path) -> None:
    """The C harness's results (its first call) against the Python function's: a wrong result
    is never timed."""
    for k, value in enumerate(want):
        value = np.asarray(value)
        got = np.fromfile(folder / f"{name}.out{k}.bin", value.dtype).reshape(value.shape)
        if not np.allclose(got, value, rtol=1e-5, atol=1e-6):
            raise CheckError(f"export {name}: the C call's result {k} differs from the Python "
                             f"function's (max difference {np.max(np.abs(got - value))})")


def _ctypes_call(path: Path, name: str, arrays: list[np.ndarray], outs: list[np.ndarray]):
    function = getattr(ctypes.CDLL(str(path)), name)
    function.argtypes = [ctypes.c_void_p] * (len(arrays) + len(outs))
    addresses = [a.ctypes.data for a in [*arrays, *outs]]
    return lambda: function(*addresses)


def measure(budget: float = 1.0) -> list[tuple[str, str, float]]:
    """Rows of the benchmark table: (workload, implementation, seconds per call)."""
    if shutil.which("cc") is None:
        print("# export: no C compiler (cc) on PATH: the C harness cannot be built",
              file=sys.stderr)
        return []
    chosen = functions()
    rows = []
    with tempfile.TemporaryDirectory(prefix="graphnn-export-bench-") as scratch:
        folder = Path(scratch)
        for name, (function, _) in chosen.items():
            function.export(folder / f"{name}.so", name=name)
        source = folder / "harness.c"
        source.write_text(harness(chosen, folder))
        subprocess.run(["cc", "-O2", f"-I{folder}", str(source),
                        *(str(folder / f"{n}.so") for n in chosen), f"-Wl,-rpath,{folder}",
                        "-o", str(folder / "harness")], check=True)
        done = subprocess.run([str(folder / "harness"), str(budget)], capture_output=True,
                              text=True, check=True)
        from_c = dict(line.split() for line in done.stdout.splitlines())
        for name, (function, arrays) in chosen.items():
            check(name, function(*arrays), folder)
            outs = [np.empty(n.shape, n.dtype) for n in function.graph.outputs]
            python = median_seconds(lambda f=function, a=arrays, o=outs: f(*a, out=o), budget)
            native = median_seconds(_ctypes_call(folder / f"{name}.so", name, arrays, outs),
                                    budget)
            rows += [(f"export {name}", "graphnn", python),
                     (f"export {name}", "ctypes .so", native),
                     (f"export {name}", "C call .so", float(from_c[name]))]
    return rows


def run(repeats: int = 3, quick: bool = False) -> list[tuple[str, str, float]]:
    """The medians of `repeats` measurements, as rows of the runner's table."""
    runs = [measure(0.3 if quick else 1.0) for _ in range(repeats)]
    if not runs or not runs[0]:
        return []
    return [(workload, label, statistics.median(r[k][2] for r in runs))
            for k, (workload, label, _) in enumerate(runs[0])]


if __name__ == "__main__":
    from benchmarks.report import table
    print(table(run()))
