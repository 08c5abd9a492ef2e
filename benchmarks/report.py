"""The benchmark tables: medians, each peer's time divided by graphnn's (above 1: graphnn is
faster), each time as a fraction of the machine limit its workload is bound by, and graphnn's
scaling from one thread to every core. Every table is printed under `header()`, the machine and
graphnn's choices for it (benchmarks.machine)."""

from __future__ import annotations

from collections.abc import Mapping

from benchmarks.limits import Limits, fraction

Rows = list[tuple[str, str, float]]


def header() -> str:
    """The machine, its BLAS, the peers' versions and graphnn's kernel choices, as # lines."""
    from benchmarks.machine import Machine
    return "\n".join(Machine.here().lines())


def _seconds(value: float) -> str:
    if value < 1e-3:
        return f"{value * 1e6:9.2f} us"
    if value < 1:
        return f"{value * 1e3:9.2f} ms"
    return f"{value:9.2f} s "


def table(rows: Rows, limits: Limits | None = None,
          bounds: Mapping[str, tuple[int, int]] | None = None) -> str:
    """Rows grouped by workload; each implementation's median, its ratio to graphnn and, given
    the limits and each workload's (flops, bytes moved), its fraction of the limit."""
    lines = [f"{'workload':<30} {'implementation':<15} {'median':>12} {'vs graphnn':>11}"
             + (f" {'of limit':>12}" if limits else "")]
    baseline = {w: s for w, label, s in rows if label == "graphnn"}
    last = None
    for workload, label, seconds in rows:
        if workload != last and last is not None:
            lines.append("")
        last = workload
        base = baseline.get(workload)
        ratio = f"{seconds / base:10.2f}x" if base else ""
        line = f"{workload:<30} {label:<15} {_seconds(seconds)} {ratio:>11}"
        if limits:
            flops, moved = (bounds or {}).get(workload, (0, 0))
            line += f" {fraction(moved, flops, seconds, limits):>12}"
        lines.append(line.rstrip())
    return "\n".join(lines)


def scaling_table(times: Mapping[str, tuple[float, float]], cores: int) -> str:
    """graphnn's median on 1 thread and on `cores`, the speed-up and the parallel efficiency
    (speed-up / cores: 100% is perfect scaling)."""
    lines = [f"{'workload':<30} {'1 thread':>12} {f'{cores} threads':>12} {'speed-up':>9} "
             f"{'efficiency':>11}"]
    for workload, (one, every) in times.items():
        lines.append(f"{workload:<30} {_seconds(one)} {_seconds(every)} {one / every:8.2f}x "
                     f"{one / every / cores:>11.0%}")
    return "\n".join(lines)
