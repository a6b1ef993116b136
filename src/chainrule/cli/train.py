"""``chainrule train``: train an MLP classifier, with checkpoints, metrics and curves.

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
total, giving exactly the metrics of a run that was never interrupted.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import functools
import io
import math
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import chainrule as cr
from chainrule import nn, optim
from chainrule._atomic import atomic_open
from chainrule.cli.common import (
    ACTIVATIONS,
    DATASETS,
    CLIError,
    build_model,
    dataset_shape,
    evaluate,
    hidden_sizes,
    load_datasets,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    progress,
)
from chainrule.serialization import load, save
from chainrule.utils.data import DataLoader

__all__ = [
    "CHECKPOINT_FORMAT",
    "OPTIMIZERS",
    "SCHEDULERS",
    "TrainConfig",
    "TrainResult",
    "add_arguments",
    "build_optimizer",
    "build_scheduler",
    "load_checkpoint",
    "plot_curves",
    "run",
    "train",
    "write_metrics",
]

USAGE = "%(prog)s [options]  (chainrule train --help lists them)"
CHECKPOINT_NAME = "checkpoint.ckpt"
CHECKPOINT_FORMAT = "chainrule.train/1"  # the checkpoint's "format" entry
EVAL_BATCH_SIZE = 1000
METRIC_COLUMNS = ("epoch", "lr", "train_loss", "train_acc", "test_loss", "test_acc")

#: ``--optimizer`` names -> (class, default learning rate for the default model).
OPTIMIZERS: dict[str, tuple[type[optim.Optimizer], float]] = {
    "sgd": (optim.SGD, 0.1),
    "adam": (optim.Adam, 3e-3),
    "adamw": (optim.AdamW, 3e-3),
    "rmsprop": (optim.RMSprop, 1e-3),
    "adagrad": (optim.Adagrad, 0.05),
}
SCHEDULERS = ("none", "step", "cosine")
_MOMENTUM_DEFAULT = {"sgd": 0.9, "rmsprop": 0.0}  # optimizers that take a momentum
_WEIGHT_DECAY_DEFAULT = {"adamw": 1e-2}  # PyTorch's AdamW default; 0 for the others


@dataclass
class TrainConfig:
    """Everything that decides a training run's result (stored in its checkpoint).

    ``None`` for ``lr``, ``momentum``, ``weight_decay`` and ``step_size`` means "the
    default for the chosen optimizer / number of epochs"; the instance holds the
    resolved values, so a checkpoint records the numbers that were actually used.
    """

    dataset: str = "digits"
    data_root: str = "data"
    hidden: tuple[int, ...] = (128,)
    activation: str = "relu"
    optimizer: str = "adam"
    lr: float | None = None
    momentum: float | None = None
    weight_decay: float | None = None
    scheduler: str = "cosine"
    step_size: int | None = None
    gamma: float = 0.1
    epochs: int = 20
    batch_size: int = 32
    seed: int = 0

    def __post_init__(self) -> None:
        self.hidden = tuple(self.hidden)
        _check_choice("dataset", self.dataset, DATASETS)
        _check_choice("activation", self.activation, ACTIVATIONS)
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_choice("scheduler", self.scheduler, SCHEDULERS)
        for name in ("epochs", "batch_size"):
            _check_count(name, getattr(self, name))
        for width in self.hidden:
            _check_count("hidden", width)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise CLIError(f"--seed must be an integer >= 0, got {self.seed!r}", code=2)
        if self.momentum is not None and self.optimizer not in _MOMENTUM_DEFAULT:
            raise CLIError(
                f"--momentum applies to the optimizers {', '.join(_MOMENTUM_DEFAULT)} only, "
                f"not to {self.optimizer}",
                code=2,
            )
        if self.lr is None:
            self.lr = OPTIMIZERS[self.optimizer][1]
        if self.momentum is None:  # stays None for the optimizers without momentum
            self.momentum = _MOMENTUM_DEFAULT.get(self.optimizer)
        if self.weight_decay is None:
            self.weight_decay = _WEIGHT_DECAY_DEFAULT.get(self.optimizer, 0.0)
        if self.step_size is None:
            self.step_size = max(1, self.epochs // 3)
        _check_number("lr", self.lr, positive=True)
        if self.momentum is not None:
            _check_number("momentum", self.momentum)
        _check_number("weight_decay", self.weight_decay)
        _check_number("gamma", self.gamma, positive=True)
        _check_count("step_size", self.step_size)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """The config stored in a checkpoint (``dataclasses.asdict`` of one)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise CLIError(
                f"the checkpoint's config has unknown fields {unknown} (was it written by a "
                "newer chainrule?)"
            )
        return cls(**values)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _check_choice(name: str, value: Any, choices: Iterable[str]) -> None:
    if value not in choices:
        raise CLIError(
            f"{_flag(name)}: unknown {name} {value!r}; expected one of {', '.join(choices)}",
            code=2,
        )


