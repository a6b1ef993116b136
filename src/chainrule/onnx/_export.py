"""``cr.onnx.export``: trace a model on example inputs and write it as an ONNX model.

The steps: check the arguments; put the model in eval mode (restored afterwards); trace
it (:mod:`chainrule.onnx._trace`), translating each op to ONNX nodes as it runs; trace it
a second time on other input values and require the same graph (a value computed outside
chainrule's ops, such as a comparison mask, would otherwise be frozen into the export
silently); name the inputs and outputs, mark the dynamic axes, drop unused nodes; check
the model with ``onnx.checker``; write it, atomically when ``f`` is a path.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from typing import IO, Any

import numpy as np

from chainrule._atomic import atomic_open
from chainrule.autograd.grad_mode import enable_grad
from chainrule.onnx._errors import OnnxExporterError
from chainrule.tensor import Tensor

__all__ = ["export", "OPSET_VERSION"]

OPSET_VERSION = 17  # ONNX opset of the exported models (ONNX Runtime supports it since 1.12)
_IR_VERSION = 8  # the IR version that opset 17 shipped with: readable by older runtimes


def export(
    model: Any,
    args: Any,
    f: str | os.PathLike[str] | IO[bytes],
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    dynamic_axes: Mapping[str, Mapping[int, str] | Sequence[int]] | None = None,
) -> None:
    """Export ``model`` to an ONNX file by tracing it on ``args``, as ``torch.onnx.export``.

    The model runs once (twice, see below) on ``args`` in eval mode (Dropout is the
    identity, BatchNorm uses its running statistics; the modes are restored afterwards)
    and every operation it applies is translated to ONNX (opset 17). Parameters and
    buffers become initializers named by their state-dict names (``0.weight``); other
    tensors the model reads become constants. Python control flow and shapes are fixed
    at their traced values, as in any tracing exporter.

    Args:
        model: an ``nn.Module`` (or any callable taking and returning tensors).
        args: the example input: a Tensor, or a tuple of them (a trailing dict holds
            keyword arguments; non-tensor arguments are passed as they are and frozen).
        f: a path (written atomically: a temporary file beside it, fsynced, renamed onto
            it) or a binary file object (written, not closed).
        input_names: names of the graph inputs, one per tensor in ``args``; by default
            ``input`` for a single input, else ``input.0``, ``input.1``, ...
        output_names: names of the graph outputs (the model's tensors, tuples flattened);
            by default ``output``, or ``output.0``, ``output.1``, ... Missing trailing
            names take the default.
        dynamic_axes: ``{name: {axis: axis_name}}`` or ``{name: [axis, ...]}`` (then named
            ``<name>_dynamic_axes_<k>``) for inputs and outputs whose sizes may change,
            e.g. ``{"input": {0: "batch"}, "output": {0: "batch"}}``.

    Raises:
        ImportError: the ``onnx`` package is missing (``pip install chainrule[onnx]``).
        UnsupportedOperatorError: an operation has no ONNX translation; the message names
            it and, for a Module, the submodule that ran it. Nothing is written.
        OnnxExporterError: the computation depends on input values in a way a trace
            cannot capture (it differs between two traces).
        TypeError, ValueError: bad arguments (names, axes, outputs that are not tensors).

    Example::

        model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)).eval()
        cr.onnx.export(model, cr.randn(1, 64), "mlp.onnx", input_names=["x"],
                       output_names=["logits"], dynamic_axes={"x": {0: "batch"}})
    """
    try:
        import onnx
    except ImportError:
        raise ImportError(
            "cr.onnx.export needs the onnx package: pip install chainrule[onnx]"
        ) from None
    from chainrule.onnx._graph import Graph

    if not (hasattr(f, "write") or isinstance(f, str | os.PathLike)):
        raise TypeError(
            f"onnx.export: f must be a path or a binary file object, got {type(f).__name__}"
        )
    call_args, call_kwargs = _split_args(args)
    n_in = sum(isinstance(a, Tensor) for a in call_args)
    in_names = _names("input_names", input_names, n_in, "input", allow_fewer=False)
    state = _state_arrays(model)
    _check_clashes(in_names, state)

    reserved = [*in_names, *_name_list("output_names", output_names)]
    with _eval_mode(model):
        graph = Graph(state, reserved=reserved)
        outputs = _trace(graph, model, call_args, call_kwargs, in_names)
        out_names = _names("output_names", output_names, len(outputs), "output")
        _check_clashes(out_names, state, in_names)
        _check_stable(graph, model, call_args, call_kwargs, reserved, state)

    axes = _dynamic_axes(dynamic_axes, in_names, out_names, call_args)
    proto = _assemble(onnx, graph, call_args, in_names, outputs, out_names, axes)
    onnx.checker.check_model(proto, full_check=True)
    _write(f, proto.SerializeToString())


# -- arguments ------------------------------------------------------------------------


def _split_args(args: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``args`` as positional and keyword arguments (torch's trailing-dict convention)."""
    if isinstance(args, Tensor):
        return (args,), {}
    if not isinstance(args, tuple | list):
        raise TypeError(
            f"onnx.export: args must be a Tensor or a tuple of Tensors, got "
            f"{type(args).__name__}"
        )
    args = tuple(args)
    kwargs: dict[str, Any] = {}
    if args and isinstance(args[-1], dict):
        args, kwargs = args[:-1], dict(args[-1])
    for k, v in kwargs.items():
        if isinstance(v, Tensor):
            raise TypeError(
                f"onnx.export: keyword argument {k!r} is a Tensor; pass graph inputs "
                "positionally in args"
            )
    if not any(isinstance(a, Tensor) for a in args):
        raise ValueError("onnx.export: args must contain at least one Tensor (the input)")
    return args, kwargs


