"""``Optimizer``: the base class of every optimizer (parameter groups, state, state dicts).

Concrete optimizers (``SGD``, ``Adam``, ...) implement ``step()`` on the raw NumPy arrays
underneath the parameters: in-place ufuncs with ``out=``, no Tensor per step, and a small
per-optimizer workspace of scratch arrays so that a step allocates nothing once warm.
"""

from __future__ import annotations

import functools
import math
import numbers
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from chainrule import dtypes as _dtypes
from chainrule.autograd.grad_mode import enable_grad
from chainrule.tensor import Tensor

__all__ = ["Optimizer", "ParamsT"]

#: What an optimizer accepts as ``params``: tensors, ``(name, tensor)`` pairs, or group dicts.
ParamsT = Iterable[Tensor] | Iterable[tuple[str, Tensor]] | Iterable[dict[str, Any]]


def _counts_steps(step: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a subclass's ``step`` so schedulers can tell whether it has run yet."""

    @functools.wraps(step)
    def wrapper(self: Optimizer, *args: Any, **kwargs: Any) -> Any:
        self._step_count += 1
        return step(self, *args, **kwargs)

    wrapper._counts_steps = True  # type: ignore[attr-defined]
    return wrapper


class Optimizer:
    """Base class for optimizers, as ``torch.optim.Optimizer``.

    Args:
        params: an iterable of Tensors, of ``(name, Tensor)`` pairs (``named_parameters()``),
            or of dicts, each a parameter group: ``{"params": [...], "lr": 0.1, ...}``.
            Options missing from a group take the optimizer's defaults.
        defaults: the default value of every option (the constructor's arguments).

    Attributes:
        param_groups: list of dicts, each with ``"params"`` (a list of Tensors) and the
            group's options (``"lr"``, ...). Change ``group["lr"]`` to change the step size.
        state: dict mapping each parameter tensor to its buffers (``"momentum_buffer"``,
            ``"exp_avg"``, ``"step"``, ...), created on the first step that uses them.
        defaults: the constructor's options.
    """

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(
                f"{name}: params should be an iterable of Tensors or dicts, but got a "
                "Tensor (wrap it in a list: [tensor])"
            )
        if isinstance(params, dict):
            raise TypeError(
                f"{name}: params should be an iterable of Tensors or dicts, but got a "
                "dict (wrap a parameter group in a list: [group])"
            )
        if isinstance(params, set | frozenset):
            raise TypeError(
                f"{name}: optimizer parameters need to be organized in ordered collections, "
                "but the ordering of tensors in sets changes between runs; use a list instead"
            )
        self.defaults = defaults
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        self._step_count = 0
        self._workspace: dict[tuple[np.dtype, int], np.ndarray] = {}

        groups = list(params)
        if len(groups) == 0:
            raise ValueError(f"{name}: optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_counts_steps", False):
            cls.step = _counts_steps(step)  # type: ignore[method-assign]

    # -- parameter groups -----------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own options (e.g. a layer to fine-tune).

        Options missing from ``param_group`` take the optimizer's defaults.
        """
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(
                f"{name}.add_param_group: param_group must be a dict, "
                f"got {type(param_group).__name__}"
            )
        group = param_group  # kept (and completed) as is, as PyTorch does
        if "params" not in group:
            raise ValueError(f"{name}.add_param_group: the group has no 'params' entry")
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set | frozenset):
            raise TypeError(
                f"{name}: optimizer parameters need to be organized in ordered collections, "
                "but the ordering of tensors in sets changes between runs; use a list instead"
            )
        else:
            params = list(params)

        names = []
        for i, p in enumerate(params):
            if isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str):
                names.append(p[0])
                params[i] = p[1]
        if names and len(names) != len(params):
            raise ValueError(
                f"{name}: all parameters in a group must be given the same way, either all "
                "as tensors or all as (name, tensor) pairs"
            )
        if names:
            group["param_names"] = names

        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"{name}: optimizer can only optimize Tensors, but parameter {i} of the "
                    f"group is a {type(p).__name__}"
                )
            if not (p.is_leaf or p.retains_grad):
                raise ValueError(
                    f"{name}: can't optimize a non-leaf Tensor (parameter {i} of the group, "
                    f"shape {tuple(p.shape)}); optimize the leaf it was computed from"
                )
        group["params"] = params

        if len({id(p) for p in params}) != len(params):
            warnings.warn(
                f"{name}: a parameter group contains the same parameter more than once; "
                "it will be updated more than once per step",
                UserWarning,
                stacklevel=3,
            )
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError(
                f"{name}: some parameters appear in more than one parameter group"
            )

        for key, default in self.defaults.items():
            group.setdefault(key, default)
        self._check_group(group)
        self.param_groups.append(group)
        self._init_group_state(group)

    def _check_group(self, group: dict[str, Any]) -> None:
        """Validate a group's options (subclasses raise ValueError for bad values)."""

    def _init_group_state(self, group: dict[str, Any]) -> None:
        """Create state eagerly for a new group (Adagrad does; most optimizers are lazy)."""

    # -- gradients and steps -------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all optimized parameters.

        Args:
            set_to_none: set ``.grad`` to None (the default: frees memory, and a step
                skips parameters without a gradient) instead of filling it with zeros.
        """
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                    continue
                if g.grad_fn is not None:
                    g.detach_()
                else:
                    g.requires_grad = False
                if g._data.flags.writeable:
                    g._data.fill(0)
                    g._version[0] += 1
                else:  # e.g. a read-only broadcast view handed out by backward
                    p.grad = Tensor._make(np.zeros(p._data.shape, p._data.dtype))

    @_counts_steps
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimization step (update every parameter that has a gradient).

        The loop over groups and parameters is written once, here. A subclass gives
        ``_options(group)``, the group's options read once per step (a tuple), and
        ``_update(p, *options)``, one parameter's update in place on its array and state.

        Args:
            closure: optional callable that re-evaluates the model and returns the loss
                (run with gradient recording on); its result is returned.
        """
        loss = self._run_closure(closure)
        for group in self.param_groups:
            options = self._options(group)
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, *options)
                    p._version[0] += 1  # changed in place: a graph that saved p sees it
        return loss

    def _options(self, group: dict[str, Any]) -> tuple[Any, ...]:
        """The group's options as ``_update`` takes them (read once per step)."""
        raise NotImplementedError(f"{type(self).__name__}._options is not implemented")

    def _update(self, p: Tensor, *options: Any) -> None:
        """Update parameter ``p`` (its gradient is ``p.grad``) in place."""
        raise NotImplementedError(f"{type(self).__name__}._update is not implemented")

    @staticmethod
    def _run_closure(closure: Callable[[], Any] | None) -> Any:
        if closure is None:
            return None
        with enable_grad():
            return closure()

    def _scratch(self, like: np.ndarray, slot: int) -> np.ndarray:
        """A scratch array shaped like ``like``, valid until the next parameter's update.

        Each (dtype, slot) has one flat buffer as large as the largest parameter seen,
        reused for every parameter: steps allocate nothing once warm, and the workspace
        costs at most two parameter-sized arrays per dtype.
        """
        key = (like.dtype, slot)
        buf = self._workspace.get(key)
        if buf is None or buf.size < like.size:
            buf = self._workspace[key] = np.empty(like.size, like.dtype)
        return buf[: like.size].reshape(like.shape)

    @staticmethod
    def _grad_for_update(
        a: np.ndarray, g: np.ndarray, weight_decay: float, maximize: bool,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """The gradient a step uses: ``(-g if maximize else g) + weight_decay * a``.

        Returns ``g`` itself when nothing changes it, else ``out`` (a new array if None)
        holding the result.
        """
        if weight_decay != 0:
            out = np.multiply(a, weight_decay, out=out)
            if maximize:
                np.subtract(out, g, out=out)  # -g + wd * a
            else:
                np.add(g, out, out=out)  # g + wd * a
            return out
        if maximize:
            return np.negative(g, out=out)
        return g

    @staticmethod
    def _new_step() -> Tensor:
        """A step counter: a 0-d float tensor, float32 unless float64 is the default dtype
        (as PyTorch keeps it)."""
        wide = _dtypes.get_default_dtype() == _dtypes.float64
        return Tensor._make(np.zeros((), _dtypes.float64 if wide else _dtypes.float32))

    @staticmethod
    def _zeros_like(p: Tensor) -> Tensor:
        return Tensor._make(np.zeros(p._data.shape, p._data.dtype))

    def _step_state(self, p: Tensor, *buffers: str | None,
                    scalars: tuple[tuple[str, float], ...] = ()) -> tuple[dict[str, Any], float]:
        """``p``'s state with its ``step`` counter advanced by one (in the counter's own
        dtype, as PyTorch counts), and the new count.

        An empty state (``p``'s first update) is made first: ``step``, then a 0-d tensor of
        the counter's dtype per ``(name, value)`` of ``scalars`` (NAdam's ``mu_product``),
        then a zero buffer shaped like ``p`` per name in ``buffers`` (None skips an optional
        one), in that order, which is the order of PyTorch's state dict.
        """
        state = self.state[p]
        if len(state) == 0:
            state["step"] = self._new_step()
            for key, value in scalars:
                state[key] = self._new_step()
                state[key]._data[...] = value
            for key in buffers:
                if key is not None:
                    state[key] = self._zeros_like(p)
        step_t = state["step"]._data
        step_t += 1
        return state, step_t.item()

    def _buffer(self, p: Tensor, key: str) -> np.ndarray:
        """The array of ``p``'s state buffer ``key``, made (zeros) if it is missing: an
        option that needs it (amsgrad, momentum, ...) was switched on mid-training."""
        state = self.state[p]
        if key not in state:
            state[key] = self._zeros_like(p)
        return state[key]._data

    # -- state dicts ----------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state in PyTorch's layout.

        ``{"state": {0: {"exp_avg": Tensor, ...}, ...}, "param_groups": [{"lr": ...,
        "params": [0, 1]}, ...]}``: parameters are numbered in group order and the state is
        keyed by those ints. As in PyTorch, the buffers are the optimizer's own tensors (not
        copies): save them (``cr.save``) or ``copy.deepcopy`` the dict to keep a snapshot.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {
            (index[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state saved by ``state_dict()`` (buffers are copied into this optimizer).

        The groups must match this optimizer's in number and sizes. Floating buffers are cast
        to their parameter's dtype; the group options (``lr``, ...) are taken from the saved
        state. Training resumed this way continues exactly as the saved run would have.
        """
        name = type(self).__name__
        for key in ("state", "param_groups"):
            if key not in state_dict:
                raise ValueError(
                    f"{name}.load_state_dict: the state dict has no {key!r} entry "
                    f"(keys: {sorted(map(str, state_dict))}); expected the result of "
                    "Optimizer.state_dict()"
                )
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: loaded state dict has a different number of "
                f"parameter groups ({len(saved_groups)}) than the optimizer "
                f"({len(self.param_groups)})"
            )
        for i, (g, s) in enumerate(zip(self.param_groups, saved_groups, strict=True)):
            if len(g["params"]) != len(s["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: loaded state dict contains a parameter group "
                    f"that doesn't match the size of optimizer's group: group {i} has "
                    f"{len(s['params'])} parameters in the state dict, "
                    f"{len(g['params'])} in the optimizer"
                )
        id_map = {
            _as_index(saved_id): p
            for s, g in zip(saved_groups, self.param_groups, strict=True)
            for saved_id, p in zip(s["params"], g["params"], strict=True)
        }

        state: defaultdict[Any, dict[str, Any]] = defaultdict(dict)
        for key, value in state_dict["state"].items():
            param = id_map.get(_as_index(key))
            if param is None:
                state[key] = _copy_value(value)
                continue
            state[param] = {
                k: _cast_buffer(name, key, k, v, param) for k, v in value.items()
            }

        new_groups = []
        for saved, group in zip(saved_groups, self.param_groups, strict=True):
            new = {k: _copy_value(v) for k, v in saved.items()}
            new["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                new["param_names"] = group["param_names"]
            new_groups.append(new)
        self.state = state
        self.param_groups = new_groups

    # -- printing -------------------------------------------------------------------
    def __repr__(self) -> str:
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key not in ("params", "param_names"):
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


def _as_index(key: Any) -> Any:
    """A saved parameter id: an int (also accepted as a digit string or 0-d array)."""
    if isinstance(key, str) and key.isdigit():
        return int(key)
    if isinstance(key, numbers.Integral):
        return int(key)
    return key


def _copy_value(value: Any) -> Any:
    """Deep-copy the containers and arrays of a loaded value (numbers, strings are shared)."""
    if isinstance(value, Tensor):
        return Tensor._make(value._data.copy())
    if isinstance(value, np.ndarray):
        return Tensor._make(value.copy())
    if isinstance(value, dict):
        return {k: _copy_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_copy_value(v) for v in value)
    return value


def _cast_buffer(name: str, pid: Any, key: str, value: Any, param: Tensor) -> Any:
    """Copy one loaded state entry for ``param``: arrays become Tensors of its dtype."""
    if isinstance(value, Tensor | np.ndarray):
        arr = value._data if isinstance(value, Tensor) else value
        if key == "step":
            return Tensor._make(np.array(arr, dtype=arr.dtype if arr.dtype.kind == "f"
                                         else np.float32))
        if arr.ndim and arr.shape != param._data.shape:
            raise ValueError(
                f"{name}.load_state_dict: state {key!r} of parameter {pid} has shape "
                f"{tuple(arr.shape)}, but the parameter has shape {tuple(param._data.shape)}"
            )
        dtype = param._data.dtype if param._data.dtype.kind in "fc" else arr.dtype
        return Tensor._make(np.array(arr, dtype=dtype))
    if key == "step" and isinstance(value, numbers.Real) and math.isfinite(value):
        return Tensor._make(np.array(float(value), dtype=Optimizer._new_step().dtype))
    return _copy_value(value)


def _check_option(
    optimizer: str, label: str, value: Any, low: float = 0.0, high: float | None = None
) -> None:
    """Check ``low <= value`` (and ``value < high``), raising PyTorch's ``Invalid <label>``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{optimizer}: {label} must be a real number, got {type(value).__name__} {value!r}"
        )
    if math.isnan(value) or value < low or (high is not None and value >= high):
        expected = f"{low} <= value" + (f" < {high}" if high is not None else "")
        raise ValueError(f"{optimizer}: Invalid {label}: {value} (expected {expected})")
