"""Run chainrule's benchmarks and print a markdown table (``chainrule bench``).

Every measurement runs in a fresh worker process whose environment fixes the thread count
(``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``) before NumPy is
imported. Inside a worker, hand-written NumPy, chainrule and PyTorch (when installed) run
the same workload from the same weights on the same batches, interleaved round by round;
the table gives medians with min-max and the ratio of medians to NumPy's. Peak memory is
measured per library, each in its own process.

Usage::

    python -m bench.run                 # full run (a few minutes), writes bench/results/
    python -m bench.run --quick         # tiny sizes, one round: checks that it all works
    python -m bench.run --workload mlp_784 --threads 1,2 --rounds 21
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):  # run as a script: python bench/run.py
    sys.path.insert(0, str(REPO))

RESULTS_DIR = REPO / "bench" / "results"
README = REPO / "bench" / "README.md"
#: the top-level README also shows the latest table (its "Benchmarks" section)
READMES = (README, REPO / "README.md")
README_BEGIN, README_END = "<!-- bench-table:begin -->", "<!-- bench-table:end -->"

#: set to the thread count in every worker's environment, before NumPy is imported
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
#: BLAS tuning variables that are reported (never changed)
REPORTED_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "MKL_ENABLE_INSTRUCTIONS",
                 "OMP_WAIT_POLICY", "GOMP_SPINCOUNT")

WORKLOAD_NAMES = ("mlp_784", "mlp_tiny", "mlp_digits", "per_op", "chain_100k", "memory")

#: default rounds (samples per library) and seconds per sample, by workload kind
ROUNDS = {"mlp": 21, "per_op": 21, "chain": 5}
SAMPLE_SECONDS = 0.1
CHECK_STEPS = 10  # training steps whose losses are compared across libraries
MEMORY_STEPS = 3
#: a longer run as well (peak RSS only): what a step keeps must not grow with the steps
MEMORY_LONG_STEPS = 20
JOB_TIMEOUT = 900.0


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, no usage dump, no SystemExit
        raise _UsageError(message)


def _threads_arg(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        values = ()
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(
            f"--threads expects positive integers separated by commas, e.g. 1,2; got {text!r}"
        )
    return values


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``chainrule bench`` / ``python -m bench.run``."""
    p = _Parser(
        prog="chainrule bench",
        description="Benchmark chainrule against hand-written NumPy and PyTorch (if installed).",
    )
    p.add_argument("--quick", action="store_true",
                   help="tiny sizes, one round, one thread: a fast check that everything runs")
    p.add_argument("--workload", action="append", choices=WORKLOAD_NAMES, metavar="NAME",
                   help=f"run only this workload (repeatable): {', '.join(WORKLOAD_NAMES)}")
    p.add_argument("--threads", type=_threads_arg, default=None, metavar="N[,N]",
                   help="thread counts for every timed workload (default: 1, and 1,2 for "
                   "mlp_784)")
    p.add_argument("--rounds", type=_positive_int, default=None,
                   help="interleaved rounds (samples per library) for every timed workload")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="time shown for single-threaded runs: wall-clock (default) or the "
                   "process's CPU time, steadier on a busy machine; both go to the JSON")
    p.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    p.add_argument("--json", type=Path, default=None, metavar="PATH",
                   help="where to write the JSON results (default bench/results/latest.json, "
                   "quick.json with --quick)")
    p.add_argument("--markdown", type=Path, default=None, metavar="PATH",
                   help="where to write the markdown table (default next to the JSON)")
    p.add_argument("--update-readme", action="store_true",
                   help="also replace the results table in bench/README.md and README.md")
    p.add_argument("--strict", action="store_true",
                   help="exit with status 3 when a target is missed (default: report only)")
    p.add_argument("--worker", metavar="SPEC", help=argparse.SUPPRESS)
    return p


# -- the parent: jobs, worker processes, the report -------------------------------------