def _names(what: str, names: Sequence[str] | None, n: int, base: str,
           allow_fewer: bool = True) -> list[str]:
    """User names padded with defaults: ``base`` alone, or ``base.0``, ``base.1``, ..."""
    default = [base] if n == 1 else [f"{base}.{i}" for i in range(n)]
    if names is None:
        return default
    names = _name_list(what, names)
    if len(names) > n or (len(names) < n and not allow_fewer):
        raise ValueError(
            f"onnx.export: {len(names)} {what} {names} given for {n} "
            f"{'inputs (tensors in args)' if base == 'input' else 'outputs'}"
        )
    names += default[len(names):]
    if "" in names or len(set(names)) != len(names):
        raise ValueError(f"onnx.export: {what} must be non-empty and distinct, got {names}")
    return names


def _name_list(what: str, names: Sequence[str] | None) -> list[str]:
    if names is None:
        return []
    if isinstance(names, str) or not all(isinstance(s, str) for s in names):
        raise TypeError(f"onnx.export: {what} must be a list of strings, got {names!r}")
    return list(names)


def _state_arrays(model: Any) -> dict[str, np.ndarray]:
    """The arrays of the model's parameters and buffers by state-dict name."""
    named = getattr(model, "named_parameters", None)
    if named is None:
        return {}
    state: dict[str, np.ndarray] = {}
    for name, t in model.state_dict(keep_vars=True).items():
        state[name] = t._data
    for name, t in model.named_buffers():  # non-persistent buffers too
        state.setdefault(name, t._data)
    for name, t in named():
        state.setdefault(name, t._data)
    return state


def _check_clashes(names: Sequence[str], state: Mapping[str, Any],
                   others: Sequence[str] = ()) -> None:
    for name in names:
        if name in state:
            raise ValueError(
                f"onnx.export: the name {name!r} is already the name of a parameter or "
                "buffer of the model; choose another input/output name"
            )
        if name in others:
            raise ValueError(f"onnx.export: {name!r} names both an input and an output")


@contextlib.contextmanager
def _eval_mode(model: Any) -> Any:
    """Eval mode for the export (as torch's default); every module's mode is restored."""
    modules = list(model.modules()) if callable(getattr(model, "modules", None)) else []
    modes = [(m, m.training) for m in modules]
    if modules:
        model.train(False)
    try:
        yield
    finally:
        for m, mode in modes:
            m.training = mode


# -- tracing --------------------------------------------------------------------------


def _trace(graph: Any, model: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
           in_names: Sequence[str]) -> list[tuple[str, Tensor]]:
    """Run the model under a tracer; return its outputs with their graph values."""
    from chainrule.onnx._trace import Tracer

    tracer = Tracer(graph)
    inputs, names = [], iter(in_names)
    for a in args:
        if isinstance(a, Tensor):
            # a fresh leaf sharing the data: recorded ops, and the caller's tensor untouched
            x = Tensor._make(a._data, a._data.dtype.kind in "fc")
            tracer.bind(x, next(names))
            inputs.append(x)
        else:
            inputs.append(a)
    with enable_grad(), tracer.active():
        result = model(*inputs, **kwargs)
        flat = _flatten_outputs(result)
        return [(tracer.resolve(t).name or graph.const(t._data), t) for t in flat]


def _flatten_outputs(result: Any) -> list[Tensor]:
    """The model's tensors in order: tuples, lists and dict values are flattened."""
    if isinstance(result, Tensor):
        return [result]
    if isinstance(result, tuple | list):
        return [t for r in result for t in _flatten_outputs(r)]
    if isinstance(result, dict):
        return [t for r in result.values() for t in _flatten_outputs(r)]
    raise TypeError(
        f"onnx.export: the model must return Tensors (or tuples, lists or dicts of them), "
        f"got {type(result).__name__}"
    )


