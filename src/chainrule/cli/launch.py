"""``chainrule train --nproc N``: data-parallel training on N processes started by mpiexec.

``--nproc N`` (N > 1) starts ``mpiexec -n N python -m chainrule train <the same options>``
and waits for it. Each of those processes (``PMI_RANK`` set by the launcher; plain
``mpiexec -n N chainrule train`` works too) trains a ``DistributedDataParallel`` replica:

- every process draws the same batches as a single-process run would (the same seeded
  generator), and takes its contiguous share of each batch; its summed loss is scaled so
  that the averaged gradient is the mean over the whole batch. N processes therefore
  train as one does with the same ``--batch-size`` (to rounding), and ``--batch-size`` is
  the global batch;
- the test set is split between the processes and the metrics are summed over them;
- rank 0 alone prints, shows the progress bar and writes the checkpoint, metrics and
  curves. The checkpoint holds the bare model (no ``module.`` prefix), so a run can be
  resumed with any number of processes, or evaluated by ``chainrule eval``.

A process that fails ends the whole job (see :mod:`chainrule.distributed`), and the exit
code of mpiexec is returned.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.cli.checkpoint import checkpoint_state, restore
from chainrule.cli.common import (
    CLIError,
    dataset_shape,
    evaluate,
    load_datasets,
    positive_int,
    progress,
    sample_shape,
)
from chainrule.cli.config import make_model
from chainrule.serialization import save
from chainrule.utils.data import DataLoader, Subset

__all__ = ["add_arguments", "find_mpiexec", "launch", "mpiexec_command", "run",
           "train_distributed", "under_mpi"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--nproc`` (in its own group of the ``train`` options)."""
    group = parser.add_argument_group("parallel")
    group.add_argument("--nproc", type=positive_int, default=None, metavar="N",
                       help="train on N processes with DistributedDataParallel, started by "
                            "mpiexec (needs pip install 'chainrule[distributed]'); "
                            "--batch-size stays the global batch")


def under_mpi() -> bool:
    """Whether an MPI launcher started this process."""
    from chainrule.distributed._group import _launched_by_mpi

    return _launched_by_mpi()


def wants_distributed(args: argparse.Namespace) -> bool:
    """Whether ``chainrule train`` should take the distributed path."""
    nproc = getattr(args, "nproc", None)
    if under_mpi():
        return int(os.environ.get("PMI_SIZE", nproc or 1)) > 1 or (nproc or 1) > 1
    return nproc is not None and nproc > 1


def find_mpiexec() -> str:
    """The MPI launcher: the one beside this Python (the mpich wheel's), else on PATH."""
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.path.isfile(here) and os.access(here, os.X_OK):
        return here
    found = shutil.which("mpiexec")
    if found is None:
        raise CLIError(
            "--nproc needs mpiexec: pip install 'chainrule[distributed]' (mpi4py and the "
            "MPICH wheel, which brings mpiexec)"
        )
    return found


def mpiexec_command(nproc: int, argv: list[str]) -> list[str]:
    """``mpiexec -n N python -m chainrule train ARGV``."""
    return [find_mpiexec(), "-n", str(nproc), sys.executable, "-m", "chainrule", "train", *argv]


def _child_argv(args: argparse.Namespace, config_options: set[str]) -> list[str]:
    """The ``train`` options given on this command line, for the processes mpiexec starts."""
    argv: list[str] = []
    for name in sorted(config_options):
        if not hasattr(args, name):
            continue
        value = getattr(args, name)
        if name == "hidden":
            value = ",".join(str(w) for w in value) if value else "none"
        argv += ["--" + name.replace("_", "-"), str(value)]
    for name in ("out", "resume"):
        if getattr(args, name, None) is not None:
            argv += ["--" + name, str(getattr(args, name))]
    if getattr(args, "save_every", 0):
        argv += ["--save-every", str(args.save_every)]
    for flag in ("download", "no_progress"):
        if getattr(args, flag, False):
            argv.append("--" + flag.replace("_", "-"))
    return argv


