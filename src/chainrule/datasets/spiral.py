"""Spiral: the 2-D toy problem of interleaved spiral arms, one arm per class.

Class ``k``'s arm starts at the origin and winds outward: its ``i``-th of ``n`` points has
radius ``r = (i + 1) / n`` and angle ``2*pi*k/C + 4*r + noise * N(0, 1)``, at
``(r sin(angle), r cos(angle))``. No straight line separates the arms, so a linear model
fails and a small MLP succeeds: the classic first test of a nonlinear classifier.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule.utils.data.dataset import _ArrayClassification

__all__ = ["Spiral"]


def make_spiral(
    num_samples: int, num_classes: int, noise: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Points ``(num_samples, 2)`` float32 and labels ``(num_samples,)`` int64, shuffled.

    The samples are shared out as evenly as possible among the classes (the first
    ``num_samples % num_classes`` classes get one more).
    """
    counts = [
        num_samples // num_classes + (k < num_samples % num_classes) for k in range(num_classes)
    ]
    points, labels = [], []
    for k, n in enumerate(counts):
        radius = np.arange(1, n + 1) / max(n, 1)  # (n,)
        angle = 2 * np.pi * k / num_classes + 4.0 * radius + noise * rng.standard_normal(n)
        points.append(np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1))
        labels.append(np.full(n, k, dtype=np.int64))
    order = rng.permutation(num_samples)
    x = np.concatenate(points).astype(np.float32)[order]  # (N, 2)
    y = np.concatenate(labels)[order]  # (N,)
    return x, y


class Spiral(_ArrayClassification):
    """The spiral toy problem: 2-D points on ``num_classes`` interleaved arms.

    A sample is ``(point, label)``: ``point`` a float32 Tensor of shape ``(2,)``, ``label``
    an int in ``0..num_classes-1``. The data are a fixed function of ``seed`` and
    ``train``: the training and test sets come from different random streams (the same
    arms, different noise), and the samples are in shuffled order.

    Args:
        train: the training set or the test set.
        num_samples: points in all (shared out evenly among the classes).
        num_classes: arms, one per class.
        noise: standard deviation of the angular noise, in radians.
        seed: a non-negative int; the same seed gives the same data.
        transform: applied to each point Tensor.
        target_transform: applied to each label.

    Attributes:
        data: float32 Tensor ``(N, 2)``; targets: int64 Tensor ``(N,)``; classes.

    Examples:
        >>> train, test = cr.datasets.Spiral(train=True), cr.datasets.Spiral(train=False)
        >>> point, label = train[0]          # point: (2,) float32
    """

    def __init__(
        self,
        train: bool = True,
        num_samples: int = 300,
        num_classes: int = 3,
        noise: float = 0.2,
        seed: int = 0,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
    ) -> None:
        for name, value, low in (
            ("num_samples", num_samples, 1),
            ("num_classes", num_classes, 2),
            ("seed", seed, 0),
        ):
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
                raise ValueError(f"Spiral: {name} must be an integer >= {low}, got {value!r}")
        if not noise >= 0:
            raise ValueError(f"Spiral: noise must be >= 0, got {noise!r}")
        self.num_classes = int(num_classes)
        self.noise = float(noise)
        self.seed = int(seed)
        rng = np.random.default_rng([self.seed, 0 if train else 1])
        x, y = make_spiral(int(num_samples), self.num_classes, self.noise, rng)
        super().__init__(x, y, train, transform, target_transform)

    @property
    def classes(self) -> list[str]:  # type: ignore[override]
        return [str(k) for k in range(self.num_classes)]

    def extra_repr(self) -> str:
        return (
            f"Classes: {self.num_classes}, noise: {self.noise}, seed: {self.seed}\n"
            f"{super().extra_repr()}"
        )

    def _features(self, rows: np.ndarray) -> np.ndarray:
        return rows  # already float32 points (..., 2)
