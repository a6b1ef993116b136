"""Data-parallel scaling: throughput of N processes against 1, for three implementations.

The workload of issue 14: an MLP 784-2048-2048-10 (ReLU, cross-entropy, float32), SGD
with momentum 0.9, a global batch of 512 split evenly between the processes, one BLAS
thread per process. Each implementation trains the same weights on the same batches:

* ``chainrule``: ``DistributedDataParallel`` over MPI (plain training for 1 process);
* ``numpy``: the floor, written by hand: NumPy forward and backward, each layer's
  gradients averaged by an ``MPI_Iallreduce`` (mpi4py) started as soon as they are
  computed, all waited for before the SGD update;
* ``torch``: PyTorch's ``DistributedDataParallel`` on the gloo backend over loopback
  TCP (plain training for 1 process).

Every process runs ``--warmup`` steps, then times ``--steps`` steps between two barriers;
a run's time is its slowest process's. Throughput is global samples per second, and
``speed-up = throughput(N) / throughput(1)`` of the same implementation (target: >= 1.6
for 2 processes on 2 cores). Runs alternate between implementations and process counts,
``--rounds`` times; the median is reported with the load average around the runs, and
the median of each round's ratio. On a busy machine the last column helps: the speed-up
by CPU time (each run's slowest process's CPU seconds, which count waiting for a peer,
as MPI waits by polling) is what a dedicated machine would give, or a little less.

    python -m bench.distributed                      # 3 rounds, 2 processes, all three
    python -m bench.distributed --libs chainrule --rounds 5 --steps 30
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SIZES = (784, 2048, 2048, 10)
GLOBAL_BATCH = 512
LR, MOMENTUM = 0.01, 0.9
N_BATCHES = 4
LIBS = ("chainrule", "numpy", "torch")
RESULTS = Path(__file__).resolve().parent / "results" / "distributed.json"


# ------------------------------------------------------------------------------ worker


def _problem(rank: int, size: int, sizes: tuple[int, ...] = SIZES,
             batch: int = GLOBAL_BATCH) -> tuple[list[Any], list[Any]]:
    """The float32 weights (PyTorch's Linear ranges) and this rank's share of each batch."""
    import numpy as np

    rng = np.random.default_rng(0)
    weights = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        bound = 1.0 / np.sqrt(n_in)
        weights.append((rng.uniform(-bound, bound, (n_out, n_in)).astype(np.float32),
                        rng.uniform(-bound, bound, (n_out,)).astype(np.float32)))
    share = batch // size
    part = slice(rank * share, (rank + 1) * share)
    batches = []
    for _ in range(N_BATCHES):
        x = rng.standard_normal((batch, sizes[0]), dtype=np.float32)
        t = rng.integers(0, sizes[-1], batch, dtype=np.int64)
        batches.append((x[part].copy(), t[part].copy()))
    return weights, batches


def _library_step(lib: Any, weights: list[Any], batches: list[Any], wrap: Any) -> Any:
    """The training step as a user writes it (chainrule and PyTorch share the code)."""
    from bench.steps import library_step

    nn = lib.nn
    layers: list[Any] = []
    for k, (W, b) in enumerate(weights):
        linear = nn.Linear(W.shape[1], W.shape[0])
        with lib.no_grad():
            linear.weight.copy_(lib.from_numpy(W.copy()))
            linear.bias.copy_(lib.from_numpy(b.copy()))
        layers.append(linear)
        if k < len(weights) - 1:
            layers.append(nn.ReLU())
    model = wrap(nn.Sequential(*layers))
    optimizer = lib.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loss_fn = nn.CrossEntropyLoss()
    return library_step(lib, lambda x, t: loss_fn(model(x), t), optimizer, batches)


def _numpy_step(weights: list[Any], batches: list[Any], comm: Any) -> Any:
    """Hand-written NumPy forward/backward; per-layer Iallreduce during the backward."""
    import numpy as np

    from bench.reference_numpy import softmax_cross_entropy

    W = [w.copy() for w, _ in weights]
    b = [c.copy() for _, c in weights]
    vW = [np.zeros_like(w) for w in W]
    vb = [np.zeros_like(c) for c in b]
    size = 1 if comm is None else comm.Get_size()
    if comm is not None:
        from mpi4py import MPI
    count = [0]

    def step() -> Any:
        x, t = batches[count[0] % len(batches)]
        count[0] += 1
        inputs, pre, a = [], [], x
        last = len(W) - 1
        for i in range(last + 1):
            inputs.append(a)
            z = a @ W[i].T + b[i]
            if i < last:
                pre.append(z)
                a = np.maximum(z, 0)
        # the mean over the global batch, once the gradients are summed over the processes
        loss, dz = softmax_cross_entropy(z, t, batch=z.shape[0] * size)
        grads, requests = [None] * len(W), []
        for i in range(last, -1, -1):
            gW = dz.T @ inputs[i]
            gb = dz.sum(axis=0)
            grads[i] = (gW, gb)
            if comm is not None:  # start the exchange while the earlier layers compute
                requests += [comm.Iallreduce(MPI.IN_PLACE, gW, op=MPI.SUM),
                             comm.Iallreduce(MPI.IN_PLACE, gb, op=MPI.SUM)]
            if i > 0:
                dz = (dz @ W[i]) * (pre[i - 1] > 0)
        if requests:
            MPI.Request.Waitall(requests)
        for i, (gW, gb) in enumerate(grads):
            vW[i] *= MOMENTUM
            vW[i] += gW
            W[i] -= LR * vW[i]
            vb[i] *= MOMENTUM
            vb[i] += gb
            b[i] -= LR * vb[i]
        return loss

    return step


def worker(lib_name: str, steps: int, warmup: int, sizes: tuple[int, ...] = SIZES,
           batch: int = GLOBAL_BATCH, report: str = ".") -> None:
    """One process of a run: writes its timing to ``report/rank<r>.json``."""
    rank = int(os.environ.get("PMI_RANK", "0"))
    size = int(os.environ.get("PMI_SIZE", "1"))
    weights, batches = _problem(rank, size, sizes, batch)
    barrier: Any = lambda: None  # noqa: E731
    if lib_name == "chainrule":
        import chainrule as cr

        wrap: Any = lambda m: m  # noqa: E731
        if size > 1:
            import chainrule.distributed as dist

            dist.init_process_group("mpi")
            wrap = cr.nn.parallel.DistributedDataParallel
            barrier = dist.barrier
        step = _library_step(cr, weights, batches, wrap)
    elif lib_name == "torch":
        import torch

        torch.set_num_threads(1)
        wrap = lambda m: m  # noqa: E731
        if size > 1:
            import torch.distributed as tdist

            os.environ.update(RANK=str(rank), WORLD_SIZE=str(size))
            tdist.init_process_group("gloo")
            wrap = torch.nn.parallel.DistributedDataParallel
            barrier = tdist.barrier
        step = _library_step(torch, weights, batches, wrap)
    elif lib_name == "numpy":
        comm = None
        if size > 1:
            from mpi4py import MPI

            comm = MPI.COMM_WORLD
            barrier = comm.Barrier
        step = _numpy_step(weights, batches, comm)
    else:
        raise SystemExit(f"unknown implementation {lib_name!r}")
    losses = [float(step()) for _ in range(warmup)]
    barrier()
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(steps):
        loss = step()
    barrier()
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    losses.append(float(loss))
    Path(report, f"rank{rank}.json").write_text(json.dumps(
        {"lib": lib_name, "rank": rank, "size": size, "seconds": seconds,
         "cpu_seconds": cpu_seconds, "steps": steps,
         "first_loss": losses[0], "last_loss": losses[-1]}))


# ------------------------------------------------------------------------------ driver


def _mpiexec() -> str:
    here = Path(sys.executable).parent / "mpiexec"
    return str(here) if here.exists() else (shutil.which("mpiexec") or "mpiexec")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_once(lib: str, nproc: int, steps: int, warmup: int, timeout: float,
             sizes: tuple[int, ...] = SIZES, batch: int = GLOBAL_BATCH) -> dict[str, Any]:
    """One run of ``lib`` on ``nproc`` processes: its slowest process's time."""
    with tempfile.TemporaryDirectory() as report:
        return _run_once(lib, nproc, steps, warmup, timeout, sizes, batch, report)


def _run_once(lib: str, nproc: int, steps: int, warmup: int, timeout: float,
              sizes: tuple[int, ...], batch: int, report: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "OMPI_"))}
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()))
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, "-m", "bench.distributed", "--worker", lib, "--steps", str(steps),
           "--warmup", str(warmup), "--sizes", ",".join(map(str, sizes)), "--batch", str(batch),
           "--report", report]
    if nproc > 1:
        cmd = [_mpiexec(), "-n", str(nproc), *cmd]
    load_before = os.getloadavg()[0]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=root,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise RuntimeError(f"{lib} on {nproc} processes did not finish in {timeout} s") from None
    if proc.returncode != 0:
        raise RuntimeError(f"{lib} on {nproc} processes failed:\n{err[-3000:]}")
    rows = [json.loads(p.read_text()) for p in sorted(Path(report).glob("rank*.json"))]
    if len(rows) != nproc:
        raise RuntimeError(f"{lib} on {nproc} processes: {len(rows)} reports\n{out}\n{err}")
    seconds = max(r["seconds"] for r in rows)
    cpu_seconds = max(r["cpu_seconds"] for r in rows)
    # each process's loss is the mean over its share: their mean is the global batch's
    return {"lib": lib, "nproc": nproc, "seconds": seconds,
            "samples_per_s": steps * batch / seconds,
            "samples_per_cpu_s": steps * batch / cpu_seconds,
            "last_loss": sum(r["last_loss"] for r in rows) / nproc,
            "first_loss": sum(r["first_loss"] for r in rows) / nproc,
            "load_before": load_before, "load_after": os.getloadavg()[0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.distributed",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=LIBS, help=argparse.SUPPRESS)
    parser.add_argument("--libs", default=",".join(LIBS),
                        help="implementations to run (default: all three)")
    parser.add_argument("--nproc", type=int, default=2, help="processes to compare with 1")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per run")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each configuration")
    parser.add_argument("--timeout", type=float, default=600, help="seconds for one run")
    parser.add_argument("--json", default=str(RESULTS), help="where to write every sample")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)),
                        help="layer widths (default: the issue's MLP)")
    parser.add_argument("--batch", type=int, default=GLOBAL_BATCH, help="global batch")
    parser.add_argument("--report", default=".", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = tuple(int(w) for w in args.sizes.split(","))
    if args.worker:
        worker(args.worker, args.steps, args.warmup, sizes, args.batch, args.report)
        return 0
    libs = [x for x in args.libs.split(",") if x]
    for lib in libs:
        if lib not in LIBS:
            parser.error(f"unknown implementation {lib!r} (choose from {', '.join(LIBS)})")
    if "torch" in libs:
        try:
            import torch  # noqa: F401
        except ImportError:
            print("torch is not installed: its rows are skipped", file=sys.stderr)
            libs.remove("torch")
    samples: list[dict[str, Any]] = []
    for r in range(args.rounds):
        for lib in libs:
            for nproc in (1, args.nproc):
                s = run_once(lib, nproc, args.steps, args.warmup, args.timeout, sizes,
                             args.batch)
                s["round"] = r
                samples.append(s)
                print(f"round {r + 1}/{args.rounds}  {lib:9s} x{nproc}  "
                      f"{s['samples_per_s']:8.1f} samples/s  loss {s['last_loss']:.5f}  "
                      f"load {s['load_before']:.2f}->{s['load_after']:.2f}", flush=True)
    print()
    print(f"MLP {'-'.join(map(str, sizes))}, global batch {args.batch}, SGD momentum, "
          f"float32, 1 thread per process, median of {args.rounds} runs of {args.steps} steps")
    print()
    print(f"| implementation | samples/s x1 | samples/s x{args.nproc} | speed-up | "
          "speed-up per round (median) | speed-up by CPU time | load average during the runs |")
    print("|---|---|---|---|---|---|---|")
    summary = {}
    for lib in libs:
        one = statistics.median(s["samples_per_s"] for s in samples
                                if s["lib"] == lib and s["nproc"] == 1)
        many = statistics.median(s["samples_per_s"] for s in samples
                                 if s["lib"] == lib and s["nproc"] == args.nproc)
        loads = [s["load_before"] for s in samples if s["lib"] == lib]
        # the two runs of one round are next to each other in time: their ratio is
        # steadier on a busy machine than the ratio of the medians
        rate = {(s["round"], s["nproc"]): s["samples_per_s"] for s in samples
                if s["lib"] == lib}
        paired = statistics.median(rate[r, args.nproc] / rate[r, 1] for r in range(args.rounds))
        cpu = {(s["round"], s["nproc"]): s["samples_per_cpu_s"] for s in samples
               if s["lib"] == lib}
        by_cpu = statistics.median(cpu[r, args.nproc] / cpu[r, 1] for r in range(args.rounds))
        summary[lib] = {"x1": one, f"x{args.nproc}": many, "speedup": many / one,
                        "speedup_per_round": paired, "speedup_by_cpu_time": by_cpu}
        print(f"| {lib} | {one:.0f} | {many:.0f} | {many / one:.2f}x | {paired:.2f}x | "
              f"{by_cpu:.2f}x | {min(loads):.1f}-{max(loads):.1f} |")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(
        {"machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
         "nproc": args.nproc, "steps": args.steps, "rounds": args.rounds,
         "summary": summary, "samples": samples}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
