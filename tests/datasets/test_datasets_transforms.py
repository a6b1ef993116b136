"""transform / target_transform on every dataset, as torchvision's; defaults unchanged."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import transforms as T
from chainrule.datasets import MNIST, Digits, FashionMNIST, Spiral
from chainrule.utils.data import DataLoader


def idx_bytes(array):
    header = (0x0800 + array.ndim).to_bytes(4, "big")
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


@pytest.fixture
def mnist_root(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(6, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=6, dtype=np.uint8)
    for prefix in ("train", "t10k"):
        (tmp_path / f"{prefix}-images-idx3-ubyte").write_bytes(idx_bytes(images))
        (tmp_path / f"{prefix}-labels-idx1-ubyte").write_bytes(idx_bytes(labels))
    return tmp_path, images, labels


@pytest.mark.parametrize("cls", [MNIST, FashionMNIST])
def test_mnist_transform_sees_the_raw_image_as_torchvision(mnist_root, cls):
    root, images, labels = mnist_root
    seen = []
    ds = cls(root, transform=lambda img: seen.append(img) or img, target_transform=str)
    image, label = ds[2]
    assert isinstance(seen[0], np.ndarray) and seen[0].dtype == np.uint8
    assert seen[0].shape == (28, 28)
    np.testing.assert_array_equal(image, images[2])
    assert label == str(labels[2])
    # PyTorch's MNIST example's transform gives the default sample, normalised
    example = T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])
    plain, normalised = cls(root)[4][0], cls(root, transform=example)[4][0]
    assert plain.shape == normalised.shape == (1, 28, 28)
    np.testing.assert_allclose(normalised.numpy(), (plain.numpy() - 0.1307) / 0.3081, rtol=1e-5)
    np.testing.assert_allclose(T.ToTensor()(images[4]).numpy(), plain.numpy())
    x, y = next(iter(DataLoader(cls(root, transform=example), batch_size=4, shuffle=True)))
    assert x.shape == (4, 1, 28, 28) and x.dtype == cr.float32 and y.dtype == cr.int64


def test_defaults_unchanged_without_transform(mnist_root):
    root, images, _ = mnist_root
    image, label = MNIST(root)[0]
    assert isinstance(image, cr.Tensor) and image.shape == (1, 28, 28) and type(label) is int
    image, label = Digits(train=False)[0]
    assert isinstance(image, cr.Tensor) and image.shape == (1, 8, 8)
    point, label = Spiral()[0]
    assert isinstance(point, cr.Tensor) and point.shape == (2,)


def test_digits_and_spiral_transforms_get_their_tensor_samples():
    digits = Digits(train=False)
    crop = Digits(
        train=False,
        transform=T.Compose([T.ToTensor(), T.RandomCrop(6), T.Normalize((0.5,), (0.5,))]),
        target_transform=lambda y: -y,
    )
    image, label = crop[5]
    assert image.shape == (1, 6, 6) and label == -digits[5][1]
    flipped = Digits(train=False, transform=T.RandomHorizontalFlip(p=1.0))[5][0]
    np.testing.assert_array_equal(flipped.numpy(), digits[5][0].numpy()[..., ::-1])
    spiral = Spiral(transform=lambda p: p * 2, target_transform=float)
    point, label = spiral[1]
    np.testing.assert_allclose(point.numpy(), Spiral()[1][0].numpy() * 2)
    assert isinstance(label, float)
    for ds in (digits, spiral):
        assert ds.transform is None or callable(ds.transform)
    assert "Transform: Compose(" in repr(crop)
