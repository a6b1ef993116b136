"""cr.device, the device probes (cr.cuda, cr.backends, cr.accelerator) and device= on
factories and Tensor.to: "cpu" works everywhere, accelerators raise a clear error."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from tests.opcheck import torch


def test_device_object_behaves_as_torchs() -> None:
    d = cr.device("cpu")
    assert d == cr.device("cpu") and d.type == "cpu" and d.index is None
    assert str(d) == "cpu" and repr(d) == "device(type='cpu')"
    assert cr.device("cpu:0") == cr.device("cpu", 0) != d
    assert repr(cr.device("cuda", 1)) == "device(type='cuda', index=1)"
    assert str(cr.device("cuda:1")) == "cuda:1" and cr.device(d) == d
    assert len({cr.device("cpu"), cr.device("cpu")}) == 1
    with pytest.raises(RuntimeError, match="Expected one of cpu"):
        cr.device("gpu")
    if torch is not None:
        for spec in ("cpu", "cpu:0", "cuda:1", "mps"):
            assert repr(cr.device(spec)) == repr(torch.device(spec))
            assert str(cr.device(spec)) == str(torch.device(spec))


def test_probes_answer_as_torch_on_a_cpu_only_machine() -> None:
    assert cr.cuda.is_available() is False and cr.cuda.device_count() == 0
    assert cr.backends.mps.is_available() is False
    assert cr.accelerator.is_available() is False
    assert cr.accelerator.current_accelerator() is None
    cr.backends.cudnn.deterministic = True
    cr.backends.cudnn.benchmark = False
    assert cr.backends.cudnn.deterministic is True
    cr.backends.cudnn.deterministic = False
    cr.cuda.manual_seed_all(0)  # a no-op, as without CUDA
    device = cr.device("cuda" if cr.cuda.is_available() else "cpu")
    assert device.type == "cpu"


def test_cpu_is_accepted_everywhere() -> None:
    dev = cr.device("cpu")
    x = cr.tensor([1.0, 2.0], device="cpu")
    assert x.device == dev and x.is_cuda is False and x.cpu() is x
    assert x.to(dev) is x and x.to("cpu") is x
    assert x.to(dev, cr.float64).dtype == cr.float64
    assert x.to("cpu", dtype=cr.float64).dtype == cr.float64
    assert x.to(cr.zeros(1, dtype=cr.float64)).dtype == cr.float64
    assert x.to(device=dev, dtype=cr.int64).dtype == cr.int64
    for make in (lambda: cr.zeros(2, device=dev), lambda: cr.ones(2, device="cpu"),
                 lambda: cr.empty(2, device=dev), lambda: cr.full((2,), 1.0, device=dev),
                 lambda: cr.arange(3, device=dev), lambda: cr.linspace(0, 1, 3, device=dev),
                 lambda: cr.eye(2, device=dev), lambda: cr.rand(2, device=dev),
                 lambda: cr.randn(2, device=dev), lambda: cr.randint(0, 3, (2,), device=dev),
                 lambda: cr.randperm(3, device=dev), lambda: cr.zeros_like(x, device=dev),
                 lambda: cr.ones_like(x, device=dev), lambda: cr.full_like(x, 2, device=dev),
                 lambda: cr.rand_like(x, device=dev), lambda: cr.randn_like(x, device=dev),
                 lambda: cr.as_tensor([1.0], device=dev), lambda: x.new_zeros(2, device=dev)):
        assert make().device == dev
    model = cr.nn.Linear(2, 3).to(dev)
    assert model(x).shape == (3,)


@pytest.mark.parametrize("spec", ["cuda", "cuda:0", "mps"])
def test_accelerators_raise_a_clear_error(spec: str) -> None:
    x = cr.ones(2)
    with pytest.raises(RuntimeError, match="chainrule runs on the CPU only"):
        x.to(spec)
    with pytest.raises(RuntimeError, match=f"zeros: device '{spec}' is not available"):
        cr.zeros(2, device=spec)
    with pytest.raises(RuntimeError, match="tensor: device"):
        cr.tensor([1.0], device=cr.device(spec))
    with pytest.raises(RuntimeError, match="CPU only"):
        x.cuda()


def test_numpy_of_a_tensor_that_requires_grad_raises_as_torch() -> None:
    w = cr.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Use tensor.detach\(\).numpy\(\) instead"):
        w.numpy()
    with pytest.raises(RuntimeError, match="requires grad"):
        (w * 2).numpy()
    a = w.detach().numpy()
    assert np.shares_memory(a, w.detach().numpy())
    with cr.no_grad():
        assert w.numpy() is not None  # PyTorch allows it when grad mode is off
    assert np.shares_memory(w.numpy(force=True), a)
    if torch is not None:
        tw = torch.ones(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="requires grad"):
            tw.numpy()


def test_a_detached_tensor_shares_the_version_counter() -> None:
    w = cr.ones(3, requires_grad=True)
    y = w * 2
    z = (y * y).sum()
    y.detach().add_(1.0)  # writes the memory y's graph saved: the counter sees it
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.backward()
    if torch is not None:
        tw = torch.ones(3, requires_grad=True)
        ty = tw * 2
        tz = (ty * ty).sum()
        ty.detach().add_(1.0)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            tz.backward()


def test_a_detached_view_shares_the_version_counter() -> None:
    for make_view in (lambda y: y.detach()[0:2], lambda y: y[0:2].detach()):
        w = cr.ones(3, requires_grad=True)
        y = w * 2
        z = (y * y).sum()
        make_view(y).mul_(3.0)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            z.backward()


def test_runtime_switches_scripts_set() -> None:
    cr.use_deterministic_algorithms(True)
    assert cr.are_deterministic_algorithms_enabled()
    cr.use_deterministic_algorithms(False)
    assert cr.get_default_device() == cr.device("cpu")
    cr.set_default_device("cpu")
    with pytest.raises(RuntimeError, match="CPU only"):
        cr.set_default_device("cuda")
    n = cr.get_num_threads()
    assert n >= 1
    cr.set_num_threads(n)
    with pytest.raises(ValueError, match="set_num_threads"):
        cr.set_num_threads(0)


def test_modulo_operator_is_differentiable_remainder() -> None:
    x = cr.tensor([5.0, -3.0], requires_grad=True)
    y = x % 2
    assert y.tolist() == [1.0, 1.0] and y.grad_fn.name() == "RemainderBackward"
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]
    assert (cr.tensor([5, -3]) % 2).tolist() == [1, 1]
    assert (7 % cr.tensor([2.0, 3.0])).tolist() == [1.0, 1.0]
