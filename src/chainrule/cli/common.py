"""Shared pieces of the command line: errors, argument types, datasets, models, evaluation.

Everything a subcommand needs to turn its arguments into a dataset, a model and a
progress bar lives here, so that ``train``, ``eval`` and ``graph`` build the same things
from the same names.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F

__all__ = [
    "ACTIVATIONS",
    "DATASETS",
    "CLIError",
    "Parser",
    "UsageError",
    "build_model",
    "dataset_shape",
    "evaluate",
    "hidden_sizes",
    "load_datasets",
    "non_negative_float",
    "non_negative_int",
    "positive_float",
    "positive_int",
    "progress",
    "sample_shape",
]

#: ``--dataset`` names and what each is.
DATASETS: dict[str, str] = {
    "digits": "scikit-learn's 8x8 handwritten digits, embedded (1,442 train / 355 test)",
    "mnist": "MNIST's 28x28 digits, read from --data-root",
    "fashion-mnist": "Fashion-MNIST's 28x28 clothes, read from --data-root",
    "spiral": "the 2-D three-arm spiral toy problem (300 train / 300 test points)",
    "cifar10": "CIFAR-10's 32x32 colour images (binary version), read from --data-root",
}

#: ``--activation`` name -> the ``nn`` class it puts between two Linear layers; a name is
#: offered only when ``nn`` has the class (``gelu`` and ``silu`` appear with nn.GELU/SiLU)
_ACTIVATION_CLASSES = {
    "relu": "ReLU",
    "tanh": "Tanh",
    "sigmoid": "Sigmoid",
    "gelu": "GELU",
    "silu": "SiLU",
    "leaky_relu": "LeakyReLU",
    "elu": "ELU",
}
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    name: getattr(nn, cls) for name, cls in _ACTIVATION_CLASSES.items() if hasattr(nn, cls)
}


class CLIError(Exception):
    """A user error the command line reports as one line, ``chainrule: error: <message>``.

    Args:
        message: what went wrong and what was expected.
        code: the process exit code (1 unless the arguments themselves are wrong).
    """

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class UsageError(CLIError):
    """Bad command-line arguments: reported after the usage line, exit code 2."""

    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message, code=2)
        self.parser = parser


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` that raises :class:`UsageError` instead of exiting.

    ``main`` catches it and prints one error line, so that ``main([...])`` can be called
    in-process (tests) and always returns an exit code. Near misses get a suggestion:
    ``unrecognized arguments: --optimiser (did you mean --optimizer?)``.
    """

    def parse_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> Any:
        self._argv = list(sys.argv[1:] if args is None else args)
        return super().parse_args(args, namespace)

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(self, self._with_suggestion(message))

    def _command_parser(self) -> argparse.ArgumentParser:
        """The subcommand's parser when the arguments name one (unknown options of a
        subcommand are reported by the top-level parser), else this parser."""
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
                for word in getattr(self, "_argv", []):
                    if word in action.choices:
                        return action.choices[word]
        return self

    def _with_suggestion(self, message: str) -> str:
        unknown = re.match(r"unrecognized arguments: (.*)", message)
        parser = self._command_parser() if unknown else self
        if unknown:
            options = [o for action in parser._actions for o in action.option_strings]
            hints = []
            for word in unknown.group(1).split():
                name = word.split("=", 1)[0]
                if name.startswith("-"):
                    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
                    if close:
                        hints.append((name, close[0]))
            if len(hints) == 1:
                message += f" (did you mean {hints[0][1]}?)"
            elif hints:
                message += f" ({'; '.join(f'{a}: did you mean {b}?' for a, b in hints)})"
        choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if choice:
            choices = [c.strip(" '") for c in choice.group(2).split(",")]
            close = difflib.get_close_matches(choice.group(1), choices, n=1, cutoff=0.6)
            if close:
                message += f"; did you mean {close[0]!r}?"
        command = parser.prog.split()[-1]
        if command != "chainrule" and "--help" not in message:
            message += f" (chainrule {command} --help lists the options)"
        return message


# --------------------------------------------------------------------- argument types


def _number(text: str, kind: Callable[[str], Any], what: str) -> Any:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if isinstance(value, float) and not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    value = _number(text, int, "an integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """An argparse type: an integer >= 0."""
    value = _number(text, int, "an integer")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a finite number > 0."""
    value = _number(text, float, "a number")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    """An argparse type: a finite number >= 0."""
    value = _number(text, float, "a number")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}")
    return value


def hidden_sizes(text: str) -> tuple[int, ...]:
    """An argparse type: hidden layer widths, ``"128,64"`` -> ``(128, 64)``.

    An empty string or ``none`` means no hidden layer (a linear classifier).
    """
    if text.strip().lower() in ("", "none"):
        return ()
    parts = [p.strip() for p in text.split(",")]
    if not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers such as 128,64 (or 'none'), "
            f"got {text!r}"
        )
    return tuple(int(p) for p in parts)