def _check_count(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise CLIError(f"{_flag(name)} must be an integer >= 1, got {value!r}", code=2)


def _check_number(name: str, value: Any, positive: bool = False) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (positive and value == 0):
        expected = "a finite number > 0" if positive else "a finite number >= 0"
        raise CLIError(f"{_flag(name)} must be {expected}, got {value!r}", code=2)


@dataclass
class TrainResult:
    """What :func:`train` did: the metrics rows (one per epoch) and the files written."""

    config: TrainConfig
    metrics: list[dict[str, Any]] = field(default_factory=list)
    checkpoint: str = ""
    files: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------- building


def build_optimizer(config: TrainConfig, params: Iterable[Any]) -> optim.Optimizer:
    """The optimizer ``config.optimizer`` over ``params`` with the config's settings."""
    cls = OPTIMIZERS[config.optimizer][0]
    options: dict[str, Any] = {"lr": config.lr, "weight_decay": config.weight_decay}
    if config.optimizer in _MOMENTUM_DEFAULT:
        options["momentum"] = config.momentum
    return cls(params, **options)


def build_scheduler(
    config: TrainConfig, optimizer: optim.Optimizer
) -> optim.lr_scheduler.LRScheduler | None:
    """The per-epoch learning-rate schedule, or None for ``--scheduler none``."""
    if config.scheduler == "step":
        return optim.lr_scheduler.StepLR(optimizer, step_size=config.step_size, gamma=config.gamma)
    if config.scheduler == "cosine":
        return optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    return None


# ----------------------------------------------------------------------- checkpoints


def load_checkpoint(path: str) -> tuple[str, dict[str, Any]]:
    """Read a ``chainrule train`` checkpoint (a file, or a folder holding checkpoint.ckpt).

    Returns:
        The file's path and its content.

    Raises:
        CLIError: the file is missing, or is not a ``chainrule train`` checkpoint.
        CheckpointError: the file is truncated or corrupted (from ``cr.load``).
    """
    if os.path.isdir(path):
        path = os.path.join(path, CHECKPOINT_NAME)
    if not os.path.isfile(path):
        raise CLIError(f"checkpoint {path!r} does not exist")
    content = load(path)
    required = ("format", "epoch", "config", "model", "optimizer", "rng", "generator", "metrics")
    if not isinstance(content, dict) or content.get("format") != CHECKPOINT_FORMAT:
        raise CLIError(
            f"{path} is not a `chainrule train` checkpoint (its 'format' entry is not "
            f"{CHECKPOINT_FORMAT!r})"
        )
    missing = [key for key in required if key not in content]
    if missing:
        raise CLIError(f"{path} is an incomplete checkpoint: it lacks {', '.join(missing)}")
    return path, content


def _checkpoint_state(
    config: TrainConfig,
    epoch: int,
    model: nn.Module,
    optimizer: optim.Optimizer,
    scheduler: Any,
    generator: cr.Generator,
    metrics: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "format": CHECKPOINT_FORMAT,
        "epoch": epoch,
        "config": dataclasses.asdict(config),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "rng": cr.get_rng_state(),
        "generator": generator.get_state(),
        "metrics": [dict(row) for row in metrics],
    }


def _resume_config(saved: TrainConfig, given: dict[str, Any], path: str) -> TrainConfig:
    """The checkpoint's config with the options the user may change on resume applied."""
    may_change = ("epochs", "data_root")
    conflicts = [
        f"{_flag(name)} {_show(value)} (checkpoint: {_show(getattr(saved, name))})"
        for name, value in given.items()
        if name not in may_change and value != getattr(saved, name)
    ]
    if conflicts:
        raise CLIError(
            f"--resume {path} continues that run with its own settings, and these differ: "
            f"{'; '.join(conflicts)}. Only --epochs and --data-root may change on resume",
            code=2,
        )
    return dataclasses.replace(saved, **{k: v for k, v in given.items() if k in may_change})


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value) or "none"
    return str(value)


