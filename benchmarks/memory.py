"""Memory of a training step: peak traced allocation, what a step leaves behind, RSS over time.

- ``peak_bytes``: the peak of ``tracemalloc`` during one step above what was allocated before
  it (NumPy reports its array buffers to tracemalloc, so this counts the graph's arrays).
- ``retained_bytes``: traced memory after the step minus before it; after warm-up (optimizer
  state exists) it stays near zero when the graph's arrays are freed after each backward.
- ``rss_mb`` after a few and after many steps: flat when nothing leaks.
- ``faults_per_step``: minor page faults per step, which count memory the allocator returned
  to the OS and touched again.
"""
from __future__ import annotations

import gc
import tracemalloc
from typing import Any, Dict

from .harness import Step, minor_faults, rss_bytes


def traced_step(step: Step, warmup: int = 3) -> Dict[str, int]:
    """Peak and retained traced bytes of one call of ``step`` after ``warmup`` calls."""
    for _ in range(warmup):
        step()
    gc.collect()
    tracemalloc.start()
    try:
        step()              # lets lazily created state settle under tracing
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        step()
        gc.collect()
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return {"peak_bytes": peak - before, "retained_bytes": after - before}


def rss_over_steps(step: Step, early: int, late: int) -> Dict[str, Any]:
    """RSS after ``early`` and after ``late`` steps, and minor page faults per step between."""
    for _ in range(early):
        step()
    rss_early = rss_bytes()
    faults = minor_faults()
    for _ in range(late - early):
        step()
    faults_per_step = (minor_faults() - faults) / max(1, late - early)
    rss_late = rss_bytes()
    return {"steps": [early, late], "rss_mb": [rss_early / 2**20, rss_late / 2**20],
            "growth_mb": (rss_late - rss_early) / 2**20, "faults_per_step": faults_per_step}
