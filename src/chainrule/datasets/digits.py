"""Digits: scikit-learn's 1,797 handwritten 8x8 digits, embedded, split deterministically.

The images are those of ``sklearn.datasets.load_digits()`` (the test part of the UCI
"Optical Recognition of Handwritten Digits" set), stored in this package as
``datasets/data/digits.npz``: no download and no scikit-learn needed.

The split takes no randomness: within each class, in the file's order, every fifth image
(the 5th, 10th, ...) is a test image. That gives 1,442 training and 355 test images
(19.8%), each class in the same proportion in both.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from importlib import resources
from typing import Any

import numpy as np

from chainrule.utils.data.dataset import _ArrayClassification

__all__ = ["Digits"]

_DIGIT_CLASSES = [
    "0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
    "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine",
]  # fmt: skip


@functools.cache
def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The embedded images (1797, 8, 8) uint8 in 0..16 and labels (1797,) uint8, read-only."""
    blob = resources.files("chainrule.datasets").joinpath("data/digits.npz").read_bytes()
    with np.load(io.BytesIO(blob)) as archive:
        images, labels = archive["images"], archive["target"]
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def _test_mask(labels: np.ndarray) -> np.ndarray:
    """True for the test images: every fifth image of each class, in file order."""
    mask = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        mask[members[4::5]] = True
    return mask


class Digits(_ArrayClassification):
    """The 8x8 handwritten digits that scikit-learn ships, as a 10-class dataset.

    A sample is ``(image, label)``: ``image`` a float32 Tensor of shape ``(1, 8, 8)`` with
    values in [0, 1] (the 17 grey levels 0..16 divided by 16), ``label`` an int in 0..9.

    Args:
        train: the training split (1,442 images) or the test split (355 images); see the
            module docstring for how they are chosen.
        transform: applied to each image Tensor.
        target_transform: applied to each label.

    Attributes:
        data: uint8 Tensor ``(N, 8, 8)`` of grey levels 0..16.
        targets: int64 Tensor ``(N,)`` of labels.
        classes: the class names, ``"0 - zero"`` ... ``"9 - nine"``.

    Examples:
        >>> train = cr.datasets.Digits(train=True)
        >>> image, label = train[0]          # image: (1, 8, 8) float32
        >>> loader = cr.utils.data.DataLoader(train, batch_size=64, shuffle=True)
    """

    classes = _DIGIT_CLASSES

    def __init__(
        self,
        train: bool = True,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
    ) -> None:
        images, labels = _load_digits()
        test = _test_mask(labels)
        keep = ~test if train else test
        super().__init__(images[keep], labels[keep], train, transform, target_transform)

    def _features(self, rows: np.ndarray) -> np.ndarray:
        # (..., 8, 8) uint8 in 0..16 -> (..., 1, 8, 8) float32 in [0, 1]
        return (rows.astype(np.float32) / np.float32(16.0))[..., None, :, :]
