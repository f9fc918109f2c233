"""Where minigrad's training step spends its time: ``python -m benchmarks --profile W2``.

Three views of one workload: the step split into forward (with the loss), backward and
optimizer step, for minigrad and the NumPy floor side by side (the fastest of many interleaved
steps, so a busy machine disturbs it little); minigrad's backward split into each op's backward
rule and the engine around them; and cProfile's list of the functions with the most time of
their own over a run of minigrad steps.
"""
from __future__ import annotations

import contextlib
import cProfile
import io
import pstats
import time
from typing import Any, Dict, Iterator, List, Set

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


def _node_classes(loss: Any) -> Set[type]:
    """The Function classes recorded in the graph of ``loss``."""
    classes: Set[type] = set()
    seen: Set[int] = set()
    stack = [loss.grad_fn]
    while stack:
        fn = stack.pop()
        if fn is None or id(fn) in seen:
            continue
        seen.add(id(fn))
        classes.add(type(fn))
        stack.extend(t.grad_fn for t in fn.inputs)
    return classes


@contextlib.contextmanager
def _timed_rules(classes: Set[type], spent: Dict[type, List[float]]) -> Iterator[None]:
    """Within the block, each call of a class's rule (``backward``, or ``backward_arrays``
    where it has one: a plain backward calls that) adds its seconds to ``spent[cls][0]`` and
    one to ``spent[cls][1]``; the classes are restored on exit."""
    names = {cls: "backward" if cls.backward_arrays is None else "backward_arrays"
             for cls in classes}
    own = {cls: cls.__dict__.get(names[cls]) for cls in classes}
    rules = {cls: getattr(cls, names[cls]) for cls in classes}   # all looked up before any
    clock = time.perf_counter                                    # is wrapped

    def timed(cls: type, rule: Any) -> Any:
        tally = spent.setdefault(cls, [0.0, 0])

        def backward(self: Any, *grads: Any) -> Any:
            start = clock()
            result = rule(self, *grads)
            tally[0] += clock() - start
            tally[1] += 1
            return result
        return backward

    try:
        for cls, rule in rules.items():
            setattr(cls, names[cls], timed(cls, rule))
        yield
    finally:
        for cls, rule in own.items():
            if rule is None:
                delattr(cls, names[cls])    # it was inherited
            else:
                setattr(cls, names[cls], rule)


def backward_split(workload: workloads.Workload, dtype: Any, steps: int) -> List[str]:
    """Lines splitting minigrad's backward (the fastest of ``steps``) into rules and engine."""
    import minigrad as mg
    model, criterion, optimizer = workloads.build_minigrad(workload, dtype)
    x, t = workloads.make_batch(workload, dtype)
    xt = mg.tensor(x)
    classes = _node_classes(criterion(model(xt), t))
    best: Dict[str, Any] = {"total": float("inf")}
    for _ in range(steps):
        spent: Dict[type, List[float]] = {}
        optimizer.zero_grad()
        loss = criterion(model(xt), t)
        with _timed_rules(classes, spent):
            start = time.perf_counter()
            loss.backward()
            total = time.perf_counter() - start
        if total < best["total"]:
            best = {"total": total, "spent": spent}
    rules = best["spent"]
    nodes = sum(calls for _, calls in rules.values())
    engine = best["total"] - sum(seconds for seconds, _ in rules.values())
    lines = [f"{'backward split':30s} {'µs':>8s} {'calls':>6s}"]
    for cls, (seconds, calls) in sorted(rules.items(), key=lambda item: -item[1][0]):
        rule = "backward" if cls.backward_arrays is None else "backward_arrays"
        lines.append(f"{cls.__qualname__ + '.' + rule:30s} {seconds * 1e6:8.1f} {calls:6d}")
    lines.append(f"{'engine (the rest)':30s} {engine * 1e6:8.1f}   ({engine / nodes * 1e6:.1f} µs "
                 f"per node, {nodes} nodes; each timed rule adds ~0.1 µs)")
    return lines


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

    lines += [""] + backward_split(workload, dtype, max(20, steps // 4))

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