# --------------------------------------------------------------------------- outputs


def _atomic_write(path: str, write: Callable[[io.IOBase], None], binary: bool = False) -> None:
    """Write ``path`` through a temporary file renamed into place (never half-written)."""
    with atomic_open(path, "wb") if binary else atomic_open(path, "w", newline="") as f:
        write(f)


def write_metrics(metrics: list[dict[str, Any]], path: str) -> None:
    """``metrics.csv``: a header and one row per epoch, floats written exactly (``repr``)."""

    def write(f: Any) -> None:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(METRIC_COLUMNS)
        for row in metrics:
            writer.writerow([_csv_value(row[name]) for name in METRIC_COLUMNS])

    _atomic_write(path, write)


def _csv_value(value: Any) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


def plot_curves(metrics: list[dict[str, Any]], path: str, title: str = "") -> bool:
    """Draw loss and accuracy per epoch into a PNG; False if matplotlib is not installed."""
    try:
        from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        return False
    epochs = [row["epoch"] for row in metrics]
    figure = Figure(figsize=(10, 4))
    figure.subplots_adjust(left=0.07, right=0.98, bottom=0.13, top=0.85, wspace=0.25)
    loss_ax, acc_ax = figure.subplots(1, 2)
    for split, style in (("train", "o-"), ("test", "s--")):
        loss_ax.plot(epochs, [row[f"{split}_loss"] for row in metrics], style, ms=3, label=split)
        acc_ax.plot(
            epochs, [100 * row[f"{split}_acc"] for row in metrics], style, ms=3, label=split
        )
    loss_ax.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss")
    acc_ax.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend()
    if title:
        figure.suptitle(title)
    _atomic_write(path, lambda f: figure.savefig(f, format="png", dpi=100), binary=True)
    return True


# -------------------------------------------------------------------------- training