def _jobs(args: argparse.Namespace, libs: list[str]) -> list[dict[str, Any]]:
    from bench.workloads import WORKLOADS  # imports NumPy: fine in the parent

    names = args.workload or list(WORKLOAD_NAMES)
    jobs: list[dict[str, Any]] = []
    for name in dict.fromkeys(names):
        w = WORKLOADS[name]
        if w.kind == "memory":
            for method, steps in (("rss", MEMORY_STEPS), ("tracemalloc", MEMORY_STEPS),
                                  ("rss", MEMORY_LONG_STEPS)):
                for lib in libs:
                    if method == "tracemalloc" and lib == "torch":
                        continue
                    jobs.append({"kind": "memory", "workload": name, "threads": 1,
                                 "lib": lib, "method": method, "steps": steps,
                                 "quick": args.quick})
            continue
        threads = args.threads or ((1,) if args.quick else w.threads)
        for n in threads:
            rounds = args.rounds or (1 if args.quick else ROUNDS[w.kind])
            jobs.append({"kind": "time", "workload": name, "threads": n, "libs": libs,
                         "rounds": rounds, "quick": args.quick,
                         "sample_seconds": 0.0 if args.quick else SAMPLE_SECONDS,
                         "check_steps": 2 if args.quick else CHECK_STEPS})
    return jobs