def _perturbed(a: Any, rng: np.random.Generator) -> Any:
    """Other values of the same shape and dtype, meant to change every decision a value
    could drive: floats shuffled, negated (signs and sums flip) and moved by noise; ints
    shuffled (indices stay in range); bools inverted."""
    if not isinstance(a, Tensor) or a._data.size == 0:
        return a
    x = rng.permutation(a._data.reshape(-1)).reshape(a._data.shape)
    if x.dtype.kind == "f":
        finite = a._data[np.isfinite(a._data)]
        scale = 0.1 * float(np.std(finite)) + 0.1 if finite.size else 0.1
        x = (rng.standard_normal(x.shape) * scale - x).astype(x.dtype)
    elif x.dtype.kind == "b":
        x = ~x
    return Tensor._make(x)


def _check_stable(graph: Any, model: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
                  reserved: Sequence[str], state: dict[str, np.ndarray]) -> None:
    """Trace again on other input values; the graph must come out the same.

    A difference means that a value was computed outside chainrule's ops (a comparison
    mask, argmax, ``.item()``) or that Python control flow followed the values: the
    export would be wrong for other inputs. If the model fails on the other values, the
    check is skipped.
    """
    from chainrule.onnx._graph import Graph

    other = Graph(state, reserved=reserved)
    in_names = reserved[: sum(isinstance(a, Tensor) for a in args)]
    rng = np.random.default_rng(0)
    try:
        _trace(other, model, tuple(_perturbed(a, rng) for a in args), kwargs, in_names)
    except Exception:  # noqa: BLE001 - values the model rejects: nothing to compare
        return
    if graph.signature() == other.signature():
        return
    raise OnnxExporterError(
        "onnx.export: the traced computation depends on the values of the inputs (two "
        f"traces on different values differ at {_first_difference(graph, other)}): a value "
        "was computed outside chainrule's differentiable operations (a comparison or mask, "
        "argmax, .item(), an index computed from the input), Python control flow follows "
        "tensor values, or the forward draws random numbers, so the export would only be "
        "right for the example input. Use differentiable ops (clamp, maximum, where with a "
        "constant condition) or move that part out of the model"
    )


def _first_difference(a: Any, b: Any) -> str:
    """Where two traced graphs first differ, in words."""
    for k, (x, y) in enumerate(zip(a.nodes, b.nodes, strict=False)):
        if x.SerializeToString() != y.SerializeToString():
            return f"operation {k} ({x.op_type} here, {y.op_type} there)"
    if len(a.nodes) != len(b.nodes):
        return f"the number of operations ({len(a.nodes)} and {len(b.nodes)})"
    for name, t in a.initializers.items():
        other = b.initializers.get(name)
        if other is None or other.SerializeToString() != t.SerializeToString():
            users = [n for n in a.nodes if name in n.input]
            used = f", read by {users[0].name} ({users[0].op_type})" if users else ""
            return f"the value of the constant {name}{used}"
    return "the constants"


# -- the model ------------------------------------------------------------------------


def _dynamic_axes(spec: Mapping[str, Any] | None, in_names: Sequence[str],
                  out_names: Sequence[str], args: tuple[Any, ...]) -> dict[str, dict[int, str]]:
    """``{value name: {axis: dim name}}`` from torch's two spellings, checked."""
    if not spec:
        return {}
    if not isinstance(spec, Mapping):
        raise TypeError(f"onnx.export: dynamic_axes must be a dict, got {type(spec).__name__}")
    ranks = dict(zip(in_names, [a.ndim for a in args if isinstance(a, Tensor)], strict=True))
    result: dict[str, dict[int, str]] = {}
    for name, axes in spec.items():
        if name not in in_names and name not in out_names:
            raise ValueError(
                f"onnx.export: dynamic_axes names {name!r}, which is neither an input "
                f"{list(in_names)} nor an output {list(out_names)}"
            )
        if isinstance(axes, Mapping):
            pairs = [(a, str(n)) for a, n in axes.items()]
        elif isinstance(axes, Sequence) and not isinstance(axes, str):
            pairs = [(a, f"{name}_dynamic_axes_{k + 1}") for k, a in enumerate(axes)]
        else:
            raise TypeError(
                f"onnx.export: dynamic_axes[{name!r}] must be a dict {{axis: name}} or a "
                f"list of axes, got {axes!r}"
            )
        rank = ranks.get(name)
        checked: dict[int, str] = {}
        for axis, dim_name in pairs:
            if not isinstance(axis, int | np.integer) or isinstance(axis, bool):
                raise TypeError(f"onnx.export: dynamic_axes[{name!r}]: axis {axis!r} is not "
                                "an int")
            if rank is not None and not -rank <= axis < rank:
                raise ValueError(
                    f"onnx.export: dynamic_axes[{name!r}]: axis {axis} is out of range for "
                    f"an input of {rank} dimension(s)"
                )
            checked[int(axis) % rank if rank else int(axis)] = dim_name
        result[name] = checked
    return result


