"""``chainrule train``'s checkpoints: what they hold, reading them, and resuming exactly.

A checkpoint is a ``cr.save`` dict (``format``, ``epoch``, ``config``, ``model``,
``optimizer``, ``scheduler``, ``rng``, ``generator``, ``metrics``). ``--resume`` rebuilds
the run from it; a resume that could not give exactly the run that had the new total
from the start is refused with one line (:func:`check_resume`).
"""

from __future__ import annotations

import dataclasses
import os
import shlex
from typing import Any

import chainrule as cr
from chainrule import nn, optim
from chainrule.cli.common import CLIError
from chainrule.cli.config import TrainConfig, flag, plural, show
from chainrule.serialization import load

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_NAME",
    "check_resume",
    "checkpoint_state",
    "load_checkpoint",
    "restore",
    "resume_command",
    "resume_config",
]

CHECKPOINT_NAME = "checkpoint.ckpt"
CHECKPOINT_FORMAT = "chainrule.train/1"  # the checkpoint's "format" entry


def load_checkpoint(path: str) -> tuple[str, dict[str, Any]]:
    """Read a ``chainrule train`` checkpoint (a file, or a folder holding checkpoint.ckpt).

    Returns:
        The file's path and its content.

    Raises:
        CLIError: the file is missing, or is not a ``chainrule train`` checkpoint.
        CheckpointError: the file is truncated, corrupted or not a checkpoint at all.
    """
    if os.path.isdir(path):
        path = os.path.join(path, CHECKPOINT_NAME)
    if not os.path.exists(path):
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


def checkpoint_state(
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


def resume_config(saved: TrainConfig, given: dict[str, Any], path: str) -> TrainConfig:
    """The checkpoint's config with the options the user may change on resume applied."""
    may_change = ("epochs", "data_root")
    conflicts = [
        f"{flag(name)} {show(value)} (checkpoint: {show(getattr(saved, name))})"
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


def check_resume(saved: TrainConfig, config: TrainConfig, done: int, path: str) -> None:
    """Refuse (one line, nothing written) a resume that cannot give an exact run."""
    if config.epochs < done:
        raise CLIError(
            f"--epochs {config.epochs} is fewer than the {plural(done, 'epoch')} {path} has "
            f"already trained: nothing was trained or changed (--epochs is the total; pass "
            f"more than {done} to train on)",
            code=2,
        )
    if config.epochs != saved.epochs and not saved.extends_exactly():
        raise CLIError(
            f"--resume {path} --epochs {config.epochs}: this run's cosine schedule anneals "
            f"the learning rate over its {plural(saved.epochs, 'epoch')}, so continuing it to "
            f"{config.epochs} cannot give the run that had {config.epochs} from the start; "
            f"start a new run with --epochs {config.epochs} (the default schedule and "
            "--scheduler step extend exactly)",
            code=2,
        )


def restore(
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


def resume_command(latest: str, out: str, epochs: int, saved_epochs: int) -> str:
    """The command line that continues a run from its checkpoint ``latest``."""
    words = ["chainrule", "train", "--resume", latest]
    if epochs != saved_epochs:
        words += ["--epochs", str(epochs)]
    if os.path.abspath(os.path.dirname(latest)) != os.path.abspath(out):
        words += ["--out", out]
    return shlex.join(words)
