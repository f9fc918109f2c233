"""The benchmark entry point: ``python -m benchmarks`` or ``python benchmarks/run.py``.

Measures minigrad against the same network written by hand in NumPy (the floor), PyTorch CPU,
jax.jit (float32, the MLP workloads) and scikit-learn when they are installed, interleaved and
repeated in one process, and prints medians and ratios; ``--json`` keeps them, ``--markdown``
prints the tables of docs/performance.md (``--update-readme`` writes them there), and
``--from-json`` re-renders a saved run without measuring again. ``--smoke`` runs everything once
at tiny sizes (the test suite does this so the benchmarks cannot rot).

Before NumPy is imported the process re-executes itself without ``OPENBLAS_CORETYPE`` and
``OPENBLAS_L2_SIZE`` (pinned in some environments), so OpenBLAS picks the kernel for this CPU;
the kernel in use is reported through threadpoolctl. ``--keep-blas-env`` leaves them alone.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Dict, List, Optional, Sequence

BLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
_REMOVED_ENV = "MINIGRAD_BENCH_REMOVED_ENV"
COMPETITORS = ("numpy", "minigrad", "torch", "jax", "sklearn")
SECTIONS = ("train", "overhead", "digits", "memory")
# where --update-readme writes the tables when no file is given: the repository's own page
PERFORMANCE_DOC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                               "docs", "performance.md")


def reexec_without_blas_overrides(argv: Sequence[str], as_module: bool) -> None:
    """Replace this process by one without the OpenBLAS overrides (no-op when there are none,
    when NumPy is already loaded, or with ``--keep-blas-env``)."""
    if "--keep-blas-env" in argv or "--from-json" in argv or "numpy" in sys.modules:
        return
    removed = {k: os.environ[k] for k in BLAS_OVERRIDES if k in os.environ}
    if not removed:
        return
    env = {k: v for k, v in os.environ.items() if k not in BLAS_OVERRIDES}
    env[_REMOVED_ENV] = json.dumps(removed)
    command = ["-m", "benchmarks"] if as_module else [sys.argv[0]]
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, *command, *argv], env)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """The command line, checked (``--smoke`` overrides the sizes and repetitions)."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Time minigrad against hand-written NumPy (the floor), PyTorch CPU, "
                    "jax.jit and scikit-learn, interleaved in one process; print medians and "
                    "ratios.",
        epilog="examples: python -m benchmarks --only train --workloads W2 --repeat 5; "
               "python -m benchmarks --profile W1; "
               "python -m benchmarks --update-readme",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--smoke", action="store_true",
                        help="tiny sizes, one repetition: checks the code runs, measures nothing")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections to run, of {', '.join(SECTIONS)}")
    parser.add_argument("--workloads", default="W1,W2,W3,C1",
                        help="training-step workloads (C1: the book's SimpleConvNet)")
    parser.add_argument("--dtypes", default="float32,float64",
                        help="the first one is used by the per-op, memory and profile runs")
    parser.add_argument("--competitors", default=",".join(COMPETITORS),
                        help="those not installed are skipped")
    parser.add_argument("--repeat", type=int, default=7, help="interleaved repetitions")
    parser.add_argument("--block", type=float, default=0.2,
                        help="seconds per timed block of calls")
    parser.add_argument("--settle", type=float, default=0.05,
                        help="seconds of pause before each block, so the previous "
                             "competitor's spinning threads go idle")
    parser.add_argument("--chain", type=int, default=1000, help="ops in the per-op chain")
    parser.add_argument("--epochs", type=int, default=30, help="digits end-to-end epochs")
    parser.add_argument("--memory-steps", default="200,2000",
                        help="steps after which RSS is read")
    parser.add_argument("--json", default=os.path.join("out", "benchmarks.json"),
                        help="where to write the results ('' for nowhere)")
    parser.add_argument("--from-json", help="render a saved run instead of measuring")
    parser.add_argument("--profile", metavar="WORKLOAD", choices=sorted(
        ("W1", "W2", "W3")), help="instead: where minigrad's step spends its time (cProfile)")
    parser.add_argument("--profile-steps", type=int, default=500,
                        help="minigrad steps under cProfile for --profile")
    parser.add_argument("--markdown", action="store_true", help="print markdown tables")
    parser.add_argument("--update-readme", metavar="FILE", nargs="?", const=PERFORMANCE_DOC,
                        help="also write the markdown between the benchmark markers of FILE "
                             "(without FILE: the repository's docs/performance.md)")
    parser.add_argument("--threads", type=int,
                        help="limit BLAS (threadpoolctl), PyTorch and XLA (jax) to this many "
                             "threads")
    parser.add_argument("--keep-blas-env", action="store_true",
                        help="do not remove OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE")
    args = parser.parse_args(argv)
    args.only = _choices(args.only, SECTIONS, "--only")
    args.competitors = _choices(args.competitors, COMPETITORS, "--competitors")
    args.dtypes = _choices(args.dtypes, ("float32", "float64"), "--dtypes")
    args.workloads = _choices(args.workloads, ("W1", "W2", "W3", "C1"), "--workloads")
    args.memory_steps = [int(n) for n in args.memory_steps.split(",")]
    if len(args.memory_steps) != 2 or not 0 < args.memory_steps[0] < args.memory_steps[1]:
        parser.error(f"--memory-steps needs two increasing counts, got {args.memory_steps}")
    if args.repeat < 1 or args.block <= 0 or args.chain < 1 or args.epochs < 1 or \
            args.settle < 0:
        parser.error("--repeat, --chain and --epochs must be at least 1, --block positive, "
                     "--settle not negative")
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    if args.profile_steps < 1:
        parser.error(f"--profile-steps must be at least 1, got {args.profile_steps}")
    if args.smoke:
        args.repeat, args.block, args.chain, args.epochs, args.settle = 1, 0.001, 10, 1, 0.0
        args.memory_steps = [3, 6]
        args.profile_steps = 5
    return args


