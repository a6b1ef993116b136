"""``Tensor.data`` as PyTorch's: a detached Tensor sharing memory, with its own version
counter, and a setter that swaps the memory. Each behaviour is compared with torch's."""

# data-codemod: skip-file (these tests use the public .data, not the internal array)

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn


def _torch():
    return pytest.importorskip("torch")


def test_data_is_a_detached_leaf_sharing_memory() -> None:
    torch = _torch()
    for x, tx in [
        (cr.ones(2, 3, requires_grad=True), torch.ones(2, 3, requires_grad=True)),
        (nn.Parameter(cr.ones(2, 3)), torch.nn.Parameter(torch.ones(2, 3))),
        (cr.arange(3), torch.arange(3)),
    ]:
        d, td = x.data, tx.data
        assert type(d) is cr.Tensor and type(td) is torch.Tensor  # a Parameter's too
        assert (d.requires_grad, d.is_leaf, d.grad_fn) == (td.requires_grad, td.is_leaf, None)
        assert d.shape == tuple(td.shape) and d.dtype == x.dtype
        assert np.shares_memory(d.numpy(), x.detach().numpy())
        assert x.data is not x.data and (tx.data is not tx.data)  # a new view per access
        # writes through .data show in the tensor (and x.data.numpy() is its memory)
        d[0] = 7
        td[0] = 7
        np.testing.assert_array_equal(x.detach().numpy(), tx.detach().numpy())
        assert x.data.numpy() is x.detach().numpy()  # PyTorch's way to the array


def test_data_of_a_non_leaf() -> None:
    torch = _torch()
    x, tx = cr.ones(3, requires_grad=True), torch.ones(3, requires_grad=True)
    y, ty = x * 2, tx * 2
    d, td = y.data, ty.data
    assert (d.requires_grad, d.is_leaf, d.grad_fn) == (td.requires_grad, td.is_leaf, None)
    assert y.grad_fn is not None and y.requires_grad  # y itself is unchanged
    assert d.requires_grad_().requires_grad and not y.is_leaf  # the view is a leaf of its own
    np.testing.assert_array_equal(y.data.numpy(), ty.data.numpy())


def test_hand_written_sgd_step_through_data() -> None:
    torch = _torch()
    cr.manual_seed(0)
    lin = nn.Linear(4, 3)
    tlin = torch.nn.Linear(4, 3)
    tlin.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                          for k, v in lin.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    for _ in range(3):
        for m, inp in ((lin, cr.from_numpy(x)), (tlin, torch.from_numpy(x))):
            loss = (m(inp) ** 2).mean()
            m.zero_grad()
            loss.backward()
            for p in m.parameters():
                p.data.add_(p.grad, alpha=-0.1)  # outside no_grad, as PyTorch scripts do
    for p, tp in zip(lin.parameters(), tlin.parameters(), strict=True):
        assert isinstance(p, nn.Parameter) and p.requires_grad and p.is_leaf
        np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_initialising_through_data() -> None:
    cr.manual_seed(0)
    m = nn.Linear(300, 200)
    w = m.weight.detach().numpy()
    m.weight.data.normal_(0.0, 0.02)
    m.bias.data.fill_(0.5)
    assert m.weight.detach().numpy() is w  # updated in place, the Parameter is the same
    assert abs(float(w.std()) - 0.02) < 1e-3 and abs(float(w.mean())) < 1e-3
    assert (m.bias.detach().numpy() == 0.5).all()
    m.bias.data.zero_()
    m.bias.data.copy_(cr.arange(200, dtype=cr.float32))
    m.weight.data.uniform_(-1.0, 1.0)
    assert m.bias.detach().numpy()[7] == 7 and -1 <= w.min() and w.max() <= 1
    assert m.weight.requires_grad and m.weight.grad_fn is None


def test_version_counter_is_not_shared() -> None:
    torch = _torch()
    x, tx = cr.ones(3, requires_grad=True), torch.ones(3, requires_grad=True)
    d, td = x.data, tx.data
    d.add_(1)
    td.add_(1)
    assert (x._version[0], d._version[0]) == (tx._version, td._version) == (0, 1)
    with cr.no_grad():
        x.add_(1)
    with torch.no_grad():
        tx.add_(1)
    assert (x._version[0], d._version[0]) == (tx._version, td._version) == (1, 1)
    assert x.data._version[0] == tx.data._version == 0  # a fresh counter per access
    # a saved output changed through .data is not detected: backward uses the new values
    a, ta = cr.ones(3, requires_grad=True), torch.ones(3, requires_grad=True)
    b, tb = a.exp(), ta.exp()
    b.data.mul_(2)
    tb.data.mul_(2)
    b.sum().backward()
    tb.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-6)


