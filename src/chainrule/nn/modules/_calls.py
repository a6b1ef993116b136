"""Which modules were called, and in which thread: the bookkeeping behind ``Module.__call__``.

``Module.__call__`` counts its nesting depth and remembers this thread's most recent
outermost modules (weakly), so that :func:`parameter_names` can name the parameters of
the model just run (``cr.explain`` prints ``fc1.weight``); when a shape error passes
through a module, :func:`_annotate` prefixes its message with the path of the failing
module from the outermost one called (``model.2 (Linear(...)): ...``).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Collection, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chainrule.nn.modules.module import Module
    from chainrule.nn.parameter import Parameter

__all__ = ["parameter_names"]


# -- bookkeeping of calls: how deep we are, and the recent outermost modules called ------
# Per thread (as PyTorch keeps its call state): a model called in one thread neither
# changes another thread's depth nor the parameter names ``explain`` uses there.

_MAX_ROOTS = 8


class _CallState(threading.local):
    """The calling thread's module-call bookkeeping (created on first use in a thread)."""

    depth = 0
    last_root = 0

    def __init__(self) -> None:
        self.roots: dict[int, weakref.ref[Module]] = {}  # id -> module, most recent last


_calls = _CallState()


def _note_root(module: Module) -> None:
    """Remember ``module`` as the most recently called outermost module (of this thread).

    ``__call__`` skips this when the same root is called again (an id comparison); the
    weak reference's callback forgets a module when it dies, so its id cannot be mistaken
    for a new module's.
    """
    state = _calls
    roots = state.roots
    key = id(module)
    ref = roots.pop(key, None)
    if ref is None or ref() is not module:
        ref = weakref.ref(module, lambda r, key=key, state=state: _drop_root(state, key, r))
    roots[key] = ref
    if len(roots) > _MAX_ROOTS:
        del roots[next(iter(roots))]
    state.last_root = key


def _drop_root(state: _CallState, key: int, ref: weakref.ref[Module]) -> None:
    # may run in any thread (the garbage collector's): edit the owning thread's state
    roots = state.roots
    if roots.get(key) is ref:
        roots.pop(key, None)
    if state.last_root == key:
        state.last_root = 0


def _iter_named_parameters(root: Module) -> Iterator[tuple[str, Parameter]]:
    """``root.named_parameters()`` without recursion, so any nesting depth works."""
    seen_modules: set[int] = set()
    seen_params: set[int] = set()
    stack: list[tuple[str, Module]] = [("", root)]
    while stack:
        prefix, module = stack.pop()
        if id(module) in seen_modules:
            continue
        seen_modules.add(id(module))
        for name, p in module._parameters.items():
            if p is not None and id(p) not in seen_params:
                seen_params.add(id(p))
                yield (f"{prefix}.{name}" if prefix else name), p
        children = [(n, c) for n, c in module._modules.items() if c is not None]
        for name, child in reversed(children):  # pop order = registration order
            stack.append((f"{prefix}.{name}" if prefix else name, child))


def parameter_names(among: Collection[int] | None = None) -> dict[int, str]:
    """``{id(param): qualified name}`` (``'0.weight'``, ``'fc1.bias'``) for the parameters
    of this thread's most recently called outermost modules (the newest call wins when
    one parameter belongs to several).

    Args:
        among: ids of the tensors of interest (e.g. a graph's leaves): only the modules
            owning one of them are named (None: all of them, the newest call winning a
            name). When the names of ``among`` come from several modules (an
            encoder and a decoder, both with a ``weight``), every name is prefixed with its
            module's class, numbered in call order if two share a class
            (``Linear#1.weight``, ``Linear#2.weight``), so that no name is ambiguous.
    """
    owners: list[tuple[Module, dict[int, str]]] = []
    for ref in list(_calls.roots.values()):
        module = ref()
        if module is not None:
            named = {id(p): name for name, p in _iter_named_parameters(module)}
            if among is None or any(key in among for key in named):
                owners.append((module, named))
    names: dict[int, str] = {}
    owner_of: dict[int, int] = {}
    for index, (_, named) in enumerate(owners):
        for key, name in named.items():
            names[key], owner_of[key] = name, index
    if among is None or len(set(owner_of.values())) <= 1:
        return names  # one module's own names are unambiguous
    counts: dict[str, int] = {}
    for module, _ in owners:
        counts[type(module).__name__] = counts.get(type(module).__name__, 0) + 1
    labels, numbered = [], {}
    for module, _ in owners:
        cls = type(module).__name__
        if counts[cls] > 1:
            numbered[cls] = numbered.get(cls, 0) + 1
            cls = f"{cls}#{numbered[cls]}"
        labels.append(cls)
    return {key: f"{labels[owner_of[key]]}.{name}" for key, name in names.items()}


_SHAPE_ERRORS = (ValueError, RuntimeError, IndexError)


def _annotate(error: BaseException, module: Module) -> None:
    """Prefix ``error``'s message with the path from ``module`` to the failing module.

    The innermost module the error passes through is the failing one; each enclosing
    module rewrites the prefix with the longer path, so the outermost call's path remains.
    """
    failing = getattr(error, "_cr_module", None)
    if failing is None:
        if not error.args or not isinstance(error.args[0], str):
            return
        try:
            error._cr_module = module  # type: ignore[attr-defined]
            error._cr_message = error.args[0]  # type: ignore[attr-defined]
        except AttributeError:  # an exception type without a __dict__
            return
        failing = module
    path = _path_to(module, failing)
    if path is None:  # raised by a module outside this tree: keep its own prefix
        return
    where = ".".join(["model", *path])
    error.args = (f"{where} ({_describe(failing)}): {error._cr_message}",  # type: ignore
                  *error.args[1:])


def _path_to(root: Module, target: Module) -> list[str] | None:
    if root is target:
        return []
    for name, m in root.named_modules():
        if m is target:
            return name.split(".")
    return None


def _describe(module: Module) -> str:
    extra = module.extra_repr().split("\n")[0]
    return f"{module._get_name()}({extra})"