def launch(nproc: int, argv: list[str]) -> int:
    """Run ``chainrule train ARGV`` on ``nproc`` processes; returns mpiexec's exit code."""
    env = dict(os.environ)
    cores = os.cpu_count() or 1
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, str(max(1, cores // nproc)))  # no oversubscription
    proc = subprocess.Popen(mpiexec_command(nproc, argv), env=env)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        # Ctrl-C reached mpiexec and the processes too (one process group): let mpiexec
        # end them and clean up, and kill it only if it does not within a few seconds
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        raise


def run(args: argparse.Namespace, config: Any, out: str, resume: Any,
        config_options: set[str]) -> int:
    """The distributed branch of ``chainrule train``'s ``run``."""
    if not under_mpi():
        return launch(args.nproc, _child_argv(args, config_options))
    from chainrule import distributed as dist

    if not dist.is_available():
        raise CLIError("distributed training needs mpi4py: pip install 'chainrule[distributed]'")
    from chainrule.distributed._group import _fail_at_exit

    dist.init_process_group("mpi")
    try:
        if args.nproc is not None and args.nproc != dist.get_world_size():
            raise CLIError(f"--nproc {args.nproc}, but mpiexec started "
                           f"{dist.get_world_size()} processes")
        train_distributed(config, out, resume=resume, show_progress=not args.no_progress,
                          download=args.download, save_every=args.save_every)
    except BaseException:
        # main() prints the error and returns its exit code; the group stays initialised
        # so that this process then aborts the whole job (chainrule.distributed) instead
        # of waiting in MPI_Finalize while the others wait for it in a collective until
        # their timeout (30 minutes)
        _fail_at_exit()
        raise
    dist.destroy_process_group()
    return 0


def _share(n: int, rank: int, world: int) -> slice:
    """Rank's contiguous share of n items (sizes differ by at most one)."""
    return slice(rank * n // world, (rank + 1) * n // world)


def _sum_over_ranks(values: list[float]) -> np.ndarray:
    from chainrule import distributed as dist

    a = np.array(values, np.float64)
    dist.all_reduce(a)
    return a


def _train_one_epoch(ddp: Any, loader: DataLoader, optimizer: Any, bar: Any, rank: int,
                     world: int) -> tuple[float, float]:
    """One epoch: each rank takes its share of every batch of the single-process run."""
    ddp.train()
    total_loss, correct, count = 0.0, 0, 0
    for x, y in bar:
        n = len(y)
        part = _share(n, rank, world)
        xs, ys = x[part], y[part]
        logits = ddp(xs)
        loss_sum = nn.functional.cross_entropy(logits, ys, reduction="sum")
        optimizer.zero_grad()
        (loss_sum * (world / n)).backward()  # averaged over ranks: the batch mean's gradient
        optimizer.step()
        total_loss += loss_sum.item()
        correct += int((logits.detach().numpy().argmax(axis=1) == ys.numpy()).sum())
        count += len(ys)
        if hasattr(bar, "set_postfix_str"):
            bar.set_postfix_str(f"loss {total_loss / max(count, 1):.4f}", refresh=False)
    total_loss, correct, count = _sum_over_ranks([total_loss, correct, count])
    return total_loss / count, correct / count


def _evaluate(model: nn.Module, test_set: Any, batch_size: int, rank: int,
              world: int) -> tuple[float, float]:
    """Each rank evaluates its share of the test set; the sums are combined."""
    part = _share(len(test_set), rank, world)
    indices = list(range(part.start, part.stop))
    loss, correct, count = 0.0, 0.0, float(len(indices))
    if indices:
        mean_loss, acc = evaluate(model, DataLoader(Subset(test_set, indices),
                                                    batch_size=batch_size))
        loss, correct = mean_loss * count, round(acc * count)
    loss, correct, count = _sum_over_ranks([loss, correct, count])
    return loss / count, correct / count


def train_distributed(
    config: Any,
    out: str,
    *,
    resume: tuple[str, dict[str, Any]] | None = None,
    show_progress: bool = True,
    download: bool = False,
    save_every: int = 0,
    log: Callable[[str], None] | None = None,
) -> Any:
    """``chainrule train`` on every process of an initialised group (see the module doc)."""
    from chainrule import distributed as dist
    from chainrule.cli import train as single
    from chainrule.nn.parallel import DistributedDataParallel

    rank, world = dist.get_rank(), dist.get_world_size()
    lead = rank == 0
    if log is None:
        log = functools.partial(print, flush=True) if lead else (lambda line: None)
    train_set, test_set = load_datasets(config.dataset, config.data_root, download and lead)
    shape, num_classes = sample_shape(train_set), dataset_shape(train_set)[1]

    cr.manual_seed(config.seed)
    generator = cr.Generator(config.seed)
    model = make_model(config, shape, num_classes)
    optimizer = single.build_optimizer(config, model.parameters())
    scheduler = single.build_scheduler(config, optimizer)
    metrics: list[dict[str, Any]] = []
    if resume is not None:
        metrics = restore(resume, model, optimizer, scheduler, generator)
    start = len(metrics)
    ddp = DistributedDataParallel(model)

    train_loader = DataLoader(train_set, batch_size=config.batch_size, shuffle=True,
                              generator=generator)
    checkpoint = os.path.join(out, single.CHECKPOINT_NAME)
    if lead:
        os.makedirs(out, exist_ok=True)
    result = single.TrainResult(config, metrics,
                                checkpoint if start < config.epochs else resume[0])
    model_name = single.describe(config, shape, num_classes)
    if resume is not None:
        log(f"resuming {resume[0]}: {start} of {config.epochs} epochs done")
    log(
        f"training {model_name} on {config.dataset} ({len(train_set)} train / "
        f"{len(test_set)} test), {config.optimizer} lr {config.lr:g}, scheduler "
        f"{config.scheduler}, batch {config.batch_size} over {world} processes, "
        f"seed {config.seed}"
    )
    began = time.perf_counter()
    for epoch in range(start + 1, config.epochs + 1):
        lr = float(optimizer.param_groups[0]["lr"])
        bar = progress(train_loader, len(train_loader), f"epoch {epoch}/{config.epochs}",
                       show_progress and lead)
        try:
            train_loss, train_acc = _train_one_epoch(ddp, train_loader, optimizer, bar,
                                                     rank, world)
        finally:
            if hasattr(bar, "close"):
                bar.close()
        if scheduler is not None:
            scheduler.step()
        test_loss, test_acc = _evaluate(model, test_set, single.EVAL_BATCH_SIZE, rank, world)
        metrics.append(
            {"epoch": epoch, "lr": lr, "train_loss": train_loss, "train_acc": train_acc,
             "test_loss": test_loss, "test_acc": test_acc}
        )  # fmt: skip
        log(f"epoch {epoch}/{config.epochs}  loss {train_loss:.4f}  test acc {100 * test_acc:.2f}%")
        if lead:
            state = checkpoint_state(config, epoch, model, optimizer, scheduler, generator,
                                     metrics)
            save(state, checkpoint)
            if save_every and epoch % save_every == 0:
                save(state, os.path.join(out, f"checkpoint-epoch{epoch}.ckpt"))
            single.write_metrics(metrics, os.path.join(out, "metrics.csv"))
    seconds = time.perf_counter() - began
    if not lead:
        return result
    metrics_path = os.path.join(out, "metrics.csv")
    single.write_metrics(metrics, metrics_path)
    if start >= config.epochs:
        log(f"the checkpoint is already at epoch {start} of {config.epochs}: nothing to train")
    else:
        log(
            f"test accuracy {100 * metrics[-1]['test_acc']:.2f}% after {config.epochs} epochs "
            f"({config.epochs - start} trained in {seconds:.1f} s on {world} processes)"
        )
        result.files.append(checkpoint)
    result.files.append(metrics_path)
    curves = os.path.join(out, "curves.png")
    if single.plot_curves(metrics, curves, f"{model_name} on {config.dataset}"):
        result.files.append(curves)
    log(f"wrote {', '.join(result.files)}")
    return result
