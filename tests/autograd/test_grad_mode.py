"""no_grad / enable_grad / set_grad_enabled as context managers, decorators and calls."""

from __future__ import annotations

import chainrule as cr


def test_no_grad_context() -> None:
    x = cr.tensor([1.0], requires_grad=True)
    with cr.no_grad():
        assert not cr.is_grad_enabled()
        y = x * 2.0
    assert cr.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None


def test_no_grad_decorator_and_enable_grad_inside() -> None:
    x = cr.tensor([1.0], requires_grad=True)

    @cr.no_grad()
    def f():
        with cr.enable_grad():
            inner = x * 2.0
        return x * 2.0, inner

    outer, inner = f()
    assert not outer.requires_grad and inner.requires_grad
    assert cr.is_grad_enabled()


def test_set_grad_enabled_call_and_context() -> None:
    try:
        cr.set_grad_enabled(False)
        assert not cr.is_grad_enabled()
    finally:
        cr.set_grad_enabled(True)
    with cr.set_grad_enabled(False):
        assert not cr.is_grad_enabled()
    assert cr.is_grad_enabled()


def test_set_grad_enabled_decorator() -> None:
    @cr.set_grad_enabled(False)
    def f():
        return cr.is_grad_enabled()

    assert cr.is_grad_enabled()
    assert f() is False
    assert cr.is_grad_enabled()


def test_no_grad_restores_on_exception() -> None:
    try:
        with cr.no_grad():
            raise ValueError
    except ValueError:
        pass
    assert cr.is_grad_enabled()


def test_no_grad_and_enable_grad_decorate_without_parentheses() -> None:
    x = cr.tensor([1.0], requires_grad=True)

    @cr.no_grad
    def frozen(t: cr.Tensor) -> cr.Tensor:
        return t * 2.0

    @cr.enable_grad
    def recorded(t: cr.Tensor) -> cr.Tensor:
        return t * 2.0

    assert not frozen(x).requires_grad and frozen.__name__ == "frozen"
    with cr.no_grad():
        assert recorded(x).requires_grad
    assert cr.is_grad_enabled()


def test_set_grad_enabled_takes_mode_by_keyword() -> None:
    with cr.set_grad_enabled(mode=False):
        assert not cr.is_grad_enabled()
    assert cr.is_grad_enabled()
