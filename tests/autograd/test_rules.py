"""Every op's rule is written once, in the grammar of chainrule.autograd.rules, and parses."""

from __future__ import annotations

import pytest

import chainrule  # noqa: F401  (imports every op module)
from chainrule.autograd.function import Op
from chainrule.autograd.rules import check_rules, op_rules


def _subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found.add(sub)
        found |= _subclasses(sub)
    return found


def library_ops() -> list[type]:
    """Every concrete Op of the library (found at run time, so new ops are covered)."""
    ops = [
        c for c in _subclasses(Op)
        if c.__module__.startswith("chainrule.") and c.backward is not Op.backward
    ]
    return sorted(ops, key=lambda c: f"{c.__module__}.{c.__qualname__}")


def test_the_library_has_ops() -> None:
    assert len(library_ops()) > 50


@pytest.mark.parametrize("cls", library_ops(), ids=lambda c: c.__qualname__)
def test_rule_is_present_and_parses(cls: type) -> None:
    assert check_rules(cls) == []


def test_a_missing_or_broken_rule_is_reported() -> None:
    class NoRule(Op):
        def forward(self, x):
            return x

        def backward(self, dY):
            return dY

    class NoShapes(Op):
        shapes = {"x": "(N,", "Q": "(N,)"}

        def forward(self, x):
            return x

        def backward(self, dY):
            """dx = dY
            dq = dY  (N,) = (N,)"""
            return dY

    assert any("no rule line" in p for p in check_rules(NoRule))
    assert any("shapes is missing" in p for p in check_rules(NoRule))
    problems = check_rules(NoShapes)
    assert any("'dx = dY' has no shape equation" in p for p in problems)
    assert any("names no forward parameter" in p for p in problems)
    assert any("is not a symbolic shape" in p for p in problems)
    assert any("neither a forward parameter" in p for p in problems)


def test_rules_map_to_forward_parameters() -> None:
    from chainrule.ops.linalg import Linear

    info = op_rules(Linear)
    assert [r.operand for r in info.rules][:2] == ["X", "W"]
    assert info.shapes["Y"] == [("sym", "N"), ("sym", "out")]
