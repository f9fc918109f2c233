"""Timing competitors side by side, and describing the machine the numbers came from.

Shared machines are noisy, so absolute times mean little while ratios measured in one process,
interleaved, mean a lot: ``compare`` runs every competitor's block of calls in turn, in a new
order each repetition, and reports the median time per call of each.
"""
from __future__ import annotations

import datetime
import itertools
import os
import platform
import random
import resource
import statistics
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

Step = Callable[[], Any]


def _time_block(step: Step, number: int) -> float:
    """Seconds per call of ``step`` over ``number`` consecutive calls."""
    start = time.perf_counter()
    for _ in range(number):
        step()
    return (time.perf_counter() - start) / number


def _time_calls(step: Step, number: int) -> List[float]:
    """Seconds of each of ``number`` consecutive calls of ``step``."""
    clock = time.perf_counter
    times = []
    for _ in range(number):
        start = clock()
        step()
        times.append(clock() - start)
    return times


def calibrate(step: Step, block_seconds: float, warmup: int = 2) -> int:
    """How many calls of ``step`` fill about ``block_seconds`` (at least one), after warm-up."""
    for _ in range(warmup):
        step()
    once = _time_block(step, 1)
    if once >= block_seconds:
        return 1
    trial = max(1, min(1000, int(0.2 * block_seconds / once)))
    per_call = _time_block(step, trial)
    return max(1, int(block_seconds / max(per_call, 1e-9)))


def compare(steps: Dict[str, Step], repeat: int, block_seconds: float, warmup: int = 2,
            settle: float = 0.05, seed: int = 0) -> Dict[str, Dict[str, Any]]:
    """Time each competitor's ``step`` in ``repeat`` interleaved blocks of about
    ``block_seconds``.

    The order of the competitors changes every repetition (the permutations in a seeded random
    order), so each follows every other about equally often. Before each block the process
    sleeps ``settle`` seconds and makes one untimed call: thread pools spin-wait for a while
    after a call (OpenBLAS, OpenMP), and without the pause the previous library's spinning
    threads would slow down the next competitor on a machine with few cores.

    A step with a ``steps_per_call`` attribute does that many steps per call; its times are
    divided accordingly. Returns, per competitor, ``median_s`` (the median over every timed
    call, so one slow call moves it little), ``times_s`` (the mean of each block), ``number``
    (calls per block) and ``faults_per_call`` (minor page faults per step, a noise-free sign
    of allocator churn).
    """
    numbers = {name: calibrate(step, block_seconds, warmup) for name, step in steps.items()}
    per_call = {name: getattr(step, "steps_per_call", 1) for name, step in steps.items()}
    orders = list(itertools.permutations(steps))
    random.Random(seed).shuffle(orders)
    calls: Dict[str, List[float]] = {name: [] for name in steps}
    blocks: Dict[str, List[float]] = {name: [] for name in steps}
    faults = dict.fromkeys(steps, 0)
    for r in range(repeat):
        for name in orders[r % len(orders)]:
            if settle > 0:
                time.sleep(settle)
            steps[name]()
            before = minor_faults()
            timed = [t / per_call[name] for t in _time_calls(steps[name], numbers[name])]
            faults[name] += minor_faults() - before
            calls[name] += timed
            blocks[name].append(sum(timed) / len(timed))
    return {name: {"median_s": statistics.median(calls[name]), "times_s": blocks[name],
                   "number": numbers[name],
                   "faults_per_call": faults[name] / (repeat * numbers[name] * per_call[name])}
            for name in steps}


def minor_faults() -> int:
    """Minor page faults of this process so far (memory handed back by the OS and touched
    again shows up here)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def rss_bytes() -> int:
    """The process's current resident set size in bytes (Linux /proc; peak RSS elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def cpu_name() -> str:
    """The CPU's model name, as the OS reports it."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(removed_env: Optional[Dict[str, str]] = None,
                 competitors: Sequence[str] = ("torch", "sklearn"),
                 jax_threads: Optional[str] = None) -> Dict[str, Any]:
    """What a reader needs to judge the numbers: CPU, cores, versions, BLAS and threads
    (PyTorch, jax and scikit-learn are imported, and described, only when among
    ``competitors``; ``jax_threads`` says how XLA's threads were limited, if they were)."""
    info: Dict[str, Any] = {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "cpu": cpu_name(),
        "logical_cpus": os.cpu_count(),
        "load_average": load_average(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": blas_info(),
        "openblas_env": {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS_")},
        "openblas_env_removed": dict(removed_env or {}),
    }
    try:
        import minigrad
        info["minigrad"] = minigrad.__version__
    except ImportError:  # pragma: no cover - the benchmarks live beside the package
        info["minigrad"] = None
    torch = optional_import("torch") if "torch" in competitors else None
    info["torch"] = None if torch is None else {
        "version": torch.__version__, "threads": torch.get_num_threads()}
    if "jax" in competitors:
        from . import jax_step
        info["jax"] = jax_step.describe(jax_threads)
    else:
        info["jax"] = None
    sklearn = optional_import("sklearn") if "sklearn" in competitors else None
    info["sklearn"] = None if sklearn is None else sklearn.__version__
    return info


def load_average() -> Optional[List[float]]:
    """The 1, 5 and 15 minute load averages (how busy the machine was), where the OS says."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def blas_info() -> List[Dict[str, Any]]:
    """The BLAS libraries loaded in this process, their kernel and thread count
    (threadpoolctl), in the order of their file paths; an empty list without threadpoolctl."""
    threadpoolctl = optional_import("threadpoolctl")
    if threadpoolctl is None:
        return []
    keys = ("user_api", "internal_api", "prefix", "filepath", "version", "architecture",
            "num_threads")
    pools = [{k: pool.get(k) for k in keys} for pool in threadpoolctl.threadpool_info()]
    return sorted(pools, key=lambda pool: str(pool.get("filepath")))   # stable between runs


def optional_import(name: str) -> Any:
    """The module ``name``, or None when it is not installed."""
    try:
        return __import__(name)
    except ImportError:
        return None