def _child_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    for var in THREAD_VARS:
        env[var] = str(threads)
    paths = [str(REPO)]
    spec = importlib.util.find_spec("chainrule")
    if spec is not None and spec.origin:
        paths.append(str(Path(spec.origin).resolve().parent.parent))
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def _run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Run one job in a fresh worker process; its result, or ``{"error": ...}``."""
    with tempfile.TemporaryDirectory(prefix="chainrule-bench-") as tmp:
        spec_path, out_path = Path(tmp) / "spec.json", Path(tmp) / "out.json"
        spec_path.write_text(json.dumps({**job, "out": str(out_path)}))
        cmd = [sys.executable, "-m", "bench.run", "--worker", str(spec_path)]
        try:
            proc = subprocess.run(cmd, cwd=REPO, env=_child_env(job["threads"]),
                                  capture_output=True, text=True, timeout=JOB_TIMEOUT)
        except subprocess.TimeoutExpired:
            return {**job, "error": f"timed out after {JOB_TIMEOUT:.0f} s"}
        if proc.returncode != 0 or not out_path.exists():
            tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-3:]
            return {**job, "error": f"worker exited with {proc.returncode}: " + " | ".join(tail)}
        return json.loads(out_path.read_text())


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    commit = out.stdout.strip() or None
    if commit:  # read-only check for local changes to tracked files
        dirty = subprocess.run(["git", "diff-index", "--quiet", "HEAD", "--"], cwd=REPO,
                               capture_output=True, timeout=10).returncode == 1
        commit += " + local changes" if dirty else ""
    return commit


def machine_info() -> dict[str, Any]:
    """CPU, cores, OS, Python and library versions (the BLAS comes from the workers)."""
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        affinity = os.cpu_count()
    return {
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": affinity,
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy": _version("numpy"),
        "torch": _version("torch"),
        "chainrule": _version("chainrule"),
        "threadpoolctl": _version("threadpoolctl"),
        "commit": _git_commit(),
    }


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover
        return None


# targets: (text, test on the row) -- only the report; timing never fails a run unless
# --strict is given
def _ratio_target(limit: float) -> tuple[str, Any]:
    return (f"chainrule/numpy <= {limit:g}",
            lambda row: row["ratios"].get("chainrule") is not None
            and row["ratios"]["chainrule"] <= limit)


TARGETS: dict[str, tuple[str, Any]] = {
    "mlp_784": _ratio_target(1.05),
    "mlp_tiny": _ratio_target(2.0),
    "mlp_digits": _ratio_target(2.0),
    "per_op": ("chainrule <= 5 us/op",
               lambda row: row["stats"]["chainrule"]["median"] <= 5e-6),
    "memory_rss": _ratio_target(1.15),
    "memory_rss_20": _ratio_target(1.15),
}


def _rows_from_time_job(res: dict[str, Any], clock: str) -> list[dict[str, Any]]:
    from bench.workloads import WORKLOADS

    w = WORKLOADS[res["workload"]]
    # CPU time of a multi-threaded process sums its threads: such rows stay wall-clock
    used = clock if res["threads"] == 1 else "wall"
    base = {"workload": res["workload"], "title": w.describe(res["quick"]),
            "threads": res["threads"], "clock": used,
            "match": res.get("check"), "quick": res.get("quick", False)}
    if "error" in res:
        return [{**base, "error": res["error"], "stats": {}, "ratios": {}, "unit": "s"}]
    unit = "s/op" if w.kind == "per_op" else "s"
    rows = []
    if w.kind == "chain":
        short = res["short"]
        rows.append({**base, "workload": "chain_short",
                     "title": f"chain of {short['n_ops']:,} ops, fwd+bwd (NumPy: fwd only)",
                     "stats": short["clocks"][used], "unit": unit})
        deep = res["clocks"][used]
        linearity = {lib: deep[lib]["median"] / short["clocks"][used][lib]["median"]
                     for lib in deep}
        rows.append({**base, "title": w.describe(res["quick"]), "stats": deep, "unit": unit,
                     "linearity": linearity, "short_ops": short["n_ops"],
                     "stats_ops": res["n_ops"]})
    else:
        rows.append({**base, "stats": res["clocks"][used], "unit": unit})
    for row in rows:
        row["ratios"] = _ratios(row["stats"])
        row["paired_ratios"] = _paired_ratios(row["stats"])
    return rows


def _paired_ratios(stats: dict[str, Any]) -> dict[str, float | None]:
    """Median over rounds of (library's sample / NumPy's sample in the same round): the
    samples of one round are taken seconds apart, so slow changes of load cancel."""
    ref = stats.get("numpy", {}).get("samples")
    out: dict[str, float | None] = {}
    for lib in ("chainrule", "torch"):
        s = stats.get(lib)
        if not s or not ref or len(s["samples"]) != len(ref):
            out[lib] = None
            continue
        ratios = sorted(a / b for a, b in zip(s["samples"], ref, strict=True) if b > 0)
        n = len(ratios)
        out[lib] = (ratios[n // 2] if n % 2 else (ratios[n // 2 - 1] + ratios[n // 2]) / 2
                    ) if n else None
    return out


def _ratios(stats: dict[str, Any]) -> dict[str, float | None]:
    ref = stats.get("numpy", {}).get("median")
    out: dict[str, float | None] = {}
    for lib in ("chainrule", "torch"):
        s = stats.get(lib)
        out[lib] = s["median"] / ref if s and ref else None
    return out


def _memory_rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from bench.workloads import LOSS_RTOL, WORKLOADS, summarize

    rows = []
    for method, steps, label in (
            ("rss", MEMORY_STEPS, f"peak RSS above setup, {MEMORY_STEPS} steps"),
            ("tracemalloc", MEMORY_STEPS, f"tracemalloc peak above setup, {MEMORY_STEPS} steps"),
            ("rss", MEMORY_LONG_STEPS, f"peak RSS above setup, {MEMORY_LONG_STEPS} steps")):
        res = [r for r in results
               if r.get("method") == method and r.get("steps", MEMORY_STEPS) == steps]
        if not res:
            continue
        w = WORKLOADS[res[0]["workload"]]
        stats, errors, losses = {}, [], {}
        for r in res:
            if "error" in r:
                errors.append(f"{r['lib']}: {r['error']}")
                continue
            stats[r["lib"]] = summarize([r["peak_bytes"]])
            losses[r["lib"]] = r["losses"]
        match = None
        if "numpy" in losses and len(losses) > 1:
            import numpy as np

            ref = np.asarray(losses["numpy"], dtype=np.float64)
            diffs = {
                lib: float(np.max(np.abs(np.asarray(v) - ref) / np.abs(ref)))
                for lib, v in losses.items() if lib != "numpy"
            }
            match = {"max_rel_diff": diffs, "losses": losses,
                     "match": all(d <= LOSS_RTOL for d in diffs.values())}
        suffix = "" if steps == MEMORY_STEPS else f"_{steps}"
        row = {"workload": f"memory_{method}{suffix}",
               "title": f"{w.describe(res[0]['quick'])}: {label}",
               "threads": 1, "stats": stats, "unit": "bytes", "match": match,
               "ratios": _ratios(stats)}
        if errors:
            row["error"] = "; ".join(errors)
        rows.append(row)
    return rows


def _evaluate(row: dict[str, Any]) -> None:
    """Fill in the row's target text and whether it is met (None: cannot tell)."""
    name = row["workload"]
    row["met"] = None
    if name == "chain_100k":
        row["target"] = "chainrule < torch; deep/short <= 12x"
        lin = row.get("linearity")
        if "error" in row or lin is None or "chainrule" not in lin:
            return
        t_cr = row["stats"]["chainrule"]["median"]
        t_torch = row["stats"].get("torch", {}).get("median")
        row["target"] = (f"chainrule < torch; {row['short_ops']:,} -> {row['stats_ops']:,} "
                         f"ops: {lin['chainrule']:.1f}x <= 12x")
        row["met"] = lin["chainrule"] <= 12.0 and (t_torch is None or t_cr < t_torch)
        return
    target = TARGETS.get(name)
    if target is None:
        row["target"] = ""
        return
    row["target"] = target[0]
    if "error" not in row and row["stats"].get("chainrule") and row["stats"].get("numpy"):
        row["met"] = bool(target[1](row))


