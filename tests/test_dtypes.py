"""Dtypes under PyTorch's names and printing (chainrule.float32), cr.Size, cr.finfo."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import chainrule as cr
from tests.opcheck import torch

ALIASES = {"float": "float32", "double": "float64", "half": "float16", "long": "int64",
           "int": "int32", "short": "int16", "float16": "float16", "uint8": "uint8",
           "int8": "int8", "int32": "int32", "bool": "bool"}


@pytest.mark.parametrize("alias,name", ALIASES.items())
def test_aliases_print_and_compare_as_torch(alias: str, name: str) -> None:
    d = getattr(cr, alias)
    assert d is getattr(cr, name) and d == np.dtype(name) and np.dtype(name) == d
    assert str(d) == repr(d) == f"chainrule.{name}"
    assert cr.zeros(2, dtype=d).dtype == d
    assert np.zeros(2, d).dtype == np.dtype(name) and np.dtype(d) == np.dtype(name)
    assert hash(d) == hash(np.dtype(name)) and {np.dtype(name): 1}[d] == 1
    if torch is not None:
        assert str(d).replace("chainrule.", "torch.") == str(getattr(torch, alias))


def test_tensor_dtype_repr_and_attributes_agree() -> None:
    x = cr.zeros(2, dtype=cr.float64)
    assert str(x.dtype) == "chainrule.float64" and "dtype=chainrule.float64" in repr(x)
    assert x.dtype == cr.float64 and x.dtype == np.float64 and x.dtype != cr.float32
    assert x.dtype.is_floating_point and not cr.int64.is_floating_point
    assert cr.int64.is_signed and not cr.uint8.is_signed and x.dtype.itemsize == 8
    assert x.dtype.kind == "f" and cr.float32 != None  # noqa: E711
    assert isinstance(cr.float32, cr.dtype)
    assert pickle.loads(pickle.dumps(cr.float32)) is cr.float32
    assert cr.finfo(cr.float32).eps == np.finfo(np.float32).eps
    assert cr.iinfo(cr.int64).max == 2**63 - 1
    assert cr.get_default_dtype() is cr.float32


def test_size_is_a_tuple_as_torch_size() -> None:
    x = cr.zeros(2, 3)
    s = x.shape
    assert isinstance(s, cr.Size) and isinstance(s, tuple) and s == (2, 3)
    assert x.size() == s and x.size(1) == 3 and s.numel() == 6 == x.numel()
    assert repr(s) == str(s) == "chainrule.Size([2, 3])"
    assert isinstance(s[1:], cr.Size) and s[0] == 2 and isinstance(s + (4,), cr.Size)
    assert cr.Size([]).numel() == 1 and repr(cr.Size([])) == "chainrule.Size([])"
    assert cr.zeros(s).shape == s and cr.zeros(*s).shape == s
    if torch is not None:
        assert repr(s).replace("chainrule", "torch") == repr(torch.zeros(2, 3).shape)
