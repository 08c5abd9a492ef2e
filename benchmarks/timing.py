"""Timing: medians of repeated calls, batched for microsecond-scale functions."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable


def median_seconds(fn: Callable[[], object], budget: float = 1.0, repeats: int = 15,
                   settle: float = 0.2) -> float:
    """The median time of one call of fn, in seconds.

    fn is first called back to back for `settle` seconds (at least twice): first-call costs
    and page faults, and the steady state of a loop running fn alone. The thread pools of the
    implementation timed before it (OpenBLAS's workers spin and yield for a while after a
    product) otherwise share the cores with fn's first calls: graphnn's MLP step took 300 us
    right after NumPy's and 160-230 us alone. Calls shorter than about 50 us are timed in
    batches (the timer and loop overhead would dominate otherwise); the garbage collector is
    paused while timing.
    """
    fn()                                    # warm up (first-call costs, page faults)
    began = time.perf_counter()
    while time.perf_counter() - began < settle:
        fn()
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-9)
    batch = max(1, int(5e-5 / once))
    repeats = max(3, min(repeats, int(budget / (once * batch)) or 3))
    samples = []
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(batch):
                fn()
            samples.append((time.perf_counter() - start) / batch)
    finally:
        if enabled:
            gc.enable()
    samples.sort()
    return samples[len(samples) // 2]
