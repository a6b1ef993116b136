"""The convolutional layers against PyTorch's: parameter names and shapes, default
initialisation bounds, reprs, state dicts loaded both ways, outputs and gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch")
tnn = torch.nn


def _same_module(ours: nn.Module, theirs: object, *shape: int, seed: int = 0,
                 tol: float = 1e-10) -> None:
    """Load torch's state dict into ours; equal outputs and gradients on a float64 input."""
    theirs = theirs.double()
    ours.load_state_dict({k: cr.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(seed).standard_normal(shape)
    cx, tx = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = ours(cx), theirs(tx)
    if isinstance(y, tuple):
        y, ty = y[0], ty[0]
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=tol, atol=tol)
    cot = np.random.default_rng(seed + 1).standard_normal(y.shape)
    (y * cr.tensor(cot)).sum().backward()
    (ty * torch.tensor(cot)).sum().backward()
    np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), rtol=tol, atol=tol)
    tparams = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tparams[name].grad.numpy(), rtol=tol,
                                   atol=tol, err_msg=name)
    for k, v in ours.state_dict().items():  # buffers updated alike (BatchNorm)
        np.testing.assert_allclose(v.numpy(), theirs.state_dict()[k].numpy(), rtol=tol,
                                   atol=tol, err_msg=k)


MODULES = [
    ("Conv2d", (3, 6, 5), {}, (2, 3, 9, 9)),
    ("Conv2d", (4, 6, (3, 2)), {"stride": 2, "padding": 1, "dilation": (2, 1), "groups": 2,
                                "bias": False}, (2, 4, 9, 8)),
    ("Conv2d", (3, 4, 3), {"padding": "same", "padding_mode": "reflect"}, (2, 3, 6, 7)),
    ("Conv2d", (3, 4, 4), {"padding": "same", "padding_mode": "circular"}, (2, 3, 6, 7)),
    ("Conv2d", (3, 4, 3), {"padding": 2, "padding_mode": "replicate"}, (3, 6, 7)),
    ("Conv1d", (3, 4, 3), {"stride": 2, "padding": 1}, (2, 3, 10)),
    ("Conv1d", (4, 4, 3), {"groups": 4, "padding": "same", "padding_mode": "reflect"},
     (2, 4, 10)),
    ("ConvTranspose2d", (4, 6, 3), {"stride": 2, "padding": 1, "output_padding": 1,
                                    "groups": 2}, (2, 4, 4, 5)),
    ("ConvTranspose1d", (3, 2, 4), {"stride": 3, "dilation": 2}, (2, 3, 5)),
    ("MaxPool2d", (3,), {"stride": 2, "padding": 1, "ceil_mode": True}, (2, 3, 8, 7)),
    ("MaxPool2d", (2,), {"return_indices": True}, (2, 3, 8, 7)),
    ("MaxPool1d", (3,), {"dilation": 2}, (2, 3, 11)),
    ("AvgPool2d", (3,), {"stride": 2, "padding": 1, "count_include_pad": False}, (2, 3, 8, 7)),
    ("AvgPool2d", (2,), {"divisor_override": 3, "ceil_mode": True}, (2, 3, 7, 7)),
    ("AvgPool1d", (3,), {"stride": 2, "padding": 1}, (2, 3, 8)),
    ("AdaptiveAvgPool2d", ((3, None),), {}, (2, 3, 8, 7)),
    ("AdaptiveAvgPool1d", (5,), {}, (2, 3, 7)),
    ("AdaptiveMaxPool2d", (3,), {}, (2, 3, 8, 7)),
    ("BatchNorm2d", (3,), {}, (4, 3, 5, 5)),
    ("BatchNorm2d", (3,), {"momentum": None, "affine": False}, (4, 3, 5, 5)),
    ("GroupNorm", (2, 4), {}, (3, 4, 5, 2)),
    ("Upsample", (), {"scale_factor": 2}, (2, 3, 4, 5)),
    ("Upsample", (), {"size": (7, 3), "mode": "bilinear", "align_corners": True}, (2, 3, 4, 5)),
    ("Unflatten", (1, (2, 6)), {}, (3, 12)),
]


