"""Turning a results dict into the terminal table, the README's markdown, and target checks.

The results dict (also the JSON file) has the keys ``machine``, ``settings``, ``train``,
``overhead``, ``digits`` and ``memory``; each section is a list of rows (see ``run.py``).
"""
from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Dict, List, Optional, Sequence

# Targets of issue 7 that a run can judge.
TRAIN_TARGETS = {"W1": 1.10, "W2": 1.30, "W3": 1.10}   # minigrad / NumPy floor, float32
PER_OP_TARGET_US = 5.0


def write_json(results: Dict[str, Any], path: str) -> None:
    """Write ``results`` to ``path`` atomically (a temp file in the same folder, then rename)."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".bench-", suffix=".json", dir=folder)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(results, f, indent=1, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_json(path: str) -> Dict[str, Any]:
    """Results written by ``write_json``."""
    with open(path) as f:
        return json.load(f)


def _table(header: Sequence[str], rows: List[Sequence[str]], markdown: bool) -> str:
    """A plain aligned table, or a GitHub markdown table."""
    if markdown:
        lines = ["| " + " | ".join(header) + " |",
                 "|" + "|".join("---" if i == 0 else "--:" for i in range(len(header))) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    fmt = lambda row: "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)  # noqa: E731
                                for i, (c, w) in enumerate(zip(row, widths)))
    return "\n".join([fmt(header), "  ".join("-" * w for w in widths)] + [fmt(r) for r in rows])


def _ratio_cell(value: Optional[float], base: Optional[float], unit_scale: float,
                digits: int) -> str:
    """``1.23 (1.05x)``: a time and its ratio to ``base``."""
    if value is None:
        return "-"
    text = f"{value * unit_scale:.{digits}f}"
    return f"{text} ({value / base:.2f}x)" if base else text


def train_table(results: Dict[str, Any], markdown: bool = False) -> str:
    """Median ms per training step, and each competitor's ratio to the NumPy floor."""
    rows_in = results.get("train", [])
    competitors = [c for c in ("numpy", "minigrad", "torch")
                   if any(c in row["median_s"] for row in rows_in)]
    header = ["workload", "dtype"] + [f"{c} ms" for c in competitors]
    rows = []
    for row in rows_in:
        base = row["median_s"].get("numpy")
        cells = [f"{row['workload']} {row['title']} ({row['describe']})", row["dtype"]]
        for c in competitors:
            value = row["median_s"].get(c)
            cells.append(_ratio_cell(value, None if c == "numpy" else base, 1e3, 3))
        rows.append(cells)
    return _table(header, rows, markdown)


def overhead_table(results: Dict[str, Any], markdown: bool = False) -> str:
    """Microseconds per elementwise op in the chain."""
    rows_in = results.get("overhead", [])
    names: List[str] = []
    for row in rows_in:
        names += [n for n in row["us_per_op"] if n not in names]
    header = ["shape", "dtype", "ops"] + [f"{n} µs/op" for n in names]
    rows = [[row["shape"], row["dtype"], str(row["length"])] +
            [f"{row['us_per_op'][n]:.2f}" if n in row["us_per_op"] else "-" for n in names]
            for row in rows_in]
    return _table(header, rows, markdown)


def digits_table(results: Dict[str, Any], markdown: bool = False) -> str:
    """End-to-end fit time and test accuracy on the digits."""
    header = ["dtype", "competitor", "fit s", "vs sklearn", "test accuracy", "epochs"]
    rows = []
    for row in results.get("digits", []):
        base = row["fits"].get("sklearn", {}).get("fit_s")
        for name, fit in row["fits"].items():
            ratio = f"{fit['fit_s'] / base:.2f}x" if base else "-"
            rows.append([row["dtype"], name, f"{fit['fit_s']:.2f}", ratio,
                         f"{fit['accuracy']:.4f}", str(fit["epochs"])])
    return _table(header, rows, markdown)


def memory_table(results: Dict[str, Any], markdown: bool = False) -> str:
    """Peak traced allocation of one step, what a step retains, RSS over many steps."""
    header = ["workload", "competitor", "peak MB / step", "retained KB / step",
              "RSS MB (steps)", "RSS growth MB", "page faults / step"]
    rows = []
    for row in results.get("memory", []):
        for name, m in row["competitors"].items():
            rss = m.get("rss")
            rss_text = "-" if rss is None else ", ".join(
                f"{mb:.1f} ({n})" for mb, n in zip(rss["rss_mb"], rss["steps"]))
            rows.append([f"{row['workload']} {row['dtype']}", name,
                         f"{m['peak_bytes'] / 2**20:.2f}", f"{m['retained_bytes'] / 2**10:.1f}",
                         rss_text, "-" if rss is None else f"{rss['growth_mb']:+.1f}",
                         "-" if rss is None else f"{rss['faults_per_step']:.0f}"])
    return _table(header, rows, markdown)


