"""The image operations behind :mod:`chainrule.transforms` (torchvision.transforms.functional).

Two image layouts are understood, as torchvision understands a PIL image and a tensor:

- a NumPy array is a raw image, ``(H, W, C)`` or ``(H, W)`` (what a PIL image holds; the
  datasets hand these to ``transform``), usually uint8;
- a :class:`~chainrule.Tensor` is ``(..., C, H, W)`` (what ``to_tensor`` returns).

Every function returns the layout it was given. Crops and flips of a Tensor are indexing
operations, so gradients flow through them; padding a Tensor is not differentiable.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule.tensor import Tensor, from_numpy

__all__ = [
    "to_tensor",
    "normalize",
    "crop",
    "center_crop",
    "pad",
    "hflip",
    "vflip",
    "get_dimensions",
]

_PADDING_MODES = {
    "constant": "constant",
    "edge": "edge",
    "reflect": "reflect",
    "symmetric": "symmetric",
}


def _check_image(img: Any, owner: str) -> None:
    if isinstance(img, Tensor):
        if img.ndim < 2:
            raise ValueError(
                f"{owner}: expected a tensor image of shape (..., H, W), got {tuple(img.shape)}"
            )
    elif isinstance(img, np.ndarray):
        if img.ndim not in (2, 3):
            raise ValueError(
                f"{owner}: expected an image array of shape (H, W) or (H, W, C), "
                f"got shape {img.shape}"
            )
    else:
        raise TypeError(
            f"{owner}: img should be a NumPy array (H, W[, C]) or a chainrule Tensor "
            f"(..., C, H, W), got {type(img).__name__}"
        )


def get_dimensions(img: Any) -> tuple[int, int, int]:
    """``(channels, height, width)`` of an image array or tensor."""
    _check_image(img, "get_dimensions")
    if isinstance(img, Tensor):
        shape = tuple(img.shape)
        channels = shape[-3] if len(shape) >= 3 else 1
        return channels, shape[-2], shape[-1]
    channels = img.shape[2] if img.ndim == 3 else 1
    return channels, img.shape[0], img.shape[1]


def to_tensor(pic: Any) -> Tensor:
    """An ``(H, W, C)`` or ``(H, W)`` image array as a ``(C, H, W)`` Tensor.

    uint8 images become float32 in [0, 1] (divided by 255); other dtypes keep their values
    and dtype, as torchvision's ``to_tensor`` does; a PIL image is read as its array. A
    Tensor is returned unchanged (it is taken to be already ``(C, H, W)``;
    :class:`~chainrule.datasets.Digits` and :class:`~chainrule.datasets.Spiral` hand
    Tensors to ``transform``).
    """
    if isinstance(pic, Tensor):
        return pic
    if not isinstance(pic, np.ndarray) and hasattr(pic, "__array_interface__"):
        pic = np.asarray(pic)  # a PIL image: (H, W) or (H, W, C) uint8
    if not isinstance(pic, np.ndarray):
        raise TypeError(
            f"to_tensor: pic should be a NumPy array or a Tensor, got {type(pic).__name__}"
        )
    if pic.ndim not in (2, 3):
        raise ValueError(f"to_tensor: pic should be 2/3 dimensional, got {pic.ndim} dimensions")
    if pic.dtype.kind not in "biuf":
        raise TypeError(f"to_tensor: cannot convert an image of dtype {pic.dtype}")
    array = pic[:, :, None] if pic.ndim == 2 else pic
    chw = np.ascontiguousarray(array.transpose(2, 0, 1))
    if chw.dtype == np.uint8:
        chw = chw.astype(np.float32) / np.float32(255.0)
    return from_numpy(chw)


def normalize(
    tensor: Tensor, mean: Sequence[float], std: Sequence[float], inplace: bool = False
) -> Tensor:
    """``(tensor - mean) / std`` channel by channel, for a float ``(..., C, H, W)`` Tensor."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"normalize: img should be a Tensor, got {type(tensor).__name__}")
    dtype = tensor.detach().numpy().dtype
    if dtype.kind != "f":
        raise TypeError(f"normalize: input tensor should be a float tensor, got {tensor.dtype}")
    if tensor.ndim < 3:
        raise ValueError(
            "normalize: expected tensor to be a tensor image of size (..., C, H, W), got "
            f"tensor.size() = {tuple(tensor.shape)}"
        )
    m = np.asarray(mean, dtype=dtype).reshape(-1)
    s = np.asarray(std, dtype=dtype).reshape(-1)
    channels = tensor.shape[-3]
    for name, values in (("mean", m), ("std", s)):
        if values.size not in (1, channels):
            raise ValueError(
                f"normalize: {name} has {values.size} values, expected 1 or one per channel "
                f"({channels})"
            )
    if (s == 0).any():
        raise ValueError(
            f"normalize: std evaluated to zero after conversion to {dtype}, "
            "leading to division by zero"
        )
    m, s = m.reshape(-1, 1, 1), s.reshape(-1, 1, 1)
    if not tensor.requires_grad and not inplace:  # data loading: plain NumPy, no graph
        return from_numpy((tensor.detach().numpy() - m) / s)
    if inplace and not tensor.requires_grad:
        data = tensor.detach().numpy()
        np.subtract(data, m, out=data)
        np.divide(data, s, out=data)
        return tensor
    return (tensor - from_numpy(m)) / from_numpy(s)


