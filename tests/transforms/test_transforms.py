"""cr.transforms: torchvision's names, arguments, reprs and results, on arrays and Tensors."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import transforms as T
from chainrule.transforms import functional as F


def image(h=5, w=6, c=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, c), dtype=np.uint8)


def test_to_tensor_hwc_uint8_and_grey():
    img = image()
    t = T.ToTensor()(img)
    assert isinstance(t, cr.Tensor) and t.shape == (3, 5, 6) and t.dtype == cr.float32
    np.testing.assert_allclose(t.numpy(), img.transpose(2, 0, 1) / np.float32(255), rtol=1e-6)
    grey = T.ToTensor()(img[..., 0])
    assert grey.shape == (1, 5, 6)
    floats = T.ToTensor()(np.ones((2, 2, 1)))  # other dtypes keep values and dtype
    assert floats.dtype == cr.float64 and floats.numpy().max() == 1.0
    already = cr.ones(1, 2, 2)
    assert T.ToTensor()(already) is already
    with pytest.raises(ValueError, match="2/3 dimensional"):
        T.ToTensor()(np.zeros((1, 2, 2, 3), np.uint8))
    with pytest.raises(TypeError, match="pic should be"):
        T.ToTensor()([[1, 2]])


def test_normalize_matches_torch_and_errors():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).random((2, 3, 4, 4), dtype=np.float32)
    mean, std = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
    ours = T.Normalize(mean, std)(cr.from_numpy(x))
    theirs = (torch.from_numpy(x) - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(
        3, 1, 1
    )
    assert ours.dtype == cr.float32
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-6)
    one = T.Normalize((0.1307,), (0.3081,))(cr.from_numpy(x[0, :1]))
    np.testing.assert_allclose(one.numpy(), (x[0, :1] - 0.1307) / 0.3081, rtol=1e-5)
    with pytest.raises(TypeError, match="float tensor"):
        T.Normalize((0.5,), (0.5,))(cr.zeros(1, 2, 2, dtype=cr.int64))
    with pytest.raises(ValueError, match="division by zero"):
        T.Normalize((0.5,), (0.0,))(cr.zeros(1, 2, 2))
    with pytest.raises(ValueError, match=r"tensor image of size \(..., C, H, W\)"):
        T.Normalize((0.5,), (0.5,))(cr.zeros(2, 2))
    y = cr.from_numpy(x[0].copy())
    assert T.Normalize(mean, std, inplace=True)(y) is y
    np.testing.assert_allclose(y.numpy(), theirs.numpy()[0], rtol=1e-6, atol=1e-6)


def test_normalize_is_differentiable():
    x = cr.ones(1, 2, 2, requires_grad=True)
    T.Normalize((0.5,), (0.25,))(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full((1, 2, 2), 4.0))


def test_reprs_as_torchvision():
    compose = T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])
    assert repr(compose) == (
        "Compose(\n    ToTensor()\n    Normalize(mean=(0.1307,), std=(0.3081,))\n)"
    )
    assert repr(T.RandomCrop(32, padding=4)) == "RandomCrop(size=(32, 32), padding=4)"
    assert repr(T.RandomHorizontalFlip()) == "RandomHorizontalFlip(p=0.5)"
    assert repr(T.RandomVerticalFlip(0.3)) == "RandomVerticalFlip(p=0.3)"
    assert repr(T.CenterCrop(3)) == "CenterCrop(size=(3, 3))"
    assert repr(T.Pad(2)) == "Pad(padding=2, fill=0, padding_mode=constant)"
    assert repr(T.Lambda(abs)) == "Lambda()"


def test_flips_on_arrays_and_tensors():
    img = image()
    np.testing.assert_array_equal(F.hflip(img), img[:, ::-1])
    np.testing.assert_array_equal(F.vflip(img), img[::-1])
    t = cr.from_numpy(img.transpose(2, 0, 1).copy())
    np.testing.assert_array_equal(F.hflip(t).numpy(), img.transpose(2, 0, 1)[:, :, ::-1])
    np.testing.assert_array_equal(F.vflip(t).numpy(), img.transpose(2, 0, 1)[:, ::-1])
    assert T.RandomHorizontalFlip(p=0.0)(img) is img
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(img), img[:, ::-1])
    np.testing.assert_array_equal(T.RandomVerticalFlip(p=1.0)(img), img[::-1])
    cr.manual_seed(0)
    flips = [T.RandomHorizontalFlip()(img)[0, 0, 0] != img[0, 0, 0] for _ in range(200)]
    assert 60 < sum(flips) < 140


def test_random_crop_with_padding_is_seeded_and_stays_inside():
    img = image(8, 8)
    crop = T.RandomCrop(8, padding=2)
    cr.manual_seed(4)
    first = [crop(img) for _ in range(20)]
    cr.manual_seed(4)
    again = [crop(img) for _ in range(20)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    padded = np.pad(img, ((2, 2), (2, 2), (0, 0)))
    for out in first:
        assert out.shape == (8, 8, 3) and out.dtype == np.uint8
        hits = [
            (i, j)
            for i in range(5)
            for j in range(5)
            if np.array_equal(padded[i : i + 8, j : j + 8], out)
        ]
        assert hits
    assert len({out.tobytes() for out in first}) > 5
    # the same draws as T.RandomCrop.get_params: the row, then the column
    cr.manual_seed(9)
    i, j, h, w = T.RandomCrop.get_params(padded, (8, 8))
    cr.manual_seed(9)
    np.testing.assert_array_equal(crop(img), padded[i : i + h, j : j + w])


def test_random_crop_on_tensors_and_errors():
    t = cr.arange(2 * 3 * 6 * 6, dtype=cr.float32).reshape(2, 3, 6, 6)
    out = T.RandomCrop((4, 3))(t)
    assert out.shape == (2, 3, 4, 3)
    assert T.RandomCrop(6)(t).shape == (2, 3, 6, 6)
    with pytest.raises(ValueError, match=r"required crop size \(7, 7\) is larger than input"):
        T.RandomCrop(7)(t)
    small = image(3, 4)
    assert T.RandomCrop(6, pad_if_needed=True)(small).shape == (6, 6, 3)
    with pytest.raises(ValueError, match="padding_mode"):
        T.RandomCrop(3, padding=1, padding_mode="wrap")
    with pytest.raises(ValueError, match="padding must be an int or a sequence of 1, 2 or 4"):
        T.RandomCrop(3, padding=(1, 2, 3))
    with pytest.raises(TypeError, match="should be a NumPy array"):
        T.RandomCrop(3)([[0]])


@pytest.mark.parametrize(
    "padding, mode, torch_mode",
    [
        (2, "constant", "constant"),
        ((1, 2), "edge", "replicate"),
        ((1, 0, 2, 3), "reflect", "reflect"),
    ],
)
def test_pad_tensor_matches_torch(padding, mode, torch_mode):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(2).random((3, 5, 6)).astype(np.float32)
    ours = T.Pad(padding, padding_mode=mode)(cr.from_numpy(x)).numpy()
    left, top, right, bottom = F._padding_ltrb(padding, "test")
    theirs = torch.nn.functional.pad(
        torch.from_numpy(x)[None], (left, right, top, bottom), mode=torch_mode
    )[0].numpy()
    np.testing.assert_array_equal(ours, theirs)


def test_pad_arrays_symmetric_fill_and_negative():
    img = image(3, 4)
    out = T.Pad((1, 2), fill=(7, 8, 9))(img)
    assert out.shape == (7, 6, 3)
    assert out[0, 0].tolist() == [7, 8, 9] and np.array_equal(out[2:5, 1:5], img)
    sym = F.pad(img, 2, padding_mode="symmetric")
    np.testing.assert_array_equal(sym, np.pad(img, ((2, 2), (2, 2), (0, 0)), mode="symmetric"))
    np.testing.assert_array_equal(F.pad(img, -1), img[1:-1, 1:-1])


def test_center_crop_and_crop_outside():
    img = image(5, 6)
    np.testing.assert_array_equal(T.CenterCrop(3)(img), img[1:4, 2:5])  # round(1.0), round(1.5)
    big = T.CenterCrop((7, 8))(img)
    assert big.shape == (7, 8, 3) and np.array_equal(big[1:6, 1:7], img)
    np.testing.assert_array_equal(F.crop(img, -1, 0, 2, 2)[1], img[0, :2])
    assert F.crop(img, -1, 0, 2, 2)[0].max() == 0


def test_compose_lambda_full_cifar_pipeline():
    cr.manual_seed(0)
    augment = T.Compose(
        [
            T.RandomCrop(32, padding=4),
            T.RandomHorizontalFlip(),
            T.ToTensor(),
            T.Normalize((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
            T.Lambda(lambda t: t * 2),
        ]
    )
    out = augment(image(32, 32))
    assert out.shape == (3, 32, 32) and out.dtype == cr.float32
    with pytest.raises(TypeError, match="should be callable"):
        T.Lambda(3)
    with pytest.raises(TypeError, match="not callable"):
        T.Compose([T.ToTensor(), 3])


def test_to_tensor_reads_a_pil_image():
    Image = pytest.importorskip("PIL.Image")
    img = image()
    t = T.ToTensor()(Image.fromarray(img))
    np.testing.assert_allclose(t.numpy(), img.transpose(2, 0, 1) / np.float32(255), rtol=1e-6)
    assert T.ToTensor()(Image.fromarray(img[..., 0])).shape == (1, 5, 6)
