"""Timing: medians of repeated calls, batched for microsecond-scale functions."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable


def median_seconds(fn: Callable[[], object], budget: float = 1.0, repeats: int = 15) -> float:
    """The median time of one call of fn, in seconds.

    Calls shorter than about 50 us are timed in batches (the timer and loop overhead would
    dominate otherwise); the garbage collector is paused while timing.
    """
    fn()                                    # warm up (first-call costs, page faults)
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
