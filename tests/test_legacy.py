"""Legacy spellings of old scripts: cr.FloatTensor & co, autograd.Variable, new_* methods,
Tensor.type(), inference_mode, manual_seed's generator."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from tests.opcheck import torch


def test_typed_constructors_from_data_and_sizes() -> None:
    assert cr.FloatTensor([1, 2]).dtype == cr.float32
    assert cr.FloatTensor(2, 3).shape == (2, 3) and cr.FloatTensor().shape == (0,)
    assert cr.LongTensor([1, 2]).tolist() == [1, 2] and cr.LongTensor(3).dtype == cr.int64
    assert cr.DoubleTensor([1.5]).dtype == cr.float64 and cr.IntTensor([1]).dtype == cr.int32
    assert cr.BoolTensor([1, 0]).tolist() == [True, False]
    assert cr.FloatTensor(cr.Size([2])).shape == (2,)
    assert isinstance(cr.ones(2), cr.FloatTensor) and not isinstance(cr.ones(2), cr.LongTensor)
    assert isinstance(cr.ones(2).long(), cr.LongTensor)
    with pytest.raises(TypeError, match="FloatTensor"):
        cr.FloatTensor(cr.ones(2, dtype=cr.float64))
    if torch is not None:
        assert isinstance(torch.ones(2), torch.FloatTensor)
        assert not isinstance(torch.ones(2).double(), torch.FloatTensor)


def test_tensor_type_names_and_casts() -> None:
    x = cr.ones(2)
    assert x.type() == "chainrule.FloatTensor" and x.long().type() == "chainrule.LongTensor"
    assert x.type(cr.LongTensor).dtype == cr.int64
    assert x.type("torch.DoubleTensor").dtype == cr.float64
    assert x.type(cr.float16).dtype == cr.float16
    if torch is not None:
        assert torch.ones(2).type() == "torch.FloatTensor"


def test_variable_is_a_no_op_wrapper() -> None:
    x = cr.ones(2)
    v = cr.autograd.Variable(x, requires_grad=True)
    assert v.requires_grad and not x.requires_grad and v.is_leaf
    assert np.shares_memory(v.detach().numpy(), x.numpy())
    assert isinstance(x, cr.autograd.Variable)
    (v * 3).sum().backward()
    assert v.grad.tolist() == [3.0, 3.0]
    assert cr.autograd.Variable(x).requires_grad is False


def test_new_factories_take_the_tensors_dtype() -> None:
    x = cr.ones(2, dtype=cr.float64)
    assert x.new_zeros(3).dtype == cr.float64 and x.new_zeros((2, 2)).shape == (2, 2)
    assert x.new_ones(2, 3).tolist() == [[1.0] * 3] * 2
    assert x.new_full((2,), 7).tolist() == [7.0, 7.0]
    assert x.new_empty(4).shape == (4,) and x.new_empty(4, dtype=cr.int64).dtype == cr.int64
    t = x.new_tensor([1, 2])
    assert t.dtype == cr.float64 and not t.requires_grad
    assert x.new_zeros(2, requires_grad=True).requires_grad
    y = cr.arange(10).reshape(2, 5)
    assert y.narrow(1, 2, 2).tolist() == [[2, 3], [7, 8]]


def test_inference_mode_forms() -> None:
    w = cr.ones(2, requires_grad=True)
    with cr.inference_mode():
        assert not (w * 2).requires_grad and cr.is_inference_mode_enabled()
    assert cr.is_grad_enabled() and not cr.is_inference_mode_enabled()
    with cr.inference_mode(mode=False):
        assert (w * 2).requires_grad

    @cr.inference_mode
    def f() -> bool:
        return cr.is_grad_enabled()

    @cr.inference_mode()
    def g() -> bool:
        return cr.is_grad_enabled()

    assert f() is False and g() is False and cr.is_grad_enabled()
    assert cr.autograd.inference_mode is cr.inference_mode


def test_manual_seed_returns_a_generator() -> None:
    g = cr.manual_seed(3)
    assert isinstance(g, cr.Generator) and g.initial_seed() == 3


def test_tutorial_idioms_run() -> None:
    x = cr.randn(4, 3)
    y = x.view_as(x.t().t()).expand_as(cr.zeros(2, 4, 3))
    assert y.shape == (2, 4, 3) and cr.tensor([2.5]).item() == 2.5
    assert x.is_cuda is False and x.size(-1) == 3 and x.dim() == 2
    assert (x.argmax(1) == x.argmax(1)).sum().item() == 4
    assert cr.is_tensor(x) and x.numel() == 12 and x.nelement() == 12


def test_f_strings_of_zero_dim_tensors_print_the_number_as_torch() -> None:
    assert f"{cr.tensor(0)}|{cr.tensor(1.5)}|{cr.tensor(2.5, requires_grad=True)}" == \
        "0|1.5|2.5"
    assert f"{cr.tensor([1, 2])}" == "tensor([1, 2])" and f"{cr.tensor(0.25):.1f}" == "0.2"


def test_memory_and_device_queries_answer_as_torch_on_cpu() -> None:
    x = cr.randn(2, 3)
    assert x.get_device() == -1 and x.ndimension() == 2 and not x.is_pinned()
    assert x.stride() == (3, 1) and x.t().stride() == (1, 3) and x.stride(0) == 3
    assert x.share_memory_() is x
    with pytest.raises(RuntimeError, match="accelerator"):
        x.pin_memory()
    if torch is not None:
        tx = torch.randn(2, 3)
        assert tx.get_device() == -1 and tx.t().stride() == (1, 3)
