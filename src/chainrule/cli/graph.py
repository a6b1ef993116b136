"""``chainrule graph``: render the training graph of the default model (or one you describe).

Builds the model ``chainrule train`` would build, runs one batch of the training set
through it and the cross-entropy loss, and writes the backward graph of that loss with
``cr.viz.render``: ``graph.dot`` always, and ``graph.svg`` (or ``--format png``/``pdf``)
when Graphviz's ``dot`` program is installed. Parameters are labelled with their names.
"""

from __future__ import annotations

import argparse
import os
import warnings

import chainrule as cr
from chainrule.cli.common import (
    ACTIVATIONS,
    DATASETS,
    build_model,
    dataset_shape,
    hidden_sizes,
    load_datasets,
    positive_int,
)
from chainrule.cli.train import TrainConfig
from chainrule.nn import functional as F
from chainrule.utils.data import DataLoader

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = TrainConfig()
    parser.add_argument("--out", metavar="DIR", default=os.path.join("runs", "graph"),
                        help="output folder (default: runs/graph)")
    parser.add_argument("--format", choices=("svg", "png", "pdf", "dot"), default=None,
                        help="picture format (default: svg when Graphviz is installed, "
                             "else only graph.dot)")
    parser.add_argument("--dataset", choices=list(DATASETS), default=d.dataset,
                        help=f"whose batch goes through the model (default: {d.dataset})")
    parser.add_argument("--data-root", metavar="DIR", default=d.data_root,
                        help=f"folder with the MNIST files (default: {d.data_root})")
    parser.add_argument("--hidden", type=hidden_sizes, metavar="SIZES", default=d.hidden,
                        help="hidden layer widths, e.g. 256,128 (default: 128)")
    parser.add_argument("--activation", choices=list(ACTIVATIONS), default=d.activation,
                        help=f"nonlinearity between layers (default: {d.activation})")
    parser.add_argument("--batch-size", type=positive_int, default=d.batch_size,
                        help=f"samples in the batch (default: {d.batch_size})")


def run(args: argparse.Namespace) -> int:
    """Run ``chainrule graph``; prints the files written."""
    from chainrule import viz

    train_set, _ = load_datasets(args.dataset, args.data_root)
    in_features, num_classes = dataset_shape(train_set)
    cr.manual_seed(0)
    model = build_model(in_features, args.hidden, num_classes, args.activation)
    x, y = next(iter(DataLoader(train_set, batch_size=args.batch_size)))
    loss = F.cross_entropy(model(x), y)
    with warnings.catch_warnings():  # without Graphviz, the hint is printed below
        warnings.simplefilter("ignore", viz.GraphvizNotInstalledWarning)
        written = viz.render(
            loss, os.path.join(args.out, "graph"), params=dict(model.named_parameters()),
            format=args.format,
        )
    for path in written:
        print(f"wrote {path}")
    if len(written) == 1 and args.format is None:
        print("(install Graphviz, e.g. `apt install graphviz`, to get graph.svg as well)")
    return 0