def target_checks(results: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Issue 7's targets that these results can judge: description, measured, met."""
    checks = []
    for row in results.get("train", []):
        times = row["median_s"]
        if row["dtype"] != "float32" or "minigrad" not in times or "numpy" not in times:
            continue
        limit = TRAIN_TARGETS.get(row["workload"])
        if limit is not None:
            ratio = times["minigrad"] / times["numpy"]
            checks.append({"target": f"{row['workload']} minigrad / NumPy <= {limit:.2f}",
                           "measured": f"{ratio:.2f}", "met": ratio <= limit})
        if row["workload"] in ("W1", "W2") and "torch" in times:
            checks.append({"target": f"{row['workload']} minigrad faster than PyTorch",
                           "measured": f"{times['minigrad'] / times['torch']:.2f}x torch",
                           "met": times["minigrad"] < times["torch"]})
    for row in results.get("overhead", []):
        cost = row["us_per_op"].get("minigrad")
        if row["shape"] == "(100,)" and cost is not None:
            checks.append({"target": f"per-op cost on (100,) {row['dtype']} <= "
                                     f"{PER_OP_TARGET_US:g} µs",
                           "measured": f"{cost:.2f} µs", "met": cost <= PER_OP_TARGET_US})
    for row in results.get("digits", []):
        fits = row["fits"]
        if "minigrad" in fits and "sklearn" in fits and row["dtype"] == "float32":
            ratio = fits["minigrad"]["fit_s"] / fits["sklearn"]["fit_s"]
            checks.append({"target": "digits fit time <= 1.5x MLPClassifier, accuracy >= its",
                           "measured": f"{ratio:.2f}x, {fits['minigrad']['accuracy']:.4f} vs "
                                       f"{fits['sklearn']['accuracy']:.4f}",
                           "met": ratio <= 1.5 and
                           fits["minigrad"]["accuracy"] >= fits["sklearn"]["accuracy"]})
    for row in results.get("memory", []):
        m = row["competitors"].get("minigrad", {})
        if m.get("rss") is not None:
            growth = m["rss"]["growth_mb"]
            checks.append({"target": f"memory flat over {m['rss']['steps'][1]} steps",
                           "measured": f"{growth:+.1f} MB RSS, "
                                       f"{m['retained_bytes'] / 2**10:.1f} KB retained per step",
                           "met": growth < 5 and m["retained_bytes"] < 2**20})
    return checks


def machine_lines(machine: Dict[str, Any]) -> List[str]:
    """The machine description, one fact per line."""
    lines = [f"CPU: {machine['cpu']} ({machine['logical_cpus']} logical CPUs)",
             f"Python {machine['python']}, NumPy {machine['numpy']}, minigrad "
             f"{machine['minigrad']}"]
    for pool in machine.get("blas") or []:
        lines.append(f"{pool['user_api']} ({pool.get('prefix')}): {pool['internal_api']} "
                     f"{pool['version']}, kernel {pool.get('architecture')}, "
                     f"{pool['num_threads']} threads")
    if not machine.get("blas"):
        lines.append("BLAS: unknown (install threadpoolctl: pip install -e \".[bench]\")")
    if machine.get("openblas_env_removed"):
        removed = ", ".join(f"{k}={v}" for k, v in machine["openblas_env_removed"].items())
        lines.append(f"removed from the environment for this run: {removed}")
    if machine.get("openblas_env"):
        kept = ", ".join(f"{k}={v}" for k, v in machine["openblas_env"].items())
        lines.append(f"OpenBLAS overrides in force: {kept}")
    torch = machine.get("torch")
    lines.append("PyTorch: not installed" if torch is None else
                 f"PyTorch {torch['version']} CPU, {torch['threads']} threads")
    lines.append("scikit-learn: " + (machine.get("sklearn") or "not installed"))
    lines.append(f"measured {machine['date_utc']} UTC")
    return lines


def render(results: Dict[str, Any], markdown: bool = False) -> str:
    """The whole report: machine, the four tables, and the targets."""
    settings = results.get("settings", {})
    heading = (lambda text: f"\n#### {text}\n") if markdown else \
        (lambda text: f"\n{text}\n{'=' * len(text)}")
    parts = []
    machine = machine_lines(results["machine"])
    parts.append("\n".join(f"- {line}" for line in machine) if markdown else "\n".join(machine))
    parts.append(f"{'mode: smoke (tiny sizes, not a measurement); ' if settings.get('smoke') else ''}"
                 f"medians of {settings.get('repeat')} interleaved repetitions, "
                 f"blocks of about {settings.get('block_seconds')} s")
    sections = [("train", "Training step: median ms per step (ratio to hand-written NumPy)",
                 train_table),
                ("overhead", "Per-op overhead: chain of elementwise multiplications, forward "
                             "plus backward", overhead_table),
                ("digits", "Digits end to end: 64-100-10, Adam lr 1e-3, batch 32",
                 digits_table),
                ("memory", "Memory of a training step", memory_table)]
    for key, title, table in sections:
        if results.get(key):
            parts.append(heading(title))
            parts.append(table(results, markdown))
    checks = [] if settings.get("smoke") else target_checks(results)
    if checks:
        parts.append(heading("Targets"))
        rows = [[c["target"], c["measured"], "met" if c["met"] else "MISSED"] for c in checks]
        parts.append(_table(["target", "measured", "result"], rows, markdown))
    return "\n".join(parts) + "\n"