def crop(img: Any, top: int, left: int, height: int, width: int) -> Any:
    """The ``height`` x ``width`` window whose top-left corner is ``(top, left)``.

    Parts of the window outside the image are filled with zeros, as in torchvision.
    """
    _check_image(img, "crop")
    _, h, w = get_dimensions(img)
    if top < 0 or left < 0 or top + height > h or left + width > w:
        pads = [max(-left, 0), max(-top, 0), max(left + width - w, 0), max(top + height - h, 0)]
        img = pad(img, pads)
        top, left = top + pads[1], left + pads[0]
    if isinstance(img, Tensor):
        return img[..., top : top + height, left : left + width]
    return img[top : top + height, left : left + width].copy()


def center_crop(img: Any, output_size: int | Sequence[int]) -> Any:
    """The central ``output_size`` window (zero-padded first if the image is smaller)."""
    th, tw = _size_pair(output_size, "center_crop")
    _, h, w = get_dimensions(img)
    if th > h or tw > w:
        pads = [
            (tw - w) // 2 if tw > w else 0,
            (th - h) // 2 if th > h else 0,
            (tw - w + 1) // 2 if tw > w else 0,
            (th - h + 1) // 2 if th > h else 0,
        ]
        img = pad(img, pads)
        _, h, w = get_dimensions(img)
        if (h, w) == (th, tw):
            return img
    return crop(img, int(round((h - th) / 2.0)), int(round((w - tw) / 2.0)), th, tw)


def _padding_ltrb(padding: Any, owner: str) -> tuple[int, int, int, int]:
    """``padding`` (an int, or 1, 2 or 4 ints) as (left, top, right, bottom)."""
    if isinstance(padding, numbers.Integral) and not isinstance(padding, bool):
        p = int(padding)
        values: list[int] = [p, p, p, p]
    elif (
        isinstance(padding, Sequence)
        and len(padding) in (1, 2, 4)
        and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in padding)
    ):
        values = [int(v) for v in padding]
        if len(values) == 1:
            values *= 4
        elif len(values) == 2:
            values = [values[0], values[1], values[0], values[1]]
    else:
        raise ValueError(
            f"{owner}: padding must be an int or a sequence of 1, 2 or 4 ints, got {padding!r}"
        )
    return values[0], values[1], values[2], values[3]


