"""Loading a state dict into a module tree: ``Module.load_state_dict``'s machinery.

:func:`load_state_dict` matches the given keys with the tree's parameters and persistent
buffers (:func:`state_owners`), reports every missing or unexpected key and every shape
mismatch together in one RuntimeError before copying anything, then copies the values in
place (or, with ``assign=True``, registers new tensors).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from chainrule.nn.parameter import Parameter
from chainrule.tensor import Tensor

if TYPE_CHECKING:
    from chainrule.nn.modules.module import Module


class _IncompatibleKeys(NamedTuple):
    """What ``load_state_dict`` could not match: ``(missing_keys, unexpected_keys)``."""

    missing_keys: list[str]
    unexpected_keys: list[str]

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return (f"_IncompatibleKeys(missing_keys={self.missing_keys}, "
                f"unexpected_keys={self.unexpected_keys})")


def load_state_dict(root: Module, state_dict: Mapping[str, Any], strict: bool = True,
                    assign: bool = False) -> _IncompatibleKeys:
    """``root.load_state_dict(state_dict, strict, assign)`` (see that method's docstring)."""
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"load_state_dict: expected a dict-like state_dict, got "
                        f"{type(state_dict).__name__}")
    own = state_owners(root)
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    errors = []
    if strict and missing:
        errors.append("Missing key(s) in state_dict: "
                      + ", ".join(f'"{k}"' for k in missing) + ". ")
    if strict and unexpected:
        errors.append("Unexpected key(s) in state_dict: "
                      + ", ".join(f'"{k}"' for k in unexpected) + ". ")
    values = {}
    for key, (_, _, current) in own.items():
        if key not in state_dict:
            continue
        value = state_dict[key]
        arr = np.asarray(value._data if isinstance(value, Tensor) else value)
        if arr.shape != current.shape:
            errors.append(f"size mismatch for {key}: copying a param with shape "
                          f"{arr.shape} from checkpoint, the shape in current model is "
                          f"{tuple(current.shape)}.")
        values[key] = arr
    if errors:
        raise RuntimeError(f"Error(s) in loading state_dict for {root._get_name()}:\n\t"
                           + "\n\t".join(errors))
    for key, arr in values.items():
        module, name, current = own[key]
        if assign:
            new = Tensor._make(np.array(arr, dtype=current.dtype))
            if name in module._parameters:
                module.register_parameter(name, Parameter(new, current.requires_grad))
            else:
                module.register_buffer(name, new)
        else:
            current._data[...] = arr
            current._version[0] += 1
    return _IncompatibleKeys(missing, unexpected)


def state_owners(root: Module) -> dict[str, tuple[Module, str, Tensor]]:
    """``{key: (module, attribute name, tensor)}`` for every state_dict entry of ``root``."""
    owners: dict[str, tuple[Module, str, Tensor]] = {}
    for prefix, module in root.named_modules(remove_duplicate=False):
        base = f"{prefix}." if prefix else ""
        for name, p in module._parameters.items():
            if p is not None:
                owners[base + name] = (module, name, p)
        for name, b in module._buffers.items():
            if b is not None and name not in module._non_persistent_buffers:
                owners[base + name] = (module, name, b)
    return owners