def test_setter_swaps_the_memory() -> None:
    torch = _torch()
    q, tq = cr.ones(3, requires_grad=True), torch.ones(3, requires_grad=True)
    src, tsrc = cr.full((2, 2), 5.0, dtype=cr.float64), torch.full((2, 2), 5.0,
                                                                    dtype=torch.float64)
    q.data = src
    tq.data = tsrc
    assert q.shape == tuple(tq.shape) == (2, 2) and q.dtype == cr.float64
    assert (q.requires_grad, q.is_leaf, q._version[0]) == (tq.requires_grad, tq.is_leaf,
                                                          tq._version)
    src.add_(1)  # q shares src's memory...
    tsrc.add_(1)
    np.testing.assert_array_equal(q.detach().numpy(), tq.detach().numpy())
    assert q._version[0] == tq._version == 0  # ...but not its version counter
    (q * q).sum().backward()
    (tq * tq).sum().backward()
    np.testing.assert_array_equal(q.grad.numpy(), tq.grad.numpy())
    # a Parameter stays a Parameter of its Module, with the new values
    lin = nn.Linear(2, 2)
    lin.weight.data = lin.weight.data.double()
    assert isinstance(lin.weight, nn.Parameter) and lin.weight.dtype == cr.float64
    assert lin.weight is dict(lin.named_parameters())["weight"]
    # a non-leaf keeps its history
    y = cr.ones(2, requires_grad=True) * 2
    fn = y.grad_fn
    y.data = cr.zeros(2)
    assert y.grad_fn is fn and (y.detach().numpy() == 0).all()


def test_setter_errors_as_torch() -> None:
    torch = _torch()
    p, tp = nn.Parameter(cr.ones(2)), torch.nn.Parameter(torch.ones(2))
    for bad, tbad in [([1.0, 2.0], [1.0, 2.0]), (np.zeros(2), np.zeros(2))]:
        with pytest.raises(TypeError, match="Tensor.data.*has to be a Tensor"):
            p.data = bad
        with pytest.raises(TypeError):
            tp.data = tbad
    with pytest.raises(RuntimeError, match="floating point"):
        p.data = cr.zeros(2, dtype=cr.int64)
    with pytest.raises(RuntimeError):
        tp.data = torch.zeros(2, dtype=torch.int64)
    n = cr.ones(2, dtype=cr.int64)  # no grad: any dtype
    n.data = cr.zeros(3, dtype=cr.float64)
    assert n.dtype == cr.float64 and n.shape == (3,)
    with pytest.raises(RuntimeError, match="deleting"):
        del p.data
    with pytest.raises(RuntimeError):
        del tp.data


def test_common_reads_through_data() -> None:
    torch = _torch()
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    t, tt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    np.testing.assert_array_equal(t.data[0].numpy(), tt.data[0].numpy())
    np.testing.assert_array_equal(t.data.numpy(), tt.data.numpy())
    assert float(t.data.pow(2).sum().sqrt()) == pytest.approx(float(tt.data.norm()))
    assert t.data.sum().item() == tt.data.sum().item()
    t.sum().backward()
    tt.sum().backward()
    t.grad.data.zero_()
    tt.grad.data.zero_()
    assert (t.grad.numpy() == 0).all() and (tt.grad.numpy() == 0).all()
    # a Parameter built on .data shares the memory, as in PyTorch
    p = nn.Parameter(t.data)
    assert np.shares_memory(p.detach().numpy(), t.detach().numpy()) and p.requires_grad


def _public_data_uses(source: str) -> list[tuple[int, str]]:
    """``x.data`` attribute accesses that may be a Tensor's public ``.data`` (see below)."""
    import ast

    tree = ast.parse(source)
    modules = {a.asname or a.name.split(".")[0] for n in ast.walk(tree)
               if isinstance(n, ast.Import | ast.ImportFrom) for a in n.names}
    lines = source.splitlines()
    found = []

    def visit(node: ast.AST, cls: ast.ClassDef | None) -> None:
        for child in ast.iter_child_nodes(node):
            visit(child, child if isinstance(child, ast.ClassDef) else cls)
        if not (isinstance(node, ast.Attribute) and node.attr == "data"):
            return
        recv = node.value
        name = recv.id if isinstance(recv, ast.Name) else getattr(recv, "attr", None)
        tensor_class = cls is not None and (cls.name == "Tensor" or any(
            getattr(b, "id", getattr(b, "attr", None)) in ("Tensor", "Parameter")
            for b in cls.bases))
        if (
            (isinstance(recv, ast.Name) and name in modules)  # _math.data(x)
            or name == "utils"  # cr.utils.data
            or (name == "self" and cls is not None and not tensor_class)  # a dataset's own
            or (name or "").endswith(("dataset", "ds"))
            or "# public .data" in lines[node.end_lineno - 1]
        ):
            return
        found.append((node.lineno, lines[node.lineno - 1].strip()))

    visit(tree, None)
    return found


def test_library_reads_the_array_as_underscore_data() -> None:
    """Inside chainrule a Tensor's array is ``x._data``: ``x.data`` builds a Tensor per call.

    Code written for the old meaning of ``.data`` (the ndarray) still mostly runs with the
    public Tensor, slower or subtly wrong (``x.data.size`` is a method): list it here. A use
    that really wants PyTorch's ``.data`` carries the comment ``# public .data``.
    """
    from pathlib import Path

    root = Path(cr.__file__).parent
    bad = [f"{path.relative_to(root)}:{line}: {text}"
           for path in sorted(root.rglob("*.py"))
           for line, text in _public_data_uses(path.read_text())]
    assert not bad, "use x._data for a Tensor's array (or python data_codemod.py):\n" + \
        "\n".join(bad)
