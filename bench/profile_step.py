"""Where a chainrule training step spends its time, next to the hand-written NumPy step.

Wraps (in this process only) every op's ``forward`` and ``backward``, ``Op.apply``, the
engine and the optimizer with timers, runs the benchmark's own chainrule step closure,
and prints the time per step of each part:

* ``forward <Op>``: the op's NumPy computation; ``record <Op>``: the rest of ``apply``
  (wrapping arrays, recording the node);
* ``forward: Python outside ops``: module calls, functional wrappers, argument checks;
* ``backward <Op>``: the op's backward rule; ``engine``: the rest of ``backward()``;
* ``optimizer.step``, ``optimizer.zero_grad``.

Timers cost about 0.1 us each, so parts of a few microseconds are approximate. Usage::

    python -m bench.profile_step mlp_tiny            # breakdown
    python -m bench.profile_step per_op --cprofile   # and cProfile's top functions
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: python bench/profile_step.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

__all__ = ["Breakdown", "profile_workload", "main"]


class Breakdown:
    """Accumulated seconds per labelled part, with exclusive timing of nested parts."""

    def __init__(self) -> None:
        self.total: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._stack: list[list[float]] = []  # per open part: [child time]

    def wrap(self, label: Callable[..., str] | str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` timed under ``label`` (a string, or a function of the call's arguments);
        time spent in nested timed parts is subtracted (exclusive time)."""
        clock = time.perf_counter

        def timed(*args: Any, **kwargs: Any) -> Any:
            name = label if isinstance(label, str) else label(*args, **kwargs)
            self._stack.append([0.0])
            t0 = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = clock() - t0
                child = self._stack.pop()[0]
                self.total[name] += elapsed - child
                self.calls[name] += 1
                if self._stack:
                    self._stack[-1][0] += elapsed

        return timed

    def reset(self) -> None:
        self.total.clear()
        self.calls.clear()


def _op_classes() -> list[type]:
    from chainrule.autograd.function import Op

    seen, todo = [], [Op]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub not in seen:
                seen.append(sub)
                todo.append(sub)
    return seen


def _instrument(bd: Breakdown) -> Callable[[], None]:
    """Install the timers; returns a function that removes them."""
    import chainrule.autograd.engine as engine
    from chainrule.autograd import function
    from chainrule.optim.optimizer import Optimizer

    undo: list[tuple[Any, str, Any]] = []

    def patch(owner: Any, name: str, new: Any) -> None:
        undo.append((owner, name, owner.__dict__[name]))
        setattr(owner, name, new)

    apply_fn = function.Op.__dict__["apply"].__func__
    patch(function.Op, "apply", classmethod(
        bd.wrap(lambda cls, *a, **k: f"record {cls.__name__}", apply_fn)))
    for cls in _op_classes():
        for meth in ("forward", "backward"):
            if meth in cls.__dict__:
                patch(cls, meth, bd.wrap(f"{meth} {cls.__name__}", cls.__dict__[meth]))
    patch(engine, "run_backward", bd.wrap("engine", engine.run_backward))
    import chainrule.autograd as autograd_pkg

    if "run_backward" in vars(autograd_pkg):
        patch(autograd_pkg, "run_backward", bd.wrap("engine", vars(autograd_pkg)["run_backward"]))
    for cls in [Optimizer, *Optimizer.__subclasses__()]:
        for meth in ("step", "zero_grad"):
            if meth in cls.__dict__:
                patch(cls, meth, bd.wrap(f"optimizer.{meth}", cls.__dict__[meth]))

    def remove() -> None:
        for owner, name, old in reversed(undo):
            setattr(owner, name, old)

    return remove


def _closure(name: str) -> tuple[Callable[[], Any], Callable[[], Any], int]:
    """The chainrule and NumPy closures of a workload, and the ops per call (for per-op)."""
    from bench import workloads as W

    w = W.WORKLOADS[name]
    spec = w.full
    if w.kind in ("mlp", "memory"):
        fns = W.make_mlp_steps(spec, ["numpy", "chainrule"])
        return fns["chainrule"], fns["numpy"], 1
    if w.kind == "chain":
        spec = W.ChainSpec(spec.short_ops)
    fns = W.make_chain_runs(spec, ["numpy", "chainrule"])
    return fns["chainrule"], fns["numpy"], spec.n_ops


def _per_call(fn: Callable[[], Any], n: int) -> float:
    gc.collect()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def profile_workload(name: str, calls: int = 200, repeats: int = 5) -> dict[str, Any]:
    """Breakdown of chainrule's time per call of workload ``name`` (full size).

    Returns ``{"parts": {label: seconds per call}, "instrumented": s, "plain": s,
    "numpy": s, "n_ops": n}``; ``plain`` and ``numpy`` are the best of ``repeats``
    uninstrumented timings, interleaved.
    """
    cr_fn, np_fn, n_ops = _closure(name)
    for _ in range(3):
        cr_fn(), np_fn()
    plain, ref = [], []
    for _ in range(repeats):
        plain.append(_per_call(cr_fn, calls))
        ref.append(_per_call(np_fn, calls))
    bd = Breakdown()
    remove = _instrument(bd)
    try:
        step = bd.wrap("forward: Python outside ops", cr_fn)
        step()
        bd.reset()
        gc.collect()
        t0 = time.perf_counter()
        for _ in range(calls):
            step()
        instrumented = (time.perf_counter() - t0) / calls
    finally:
        remove()
    parts = {k: v / calls for k, v in bd.total.items()}
    return {"parts": parts, "calls": {k: v / calls for k, v in bd.calls.items()},
            "instrumented": instrumented, "plain": min(plain), "numpy": min(ref),
            "n_ops": n_ops}


def format_breakdown(name: str, res: dict[str, Any]) -> str:
    """The breakdown as a markdown table, largest parts first."""
    per = res["n_ops"]
    unit = "us/op" if per > 1 else "us/step"
    total = sum(res["parts"].values())
    lines = [
        f"{name}: chainrule {res['plain'] / per * 1e6:.2f} {unit} uninstrumented "
        f"({res['instrumented'] / per * 1e6:.2f} instrumented), hand-written NumPy "
        f"{res['numpy'] / per * 1e6:.2f} {unit}: ratio {res['plain'] / res['numpy']:.2f}x",
        "",
        f"| part | calls/step | {unit} | share |",
        "|---|---|---|---|",
    ]
    for label, sec in sorted(res["parts"].items(), key=lambda kv: -kv[1]):
        calls = res["calls"][label]
        lines.append(f"| {label} | {calls:g} | {sec / per * 1e6:.2f} | {sec / total:.1%} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    from bench.workloads import WORKLOADS

    p = argparse.ArgumentParser(prog="python -m bench.profile_step",
                                description=__doc__.split("\n")[0])
    p.add_argument("workload", choices=sorted(WORKLOADS))
    p.add_argument("--calls", type=int, default=200)
    p.add_argument("--cprofile", action="store_true", help="also print cProfile's top 25")
    args = p.parse_args(argv)
    res = profile_workload(args.workload, args.calls)
    print(format_breakdown(args.workload, res))
    if args.cprofile:
        cr_fn, _, _ = _closure(args.workload)
        cr_fn()
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(args.calls):
            cr_fn()
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
