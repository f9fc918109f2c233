"""Where minigrad's training step spends its time: ``python -m benchmarks --profile W2``.

Two views of one workload: the step split into forward (with the loss), backward and optimizer
step, for minigrad and the NumPy floor side by side (the fastest of many interleaved steps, so
a busy machine disturbs it little); and cProfile's list of the functions with the most time of
their own over a run of minigrad steps.
"""
from __future__ import annotations

import cProfile
import io
import pstats
import time
from typing import Any, Dict, List

import numpy as np

from . import reference, workloads

PHASES = ("forward + loss", "backward", "optimizer step")


def phase_times(workload: workloads.Workload, dtype: Any, steps: int) -> Dict[str, List[float]]:
    """Fastest seconds per phase over ``steps`` interleaved steps, for minigrad and the floor."""
    import minigrad as mg
    model, criterion, optimizer = workloads.build_minigrad(workload, dtype)
    floor = reference.ReferenceMLP(workload.input_size, workload.hidden_sizes,
                                   workload.output_size, use_batchnorm=workload.batchnorm,
                                   dropout=workload.dropout, dtype=dtype)
    adam = reference.ReferenceAdam(floor.params())
    x, t = workloads.make_batch(workload, dtype)
    xt = mg.tensor(x)
    clock = time.perf_counter

    def minigrad_phases() -> List[float]:
        a = clock()
        optimizer.zero_grad()
        loss = criterion(model(xt), t)
        b = clock()
        loss.backward()
        c = clock()
        optimizer.step()
        return [b - a, c - b, clock() - c]

    def floor_phases() -> List[float]:
        a = clock()
        floor.loss(x, t)
        b = clock()
        floor.backward()
        c = clock()
        adam.step(floor.grads())
        return [b - a, c - b, clock() - c]

    best = {"minigrad": [np.inf] * 3, "numpy": [np.inf] * 3}
    for _ in range(steps):
        for name, run in (("minigrad", minigrad_phases), ("numpy", floor_phases)):
            best[name] = [min(old, new) for old, new in zip(best[name], run())]
    return best


def profile_report(name: str, dtype: Any, steps: int, top: int = 25) -> str:
    """The phase table and cProfile's top functions for ``steps`` minigrad steps of ``name``."""
    workload = workloads.WORKLOADS[name]
    best = phase_times(workload, dtype, max(20, steps // 4))
    lines = [f"{name} {workload.title} ({workload.describe()}), {np.dtype(dtype).name}",
             f"{'phase':16s} {'minigrad µs':>12s} {'numpy µs':>10s} {'ratio':>6s}"]
    for i, phase in enumerate(PHASES):
        mine, floor = best["minigrad"][i], best["numpy"][i]
        lines.append(f"{phase:16s} {mine * 1e6:12.1f} {floor * 1e6:10.1f} {mine / floor:6.2f}")
    total_mine, total_floor = sum(best["minigrad"]), sum(best["numpy"])
    lines.append(f"{'total':16s} {total_mine * 1e6:12.1f} {total_floor * 1e6:10.1f} "
                 f"{total_mine / total_floor:6.2f}")

    step = workloads.minigrad_step(workload, dtype)
    for _ in range(5):
        step()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(steps):
        step()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    lines += ["", f"cProfile over {steps} minigrad steps (sorted by own time; the profiler "
                  "inflates per-call costs, compare rows with each other):", out.getvalue()]
    return "\n".join(lines)