def _fmt_value(v: float | None, unit: str) -> str:
    if v is None:
        return "-"
    if unit == "bytes":
        return f"{v / 2**20:.1f} MiB"
    suffix = "/op" if unit == "s/op" else ""
    for scale, name in ((1.0, "s"), (1e-3, "ms"), (1e-6, "us")):
        if abs(v) >= scale or name == "us":
            x = v / scale
            decimals = 2 if abs(x) < 10 else 1 if abs(x) < 100 else 0
            return f"{x:.{decimals}f} {name}{suffix}"
    return str(v)  # pragma: no cover


def _fmt_stats(s: dict[str, Any] | None, unit: str) -> str:
    if not s:
        return "n/a"
    med = _fmt_value(s["median"], unit)
    if s["n"] < 2:
        return med
    lo, hi = _fmt_value(s["min"], unit).split()[0], _fmt_value(s["max"], unit).split()[0]
    return f"{med} ({lo}-{hi})"


def _fmt_match(m: dict[str, Any] | None) -> str:
    if not m:
        return "-"
    diffs = ", ".join(f"{lib} {d:.1g}" for lib, d in m["max_rel_diff"].items())
    return ("yes" if m["match"] else "**NO**") + (f" ({diffs})" if diffs else "")


def render_markdown(report: dict[str, Any]) -> str:
    """The report as markdown: machine and settings, then the table (ratios first)."""
    m, s = report["machine"], report["settings"]
    blas = report.get("blas") or {}
    lines = [
        f"Measured {report['created']} on {m['cpu']} ({m['usable_cpus']} usable of "
        f"{m['logical_cpus']} logical CPUs), {m['os']}, Python {m['python']}; "
        f"load average {report['loadavg_start']} at start, {report['loadavg_end']} at end.",
        "",
        f"NumPy {m['numpy']} ({blas.get('numpy', 'BLAS: unknown')}); "
        + (f"PyTorch {m['torch']} ({blas.get('torch', 'BLAS: unknown')}); "
           if "torch" in s["libs"] else "PyTorch: not run; ")
        + f"chainrule {m['chainrule']} (commit {m['commit']}). "
        f"OPENBLAS_CORETYPE={blas.get('OPENBLAS_CORETYPE')}, "
        f"OPENBLAS_L2_SIZE={blas.get('OPENBLAS_L2_SIZE')} (left as found).",
        "",
        "Time per training step (per op for per-op overhead; per run for chains): median "
        "(min-max) over interleaved rounds; ratios are ratios of medians to NumPy's. "
        + ("Clock: wall time. " if s.get("clock", "wall") == "wall" else
           "Clock: the process's CPU time for 1-thread rows (time spent waiting for a core on "
           "a busy machine is not counted), wall time for rows with more threads. ")
        + "Memory: peak above setup, each library in its own process."
        + (" **Quick mode: tiny sizes, one round; the numbers mean nothing.**"
           if s["quick"] else ""),
        "",
        "| workload | threads | chainrule / numpy | torch / numpy | target | met "
        "| numpy | chainrule | torch | loss match |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report["rows"]:
        r = row["ratios"]
        met = {True: "yes", False: "**NO**", None: "-"}[row.get("met")]
        cells = [
            row["title"], str(row["threads"]),
            f"{r['chainrule']:.2f}x" if r.get("chainrule") else "-",
            f"{r['torch']:.2f}x" if r.get("torch") else "-",
            row.get("target", ""), met,
        ]
        if "error" in row and not row["stats"]:
            cells += ["error: " + row["error"].replace("|", "/"), "", ""]
        else:
            cells += [_fmt_stats(row["stats"].get(lib), row["unit"])
                      for lib in ("numpy", "chainrule", "torch")]
        cells.append(_fmt_match(row.get("match")))
        lines.append("| " + " | ".join(cells) + " |")
    errors = [row for row in report["rows"] if "error" in row]
    for row in errors:
        lines.append(f"\nError in {row['workload']}: {row['error']}")
    return "\n".join(lines) + "\n"


def _blas_summary(jobs: list[dict[str, Any]]) -> dict[str, Any]:
    """One line per library saying which BLAS, kernel and thread counts the workers saw."""
    out: dict[str, Any] = {}
    for res in jobs:
        env = res.get("env")
        if not env:
            continue
        for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
            out.setdefault(var, env["env"].get(var) or "unset")
        pools = [p for p in env["threadpools"] if p.get("user_api") == "blas"]
        if pools and "numpy" not in out:
            p = pools[0]
            out["numpy"] = (f"{p.get('internal_api')} {p.get('version')}, kernel "
                            f"{p.get('architecture')}, {p.get('threading_layer')}")
        t = env.get("torch")
        if t and "torch" not in out:
            out["torch"] = f"{t.get('blas')}, CPU capability {t.get('cpu_capability')}"
    return out


def _write_readme_table(markdown: str, paths: tuple[Path, ...] = READMES) -> None:
    """Replace the text between the bench-table markers of each README with ``markdown``."""
    for path in paths:
        text = path.read_text() if path.exists() else ""
        if README_BEGIN not in text or README_END not in text:
            raise RuntimeError(f"--update-readme: {path} has no {README_BEGIN} ... {README_END}")
        head, rest = text.split(README_BEGIN, 1)
        _, tail = rest.split(README_END, 1)
        path.write_text(head + README_BEGIN + "\n" + markdown + README_END + tail)


def run(args: argparse.Namespace) -> int:
    """Run the jobs, print the table, write JSON and markdown; the exit status."""
    from bench.workloads import available_libs

    libs = available_libs(use_torch=not args.no_torch)
    jobs = _jobs(args, libs)
    report: dict[str, Any] = {
        "schema": 1,
        "created": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine_info(),
        "settings": {"quick": args.quick, "libs": libs, "clock": args.clock,
                     "thread_vars": list(THREAD_VARS),
                     "sample_seconds": SAMPLE_SECONDS, "check_steps": CHECK_STEPS,
                     "memory_steps": [MEMORY_STEPS, MEMORY_LONG_STEPS]},
        "loadavg_start": _loadavg(),
    }
    results = []
    t_start = time.perf_counter()
    for k, job in enumerate(jobs, 1):
        label = job["workload"] + (f" {job['lib']} {job['method']} {job['steps']} steps"
                                   if job["kind"] == "memory"
                                   else f" threads={job['threads']}")
        print(f"[{k}/{len(jobs)}] {label} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        res = _run_job(job)
        results.append(res)
        status = "error: " + res["error"] if "error" in res else "done"
        print(f"        {status} ({time.perf_counter() - t0:.1f} s)", file=sys.stderr, flush=True)
    report["loadavg_end"] = _loadavg()
    report["elapsed_seconds"] = round(time.perf_counter() - t_start, 1)

    rows: list[dict[str, Any]] = []
    for res in results:
        if res.get("kind") == "time":
            rows.extend(_rows_from_time_job(res, args.clock))
    rows.extend(_memory_rows([r for r in results if r.get("kind") == "memory"]))
    for row in rows:
        _evaluate(row)
    report["rows"] = rows
    report["blas"] = _blas_summary(results)
    report["jobs"] = results
    errors = [r for r in results if "error" in r]
    mismatches = [row for row in rows if row.get("match") and not row["match"]["match"]]
    missed = [row for row in rows if row.get("met") is False]
    report["ok"] = not errors and not mismatches

    markdown = render_markdown(report)
    print(markdown)
    json_path = args.json or RESULTS_DIR / ("quick.json" if args.quick else "latest.json")
    md_path = args.markdown or json_path.with_suffix(".md")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    md_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=1) + "\n")
    md_path.write_text(markdown)
    print(f"wrote {json_path} and {md_path}", file=sys.stderr)
    if args.update_readme:
        _write_readme_table(markdown)
        print(f"updated {', '.join(str(p) for p in READMES)}", file=sys.stderr)
    if errors:
        print(f"chainrule bench: {len(errors)} job(s) failed", file=sys.stderr)
        return 1
    if mismatches:
        names = ", ".join(row["workload"] for row in mismatches)
        print(f"chainrule bench: losses differ from NumPy's in {names}", file=sys.stderr)
        return 1
    if missed and args.strict:
        print(f"chainrule bench: {len(missed)} target(s) missed", file=sys.stderr)
        return 3
    return 0