# ------------------------------------------------------------------- data and models


def load_datasets(
    name: str, data_root: str = "data", download: bool = False
) -> tuple[cr.utils.data.Dataset, cr.utils.data.Dataset]:
    """The training and test sets of ``--dataset name``.

    Raises:
        CLIError: an unknown name, or MNIST files that are not where ``data_root`` says.
    """
    from chainrule import datasets

    if name == "digits":
        return datasets.Digits(train=True), datasets.Digits(train=False)
    if name == "spiral":
        return datasets.Spiral(train=True), datasets.Spiral(train=False)
    if name in ("mnist", "fashion-mnist"):
        cls = datasets.MNIST if name == "mnist" else datasets.FashionMNIST
        if not download and not os.path.isdir(os.path.expanduser(data_root)):
            raise CLIError(
                f"--data-root {data_root!r} is not a folder: put the {cls.__name__} IDX files "
                f"(train-images-idx3-ubyte.gz, ...) in a folder and pass it as --data-root, "
                f"or add --download to fetch them"
            )
        try:
            return (
                cls(data_root, train=True, download=download),
                cls(data_root, train=False, download=download),
            )
        except FileNotFoundError as error:  # its advice is for Python: give the option too
            raise CLIError(f"{error} On the command line, add --download.") from None
    if name == "cifar10":
        from chainrule import transforms

        to_tensor = transforms.ToTensor()
        if not download and not os.path.isdir(os.path.expanduser(data_root)):
            raise CLIError(
                f"--data-root {data_root!r} is not a folder: put cifar-10-binary.tar.gz (or "
                "its cifar-10-batches-bin folder) in a folder and pass it as --data-root, or "
                "add --download to fetch it"
            )
        try:
            return (
                datasets.CIFAR10(data_root, True, download, transform=to_tensor),
                datasets.CIFAR10(data_root, False, download, transform=to_tensor),
            )
        except FileNotFoundError as error:
            raise CLIError(f"{error} On the command line, add --download.") from None
    raise CLIError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}", code=2)


def dataset_shape(dataset: cr.utils.data.Dataset) -> tuple[int, int]:
    """``(in_features, num_classes)`` of a classification dataset."""
    features, _ = dataset[0]
    return int(np.prod(features.shape)), len(dataset.classes)


def sample_shape(dataset: cr.utils.data.Dataset) -> tuple[int, ...]:
    """The shape of one input of a dataset (``(64,)``, ``(1, 28, 28)``)."""
    features, _ = dataset[0]
    return tuple(int(d) for d in features.shape)


def build_model(
    in_features: int, hidden: Sequence[int], num_classes: int, activation: str = "relu"
) -> nn.Sequential:
    """An MLP: ``Flatten``, then ``Linear -> activation`` per hidden width, then ``Linear``.

    Example: ``build_model(64, (128,), 10)`` is
    ``Flatten -> Linear(64, 128) -> ReLU -> Linear(128, 10)``.
    """
    if activation not in ACTIVATIONS:
        raise CLIError(
            f"unknown activation {activation!r}; expected one of {', '.join(ACTIVATIONS)}",
            code=2,
        )
    layers: list[nn.Module] = [nn.Flatten()]
    width = in_features
    for size in hidden:
        layers += [nn.Linear(width, size), ACTIVATIONS[activation]()]
        width = size
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


def evaluate(model: nn.Module, loader: Iterable[Any]) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` over ``loader``, without recording a graph."""
    model.eval()
    total_loss, correct, count = 0.0, 0, 0
    with cr.no_grad():
        for x, y in loader:
            logits = model(x)  # (B, classes)
            total_loss += F.cross_entropy(logits, y, reduction="sum").item()
            correct += int((logits.detach().numpy().argmax(axis=1) == y.numpy()).sum())
            count += len(y)
    if count == 0:
        raise CLIError("cannot evaluate on an empty dataset")
    return total_loss / count, correct / count


# ------------------------------------------------------------------------ progress bars


def progress(
    iterable: Iterable[Any], total: int, desc: str, enabled: bool
) -> Iterator[Any] | Any:
    """``iterable`` wrapped in a tqdm bar on stderr when enabled and tqdm is installed.

    The bar is left out when stderr is not a terminal (logs and pipes stay clean).
    """
    if not enabled or not sys.stderr.isatty():
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:
        return iterable
    return tqdm(
        iterable, total=total, desc=desc, leave=False, unit="batch", dynamic_ncols=True,
        file=sys.stderr,
    )
