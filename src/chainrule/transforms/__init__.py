"""Image transforms with ``torchvision.transforms``' names: ``cr.transforms.Compose`` etc.

They work on raw ``(H, W, C)`` / ``(H, W)`` image arrays (what the image datasets hand to
``transform``) and on ``(..., C, H, W)`` Tensors (what :class:`ToTensor` makes).

Examples:
    >>> from chainrule import transforms
    >>> augment = transforms.Compose([
    ...     transforms.RandomCrop(32, padding=4),
    ...     transforms.RandomHorizontalFlip(),
    ...     transforms.ToTensor(),
    ...     transforms.Normalize((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    ... ])
"""

from chainrule.transforms import functional
from chainrule.transforms.transforms import (
    CenterCrop,
    Compose,
    Lambda,
    Normalize,
    Pad,
    RandomCrop,
    RandomHorizontalFlip,
    RandomVerticalFlip,
    ToTensor,
)

__all__ = [
    "CenterCrop",
    "Compose",
    "Lambda",
    "Normalize",
    "Pad",
    "RandomCrop",
    "RandomHorizontalFlip",
    "RandomVerticalFlip",
    "ToTensor",
    "functional",
]