@pytest.mark.parametrize(("name", "args", "kwargs", "shape"), MODULES)
def test_module_matches_pytorch(name: str, args: tuple, kwargs: dict,
                                shape: tuple[int, ...]) -> None:
    ours = getattr(nn, name)(*args, **kwargs).double()
    theirs = getattr(tnn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for (n1, p1), (n2, p2) in zip(ours.named_parameters(), theirs.named_parameters(),
                                  strict=True):
        assert n1 == n2 and tuple(p1.shape) == tuple(p2.shape)
    _same_module(ours, theirs, *shape)


def test_batchnorm2d_eval_uses_running_statistics() -> None:
    ours, theirs = nn.BatchNorm2d(3).double(), tnn.BatchNorm2d(3)
    for _ in range(2):
        _same_module(ours, theirs, 4, 3, 5, 5)
    ours.eval()
    theirs.eval()
    _same_module(ours, theirs, 4, 3, 5, 5, seed=3)


def test_state_dict_moves_from_chainrule_to_pytorch() -> None:
    ours = nn.Conv2d(3, 6, 5)
    theirs = tnn.Conv2d(3, 6, 5)
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(ours(cr.tensor(x)).detach().numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cls", ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d"])
def test_conv_default_initialisation_bounds(cls: str) -> None:
    """kaiming_uniform_(a=sqrt(5)): |w| <= 1/sqrt(fan_in); bias within 1/sqrt(fan_in)."""
    cr.manual_seed(0)
    m = getattr(nn, cls)(6, 8, 3, groups=2)
    fan_in = m.weight.shape[1] * math.prod(m.weight.shape[2:])
    bound = 1 / math.sqrt(fan_in)
    w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
    assert m.weight.dtype == cr.float32
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    assert np.abs(b).max() <= bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.25 * bound  # U(-a, a): std a/sqrt(3)


def test_module_errors_name_the_layer_and_shapes() -> None:
    conv = nn.Conv2d(3, 6, 5)
    with pytest.raises(RuntimeError, match=r"Conv2d\(3, 6, kernel_size=\(5, 5\).*expected "
                       r"input\[2, 4, 28, 28\] to have 3 channels, but got 4"):
        conv(cr.randn(2, 4, 28, 28))
    with pytest.raises(RuntimeError, match=r"Conv2d\(3, 6.*input of size: \[4, 28\]"):
        conv(cr.randn(4, 28))
    with pytest.raises(RuntimeError, match=r"Kernel size: \(5 x 5\)"):
        conv(cr.randn(1, 3, 3, 3))
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(3, 6, 5, groups=2)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        nn.Conv2d(3, 6, 5, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv2d(3, 6, 5, padding_mode="mirror")
    with pytest.raises(ValueError, match="expected 4D input"):
        nn.BatchNorm2d(3)(cr.randn(2, 3, 4))
    with pytest.raises(RuntimeError, match="Output size is too small"):
        nn.MaxPool2d(2)(cr.randn(1, 3, 1, 1))
    with pytest.raises(ValueError, match="must be divisible by num_groups"):
        nn.GroupNorm(2, 3)


def test_conv_transpose_output_size() -> None:
    ours = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1).double()
    theirs = tnn.ConvTranspose2d(2, 3, 3, stride=2, padding=1).double()
    ours.load_state_dict({k: cr.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 4))
    y = ours(cr.tensor(x), output_size=[8, 7])
    ty = theirs(torch.tensor(x), output_size=[8, 7])
    assert y.shape == (1, 3, 8, 7)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="valid sizes range from 7 to 8"):
        ours(cr.tensor(x), output_size=(9, 9))


def test_dropout2d_zeroes_whole_channels() -> None:
    cr.manual_seed(0)
    m = nn.Dropout2d(0.5)
    x = cr.ones(8, 16, 3, 3, requires_grad=True)
    y = m(x)
    per_channel = y.detach().numpy().reshape(8, 16, 9)
    assert set(np.unique(per_channel)) <= {0.0, 2.0}
    assert (per_channel.min(-1) == per_channel.max(-1)).all()  # a channel is kept or not
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.detach().numpy())
    m.eval()
    assert m(x) is x
    assert repr(m) == "Dropout2d(p=0.5, inplace=False)"


