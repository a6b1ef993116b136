"""``chainrule train``: train a classifier, with checkpoints, metrics and curves.

Run ``chainrule train`` (or ``make run``) to train the default model, an MLP
64-128-10 on the embedded Digits, in a few seconds. Every epoch prints one line
(``epoch 3/20  loss 0.1234  test acc 96.94%``) and writes into ``--out``:

- ``checkpoint.ckpt``: a ``cr.save`` file with the model, optimizer and scheduler states,
  the epoch, the random states, the configuration and the metrics so far;
- ``metrics.csv``: one row per epoch (learning rate, train loss and accuracy, test loss
  and accuracy);
- ``curves.png`` (at the end, when matplotlib is installed): loss and accuracy curves.

``--epochs`` is the total number of epochs, as in torchvision's reference scripts:
``--resume CHECKPOINT`` restores everything the checkpoint holds and trains on to that
total, giving exactly the metrics of a run that was never interrupted. A finished run can
be extended with a larger ``--epochs`` and gives exactly the run that had that total from
the start (the default schedule does not depend on ``--epochs``; see
:mod:`chainrule.cli.config`); a resume that cannot be exact refuses with one line.

Ctrl-C stops at once (also in the middle of writing a checkpoint, which then stays the
previous one) and prints the command that continues the run.

The options, models, optimizers and schedules are in :mod:`chainrule.cli.config`; the
output folder's checks, metrics and curves in :mod:`chainrule.cli.outputs`.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import chainrule as cr
from chainrule import nn, optim
from chainrule.cli.checkpoint import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_NAME,
    check_resume,
    checkpoint_state,
    load_checkpoint,
    restore,
    resume_command,
    resume_config,
)
from chainrule.cli.common import (
    ACTIVATIONS,
    DATASETS,
    CLIError,
    dataset_shape,
    evaluate,
    hidden_sizes,
    load_datasets,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    progress,
    sample_shape,
)
from chainrule.cli.config import (
    DATASET_DEFAULTS,
    MODELS,
    OPTIMIZERS,
    SCHEDULERS,
    TrainConfig,
    build_optimizer,
    build_scheduler,
    describe,
    make_model,
    plural,
    show,
)
from chainrule.cli.outputs import (
    METRIC_COLUMNS,
    check_output_folder,
    epoch_checkpoints,
    plot_curves,
    write_metrics,
)
from chainrule.serialization import save
from chainrule.utils.data import DataLoader

__all__ = [
    "CHECKPOINT_FORMAT",
    "METRIC_COLUMNS",
    "MODELS",
    "OPTIMIZERS",
    "SCHEDULERS",
    "CLIError",
    "TrainConfig",
    "TrainResult",
    "add_arguments",
    "build_optimizer",
    "build_scheduler",
    "describe",
    "load_checkpoint",
    "plot_curves",
    "run",
    "train",
    "write_metrics",
]

USAGE = "%(prog)s [options]  (chainrule train --help lists them)"
EVAL_BATCH_SIZE = 1000


@dataclass
class TrainResult:
    """What :func:`train` did: the metrics rows (one per epoch) and the files written."""

    config: TrainConfig
    metrics: list[dict[str, Any]] = field(default_factory=list)
    checkpoint: str = ""
    files: list[str] = field(default_factory=list)


# -------------------------------------------------------------------------- training


def _train_one_epoch(
    model: nn.Module,
    criterion: nn.Module,
    optimizer: optim.Optimizer,
    bar: Iterable[Any],
) -> tuple[float, float]:
    """One pass over the training set; returns the mean loss and the accuracy seen."""
    model.train()
    total_loss, correct, count = 0.0, 0, 0
    for x, y in bar:
        logits = model(x)  # (B, classes)
        loss = criterion(logits, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        n = len(y)
        total_loss += loss.item() * n
        correct += int((logits.detach().numpy().argmax(axis=1) == y.numpy()).sum())
        count += n
        if hasattr(bar, "set_postfix_str"):
            bar.set_postfix_str(f"loss {total_loss / count:.4f}", refresh=False)
    return total_loss / count, correct / count


def train(
    config: TrainConfig,
    out: str,
    *,
    resume: tuple[str, dict[str, Any]] | None = None,
    show_progress: bool = True,
    download: bool = False,
    save_every: int = 0,
    log: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train the model ``config`` describes, writing checkpoint, metrics and curves to ``out``.

    Args:
        config: the run's settings.
        out: the output folder (created if needed; checked before anything is trained).
        resume: ``(path, content)`` of a checkpoint (from :func:`load_checkpoint`) to
            continue from; ``config`` must be its config (``--epochs`` may differ).
        show_progress: show a tqdm bar per epoch (when stderr is a terminal).
        download: let MNIST / Fashion-MNIST fetch missing files.
        save_every: also keep ``checkpoint-epoch<k>.ckpt`` every that many epochs (0: only
            the latest, ``checkpoint.ckpt``). Such files of an earlier run in ``out`` are
            removed once this run has written its first checkpoint.
        log: where the per-epoch lines go (default: stdout, flushed line by line so that
            ``chainrule train | tee log`` shows each epoch as it ends).
    """
    if log is None:
        log = functools.partial(print, flush=True)
    check_output_folder(out)
    train_set, test_set = load_datasets(config.dataset, config.data_root, download)
    shape, num_classes = sample_shape(train_set), dataset_shape(train_set)[1]

    cr.manual_seed(config.seed)  # all randomness: the global generator (initialisation) ...
    generator = cr.Generator(config.seed)  # ... and this one, which shuffles the batches
    model = make_model(config, shape, num_classes)
    optimizer = build_optimizer(config, model.parameters())
    scheduler = build_scheduler(config, optimizer)
    criterion = nn.CrossEntropyLoss()
    metrics: list[dict[str, Any]] = []
    if resume is not None:
        metrics = restore(resume, model, optimizer, scheduler, generator)
    start = len(metrics)  # epochs done

    train_loader = DataLoader(
        train_set, batch_size=config.batch_size, shuffle=True, generator=generator
    )
    test_loader = DataLoader(test_set, batch_size=EVAL_BATCH_SIZE)
    checkpoint = os.path.join(out, CHECKPOINT_NAME)
    result = TrainResult(config, metrics, checkpoint if start < config.epochs else resume[0])
    stale = {k: p for k, p in epoch_checkpoints(out).items() if k > start}

    model_name = describe(config, shape, num_classes)
    if resume is not None:
        log(f"resuming {resume[0]}: {start} of {plural(config.epochs, 'epoch')} done")
    log(
        f"training {model_name} on {config.dataset} ({len(train_set)} train / "
        f"{len(test_set)} test), {config.optimizer} lr {config.lr:g}, scheduler "
        f"{config.scheduler}, batch {config.batch_size}, seed {config.seed}"
    )
    latest = resume[0] if resume is not None else None
    saved_epochs = TrainConfig.from_dict(resume[1]["config"]).epochs if resume else config.epochs
    epoch = start
    began = time.perf_counter()
    try:
        for epoch in range(start + 1, config.epochs + 1):
            lr = float(optimizer.param_groups[0]["lr"])
            bar = progress(
                train_loader, len(train_loader), f"epoch {epoch}/{config.epochs}", show_progress
            )
            try:
                train_loss, train_acc = _train_one_epoch(model, criterion, optimizer, bar)
            finally:
                if hasattr(bar, "close"):
                    bar.close()
            if scheduler is not None:
                scheduler.step()
            test_loss, test_acc = evaluate(model, test_loader)
            metrics.append(
                {"epoch": epoch, "lr": lr, "train_loss": train_loss, "train_acc": train_acc,
                 "test_loss": test_loss, "test_acc": test_acc}
            )  # fmt: skip
            log(f"epoch {epoch}/{config.epochs}  loss {train_loss:.4f}  "
                f"test acc {100 * test_acc:.2f}%")
            state = checkpoint_state(
                config, epoch, model, optimizer, scheduler, generator, metrics
            )
            save(state, checkpoint)
            latest, saved_epochs = checkpoint, config.epochs
            if stale:  # the folder is now this run's: drop another run's epoch files
                for path in stale.values():
                    if os.path.exists(path):
                        os.remove(path)
                log(f"removed {plural(len(stale), 'per-epoch checkpoint')} of an earlier "
                    f"run from {out}")
                stale = {}
            if save_every and epoch % save_every == 0:
                save(state, os.path.join(out, f"checkpoint-epoch{epoch}.ckpt"))
            write_metrics(metrics, os.path.join(out, "metrics.csv"))
    except KeyboardInterrupt:
        where = f"in epoch {max(epoch, start + 1)}"
        if latest is not None:
            command = resume_command(latest, out, config.epochs, saved_epochs)
            log(f"interrupted {where}; continue with: {command}")
        else:
            log(f"interrupted {where}, before the first checkpoint: nothing to resume")
        raise
    seconds = time.perf_counter() - began

    metrics_path = os.path.join(out, "metrics.csv")
    write_metrics(metrics, metrics_path)
    trained = config.epochs - start
    log(
        f"test accuracy {100 * metrics[-1]['test_acc']:.2f}% after "
        f"{plural(config.epochs, 'epoch')} ({trained} trained in {seconds:.1f} s)"
    )
    result.files += [checkpoint, metrics_path]
    curves = os.path.join(out, "curves.png")
    title = (
        f"{model_name} on {config.dataset}: {config.optimizer} lr {config.lr:g}, "
        f"scheduler {config.scheduler}, batch {config.batch_size}, seed {config.seed}"
    )
    if plot_curves(metrics, curves, title):
        result.files.append(curves)
    else:
        log("curves.png skipped: matplotlib is not installed (pip install 'chainrule[cli]')")
    log(f"wrote {', '.join(result.files)}")
    return result