def _choices(text: str, allowed: Sequence[str], option: str) -> List[str]:
    """A comma-separated option as a list, every item checked against ``allowed``."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    for item in items:
        if item not in allowed:
            raise SystemExit(f"{option}: unknown value {item!r}; choose from {', '.join(allowed)}")
    return items


def available(competitors: Sequence[str]) -> tuple:
    """The requested competitors that are installed (NumPy and minigrad always are), without
    importing the others."""
    return tuple(c for c in competitors if c in ("numpy", "minigrad") or _installed(c))


def _installed(module: str) -> bool:
    """Whether ``module`` can be imported (found on the path, not imported)."""
    import importlib.util
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):       # ValueError: a module set to None in sys.modules
        return False


def _importable(competitors: tuple, log: Any) -> tuple:
    """``competitors`` without jax when importing it fails (found on the path is not enough:
    jaxlib may be missing or built for another CPU)."""
    from . import jax_step
    if "jax" in competitors and not jax_step.available():
        log("jax: found but failed to import; skipped")
        return tuple(c for c in competitors if c != "jax")
    return competitors


def run(args: argparse.Namespace, log: Any = print) -> Dict[str, Any]:
    """Measure the chosen sections and return the results dict (see ``report.py``)."""
    from . import harness
    removed = json.loads(os.environ.get(_REMOVED_ENV, "{}"))
    competitors = available(args.competitors)
    jax_threads = None if args.threads is None else _limit_threads(args.threads, competitors)
    competitors = _importable(competitors, log)
    results: Dict[str, Any] = {
        "machine": harness.machine_info(removed, competitors, jax_threads),
        "settings": {"smoke": args.smoke, "repeat": args.repeat, "block_seconds": args.block,
                     "settle_seconds": args.settle, "competitors": list(competitors),
                     "threads": args.threads},
    }
    sections = {"train": _train, "overhead": _overhead, "digits": _digits, "memory": _memory}
    for key, measure in sections.items():
        results[key] = measure(args, competitors, log) if key in args.only else []
    results["machine"]["load_average_after"] = harness.load_average()
    results["machine"]["blas"] = harness.blas_info()     # now with every library loaded
    return results


def _sized(workload: Any, args: argparse.Namespace) -> Any:
    """The workload, or its tiny version in smoke mode."""
    return workload.smoke() if args.smoke else workload


def _train(args: argparse.Namespace, competitors: tuple, log: Any) -> List[Dict[str, Any]]:
    """One full training step of each workload and dtype, every competitor interleaved."""
    import numpy as np

    from . import harness, numpy_calls, workloads
    rows = []
    for name in args.workloads:
        workload = _sized(workloads.ALL_WORKLOADS[name], args)
        for dtype in args.dtypes:
            log(f"train step {name} {dtype} ...")
            steps = workloads.steps_for(workload, np.dtype(dtype), competitors,
                                        smoke=args.smoke)
            timing = harness.compare(steps, args.repeat, args.block, settle=args.settle)
            rows.append({"workload": name, "title": workload.title,
                         "describe": workload.describe(), "dtype": dtype,
                         "median_s": {c: t["median_s"] for c, t in timing.items()},
                         "times_s": {c: t["times_s"] for c, t in timing.items()},
                         "faults_per_step": {c: t["faults_per_call"]
                                             for c, t in timing.items()},
                         "numpy_calls_per_step": numpy_calls.calls_of(steps)})
    return rows


def _overhead(args: argparse.Namespace, competitors: tuple, log: Any) -> List[Dict[str, Any]]:
    """µs per op of a chain of elementwise ops on shapes (1,) and (100,), and of chains 10x and
    100x as long on (100,) (with Python's cyclic collector on, as a user has it)."""
    import numpy as np

    from . import harness, overhead
    rows = []
    dtype = args.dtypes[0]
    for shape in ((1,), (100,)):
        log(f"per-op overhead {shape} {dtype} ...")
        chains = overhead.chains_for(shape, args.chain, np.dtype(dtype), competitors)
        timing = harness.compare(chains, args.repeat, args.block, settle=args.settle)
        rows.append({"shape": str(shape), "dtype": dtype, "length": args.chain,
                     "us_per_op": {c: t["median_s"] / args.chain * 1e6
                                   for c, t in timing.items()}})
    for length in (10 * args.chain, 100 * args.chain):   # does the cost per op grow with the
        log(f"per-op overhead (100,) {dtype}, {length} ops ...")         # graph? (issue 20)
        chain = {"minigrad": overhead.minigrad_chain((100,), length, np.dtype(dtype))}
        timing = harness.compare(chain, args.repeat, args.block, settle=args.settle)
        rows.append({"shape": "(100,)", "dtype": dtype, "length": length,
                     "us_per_op": {"minigrad": timing["minigrad"]["median_s"] / length * 1e6}})
    return rows


def _digits(args: argparse.Namespace, competitors: tuple, log: Any) -> List[Dict[str, Any]]:
    """Fit time (median of up to 3 interleaved fits) and test accuracy on the digits."""
    import time

    import numpy as np

    from . import digits
    data = digits.load_data()
    if data is None:
        log("digits: no data set (minigrad.data or scikit-learn needed); skipped")
        return []
    rows = []
    fitters = digits.fitters_for(competitors)
    names = list(fitters)
    for dtype in args.dtypes:
        log(f"digits end to end {dtype} ...")
        fits: Dict[str, List[Dict[str, Any]]] = {name: [] for name in names}
        for r in range(min(args.repeat, 3)):
            for name in names[r % len(names):] + names[:r % len(names)]:
                time.sleep(args.settle)
                fits[name].append(fitters[name](data, np.dtype(dtype), args.epochs))
        rows.append({"dtype": dtype, "fits": {
            name: dict(runs[0], fit_s=float(np.median([f["fit_s"] for f in runs])),
                       fit_runs_s=[f["fit_s"] for f in runs])
            for name, runs in fits.items()}})
    return rows


def _memory(args: argparse.Namespace, competitors: tuple, log: Any) -> List[Dict[str, Any]]:
    """Traced peak and retained memory of a W1 step; RSS over many steps."""
    import numpy as np

    from . import memory, workloads
    workload = _sized(workloads.WORKLOADS["W1"], args)
    dtype = np.dtype(args.dtypes[0])
    log(f"memory W1 {dtype} ...")
    row: Dict[str, Any] = {"workload": "W1", "dtype": dtype.name, "competitors": {}}
    for name in (c for c in ("numpy", "minigrad") if c in competitors):
        step = workloads.steps_for(workload, dtype, (name,))[name]
        entry = memory.traced_step(step)
        entry["rss"] = memory.rss_over_steps(step, *args.memory_steps)
        row["competitors"][name] = entry
    return [row]


def _limit_threads(threads: int, competitors: Sequence[str]) -> Optional[str]:
    """Cap BLAS (through threadpoolctl, for the rest of the process), PyTorch and XLA threads;
    returns what was done to XLA's (``jax_step.limit_threads``) when jax is a competitor."""
    from . import jax_step
    from .harness import optional_import
    threadpoolctl = optional_import("threadpoolctl")
    if threadpoolctl is None:
        raise SystemExit("--threads needs threadpoolctl: pip install -e \".[bench]\"")
    if "torch" in competitors:
        import torch
        torch.set_num_threads(threads)
    threadpoolctl.threadpool_limits(limits=threads)   # called, not entered: holds from now on
    return jax_step.limit_threads(threads) if "jax" in competitors else None


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run, print the table (or markdown), write the JSON; returns the exit status."""
    from . import report
    args = parse_args(argv)
    if args.profile:
        import numpy as np

        from . import hotpath
        if args.threads is not None:
            _limit_threads(args.threads, ())
        print(hotpath.profile_report(args.profile, np.dtype(args.dtypes[0]), args.profile_steps))
        return 0
    if args.from_json:
        results = report.read_json(args.from_json)
    else:
        results = run(args, log=lambda text: print(text, file=sys.stderr, flush=True))
        if args.json:
            report.write_json(results, args.json)
            print(f"results written to {args.json}", file=sys.stderr)
    print(report.render(results, markdown=args.markdown))
    if args.update_readme:
        report.update_readme(args.update_readme, report.render(results, markdown=True))
        print(f"{args.update_readme}: benchmark section updated", file=sys.stderr)
    return 0


if __name__ == "__main__":
    if not __package__:   # run as a script: make ``benchmarks`` importable from the checkout
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    reexec_without_blas_overrides(sys.argv[1:], as_module=False)
    from benchmarks.run import main as _main
    sys.exit(_main())
