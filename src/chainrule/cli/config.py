"""``chainrule train``'s configuration: the options that decide a run, their defaults and checks.

A :class:`TrainConfig` is stored in every checkpoint, so that ``--resume`` and ``eval``
rebuild exactly the run's model, optimizer and schedule. Models, optimizers and schedules
are looked up by name in tables (:data:`MODELS`, :data:`OPTIMIZERS`, :data:`SCHEDULERS`):
a new choice is one entry.

Defaults that depend on the dataset (``--dataset spiral`` needs more epochs and a higher
learning rate than the digits) come from :data:`DATASET_DEFAULTS`. No default depends on
``--epochs``: the default schedule is a constant learning rate, and ``--scheduler step``
decays every ``--step-size`` epochs (10 unless given), so extending a finished run with a
larger ``--epochs`` gives exactly the run that had that total from the start. Only
``--scheduler cosine`` anneals over ``--epochs``; such a run cannot be extended exactly and
``--resume`` with another ``--epochs`` refuses.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from chainrule import nn, optim
from chainrule.cli.common import ACTIVATIONS, DATASETS, CLIError, build_model

__all__ = [
    "DATASET_DEFAULTS",
    "MODELS",
    "OPTIMIZERS",
    "SCHEDULERS",
    "TrainConfig",
    "build_optimizer",
    "build_scheduler",
    "dataset_default",
    "describe",
    "flag",
    "make_model",
    "plural",
    "show",
]

#: ``--model`` names -> builder ``(sample_shape, num_classes, config) -> Module``, where
#: ``sample_shape`` is one input's shape (``(64,)`` for Digits, ``(1, 28, 28)`` for MNIST).
#: A new architecture is one entry here (and its ``--model`` choice follows).
MODELS: dict[str, Callable[[tuple[int, ...], int, TrainConfig], nn.Module]] = {
    "mlp": lambda sample_shape, num_classes, config: build_model(
        math.prod(sample_shape), config.hidden or (), num_classes, config.activation
    ),
}

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
_STEP_SIZE_DEFAULT = 10

#: per-dataset defaults of ``hidden``, ``epochs`` and ``lr`` (per optimizer: those not
#: listed keep :data:`OPTIMIZERS`' default); the others use ``_GENERAL_DEFAULTS``
_GENERAL_DEFAULTS: dict[str, Any] = {"hidden": (128,), "epochs": 20, "lr": {}}
DATASET_DEFAULTS: dict[str, dict[str, Any]] = {
    "spiral": {"epochs": 100, "lr": {"adam": 1e-2, "adamw": 1e-2}},
}


def dataset_default(dataset: str, name: str) -> Any:
    """The default of option ``name`` for ``dataset``."""
    return DATASET_DEFAULTS.get(dataset, {}).get(name, _GENERAL_DEFAULTS[name])


@dataclass
class TrainConfig:
    """Everything that decides a training run's result (stored in its checkpoint).

    ``None`` for ``hidden``, ``epochs``, ``lr``, ``momentum``, ``weight_decay`` and
    ``step_size`` means "the default for the dataset / optimizer"; the instance holds the
    resolved values, so a checkpoint records the numbers that were actually used.
    """

    dataset: str = "digits"
    data_root: str = "data"
    model: str = "mlp"
    hidden: tuple[int, ...] | None = None
    activation: str = "relu"
    optimizer: str = "adam"
    lr: float | None = None
    momentum: float | None = None
    weight_decay: float | None = None
    scheduler: str = "none"
    step_size: int | None = None
    gamma: float = 0.1
    epochs: int | None = None
    batch_size: int = 32
    seed: int = 0

    def __post_init__(self) -> None:
        _check_choice("dataset", self.dataset, DATASETS)
        _check_choice("model", self.model, MODELS)
        _check_choice("activation", self.activation, ACTIVATIONS)
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_choice("scheduler", self.scheduler, SCHEDULERS)
        if self.hidden is None:
            self.hidden = dataset_default(self.dataset, "hidden")
        self.hidden = tuple(self.hidden)
        if self.epochs is None:
            self.epochs = dataset_default(self.dataset, "epochs")
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
            self.lr = dataset_default(self.dataset, "lr").get(
                self.optimizer, OPTIMIZERS[self.optimizer][1]
            )
        if self.momentum is None:  # stays None for the optimizers without momentum
            self.momentum = _MOMENTUM_DEFAULT.get(self.optimizer)
        if self.weight_decay is None:
            self.weight_decay = _WEIGHT_DECAY_DEFAULT.get(self.optimizer, 0.0)
        if self.step_size is None:
            self.step_size = _STEP_SIZE_DEFAULT
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

    def extends_exactly(self) -> bool:
        """True when a larger ``epochs`` continues the same run (the schedule ignores it)."""
        return self.scheduler != "cosine"


def flag(name: str) -> str:
    """``batch_size`` -> ``--batch-size``."""
    return "--" + name.replace("_", "-")


def plural(count: int, noun: str) -> str:
    """``1 epoch``, ``2 epochs``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def show(value: Any) -> str:
    """A config value as it is typed on the command line."""
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value) or "none"
    return str(value)


def _check_choice(name: str, value: Any, choices: Iterable[str]) -> None:
    if value not in choices:
        raise CLIError(
            f"{flag(name)}: unknown {name} {value!r}; expected one of {', '.join(choices)}",
            code=2,
        )


def _check_count(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise CLIError(f"{flag(name)} must be an integer >= 1, got {value!r}", code=2)


def _check_number(name: str, value: Any, positive: bool = False) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (positive and value == 0):
        expected = "a finite number > 0" if positive else "a finite number >= 0"
        raise CLIError(f"{flag(name)} must be {expected}, got {value!r}", code=2)


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


def make_model(config: TrainConfig, sample_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """The ``--model`` network for inputs of ``sample_shape`` and ``num_classes`` classes."""
    return MODELS[config.model](tuple(sample_shape), num_classes, config)


def describe(config: TrainConfig, sample_shape: tuple[int, ...], num_classes: int) -> str:
    """``MLP 64-128-10 (relu)``: the model's shape in one phrase."""
    if config.model == "mlp":
        widths = (math.prod(sample_shape), *(config.hidden or ()), num_classes)
        return f"MLP {'-'.join(str(w) for w in widths)} ({config.activation})"
    shape = "x".join(str(d) for d in sample_shape)
    return f"{config.model.upper()} {shape} -> {num_classes} ({config.activation})"
