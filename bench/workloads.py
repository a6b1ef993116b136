"""The benchmark workloads, each built three ways: hand-written NumPy, chainrule, PyTorch.

All three versions of a workload start from the same float32 weights (generated once with
NumPy) and see the same batches, so their losses agree step by step to float32 rounding;
``check_mlp`` and ``check_chain`` verify it. The timing harness (``interleave``) runs the
libraries in turn, round after round, so that the noise of a shared machine falls on all
of them alike.

This module imports NumPy at the top: in a benchmark worker process it is imported only
after the thread-count environment variables are set (see ``bench.run``).
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
import itertools
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.conv_workloads import CNNSpec, make_cnn_steps
from bench.reference_numpy import NumpyMLP, chain_forward, chain_forward_backward
from bench.steps import library_step, numpy_step

__all__ = [
    "LIBS",
    "MLPSpec",
    "ChainSpec",
    "Workload",
    "WORKLOADS",
    "available_libs",
    "make_mlp_problem",
    "make_mlp_steps",
    "make_chain_problem",
    "make_chain_runs",
    "check_mlp",
    "check_chain",
    "interleave",
    "summarize",
    "measure_memory",
    "LOSS_RTOL",
]

LIBS = ("numpy", "chainrule", "torch")

#: losses (and chain outputs) must agree with NumPy's to this relative tolerance (float32)
LOSS_RTOL = 1e-5


# -- workload definitions -------------------------------------------------------------


@dataclass(frozen=True)
class MLPSpec:
    """A ReLU MLP ``sizes[0] -> ... -> sizes[-1]`` trained with SGD + momentum."""

    sizes: tuple[int, ...]
    batch: int
    loss: str  # "ce" (softmax cross-entropy, class indices) or "mse"
    lr: float = 0.01
    momentum: float = 0.9
    n_batches: int = 8  # the training loop cycles through this many distinct batches


@dataclass(frozen=True)
class ChainSpec:
    """``y = y * a + b`` repeated: ``n_ops`` elementwise ops on ``(width,)`` tensors."""

    n_ops: int
    width: int = 8
    short_ops: int = 0  # also time a chain this long (linearity in depth), if > 0


@dataclass(frozen=True)
class Workload:
    """A named workload: its full-size and ``--quick`` specs and its target."""

    name: str
    kind: str  # "mlp", "cnn", "per_op", "chain" or "memory"
    title: str  # formatted with the spec's fields: {sizes}, {batch}, {loss}, {n_ops}, ...
    full: Any
    quick: Any
    threads: tuple[int, ...] = (1,)

    def spec(self, quick: bool) -> Any:
        return self.quick if quick else self.full

    def describe(self, quick: bool = False) -> str:
        """The title with the actual sizes, e.g. ``MLP 784-512-512-10, b128, CE ...``."""
        spec = self.spec(quick)
        fields = dict(vars(spec))
        if isinstance(spec, MLPSpec):
            fields["sizes"] = "-".join(str(n) for n in spec.sizes)
            fields["loss"] = spec.loss.upper()
        elif isinstance(spec, CNNSpec):
            fields["image"] = "x".join(str(n) for n in spec.image)
            fields["channels"] = "-".join(str(n) for n in spec.channels)
        elif isinstance(spec, ChainSpec):
            fields["n_ops"] = f"{spec.n_ops:,}"
        return self.title.format(**fields)


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in [
        Workload(
            "mlp_784", "mlp", "MLP {sizes}, b{batch}, {loss} + SGD momentum",
            MLPSpec((784, 512, 512, 10), 128, "ce"),
            MLPSpec((784, 32, 32, 10), 16, "ce", n_batches=2),
            threads=(1, 2),
        ),
        Workload(
            "mlp_tiny", "mlp", "MLP {sizes}, b{batch}, {loss} + SGD momentum",
            MLPSpec((2, 16, 16, 1), 32, "mse"),
            MLPSpec((2, 8, 8, 1), 8, "mse", n_batches=2),
        ),
        Workload(
            "mlp_digits", "mlp", "MLP {sizes} (Digits-sized), b{batch}, {loss} + SGD momentum",
            MLPSpec((64, 128, 10), 32, "ce"),
            MLPSpec((64, 16, 10), 8, "ce", n_batches=2),
        ),
        Workload(
            "per_op", "per_op", "per-op overhead, fwd+bwd, shape ({width},), chain of {n_ops} ops",
            ChainSpec(100),
            ChainSpec(20),
        ),
        Workload(
            "chain_100k", "chain", "chain of {n_ops} ops, fwd+bwd (NumPy: fwd only)",
            ChainSpec(100_000, short_ops=10_000),
            ChainSpec(2_000, short_ops=200),
        ),
        Workload(
            "memory", "memory", "MLP {sizes}, b{batch}",
            MLPSpec((784, 2048, 2048, 10), 1024, "ce", n_batches=1),
            MLPSpec((784, 64, 64, 10), 32, "ce", n_batches=1),
        ),
        # conv (bench/conv_workloads.py)
        Workload(
            "lenet5", "cnn", "LeNet-5, b{batch} {image}, CE + SGD momentum",
            CNNSpec("lenet5", 64, (1, 28, 28)),
            CNNSpec("lenet5", 4, (1, 28, 28), n_batches=2),
        ),
        Workload(
            "convnet3", "cnn", "3 x Conv-BN-ReLU-MaxPool {channels}, b{batch} {image}, CE + SGD",
            CNNSpec("convnet3", 32, (3, 32, 32), (16, 32, 64)),
            CNNSpec("convnet3", 4, (3, 16, 16), (4, 8, 8), n_batches=2),
        ),
        Workload(
            "memory_cnn", "memory", "3 x Conv-BN-ReLU-MaxPool {channels}, b{batch} {image}",
            CNNSpec("convnet3", 32, (3, 32, 32), (16, 32, 64), n_batches=1),
            CNNSpec("convnet3", 4, (3, 16, 16), (4, 8, 8), n_batches=1),
        ),
    ]
}


def available_libs(use_torch: bool = True) -> list[str]:
    """The libraries to run: NumPy and chainrule always, PyTorch when it is installed."""
    libs = ["numpy", "chainrule"]
    if use_torch:
        try:
            found = importlib.util.find_spec("torch") is not None
        except (ImportError, ValueError):  # a broken or blocked installation
            found = False
        if found:
            libs.append("torch")
    return libs


# -- MLP problems ---------------------------------------------------------------------

Weights = list[tuple[np.ndarray, np.ndarray]]
Batches = list[tuple[np.ndarray, np.ndarray]]


def make_mlp_problem(spec: MLPSpec, seed: int = 0) -> tuple[Weights, Batches]:
    """Float32 weights (PyTorch's default ``Linear`` init ranges) and batches.

    Returns ``([(W, b), ...], [(x, t), ...])`` with ``W`` of shape ``(out, in)``; targets
    are int64 class indices for ``"ce"``, float32 ``(N, 1)``-like regression targets for
    ``"mse"``.
    """
    rng = np.random.default_rng(seed)
    weights = []
    for n_in, n_out in itertools.pairwise(spec.sizes):
        bound = 1.0 / np.sqrt(n_in)
        W = rng.uniform(-bound, bound, (n_out, n_in)).astype(np.float32)
        b = rng.uniform(-bound, bound, (n_out,)).astype(np.float32)
        weights.append((W, b))
    batches = []
    n_in, n_out = spec.sizes[0], spec.sizes[-1]
    for _ in range(spec.n_batches):
        x = rng.standard_normal((spec.batch, n_in), dtype=np.float32)
        if spec.loss == "ce":
            t = rng.integers(0, n_out, spec.batch, dtype=np.int64)
        else:
            t = rng.standard_normal((spec.batch, n_out), dtype=np.float32)
        batches.append((x, t))
    return weights, batches


def _library_mlp_step(lib: Any, spec: MLPSpec, weights: Weights,
                      batches: Batches) -> Callable[[], Any]:
    """The training step as a user writes it, for ``lib`` = chainrule or torch: the same
    code serves both, as their APIs are the same."""
    nn = lib.nn
    layers: list[Any] = []
    for i, (W, b) in enumerate(weights):
        layer = nn.Linear(W.shape[1], W.shape[0])
        with lib.no_grad():
            layer.weight.copy_(lib.from_numpy(W))
            layer.bias.copy_(lib.from_numpy(b))
        layers.append(layer)
        if i < len(weights) - 1:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    loss_fn = nn.CrossEntropyLoss() if spec.loss == "ce" else nn.MSELoss()
    optimizer = lib.optim.SGD(model.parameters(), lr=spec.lr, momentum=spec.momentum)
    return library_step(lib, lambda x, t: loss_fn(model(x), t), optimizer, batches)


def make_mlp_steps(
    spec: MLPSpec, libs: Sequence[str], seed: int = 0
) -> dict[str, Callable[[], Any]]:
    """One training-step closure per library, all from the same weights and batches.

    Each call of a closure trains one step on the next batch and returns the loss (in the
    library's own scalar type; ``float()`` converts it).
    """
    weights, batches = make_mlp_problem(spec, seed)
    return {lib: numpy_step(NumpyMLP(weights, spec.loss, spec.lr, spec.momentum), batches)
            if lib == "numpy" else
            _library_mlp_step(importlib.import_module(lib), spec, weights, batches)
            for lib in libs}


def _rel_diff(values: Sequence[float], reference: Sequence[float]) -> float:
    a = np.asarray(values, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    return float(np.max(np.abs(a - r) / np.maximum(np.abs(r), 1e-30)))


def check_mlp(steps: dict[str, Callable[[], Any]], n_steps: int) -> dict[str, Any]:
    """Train ``n_steps`` with every library (interleaved step by step) and compare losses.

    Returns ``{"losses": {lib: [...]}, "max_rel_diff": {lib: x}, "match": bool}``: every
    library's every loss must equal NumPy's to ``LOSS_RTOL``.
    """
    losses: dict[str, list[float]] = {lib: [] for lib in steps}
    for _ in range(n_steps):
        for lib, step in steps.items():
            losses[lib].append(step().item())
    ref = losses["numpy"]
    diffs = {lib: _rel_diff(v, ref) for lib, v in losses.items() if lib != "numpy"}
    finite = all(np.all(np.isfinite(v)) for v in losses.values())
    return {
        "losses": losses,
        "max_rel_diff": diffs,
        "match": finite and all(d <= LOSS_RTOL for d in diffs.values()),
    }


# -- op chains ------------------------------------------------------------------------

Pairs = list[tuple[Any, Any]]


def make_chain_problem(
    spec: ChainSpec, seed: int = 0, pool: int = 16
) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """The input ``x`` and ``n_ops // 2`` constant pairs ``(a, b)`` for ``y = y * a + b``.

    Multipliers are +-1 and shifts small, so values stay of order one over any depth, the
    gradient is exactly a product of signs (no overflow, no slow denormals), and every
    library computes bit-identical results. ``pool`` distinct pairs are reused.
    """
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(spec.width, dtype=np.float32)
    consts = [
        (
            rng.choice(np.array([-1.0, 1.0], dtype=np.float32), spec.width),
            rng.standard_normal(spec.width, dtype=np.float32) * np.float32(0.01),
        )
        for _ in range(pool)
    ]
    return x, [consts[k % pool] for k in range(spec.n_ops // 2)]


def _as_lib(lib: str, pairs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[Any, Pairs]:
    """The library's ``from_numpy`` and the pairs converted once per distinct array."""
    if lib == "chainrule":
        import chainrule as cr

        convert = cr.from_numpy
    else:
        import torch

        convert = torch.from_numpy
    cache: dict[int, Any] = {}

    def conv(a: np.ndarray) -> Any:
        if id(a) not in cache:
            cache[id(a)] = convert(a)
        return cache[id(a)]

    return convert, [(conv(a), conv(b)) for a, b in pairs]


def make_chain_runs(
    spec: ChainSpec, libs: Sequence[str], seed: int = 0, numpy_backward: bool = True
) -> dict[str, Callable[[], Any]]:
    """One closure per library running the chain forward and backward once.

    Each returns ``(y, dy/dx)``; NumPy's returns ``y`` only (forward only) when
    ``numpy_backward`` is False, as the chain benchmark measures it.
    """
    x0, pairs = make_chain_problem(spec, seed)
    seed_grad = np.ones_like(x0)
    runs: dict[str, Callable[[], Any]] = {}
    for lib in libs:
        if lib == "numpy":
            if numpy_backward:
                runs[lib] = lambda: chain_forward_backward(x0, pairs, seed_grad)
            else:
                runs[lib] = lambda: (chain_forward(x0, pairs), None)
            continue
        convert, lib_pairs = _as_lib(lib, pairs)
        runs[lib] = _autograd_chain(convert(x0.copy()), lib_pairs, convert(seed_grad))
    return runs


def _autograd_chain(x: Any, pairs: Pairs, seed_grad: Any) -> Callable[[], Any]:
    """The chain in chainrule or PyTorch (same code: the APIs are the same)."""
    x.requires_grad_(True)

    def run() -> Any:
        x.grad = None
        y = x
        for a, b in pairs:
            y = y * a + b
        y.backward(seed_grad)
        return y, x.grad

    return run


def _to_numpy(t: Any) -> np.ndarray | None:
    if t is None:
        return None
    if hasattr(t, "detach"):
        t = t.detach()
    return np.asarray(t.detach().numpy() if hasattr(t, "detach") else t)


def check_chain(spec: ChainSpec, libs: Sequence[str], seed: int = 0) -> dict[str, Any]:
    """Run the chain once per library; outputs and gradients must equal NumPy's."""
    runs = make_chain_runs(spec, libs, seed)
    results = {lib: [_to_numpy(v) for v in run()] for lib, run in runs.items()}
    y_ref, g_ref = results["numpy"]
    diffs = {}
    for lib, (y, g) in results.items():
        if lib != "numpy":
            diffs[lib] = max(_rel_diff(y, y_ref), _rel_diff(g, g_ref))
    return {"max_rel_diff": diffs, "match": all(d <= LOSS_RTOL for d in diffs.values())}


# -- timing ---------------------------------------------------------------------------


def calibrate(fn: Callable[[], Any], target: float, max_inner: int = 100_000) -> int:
    """How many calls of ``fn`` make one sample of about ``target`` seconds (at least 1)."""
    if target <= 0:
        return 1
    t0 = time.perf_counter()
    fn()
    once = time.perf_counter() - t0
    t0 = time.perf_counter()
    n = 1
    while True:  # refine on a few calls, the first one may include warm-up
        fn()
        elapsed = time.perf_counter() - t0
        if elapsed > target / 4 or n >= 8:
            break
        n += 1
    per_call = min(once, elapsed / n)
    return int(max(1, min(max_inner, round(target / max(per_call, 1e-9)))))


def interleave(
    fns: dict[str, Callable[[], Any]],
    rounds: int,
    inner: int,
    cpu: dict[str, list[float]] | None = None,
) -> dict[str, list[float]]:
    """Wall-clock seconds per call of each function: one sample per round and library.

    In round ``r`` the libraries run in an order rotated by ``r`` (so none is always
    first), each ``inner`` calls in a row; a sample is the mean time of those calls.
    Garbage is collected before each sample, outside the timed region. If ``cpu`` is a
    dict, the process CPU time per call of the same samples is appended to it (all
    threads of the process summed: on a busy machine it is the steadier measure of a
    single-threaded run, as time spent waiting for a core is not counted).
    """
    names = list(fns)
    times: dict[str, list[float]] = {name: [] for name in names}
    if cpu is not None:
        cpu.update({name: [] for name in names})
    wall_clock, cpu_clock = time.perf_counter, time.process_time
    for r in range(rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            fn = fns[name]
            gc.collect()
            c0 = cpu_clock()
            t0 = wall_clock()
            for _ in range(inner):
                fn()
            t1 = wall_clock()
            c1 = cpu_clock()
            times[name].append((t1 - t0) / inner)
            if cpu is not None:
                cpu[name].append((c1 - c0) / inner)
    return times


def summarize(samples: Sequence[float]) -> dict[str, Any]:
    """Median, min and max of a list of samples (and the samples themselves)."""
    a = np.asarray(samples, dtype=np.float64)
    return {
        "median": float(np.median(a)),
        "min": float(a.min()),
        "max": float(a.max()),
        "n": int(a.size),
        "samples": [float(s) for s in a],
    }


# -- memory ---------------------------------------------------------------------------


def _proc_status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"measure_memory: no {field} in /proc/self/status")


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) to the current RSS; False if unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def measure_memory(spec: MLPSpec | CNNSpec, lib: str, method: str,
                   n_steps: int = 3) -> dict[str, Any]:
    """Peak memory of ``n_steps`` training steps above the memory after setup.

    Setup is: imports, weights and batch built, model and optimizer constructed. Then:

    * ``method="rss"``: the kernel's peak resident set size (``VmHWM``, reset to the
      current RSS after setup through ``/proc/self/clear_refs``) minus the RSS after setup.
      It sees every allocator (NumPy's, PyTorch's, BLAS buffers), so it is comparable
      across the three libraries.
    * ``method="tracemalloc"``: the peak of the memory allocated through Python's
      allocators (NumPy reports its array buffers there) after setup; PyTorch's allocator
      is invisible to it, so it is only for NumPy and chainrule.

    Call it in a fresh process, one library per process. Returns the peak in bytes and the
    losses of the steps (compared across processes by the caller).
    """
    if method not in ("rss", "tracemalloc"):
        raise ValueError(f"measure_memory: method must be 'rss' or 'tracemalloc', got {method!r}")
    if method == "tracemalloc" and lib == "torch":
        raise ValueError("measure_memory: tracemalloc cannot see PyTorch's allocator")
    make = make_cnn_steps if isinstance(spec, CNNSpec) else make_mlp_steps
    step = make(spec, [lib])[lib]
    gc.collect()
    losses = []
    if method == "rss":
        base_kb = _proc_status_kb("VmRSS")
        reset = _reset_peak_rss()
        if not reset:
            raise RuntimeError("measure_memory: cannot reset the peak RSS (/proc/self/clear_refs)")
        for _ in range(n_steps):
            losses.append(step().item())
        peak = (_proc_status_kb("VmHWM") - base_kb) * 1024
        return {"peak_bytes": peak, "baseline_bytes": base_kb * 1024, "losses": losses}
    tracemalloc.start()
    try:
        for _ in range(n_steps):
            losses.append(step().item())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return {"peak_bytes": peak, "losses": losses}


# seq: the GPT and LSTM steps (bench/sequence_workloads.py)
from bench.sequence_workloads import SEQUENCE_WORKLOADS  # noqa: E402

WORKLOADS.update(SEQUENCE_WORKLOADS)
