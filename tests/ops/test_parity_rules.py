"""Every op of the parity modules (pointwise, indexing, cumulative, sorting, norms)
documents its rule and shapes in the grammar ``cr.explain`` reads, and ``explain`` prints
them for a graph that uses them."""

from __future__ import annotations

import inspect
import re

import pytest

import chainrule as cr
from chainrule.autograd.function import Op
from chainrule.ops import comparison, cumulative, indexing, norms, pointwise, sorting

MODULES = (pointwise, indexing, cumulative, sorting, norms)
OPS = [cls for m in MODULES for name, cls in vars(m).items()
       if isinstance(cls, type) and issubclass(cls, Op) and cls is not Op
       and cls.__module__ == m.__name__ and not name.startswith("_")]
RULE = re.compile(r"^d\w+ = \S.*\S  \(\S*\)( = \S+)?$")


@pytest.mark.parametrize("cls", OPS, ids=[c.__name__ for c in OPS])
def test_every_op_documents_its_rule_and_shapes(cls: type[Op]) -> None:
    assert cls.__doc__ and cls.__doc__.strip().count("\n") == 0  # one-line summary
    lines = inspect.cleandoc(cls.backward.__doc__).splitlines()
    for line in lines:
        assert RULE.match(line), f"{cls.__name__}: {line!r}"
    params = [p for p in inspect.signature(cls.forward).parameters if p != "self"]
    assert "Y" in cls.shapes
    differentiable = set(cls.shapes) - {"Y"}
    assert differentiable <= set(params), cls.__name__
    assert len(lines) == len(differentiable), cls.__name__


def test_public_names_reach_cr() -> None:
    for m in (*MODULES, comparison):
        for name in m.__all__:
            if name == "linalg_norm":
                continue
            assert getattr(cr, name) is getattr(m, name), name
    assert cr.linalg.norm is norms.linalg_norm
    assert cr.linalg.vector_norm is norms.vector_norm


def test_explain_prints_the_rules_with_real_shapes() -> None:
    x = cr.randn(3, 4, dtype=cr.float64, requires_grad=True)
    idx = cr.tensor([[0, 1, 1, 2]])
    y = (x.gather(0, idx).cumsum(1).masked_fill(cr.tensor([True, False, False, False]), 0.0)
         .tril().sort(1).values.floor() + x.norm()).sum()
    text = str(cr.explain(y))
    for fragment in ("scatter_add(zeros(x.shape), dim, index, dY)", "revcumsum(dY, dim)",
                     "dY * ~mask", "tri(dY)", "0 * dY", "dY * x / Y"):
        assert fragment in text, fragment