def _assemble(onnx: Any, graph: Any, args: tuple[Any, ...], in_names: Sequence[str],
              outputs: Sequence[tuple[str, Tensor]], out_names: Sequence[str],
              axes: dict[str, dict[int, str]]) -> Any:
    """The ModelProto: outputs renamed, unused nodes dropped, shapes declared.

    Output shapes are the traced ones; with dynamic input axes they come from ONNX shape
    inference instead (a dimension that follows the batch is then symbolic).
    """
    from onnx import helper

    from chainrule.onnx._graph import onnx_dtype

    _name_outputs(graph, [v for v, _ in outputs], out_names, set(in_names))
    nodes, inits = _live(graph, out_names)
    tensors = [a for a in args if isinstance(a, Tensor)]
    inputs = [
        helper.make_tensor_value_info(
            name, onnx_dtype(t.dtype),
            [axes.get(name, {}).get(i, n) for i, n in enumerate(t.shape)],
        )
        for name, t in zip(in_names, tensors, strict=True)
    ]
    results = [
        helper.make_tensor_value_info(name, onnx_dtype(t.dtype), list(t.shape))
        for name, (_, t) in zip(out_names, outputs, strict=True)
    ]
    g = helper.make_graph(nodes, "chainrule", inputs, results, initializer=inits)
    model = helper.make_model(
        g, opset_imports=[helper.make_opsetid("", OPSET_VERSION)], producer_name="chainrule",
        ir_version=_IR_VERSION,
    )
    if any(name in axes for name in in_names):
        _infer_output_shapes(onnx, model)
    for value in model.graph.output:  # make_model copied g
        dims = value.type.tensor_type.shape.dim
        for axis, dim_name in axes.get(value.name, {}).items():
            if not -len(dims) <= axis < len(dims):
                raise ValueError(
                    f"onnx.export: dynamic_axes[{value.name!r}]: axis {axis} is out of range "
                    f"for an output of {len(dims)} dimension(s)"
                )
            dims[axis].Clear()
            dims[axis].dim_param = dim_name
    return model


def _infer_output_shapes(onnx: Any, model: Any) -> None:
    """Replace the declared output shapes by the inferred ones, where inference has one."""
    g = model.graph
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    for value in probe.graph.output:
        value.type.tensor_type.ClearField("shape")
    inferred = onnx.shape_inference.infer_shapes(probe)
    shapes = {v.name: v.type.tensor_type for v in inferred.graph.output}
    for value in g.output:
        found = shapes.get(value.name)
        if found is not None and found.HasField("shape"):
            value.type.tensor_type.shape.CopyFrom(found.shape)


def _name_outputs(graph: Any, outputs: Sequence[str], out_names: Sequence[str],
                  inputs: set[str]) -> None:
    """Give each output value its public name: the producing node's output is renamed,
    or an Identity is added (an input, a parameter, or a value returned twice)."""
    producers = {out: node for node in graph.nodes for out in node.output}
    renamed: dict[str, str] = {}
    for value, name in zip(outputs, out_names, strict=True):
        if value in producers and value not in renamed and value not in inputs:
            renamed[value] = name
        else:
            graph.node("Identity", [renamed.get(value, value)])
            graph.nodes[-1].output[0] = name
    for node in graph.nodes:
        for i, v in enumerate(node.input):
            if v in renamed:
                node.input[i] = renamed[v]
        for i, v in enumerate(node.output):
            if v in renamed:
                node.output[i] = renamed[v]


def _live(graph: Any, out_names: Sequence[str]) -> tuple[list[Any], list[Any]]:
    """The nodes the outputs depend on (in order) and the initializers they read."""
    needed = set(out_names)
    keep = []
    for node in reversed(graph.nodes):
        if any(o in needed for o in node.output):
            keep.append(node)
            needed.update(i for i in node.input if i)
    keep.reverse()
    # parameters and buffers in state-dict order, then the constants
    order = {name: i for i, name in enumerate(graph.state)}
    names = sorted((n for n in graph.initializers if n in needed),
                   key=lambda n: order.get(n, len(order)))
    return keep, [graph.initializers[n] for n in names]


# -- writing --------------------------------------------------------------------------


def _write(f: Any, data: bytes) -> None:
    """Write ``data`` to a file object, or atomically to a path."""
    if hasattr(f, "write"):
        f.write(data)
        return
    with atomic_open(f, "wb") as out:
        out.write(data)