def _train_one_epoch(
    model: nn.Module,
    loader: DataLoader,
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
        correct += int((logits.numpy().argmax(axis=1) == y.numpy()).sum())
        count += n
        if hasattr(bar, "set_postfix_str"):
            bar.set_postfix_str(f"loss {total_loss / count:.4f}", refresh=False)
    return total_loss / count, correct / count


def _restore(
    resume: tuple[str, dict[str, Any]],
    model: nn.Module,
    optimizer: optim.Optimizer,
    scheduler: Any,
    generator: cr.Generator,
) -> list[dict[str, Any]]:
    """Load a checkpoint's states into the freshly built objects; returns its metrics rows."""
    path, state = resume
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None:
        saved = state.get("scheduler")
        if not isinstance(saved, dict) or "last_epoch" not in saved:
            raise CLIError(
                f"{path} is inconsistent: its run uses {type(scheduler).__name__}, but its "
                f"'scheduler' entry is not a scheduler state (got {type(saved).__name__})"
            )
        scheduler.load_state_dict(saved)
    cr.set_rng_state(state["rng"])
    generator.set_state(state["generator"])
    metrics = [dict(row) for row in state["metrics"]]
    if len(metrics) != state["epoch"]:
        raise CLIError(
            f"{path} is inconsistent: epoch {state['epoch']} but {len(metrics)} metrics rows"
        )
    return metrics


def describe(config: TrainConfig, in_features: int, num_classes: int) -> str:
    """``MLP 64-128-10 (relu)``: the model's shape in one phrase."""
    widths = "-".join(str(w) for w in (in_features, *config.hidden, num_classes))
    return f"MLP {widths} ({config.activation})"


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
        out: the output folder (created if needed).
        resume: ``(path, content)`` of a checkpoint (from :func:`load_checkpoint`) to
            continue from; ``config`` must be its config (``--epochs`` may differ).
        show_progress: show a tqdm bar per epoch (when stderr is a terminal).
        download: let MNIST / Fashion-MNIST fetch missing files.
        save_every: also keep ``checkpoint-epoch<k>.ckpt`` every that many epochs (0: only
            the latest, ``checkpoint.ckpt``).
        log: where the per-epoch lines go (default: stdout, flushed line by line so that
            ``chainrule train | tee log`` shows each epoch as it ends).
    """
    if log is None:
        log = functools.partial(print, flush=True)
    train_set, test_set = load_datasets(config.dataset, config.data_root, download)
    in_features, num_classes = dataset_shape(train_set)

    cr.manual_seed(config.seed)  # all randomness: the global generator (initialisation) ...
    generator = cr.Generator(config.seed)  # ... and this one, which shuffles the batches
    model = build_model(in_features, config.hidden, num_classes, config.activation)
    optimizer = build_optimizer(config, model.parameters())
    scheduler = build_scheduler(config, optimizer)
    criterion = nn.CrossEntropyLoss()
    metrics: list[dict[str, Any]] = []
    if resume is not None:
        metrics = _restore(resume, model, optimizer, scheduler, generator)
    start = len(metrics)  # epochs done

    train_loader = DataLoader(
        train_set, batch_size=config.batch_size, shuffle=True, generator=generator
    )
    test_loader = DataLoader(test_set, batch_size=EVAL_BATCH_SIZE)
    os.makedirs(out, exist_ok=True)
    checkpoint = os.path.join(out, CHECKPOINT_NAME)
    result = TrainResult(config, metrics, checkpoint if start < config.epochs else resume[0])

    model_name = describe(config, in_features, num_classes)
    if resume is not None:
        log(f"resuming {resume[0]}: {start} of {config.epochs} epochs done")
    log(
        f"training {model_name} on {config.dataset} ({len(train_set)} train / "
        f"{len(test_set)} test), {config.optimizer} lr {config.lr:g}, scheduler "
        f"{config.scheduler}, batch {config.batch_size}, seed {config.seed}"
    )
    began = time.perf_counter()
    for epoch in range(start + 1, config.epochs + 1):
        try:
            lr = float(optimizer.param_groups[0]["lr"])
            bar = progress(
                train_loader, len(train_loader), f"epoch {epoch}/{config.epochs}", show_progress
            )
            try:
                train_loss, train_acc = _train_one_epoch(
                    model, train_loader, criterion, optimizer, bar
                )
            finally:
                if hasattr(bar, "close"):
                    bar.close()
            if scheduler is not None:
                scheduler.step()
            test_loss, test_acc = evaluate(model, test_loader)
        except KeyboardInterrupt:
            latest = checkpoint if epoch > start + 1 else resume[0] if resume else None
            if latest is not None:
                log(f"interrupted in epoch {epoch}; continue with: "
                    f"chainrule train --resume {latest}")
            raise
        metrics.append(
            {"epoch": epoch, "lr": lr, "train_loss": train_loss, "train_acc": train_acc,
             "test_loss": test_loss, "test_acc": test_acc}
        )  # fmt: skip
        log(f"epoch {epoch}/{config.epochs}  loss {train_loss:.4f}  test acc {100 * test_acc:.2f}%")
        state = _checkpoint_state(config, epoch, model, optimizer, scheduler, generator, metrics)
        save(state, checkpoint)
        if save_every and epoch % save_every == 0:
            save(state, os.path.join(out, f"checkpoint-epoch{epoch}.ckpt"))
        write_metrics(metrics, os.path.join(out, "metrics.csv"))
    seconds = time.perf_counter() - began

    metrics_path = os.path.join(out, "metrics.csv")
    write_metrics(metrics, metrics_path)
    if start >= config.epochs:
        log(f"the checkpoint is already at epoch {start} of {config.epochs}: nothing to train")
    else:
        log(
            f"test accuracy {100 * metrics[-1]['test_acc']:.2f}% after {config.epochs} epochs "
            f"({config.epochs - start} trained in {seconds:.1f} s)"
        )
        result.files.append(checkpoint)
    result.files.append(metrics_path)
    curves = os.path.join(out, "curves.png")
    if plot_curves(metrics, curves, f"{model_name} on {config.dataset}"):
        result.files.append(curves)
    else:
        log("curves.png skipped: matplotlib is not installed (pip install 'chainrule[cli]')")
    log(f"wrote {', '.join(result.files)}")
    return result


# ---------------------------------------------------------------------- command line

_CONFIG_OPTIONS = {f.name for f in dataclasses.fields(TrainConfig)}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``train`` options. Config options default to ``SUPPRESS`` so that ``run`` can
    tell which ones were given (on ``--resume`` only those are compared)."""
    d = TrainConfig()
    s = argparse.SUPPRESS
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", choices=list(DATASETS), default=s,
                      help=f"what to learn (default: {d.dataset})")
    data.add_argument("--data-root", metavar="DIR", default=s,
                      help="folder with the MNIST / Fashion-MNIST IDX files "
                           f"(default: {d.data_root})")
    data.add_argument("--download", action="store_true",
                      help="fetch missing MNIST / Fashion-MNIST files into --data-root")
    model = parser.add_argument_group("model")
    model.add_argument("--hidden", type=hidden_sizes, metavar="SIZES", default=s,
                       help="hidden layer widths, e.g. 256,128; 'none' for a linear model "
                            f"(default: {_show(d.hidden)})")
    model.add_argument("--activation", choices=list(ACTIVATIONS), default=s,
                       help=f"nonlinearity between layers (default: {d.activation})")
    opt = parser.add_argument_group("optimization")
    opt.add_argument("--optimizer", choices=list(OPTIMIZERS), default=s,
                     help=f"(default: {d.optimizer})")
    defaults = ", ".join(f"{name} {lr:g}" for name, (_, lr) in OPTIMIZERS.items())
    opt.add_argument("--lr", type=positive_float, default=s,
                     help=f"learning rate (default per optimizer: {defaults})")
    opt.add_argument("--momentum", type=non_negative_float, default=s,
                     help="momentum of sgd (default 0.9) and rmsprop (default 0)")
    opt.add_argument("--weight-decay", type=non_negative_float, default=s,
                     help="L2 penalty; decoupled for adamw (default: 0.01 for adamw, else 0)")
    opt.add_argument("--scheduler", choices=list(SCHEDULERS), default=s,
                     help="learning-rate schedule over the epochs: cosine annealing to 0 over "
                          f"--epochs, or x gamma every --step-size epochs (default: {d.scheduler})")
    opt.add_argument("--step-size", type=positive_int, default=s,
                     help="epochs between two decays of --scheduler step (default: epochs/3)")
    opt.add_argument("--gamma", type=positive_float, default=s,
                     help=f"decay factor of --scheduler step (default: {d.gamma})")
    opt.add_argument("--epochs", type=positive_int, default=s,
                     help=f"total number of epochs, also when resuming (default: {d.epochs})")
    opt.add_argument("--batch-size", type=positive_int, default=s,
                     help=f"(default: {d.batch_size})")
    opt.add_argument("--seed", type=non_negative_int, default=s,
                     help=f"seeds the initialisation and the shuffling (default: {d.seed})")
    run_group = parser.add_argument_group("output")
    run_group.add_argument("--out", metavar="DIR", default=None,
                           help="output folder (default: runs/<dataset>, or the resumed "
                                "checkpoint's folder)")
    run_group.add_argument("--resume", metavar="CHECKPOINT", default=None,
                           help="continue the run saved in this checkpoint to --epochs")
    run_group.add_argument("--save-every", type=non_negative_int, default=0, metavar="K",
                           help="also keep checkpoint-epoch<k>.ckpt every K epochs")
    run_group.add_argument("--no-progress", action="store_true",
                           help="no progress bar (there is none when stderr is not a terminal)")
    from chainrule.cli import launch

    launch.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Run ``chainrule train`` with parsed arguments; returns the exit code."""
    given = {name: getattr(args, name) for name in _CONFIG_OPTIONS if hasattr(args, name)}
    resume = None
    if args.resume is not None:
        resume = load_checkpoint(args.resume)
        saved = TrainConfig.from_dict(resume[1]["config"])
        config = _resume_config(saved, given, resume[0])
        if config.scheduler == "cosine" and config.epochs != saved.epochs:
            print(
                f"chainrule: note: the cosine schedule keeps the checkpoint's T_max of "
                f"{saved.epochs} epochs (the learning rate rises again after epoch "
                f"{saved.epochs})",
                file=sys.stderr,
            )
    else:
        config = TrainConfig(**given)
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