def test_lenet_trains_like_pytorch() -> None:
    """LeNet-5 from equal weights: the loss equals PyTorch's at every SGD step."""

    def lenet(lib: object) -> object:
        n = lib.nn
        return n.Sequential(n.Conv2d(1, 6, 5, padding=2), n.ReLU(), n.MaxPool2d(2),
                            n.Conv2d(6, 16, 5), n.BatchNorm2d(16), n.ReLU(), n.MaxPool2d(2),
                            n.Flatten(), n.Linear(400, 120), n.ReLU(), n.Linear(120, 10))

    theirs = lenet(torch).double()
    ours = lenet(cr).double()
    ours.load_state_dict({k: cr.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((8, 1, 28, 28)), rng.integers(0, 10, 8)
    opt = cr.optim.SGD(ours.parameters(), lr=0.05, momentum=0.9)
    topt = torch.optim.SGD(theirs.parameters(), lr=0.05, momentum=0.9)
    for _ in range(4):
        loss = nn.functional.cross_entropy(ours(cr.tensor(x)), cr.tensor(t))
        tloss = torch.nn.functional.cross_entropy(theirs(torch.tensor(x)), torch.tensor(t))
        assert abs(loss.item() - tloss.item()) < 1e-10
        opt.zero_grad()
        topt.zero_grad()
        loss.backward()
        tloss.backward()
        opt.step()
        topt.step()


def test_residual_block_trains_like_pytorch() -> None:
    """A residual block (conv-BN-ReLU-conv-BN + skip, ReLU), equal weights: equal losses."""

    def block(lib: object) -> object:
        n = lib.nn

        class Residual(n.Module):
            def __init__(self) -> None:
                super().__init__()
                self.conv1 = n.Conv2d(4, 4, 3, padding=1, bias=False)
                self.bn1 = n.BatchNorm2d(4)
                self.conv2 = n.Conv2d(4, 4, 3, padding=1, bias=False)
                self.bn2 = n.BatchNorm2d(4)
                self.head = n.Linear(4, 3)

            def forward(self, x: object) -> object:
                out = n.functional.relu(self.bn1(self.conv1(x)))
                out = n.functional.relu(self.bn2(self.conv2(out)) + x)
                return self.head(n.functional.adaptive_avg_pool2d(out, 1).flatten(1))

        return Residual()

    theirs = block(torch).double()
    ours = block(cr).double()
    ours.load_state_dict({k: cr.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(1)
    x, t = rng.standard_normal((6, 4, 6, 6)), rng.integers(0, 3, 6)
    opt = cr.optim.SGD(ours.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    topt = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    for _ in range(4):
        loss = nn.functional.cross_entropy(ours(cr.tensor(x)), cr.tensor(t))
        tloss = torch.nn.functional.cross_entropy(theirs(torch.tensor(x)), torch.tensor(t))
        assert abs(loss.item() - tloss.item()) < 1e-10
        for o in (opt, topt):
            o.zero_grad()
        loss.backward()
        tloss.backward()
        opt.step()
        topt.step()
    for k, v in ours.state_dict().items():
        np.testing.assert_allclose(v.numpy(), theirs.state_dict()[k].numpy(), rtol=1e-9,
                                   atol=1e-10, err_msg=k)


def test_second_order_through_a_small_cnn() -> None:
    """create_graph through conv, BatchNorm2d, ReLU, pooling, upsampling and a linear head:
    the Hessian-vector products of the composed model pass gradgradcheck."""
    cr.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.Tanh(),
                          nn.AvgPool2d(2), nn.Upsample(scale_factor=2, mode="bilinear"),
                          nn.ConvTranspose2d(3, 2, 2, stride=2), nn.GroupNorm(1, 2),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(2 * 16, 1)).double()
    x = cr.tensor(np.random.default_rng(0).standard_normal((3, 2, 4, 4)), requires_grad=True)
    w = model[0].weight
    assert cr.autograd.gradgradcheck(lambda a, b: model[1:](_conv(a, b, model[0].bias)),
                                     [x, w], atol=1e-5, rtol=1e-3)


def _conv(x: cr.Tensor, w: cr.Tensor, b: cr.Tensor) -> cr.Tensor:
    return nn.functional.conv2d(x, w, b, padding=1)
