"""``chainrule eval``: test loss and accuracy of a `chainrule train` checkpoint.

The model is rebuilt from the configuration stored in the checkpoint (dataset, hidden
sizes, activation), its weights are loaded, and the test set (or ``--split train``) is
evaluated without recording a graph.
"""

from __future__ import annotations

import argparse

from chainrule.cli.common import (
    dataset_shape,
    evaluate,
    load_datasets,
    positive_int,
    sample_shape,
)
from chainrule.cli.config import make_model
from chainrule.cli.train import EVAL_BATCH_SIZE, TrainConfig, describe, load_checkpoint
from chainrule.utils.data import DataLoader

__all__ = ["add_arguments", "evaluate_checkpoint", "run"]


def evaluate_checkpoint(
    path: str,
    split: str = "test",
    data_root: str | None = None,
    download: bool = False,
    batch_size: int = EVAL_BATCH_SIZE,
) -> dict[str, object]:
    """Rebuild the checkpoint's model and evaluate it on ``split``.

    Returns:
        A dict with ``loss``, ``accuracy``, ``samples``, ``epoch``, ``config`` and ``path``.
    """
    path, state = load_checkpoint(path)
    config = TrainConfig.from_dict(state["config"])
    root = config.data_root if data_root is None else data_root
    train_set, test_set = load_datasets(config.dataset, root, download)
    dataset = train_set if split == "train" else test_set
    shape, num_classes = sample_shape(train_set), dataset_shape(train_set)[1]
    model = make_model(config, shape, num_classes)
    model.load_state_dict(state["model"])
    loss, accuracy = evaluate(model, DataLoader(dataset, batch_size=batch_size))
    return {
        "loss": loss, "accuracy": accuracy, "samples": len(dataset), "epoch": state["epoch"],
        "config": config, "path": path, "model": describe(config, shape, num_classes),
    }  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, metavar="PATH",
                        help="a checkpoint written by `chainrule train` (or its --out folder)")
    parser.add_argument("--split", choices=("test", "train"), default="test",
                        help="which part of the dataset to evaluate (default: test)")
    parser.add_argument("--data-root", metavar="DIR", default=None,
                        help="folder with the MNIST files (default: the one used for training)")
    parser.add_argument("--download", action="store_true",
                        help="fetch missing MNIST / Fashion-MNIST files into --data-root")
    parser.add_argument("--batch-size", type=positive_int, default=EVAL_BATCH_SIZE,
                        help=f"samples evaluated at once (default: {EVAL_BATCH_SIZE})")


def run(args: argparse.Namespace) -> int:
    """Run ``chainrule eval`` with parsed arguments; returns the exit code."""
    result = evaluate_checkpoint(
        args.checkpoint, args.split, args.data_root, args.download, args.batch_size
    )
    config = result["config"]
    assert isinstance(config, TrainConfig)
    print(
        f"{result['path']}: {result['model']} on {config.dataset}, epoch {result['epoch']}"
    )
    print(
        f"{args.split} loss {result['loss']:.4f}  {args.split} acc "
        f"{100 * result['accuracy']:.2f}%  ({result['samples']} samples)"
    )
    return 0