def pad(img: Any, padding: Any, fill: Any = 0, padding_mode: str = "constant") -> Any:
    """Pad the borders of ``img``.

    Args:
        padding: an int (all sides), ``(left/right, top/bottom)`` or
            ``(left, top, right, bottom)``. Negative values crop.
        fill: the value of the new pixels for ``padding_mode='constant'`` (a number, or one
            per channel).
        padding_mode: ``'constant'``, ``'edge'``, ``'reflect'`` (without repeating the edge
            pixel) or ``'symmetric'`` (repeating it).
    """
    _check_image(img, "pad")
    if padding_mode not in _PADDING_MODES:
        raise ValueError(
            "pad: padding_mode should be constant, edge, reflect or symmetric, "
            f"got {padding_mode!r}"
        )
    left, top, right, bottom = _padding_ltrb(padding, "pad")
    is_tensor = isinstance(img, Tensor)
    array = img.detach() if is_tensor else img
    array = array.numpy() if is_tensor else array
    hw_axes = (array.ndim - 2, array.ndim - 1) if is_tensor else (0, 1)
    # negative padding crops
    index = [slice(None)] * array.ndim
    index[hw_axes[0]] = slice(max(-top, 0), array.shape[hw_axes[0]] - max(-bottom, 0))
    index[hw_axes[1]] = slice(max(-left, 0), array.shape[hw_axes[1]] - max(-right, 0))
    array = array[tuple(index)]
    widths = [(0, 0)] * array.ndim
    widths[hw_axes[0]] = (max(top, 0), max(bottom, 0))
    widths[hw_axes[1]] = (max(left, 0), max(right, 0))
    if padding_mode == "constant":
        out = _pad_constant(array, widths, fill, channel_axis=array.ndim - 3 if is_tensor else 2)
    else:
        out = np.pad(array, widths, mode=_PADDING_MODES[padding_mode])
    return from_numpy(np.ascontiguousarray(out)) if is_tensor else out


def _pad_constant(
    array: np.ndarray, widths: list[tuple[int, int]], fill: Any, channel_axis: int
) -> np.ndarray:
    fills = np.asarray(fill, dtype=np.float64).reshape(-1)
    if fills.size == 1:  # np.full and one copy: several times faster than np.pad
        shape = tuple(n + lo + hi for n, (lo, hi) in zip(array.shape, widths, strict=True))
        out = np.full(shape, fills[0], dtype=array.dtype)
        interior = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, array.shape, strict=True))
        out[interior] = array
        return out
    if channel_axis < 0 or channel_axis >= array.ndim or array.shape[channel_axis] != fills.size:
        raise ValueError(
            f"pad: fill has {fills.size} values but the image has "
            f"{array.shape[channel_axis] if 0 <= channel_axis < array.ndim else 1} channel(s)"
        )
    out = np.pad(array, widths, mode="constant")
    interior = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, array.shape, strict=True))
    mask = np.ones(out.shape, dtype=bool)
    mask[interior] = False
    shape = [1] * out.ndim
    shape[channel_axis] = fills.size
    out[mask] = np.broadcast_to(fills.astype(out.dtype).reshape(shape), out.shape)[mask]
    return out


def hflip(img: Any) -> Any:
    """``img`` mirrored left to right."""
    _check_image(img, "hflip")
    if isinstance(img, Tensor):
        return img[..., ::-1]
    return img[:, ::-1].copy()


def vflip(img: Any) -> Any:
    """``img`` mirrored top to bottom."""
    _check_image(img, "vflip")
    if isinstance(img, Tensor):
        return img[..., ::-1, :]
    return img[::-1].copy()


def _size_pair(size: Any, owner: str) -> tuple[int, int]:
    """``size`` (an int, or a sequence of 1 or 2 ints) as (height, width)."""
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        return int(size), int(size)
    if isinstance(size, Sequence) and len(size) == 1:
        return int(size[0]), int(size[0])
    if isinstance(size, Sequence) and len(size) == 2:
        return int(size[0]), int(size[1])
    raise ValueError(f"{owner}: please provide only two dimensions (h, w) for size, got {size!r}")