# -- the worker: one measurement in a process of its own -----------------------------------


def _env_info(libs: Sequence[str]) -> dict[str, Any]:
    """Which BLAS and how many threads this process uses, as threadpoolctl sees them."""
    import numpy as np

    info: dict[str, Any] = {
        "env": {v: os.environ.get(v) for v in THREAD_VARS + REPORTED_VARS},
        "numpy": np.__version__,
        "threadpools": [],
    }
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        info["threadpools_error"] = "threadpoolctl is not installed"
    else:
        keys = ("user_api", "internal_api", "prefix", "version", "architecture",
                "threading_layer", "num_threads")
        info["threadpools"] = [{k: p.get(k) for k in keys} for p in threadpool_info()]
    if "torch" in libs:
        import torch

        config = torch.__config__.show()
        blas = next((part.split("=", 1)[1] for part in config.replace(",", " ").split()
                     if part.startswith("BLAS_INFO=")), "unknown")
        mkl = next((line.strip(" -") for line in config.splitlines() if "Math Kernel" in line),
                   None)
        info["torch"] = {
            "version": torch.__version__,
            "num_threads": torch.get_num_threads(),
            "blas": mkl or blas,
            "blas_info": blas,
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        }
    return info


def _timed(W: Any, fns: dict[str, Any], rounds: int, inner: int, per: int = 1) -> dict:
    """Interleaved samples of ``fns``, summarized per clock: ``{"wall": ..., "cpu": ...}``,
    each ``{lib: summary}`` in seconds per call divided by ``per``."""
    cpu: dict[str, list[float]] = {}
    wall = W.interleave(fns, rounds, inner, cpu=cpu)
    return {
        clock: {lib: W.summarize([x / per for x in t]) for lib, t in samples.items()}
        for clock, samples in (("wall", wall), ("cpu", cpu))
    }


