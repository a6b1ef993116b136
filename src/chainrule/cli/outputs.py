"""What ``chainrule train`` writes into ``--out``: the folder's checks, metrics and curves.

The output folder is checked (created, written to) before any training starts, so that a
mistake in ``--out`` costs nothing; every file is written atomically (see
:mod:`chainrule._atomic`), so an interrupted run never leaves a half-written one.
"""

from __future__ import annotations

import csv
import errno
import io
import os
import re
import tempfile
from collections.abc import Callable
from typing import Any

from chainrule._atomic import atomic_open
from chainrule.cli.common import CLIError

__all__ = [
    "METRIC_COLUMNS",
    "check_output_folder",
    "curves_figure",
    "epoch_checkpoints",
    "plot_curves",
    "write_metrics",
]

METRIC_COLUMNS = ("epoch", "lr", "train_loss", "train_acc", "test_loss", "test_acc")
EPOCH_CHECKPOINT = re.compile(r"checkpoint-epoch(\d+)\.ckpt\Z")


def check_output_folder(out: str) -> str:
    """Create ``out`` if needed and make sure files can be written in it.

    Returns:
        ``out`` (unchanged).

    Raises:
        CLIError: ``out`` is empty, is a file, or cannot be created or written, in words.
    """
    if not out or not out.strip():
        raise CLIError(
            "--out is empty: give the folder to write the checkpoint, metrics.csv and "
            "curves.png into, e.g. --out runs/digits",
            code=2,
        )
    if os.path.exists(out) and not os.path.isdir(out):
        raise CLIError(
            f"--out {out!r} is a file, not a folder: give a folder to write the checkpoint, "
            "metrics.csv and curves.png into (it is created if needed)",
            code=2,
        )
    try:
        os.makedirs(out, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):  # a real write: permissions, read-only disks
            pass
    except OSError as error:
        reason = error.strerror or str(error)
        if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            reason += " (choose a folder you can write to with --out)"
        raise CLIError(f"cannot write into the output folder {out!r}: {reason}") from None
    return out


def epoch_checkpoints(out: str) -> dict[int, str]:
    """``{k: path}`` of the ``checkpoint-epoch<k>.ckpt`` files in ``out``."""
    found = {}
    try:
        names = os.listdir(out)
    except OSError:
        return {}
    for name in names:
        match = EPOCH_CHECKPOINT.match(name)
        if match:
            found[int(match.group(1))] = os.path.join(out, name)
    return found


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


def _epoch_ticks(first: int, last: int) -> list[int]:
    """Integer ticks that always include the first and the last epoch."""
    from matplotlib.ticker import MaxNLocator

    inner = [
        int(t) for t in MaxNLocator(nbins=8, integer=True).tick_values(first, last)
        if first < t < last
    ]
    gap = max(1, (last - first) / 12)  # keep labels from touching the end ticks
    inner = [t for t in inner if t - first >= gap and last - t >= gap]
    return sorted({first, last, *inner})


def plot_curves(metrics: list[dict[str, Any]], path: str, title: str = "") -> bool:
    """Draw loss (log scale) and accuracy per epoch into a PNG.

    Returns False (and writes nothing) if matplotlib is not installed.
    """
    try:
        figure = curves_figure(metrics, title)
    except ImportError:
        return False
    _atomic_write(path, lambda f: figure.savefig(f, format="png", dpi=100), binary=True)
    return True


def curves_figure(metrics: list[dict[str, Any]], title: str = "") -> Any:
    """The matplotlib ``Figure`` of :func:`plot_curves` (ImportError without matplotlib)."""
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    epochs = [row["epoch"] for row in metrics]
    figure = Figure(figsize=(10, 4))
    figure.subplots_adjust(left=0.07, right=0.98, bottom=0.13, top=0.83, wspace=0.25)
    loss_ax, acc_ax = figure.subplots(1, 2)
    for split, style in (("train", "o-"), ("test", "s--")):
        loss_ax.plot(epochs, [row[f"{split}_loss"] for row in metrics], style, ms=3, label=split)
        acc_ax.plot(
            epochs, [100 * row[f"{split}_acc"] for row in metrics], style, ms=3, label=split
        )
    losses = [row[f"{split}_loss"] for row in metrics for split in ("train", "test")]
    if losses and min(losses) > 0:
        loss_ax.set_yscale("log")
    loss_ax.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss")
    acc_ax.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        if epochs:
            first, last = min(epochs), max(epochs)
            ax.set_xticks(_epoch_ticks(first, last))
            pad = max(0.5, (last - first) * 0.03)
            ax.set_xlim(first - pad, last + pad)
        ax.legend()
    if title:
        figure.suptitle(title)
    return figure
