"""Transform classes with torchvision.transforms' names, arguments and reprs.

The random ones draw from chainrule's default generator (``cr.manual_seed`` repeats them;
a :class:`~chainrule.utils.data.DataLoader` worker reseeds it as PyTorch does), in the same
order as torchvision draws from torch's: ``RandomCrop`` the row, then the column;
the flips one uniform number each.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

from chainrule.random import _np_generator
from chainrule.transforms import functional as F

__all__ = [
    "Compose",
    "ToTensor",
    "Normalize",
    "Lambda",
    "RandomCrop",
    "RandomHorizontalFlip",
    "RandomVerticalFlip",
    "CenterCrop",
    "Pad",
]


def _randint(high: int) -> int:
    """A uniform int in [0, high) from chainrule's default generator."""
    return int(_np_generator(None).integers(0, high))


def _rand() -> float:
    return float(_np_generator(None).random())


class Compose:
    """Apply ``transforms`` one after the other.

    Examples:
        >>> transform = Compose([ToTensor(), Normalize((0.1307,), (0.3081,))])
    """

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        self.transforms = list(transforms)
        for k, t in enumerate(self.transforms):
            if not callable(t):
                raise TypeError(f"Compose: transform {k} ({t!r}) is not callable")

    def __call__(self, img: Any) -> Any:
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self) -> str:
        body = "".join(f"\n    {t}" for t in self.transforms)
        return f"{type(self).__name__}({body}\n)"


class ToTensor:
    """An ``(H, W, C)`` or ``(H, W)`` image array as a ``(C, H, W)`` Tensor (uint8 -> [0, 1]).

    A Tensor passes through unchanged (see :func:`chainrule.transforms.functional.to_tensor`).
    """

    def __call__(self, pic: Any) -> Any:
        return F.to_tensor(pic)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Normalize:
    """``(x - mean) / std`` per channel of a float ``(..., C, H, W)`` Tensor.

    Args:
        mean: one value per channel (or one for all).
        std: one value per channel (or one for all).
        inplace: overwrite the input tensor's values.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float], inplace: bool = False) -> None:
        self.mean = mean
        self.std = std
        self.inplace = inplace

    def __call__(self, tensor: Any) -> Any:
        return F.normalize(tensor, self.mean, self.std, self.inplace)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mean={self.mean}, std={self.std})"


class Lambda:
    """Apply a user function as a transform."""

    def __init__(self, lambd: Callable[[Any], Any]) -> None:
        if not callable(lambd):
            raise TypeError(
                f"Lambda: argument lambd should be callable, got {type(lambd).__name__!r}"
            )
        self.lambd = lambd

    def __call__(self, img: Any) -> Any:
        return self.lambd(img)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _check_padding_mode(padding_mode: str, owner: str) -> None:
    if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
        raise ValueError(
            f"{owner}: padding_mode should be constant, edge, reflect or symmetric, "
            f"got {padding_mode!r}"
        )


def _check_fill(fill: Any, owner: str) -> None:
    if not isinstance(fill, numbers.Number | tuple | list):
        raise TypeError(f"{owner}: fill should be a number or a tuple, got {type(fill).__name__}")


class RandomCrop:
    """Crop a window of ``size`` at a random place (after optional padding).

    Args:
        size: ``(height, width)`` of the crop, or an int for a square.
        padding: padding added first: an int, ``(left/right, top/bottom)`` or
            ``(left, top, right, bottom)``.
        pad_if_needed: pad an image smaller than ``size`` (on both sides) instead of raising.
        fill: the padding value for ``padding_mode='constant'``.
        padding_mode: ``'constant'``, ``'edge'``, ``'reflect'`` or ``'symmetric'``.

    Examples:
        >>> RandomCrop(32, padding=4)       # CIFAR-10's usual augmentation
        RandomCrop(size=(32, 32), padding=4)
    """

    def __init__(
        self,
        size: int | Sequence[int],
        padding: int | Sequence[int] | None = None,
        pad_if_needed: bool = False,
        fill: Any = 0,
        padding_mode: str = "constant",
    ) -> None:
        self.size = F._size_pair(size, "RandomCrop")
        if padding is not None:
            F._padding_ltrb(padding, "RandomCrop")
        _check_fill(fill, "RandomCrop")
        _check_padding_mode(padding_mode, "RandomCrop")
        self.padding = padding
        self.pad_if_needed = pad_if_needed
        self.fill = fill
        self.padding_mode = padding_mode

    @staticmethod
    def get_params(img: Any, output_size: tuple[int, int]) -> tuple[int, int, int, int]:
        """``(top, left, height, width)`` of a random crop of ``output_size``."""
        _, h, w = F.get_dimensions(img)
        th, tw = output_size
        if h < th or w < tw:
            raise ValueError(
                f"RandomCrop: required crop size {(th, tw)} is larger than input image size "
                f"{(h, w)}"
            )
        if w == tw and h == th:
            return 0, 0, h, w
        i = _randint(h - th + 1)
        j = _randint(w - tw + 1)
        return i, j, th, tw

    def __call__(self, img: Any) -> Any:
        if self.padding is not None:
            img = F.pad(img, self.padding, self.fill, self.padding_mode)
        _, height, width = F.get_dimensions(img)
        if self.pad_if_needed and width < self.size[1]:
            img = F.pad(img, [self.size[1] - width, 0], self.fill, self.padding_mode)
        if self.pad_if_needed and height < self.size[0]:
            img = F.pad(img, [0, self.size[0] - height], self.fill, self.padding_mode)
        i, j, h, w = self.get_params(img, self.size)
        return F.crop(img, i, j, h, w)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    """Mirror the image left to right with probability ``p``."""

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def __call__(self, img: Any) -> Any:
        return F.hflip(img) if _rand() < self.p else img

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p})"


class RandomVerticalFlip:
    """Mirror the image top to bottom with probability ``p``."""

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def __call__(self, img: Any) -> Any:
        return F.vflip(img) if _rand() < self.p else img

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p})"


class CenterCrop:
    """Crop the central ``size`` window (zero-padded first if the image is smaller)."""

    def __init__(self, size: int | Sequence[int]) -> None:
        self.size = F._size_pair(size, "CenterCrop")

    def __call__(self, img: Any) -> Any:
        return F.center_crop(img, self.size)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size})"


class Pad:
    """Pad the borders (see :func:`chainrule.transforms.functional.pad`)."""

    def __init__(
        self, padding: int | Sequence[int], fill: Any = 0, padding_mode: str = "constant"
    ) -> None:
        F._padding_ltrb(padding, "Pad")
        _check_fill(fill, "Pad")
        _check_padding_mode(padding_mode, "Pad")
        self.padding = padding
        self.fill = fill
        self.padding_mode = padding_mode

    def __call__(self, img: Any) -> Any:
        return F.pad(img, self.padding, self.fill, self.padding_mode)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(padding={self.padding}, fill={self.fill}, "
            f"padding_mode={self.padding_mode})"
        )
