"""The benchmark table: medians, and each peer's time divided by graphnn's (above 1: graphnn is
faster)."""

from __future__ import annotations

import os
import platform


def machine_line() -> str:
    import llvmlite.binding as llvm
    import numpy as np

    cpu = llvm.get_host_cpu_name()
    return (f"# {platform.node()} {platform.machine()} {cpu}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, NumPy {np.__version__}, "
            f"load average {os.getloadavg()[0]:.2f}")


def _seconds(value: float) -> str:
    if value < 1e-3:
        return f"{value * 1e6:9.2f} us"
    if value < 1:
        return f"{value * 1e3:9.2f} ms"
    return f"{value:9.2f} s "


def table(rows: list[tuple[str, str, float]]) -> str:
    """Rows grouped by workload; each implementation's median and its ratio to graphnn."""
    lines = [f"{'workload':<30} {'implementation':<15} {'median':>12} {'vs graphnn':>11}"]
    baseline = {w: s for w, label, s in rows if label == "graphnn"}
    last = None
    for workload, label, seconds in rows:
        if workload != last and last is not None:
            lines.append("")
        last = workload
        base = baseline.get(workload)
        ratio = f"{seconds / base:10.2f}x" if base else ""
        lines.append(f"{workload:<30} {label:<15} {_seconds(seconds)} {ratio:>11}")
    return "\n".join(lines)