def _time_job(spec: dict[str, Any]) -> dict[str, Any]:
    from bench import workloads as W

    w = W.WORKLOADS[spec["workload"]]
    size = w.spec(spec["quick"])
    libs = spec["libs"]
    rounds, target = spec["rounds"], spec["sample_seconds"]
    out: dict[str, Any] = {}
    if w.kind == "mlp":
        steps = W.make_mlp_steps(size, libs)
        out["check"] = W.check_mlp(steps, spec["check_steps"])  # also the warm-up
        out["inner"] = inner = W.calibrate(steps["numpy"], target)
        out["clocks"] = _timed(W, steps, rounds, inner)
    elif w.kind == "per_op":
        out["check"] = W.check_chain(size, libs)
        runs = W.make_chain_runs(size, libs)
        for run in runs.values():
            run()  # warm-up
        out["inner"] = inner = W.calibrate(runs["numpy"], target)
        out["clocks"] = _timed(W, runs, rounds, inner, per=size.n_ops)
        out["n_ops"] = size.n_ops
    else:  # chain: short and deep, one call per sample, NumPy forward only
        out["check"] = W.check_chain(W.ChainSpec(min(size.n_ops, 20_000)), libs)
        out["n_ops"] = size.n_ops
        for key, n_ops in (("short", size.short_ops), ("deep", size.n_ops)):
            runs = W.make_chain_runs(W.ChainSpec(n_ops), libs, numpy_backward=False)
            for run in runs.values():
                run()  # warm-up, and proof that no recursion limit is hit
            clocks = _timed(W, runs, rounds, 1)
            if key == "short":
                out["short"] = {"n_ops": n_ops, "clocks": clocks}
            else:
                out["clocks"] = clocks
        out["recursion_limit"] = sys.getrecursionlimit()
    return out


def _memory_job(spec: dict[str, Any]) -> dict[str, Any]:
    from bench import workloads as W

    size = W.WORKLOADS[spec["workload"]].spec(spec["quick"])
    return W.measure_memory(size, spec["lib"], spec["method"],
                            spec.get("steps", MEMORY_STEPS))


def worker(spec_path: str) -> int:
    """Run the job described by the JSON file ``spec_path``; write its result to ``out``."""
    spec = json.loads(Path(spec_path).read_text())
    libs = spec.get("libs") or [spec["lib"]]
    if "torch" in libs:  # before NumPy is used: same thread count for PyTorch's pools
        import torch

        torch.set_num_threads(spec["threads"])
    result = dict(spec)
    result["env"] = _env_info(libs)
    if spec["kind"] == "time":
        result.update(_time_job(spec))
    else:
        result.update(_memory_job(spec))
    Path(spec["out"]).write_text(json.dumps(result))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``chainrule bench``; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
    except _UsageError as e:
        print(f"chainrule bench: error: {e}", file=sys.stderr)
        return 2
    if args.worker:
        return worker(args.worker)
    try:
        return run(args)
    except (OSError, RuntimeError) as e:
        print(f"chainrule bench: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