# ---------------------------------------------------------------------- command line

_CONFIG_OPTIONS = {f.name for f in dataclasses.fields(TrainConfig)}


def _dataset_note(name: str) -> str:
    """`` (spiral: 100)``: where a dataset's own default differs."""
    notes = [f"{d}: {show(v[name])}" for d, v in DATASET_DEFAULTS.items() if name in v]
    return f" ({'; '.join(notes)})" if notes else ""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``train`` options. Config options default to ``SUPPRESS`` so that ``run`` can
    tell which ones were given (on ``--resume`` only those are compared)."""
    d = TrainConfig()
    s = argparse.SUPPRESS
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", choices=list(DATASETS), default=s,
                      help=f"what to learn: {'; '.join(f'{k}: {v}' for k, v in DATASETS.items())}"
                           f" (default: {d.dataset})")
    data.add_argument("--data-root", metavar="DIR", default=s,
                      help="folder with the MNIST / Fashion-MNIST IDX files; stored in the "
                           f"checkpoint as an absolute path (default: {d.data_root})")
    data.add_argument("--download", action="store_true",
                      help="fetch missing MNIST / Fashion-MNIST files into --data-root")
    model = parser.add_argument_group("model")
    model.add_argument("--model", choices=list(MODELS), default=s,
                       help=f"the network: mlp is Linear layers of --hidden widths with "
                            f"--activation between them (default: {d.model})")
    model.add_argument("--hidden", type=hidden_sizes, metavar="SIZES", default=s,
                       help="hidden layer widths, e.g. 256,128; 'none' for a linear model "
                            f"(default: {show(d.hidden)}{_dataset_note('hidden')})")
    model.add_argument("--activation", choices=list(ACTIVATIONS), default=s,
                       help=f"nonlinearity between layers (default: {d.activation})")
    opt = parser.add_argument_group("optimization")
    opt.add_argument("--optimizer", choices=list(OPTIMIZERS), default=s,
                     help=f"the update rule (default: {d.optimizer})")
    defaults = ", ".join(f"{name} {lr:g}" for name, (_, lr) in OPTIMIZERS.items())
    opt.add_argument("--lr", type=positive_float, default=s,
                     help=f"learning rate (default per optimizer: {defaults}; spiral: adam and "
                          "adamw 0.01)")
    opt.add_argument("--momentum", type=non_negative_float, default=s,
                     help="momentum of sgd (default 0.9) and rmsprop (default 0)")
    opt.add_argument("--weight-decay", type=non_negative_float, default=s,
                     help="L2 penalty; decoupled for adamw (default: 0.01 for adamw, else 0)")
    opt.add_argument("--scheduler", choices=list(SCHEDULERS), default=s,
                     help="learning-rate schedule: none (constant), step (x gamma every "
                          "--step-size epochs) or cosine (annealed to 0 over --epochs, so a "
                          f"cosine run cannot be extended) (default: {d.scheduler})")
    opt.add_argument("--step-size", type=positive_int, default=s,
                     help=f"epochs between two decays of --scheduler step (default: {d.step_size})")
    opt.add_argument("--gamma", type=positive_float, default=s,
                     help=f"decay factor of --scheduler step (default: {d.gamma})")
    opt.add_argument("--epochs", type=positive_int, default=s,
                     help="total number of epochs, also when resuming (default: "
                          f"{d.epochs}{_dataset_note('epochs')})")
    opt.add_argument("--batch-size", type=positive_int, default=s,
                     help=f"training samples per step (default: {d.batch_size})")
    opt.add_argument("--seed", type=non_negative_int, default=s,
                     help=f"seeds the initialisation and the shuffling (default: {d.seed})")
    run_group = parser.add_argument_group("output")
    run_group.add_argument("--out", metavar="DIR", default=None,
                           help="output folder (default: runs/<dataset>, or the resumed "
                                "checkpoint's folder)")
    run_group.add_argument("--resume", metavar="CHECKPOINT", default=None,
                           help="continue the run saved in this checkpoint (or --out folder) "
                                "to --epochs")
    run_group.add_argument("--save-every", type=non_negative_int, default=0, metavar="K",
                           help="also keep checkpoint-epoch<k>.ckpt every K epochs "
                                "(default: 0, only the latest)")
    run_group.add_argument("--no-progress", action="store_true",
                           help="no progress bar (there is none when stderr is not a terminal)")
    from chainrule.cli import launch

    launch.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Run ``chainrule train`` with parsed arguments; returns the exit code."""
    given = {name: getattr(args, name) for name in _CONFIG_OPTIONS if hasattr(args, name)}
    if "data_root" in given:
        given["data_root"] = os.path.abspath(os.path.expanduser(given["data_root"]))
    resume = None
    if args.out is not None:
        check_output_folder(args.out)  # before a checkpoint is even read
    if args.resume is not None:
        resume = load_checkpoint(args.resume)
        saved = TrainConfig.from_dict(resume[1]["config"])
        config = resume_config(saved, given, resume[0])
        done = int(resume[1]["epoch"])
        check_resume(saved, config, done, resume[0])
        if config.epochs == done:
            print(f"{resume[0]} is already at epoch {done} of {config.epochs}: nothing to "
                  "train (pass a larger --epochs to train on)")
            return 0
    else:
        config = TrainConfig(**given)
        config.data_root = os.path.abspath(os.path.expanduser(config.data_root))
    out = args.out
    if out is None:
        out = os.path.dirname(resume[0]) if resume else os.path.join("runs", config.dataset)
    from chainrule.cli import launch

    if launch.wants_distributed(args):  # --nproc N: N processes through mpiexec
        return launch.run(args, config, out, resume, _CONFIG_OPTIONS)
    train(
        config, out, resume=resume, show_progress=not args.no_progress,
        download=args.download, save_every=args.save_every,
    )
    return 0
