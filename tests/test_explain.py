"""cr.explain: rules with real shapes, engine order, Branch and Repeat/Sum steps, norms."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.autograd import engine
from chainrule.autograd.function import Op
from chainrule.autograd.rules import (
    parse_rules,
    parse_shape,
    split_rule,
    substitute_equation,
    unify,
)
from chainrule.explain import Explanation, explain, format_shape


def leaf(*shape: int, seed: int = 0, requires_grad: bool = True) -> cr.Tensor:
    data = np.random.default_rng(seed).standard_normal(shape)
    return cr.tensor(data, requires_grad=requires_grad)


def op_rows(ex: Explanation, op: str) -> list[Any]:
    return [r for r in ex.rows if r.op == op]


def rule_texts(row: Any) -> list[str]:
    return [str(r) for r in row.rules if r.needed]


def without_norms(ex: Explanation) -> list[Any]:
    """The rows as plain data, gradient norms left out."""
    out = []
    for r in ex.rows:
        out.append((r.step, r.kind, r.op, r.name, [str(o) for o in r.inputs], r.output_shapes,
                    [str(x) for x in r.rules], r.notes, r.symbols, r.summed_axes))
    return out


# -- symbolic shapes and rule lines ---------------------------------------------------------


def test_parse_shape_tokens() -> None:
    assert parse_shape("N,in") == [("sym", "N"), ("sym", "in")]
    assert parse_shape("out,") == [("sym", "out")]
    assert parse_shape("") == []
    assert parse_shape("*") == [("star", "*")]
    assert parse_shape("*a") == [("star", "*a")]
    assert parse_shape("*, in") == [("star", "*"), ("sym", "in")]
    assert parse_shape("N*C, 1") == [("expr", "N*C"), ("int", 1)]
    assert parse_shape("since dy/dx = -y**2") is None
    assert parse_shape("a,,b") is None


def test_unify_binds_symbols_and_stars() -> None:
    binds: dict[str, Any] = {}
    conflicts: set[str] = set()
    assert unify(parse_shape("N,in"), (64, 1000), binds, conflicts)
    assert unify(parse_shape("out,in"), (100, 1000), binds, conflicts)
    assert binds == {"N": 64, "in": 1000, "out": 100}
    assert unify(parse_shape("*,in"), (8, 4, 1000), binds, conflicts)
    assert binds["*"] == (8, 4)
    # wrong rank or a literal that does not match: nothing is bound
    assert not unify(parse_shape("K,M"), (3,), binds, conflicts)
    assert not unify(parse_shape("1,M"), (2, 3), binds, conflicts)
    assert "M" not in binds and "K" not in binds


def test_unify_conflict_leaves_symbol_unbound() -> None:
    binds: dict[str, Any] = {}
    conflicts: set[str] = set()
    unify(parse_shape("N,C"), (4, 3), binds, conflicts)
    unify(parse_shape("N,C"), (4, 5), binds, conflicts)  # C cannot be both 3 and 5
    assert binds == {"N": 4}
    unify(parse_shape("N,C"), (4, 3), binds, conflicts)  # and stays unbound
    assert "C" not in binds
    text, complete = substitute_equation("(N,C) = (N,C)", binds)
    assert text == "(4,C) = (4,C)" and not complete


def test_substitute_equation_writes_real_shapes() -> None:
    binds = {"N": 64, "in": 1000, "out": 100}
    assert substitute_equation("(N,in) = (N,out)(out,in)", binds) == (
        "(64,1000) = (64,100)(100,1000)", True)
    assert substitute_equation("(out,)", binds) == ("(100,)", True)
    assert substitute_equation("(N*out,)", binds) == ("(6400,)", True)
    assert substitute_equation("(*x) = sum((*y))", {"*x": (3,), "*y": (2, 3)}) == (
        "(3,) = sum((2,3))", True)
    assert substitute_equation("(*) = (*)", {"*": ()}) == ("() = ()", True)
    assert substitute_equation("(*a) = (K,)", {}) == ("(*a) = (K,)", False)
    assert format_shape((64, 1000)) == "(64,1000)" and format_shape(()) == "()"


@pytest.mark.parametrize(
    ("line", "parts"),
    [
        ("dX = dY @ W  (N,in) = (N,out)(out,in)", ("dX = dY @ W", "(N,in) = (N,out)(out,in)", "")),
        ("db = dY.sum(0)  (out,)", ("db = dY.sum(0)", "(out,)", "")),
        ("dx = -dY * y**2   (since dy/dx = -1/x**2 = -y**2)  (*) = (*)(*)",
         ("dx = -dY * y**2   (since dy/dx = -1/x**2 = -y**2)", "(*) = (*)(*)", "")),
        ("dx = dY * (x > 0)  (*) = (*)(*)   (0 at x = 0, as PyTorch)",
         ("dx = dY * (x > 0)", "(*) = (*)(*)", "(0 at x = 0, as PyTorch)")),
        ("dX = dY.sum(over the broadcast axes)   (*x) = sum((*y))",
         ("dX = dY.sum(over the broadcast axes)", "(*x) = sum((*y))", "")),
        ("dA = X  (N,in) =  (N,out)  (out,in)  (a note)",
         ("dA = X", "(N,in) =  (N,out)  (out,in)", "(a note)")),
        ("dZ = (softmax(Z) - onehot(t)) * dL / N",
         ("dZ = (softmax(Z) - onehot(t)) * dL / N", "", "")),
        ("dX = dY @ W (N,in) = (N,out)(out,in)", ("dX = dY @ W (N,in) = (N,out)(out,in)", "", "")),
    ],
)
def test_split_rule(line: str, parts: tuple[str, str, str]) -> None:
    assert split_rule(line) == parts


def test_parse_rules_maps_each_rule_to_its_operand() -> None:
    doc = """Backward of the layer (prose lines are skipped).

        dX = dY @ W  (N,in) = (N,out)(out,in)
        grad_b = dY.sum(0)  (out,)
        dA_k = sum_n dy_nk x_n  (out,in)
        dW[n, t_n] = -1  (out,in)
        dZ = something else
        """
    specs = parse_rules(doc, ["X", "W", "b", "A"])
    assert [(s.grad, s.operand) for s in specs] == [
        ("dX", "X"), ("grad_b", "b"), ("dA_k", "A"), ("dW[n, t_n]", "W"), ("dZ", None)]
    assert specs[0].text == "dX = dY @ W" and specs[0].shapes == "(N,in) = (N,out)(out,in)"
    assert parse_rules(None, ["x"]) == []


# -- rows for arithmetic graphs ---------------------------------------------------------------


def test_rows_substitute_real_shapes_and_mark_broadcast() -> None:
    x, b = leaf(64, 100), leaf(100, seed=1)
    y = x * b
    ex = explain(y, params={"x": x, "b": b})
    (row,) = op_rows(ex, "Mul")
    assert row.name == "MulBackward"
    assert [(o.name, o.shape, o.source) for o in row.inputs] == [
        ("a", (64, 100), "x"), ("b", (100,), "b")]
    assert row.output_shapes == [(64, 100)]
    assert rule_texts(row) == [
        "da = unbroadcast(dY * b, a.shape)  (64,100) = (64,100)(100,)",
        "db = unbroadcast(dY * a, b.shape)  (100,) = (64,100)(64,100)",
    ]
    assert row.rules[0].symbolic == "(*a) = (*y)(*b)"
    assert [o.symbolic for o in row.inputs] == ["(*a)", "(*b)"]
    assert row.symbols == {"*a": (64, 100), "*b": (100,), "*y": (64, 100)}
    # Repeat/Sum: b was broadcast over axis 0, so its gradient is summed over it
    assert row.summed_axes == {1: (0,)}
    assert row.notes == ["b: (100,) = sum over axis 0 of (64,100)  (Repeat/Sum)"]


def test_keepdim_broadcast_axis_is_named() -> None:
    x, s = leaf(4, 5), leaf(4, 1, seed=1)
    ex = explain(x + s)
    (row,) = op_rows(ex, "Add")
    assert row.summed_axes == {1: (1,)}
    assert "(4,1) = sum over axis 1 of (4,5)" in row.notes[0]


def test_no_repeat_sum_note_where_shapes_differ_without_broadcast() -> None:
    # (64,1) @ (1,64): sizes alone would look like a broadcast, the symbols say it is not
    a, w = leaf(64, 1), leaf(1, 64, seed=1)
    ex = explain(a @ w)
    (row,) = op_rows(ex, "MatMul")
    assert row.notes == [] and row.summed_axes == {}
    assert rule_texts(row) == ["dA = dY @ B.T  (64,1) = (64,64)(64,1)",
                               "dB = A.T @ dY  (1,64) = (1,64)(64,64)"]


def test_repeat_sum_only_where_the_gradient_is_a_sum() -> None:
    x = leaf(10)
    (expand,) = op_rows(explain(x.expand(64, 10)), "Expand")  # the seeds' Repeat node itself
    assert expand.notes == ["x: (10,) = sum over axis 0 of (64,10)  (Repeat/Sum)"]
    # a reshape adding a size-1 axis, a gather and a reduction are no broadcasts
    for y in (x.reshape(1, 10), x[[[0, 1], [1, 0]]], x.sum()):
        row = next(r for r in explain(y).rows if r.kind == "op")
        assert row.notes == [] and row.summed_axes == {}, row.op


def test_constant_inputs_have_no_source_and_their_rules_are_not_shown() -> None:
    x = leaf(3, 4)
    ex = explain(x / 3.0)
    (row,) = op_rows(ex, "Div")
    assert row.inputs[1].source is None and row.inputs[1].shape == ()
    assert [r.needed for r in row.rules] == [True, False]
    assert rule_texts(row) == ["da = unbroadcast(dY / b, a.shape)  (3,4) = (3,4)()"]


# -- order, Branch, leaves ---------------------------------------------------------------------


def record_engine_order(monkeypatch: pytest.MonkeyPatch, classes: set[type]) -> list[Any]:
    """Make every node of these classes note itself when the engine runs its backward."""
    ran: list[Any] = []
    for cls in classes:
        original = cls.backward

        def backward(self: Any, *grads: Any, _original: Any = original) -> Any:
            ran.append(self)
            return _original(self, *grads)

        monkeypatch.setattr(cls, "backward", backward)
    return ran


def test_order_is_the_engines_order(monkeypatch: pytest.MonkeyPatch) -> None:
    x, w, v = leaf(5, 3), leaf(3, 4, seed=1), leaf(5, 1, seed=2)
    a = x @ w  # a feeds three ops: a diamond with a fan-out
    b = a * a
    c = (a + v) / (b + 2.0)
    d = c - a * 0.5
    ex = explain(d)
    nodes = [r.node for r in ex.rows if r.kind == "op"]
    ran = record_engine_order(monkeypatch, {type(n) for n in nodes})
    d.backward(cr.ones(5, 4, dtype=cr.float64))
    assert nodes == ran
    assert len(ran) == 7


def test_branch_step_sits_before_the_producer_and_sums_gradients() -> None:
    x = leaf(4, 3)
    a = x * 2.0
    y = a * a + a  # a is used three times
    ex = explain(y, params={"x": x})
    kinds = [(r.kind, r.op) for r in ex.rows]
    assert kinds == [("op", "Add"), ("op", "Mul"), ("branch", "Branch"), ("op", "Mul"),
                     ("leaf", "AccumulateGrad")]
    branch, producer = ex.rows[2], ex.rows[3]
    assert branch.inputs[0].source == "#4" and branch.inputs[0].step == producer.step
    assert branch.notes == ["#4 is used 3 times (by #1, #2 x2): its gradients add  (Branch)"]
    assert str(branch.rules[0]) == "dx = dx_1 + dx_2 + dx_3  (4,3) = (4,3) + (4,3) + (4,3)"
    # consumers name the Branch as where their gradient goes
    assert [o.source for o in ex.rows[1].inputs] == ["#3", "#3"]
    assert ex.rows[0].inputs[1].source == "#3"
    y.backward(cr.ones(4, 3, dtype=cr.float64))
    ex = explain(y)
    # the Branch's norm is that of the summed gradient: d(a*a + a)/da = 2a + 1
    expected = np.linalg.norm(2 * 2 * x.numpy() + 1)
    assert ex.rows[2].grad_norms[0] == pytest.approx(expected)


def test_leaf_used_twice_gets_a_branch_then_accumulate_grad() -> None:
    x, w = leaf(3), leaf(3, seed=1)
    y = x * w + x
    y.backward(cr.ones(3, dtype=cr.float64))
    ex = explain(y, params={"x": x, "w": w})
    tail = [(r.kind, r.name) for r in ex.rows if r.kind != "op"]
    assert tail == [("branch", "x"), ("leaf", "x"), ("leaf", "w")]
    branch = op_rows(ex, "Branch")[0]
    assert "x is used 2 times" in branch.notes[0]
    assert branch.grad_norms == [None]  # a leaf's summed gradient is its AccumulateGrad's
    acc = {r.name: r for r in op_rows(ex, "AccumulateGrad")}
    assert acc["x"].grad_norms[0] == pytest.approx(np.linalg.norm(w.numpy() + 1))
    assert acc["w"].grad_norms[0] == pytest.approx(np.linalg.norm(x.numpy()))
    assert str(acc["w"].rules[0]) == "w.grad += dw  (3,) = (3,)"


def test_unnamed_leaves_are_numbered_in_forward_order() -> None:
    a, b, c = leaf(2), leaf(2, seed=1), leaf(2, seed=2)
    y = (a * b) + c
    ex = explain(y, params={})
    names = {r.name for r in op_rows(ex, "AccumulateGrad")}
    assert names == {"x0", "x1", "x2"}
    mul = op_rows(ex, "Mul")[0]
    assert [o.source for o in mul.inputs] == ["x0", "x1"]
    assert op_rows(ex, "Add")[0].inputs[1].source == "x2"


def test_rows_are_the_same_before_and_after_backward() -> None:
    x, w, b = leaf(16, 8), leaf(8, 4, seed=1), leaf(4, seed=2)
    y = x @ w + b
    z = y * y
    before = explain(z)
    assert not before.has_norms
    assert "shown after .backward()" in str(before)
    z.backward(cr.ones(16, 4, dtype=cr.float64))
    assert all(r.node.freed for r in before.rows if r.node is not None)  # the graph is freed
    after = explain(z)
    assert without_norms(after) == without_norms(before)
    assert after.has_norms and "shown after" not in str(after)
    # norms: dY of the root is ones; the Add receives d(y*y)/dy = 2y
    assert after.rows[0].grad_norms == [pytest.approx(4.0 * 2)]
    add = op_rows(after, "Add")[0]
    y_val = x.numpy() @ w.numpy() + b.numpy()
    assert add.grad_norms[0] == pytest.approx(np.linalg.norm(2 * y_val))
    leaves = {r.name: r.grad_norms[0] for r in op_rows(after, "AccumulateGrad")}
    assert leaves["x2"] == pytest.approx(np.linalg.norm(b.grad.numpy()))


def test_no_norms_when_the_engine_does_not_record_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "record_grad_norms", False)
    x = leaf(3, 3)
    y = x * x
    y.backward(cr.ones(3, 3, dtype=cr.float64))
    ex = explain(y)
    assert op_rows(ex, "Mul")[0].grad_norms == [None]
    # the leaf's .grad is there all the same
    assert op_rows(ex, "AccumulateGrad")[0].grad_norms[0] == pytest.approx(
        np.linalg.norm(2 * x.numpy()))


def test_user_function_shows_its_backward_docstring() -> None:
    class Cube(cr.autograd.Function):
        shapes = {"x": "(*)", "Y": "(*)"}

        @staticmethod
        def forward(ctx: Any, x: cr.Tensor) -> cr.Tensor:
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx: Any, dy: cr.Tensor) -> cr.Tensor:
            """dx = 3 * x**2 * dy  (*) = (*)(*)"""
            (x,) = ctx.saved_tensors
            return dy * 3 * x * x

    x = leaf(2, 5)
    y = Cube.apply(x)
    ex = explain(y)
    row = ex.rows[0]
    assert (row.op, row.name) == ("Cube", "CubeBackward")
    assert rule_texts(row) == ["dx = 3 * x**2 * dy  (2,5) = (2,5)(2,5)"]


def test_op_with_unbindable_shapes_still_shows_its_rules() -> None:
    class Odd(Op):
        """y = x (with shape documentation explain cannot bind)."""

        shapes = {"x": "(N,M,K)", "Y": "not a shape"}

        def forward(self, x: np.ndarray) -> np.ndarray:
            return x.copy()

        def backward(self, dY: Any) -> Any:
            """dx = dY  (N,M,K) = (N,M,K)
            dx = dY (no shapes on this line)"""
            return dY

    x = leaf(4, 5)
    ex = explain(Odd.apply(x))
    row = ex.rows[0]
    assert [str(r) for r in row.rules] == ["dx = dY  (N,M,K) = (N,M,K)",
                                           "dx = dY (no shapes on this line)"]
    assert not row.rules[0].bound and row.symbols == {}
    str(ex)  # and the table still prints


def test_leaf_and_constant_tensors() -> None:
    x = leaf(3)
    ex = explain(x, params={"x": x})
    assert [(r.kind, r.name) for r in ex.rows] == [("leaf", "x")]
    assert "1 step," in str(ex)
    c = cr.ones(3)
    ex = explain(c * 2.0)
    assert ex.rows == [] and "does not require grad" in str(ex)
    with pytest.raises(TypeError, match="explain: expected a Tensor, got list"):
        explain([1.0])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="params must map names to tensors"):
        explain(x * 2.0, params={"x": 1.0})


# -- the table ------------------------------------------------------------------------------


def test_str_is_an_aligned_table() -> None:
    x, w = leaf(64, 1000), leaf(1000, 10, seed=1)
    loss = x @ w
    loss.backward(cr.ones(64, 10, dtype=cr.float64))
    text = str(explain(loss, params={"x": x, "w": w}))
    lines = text.splitlines()
    header = lines[1]
    assert header.split() == ["#", "op", "inputs", "output", "|dY|", "backward", "rules",
                              "(with", "shapes)"]
    col = header.index("backward rules")
    rule_lines = [ln for ln in lines[3:] if re.search(r"\bd\w+ = |\.grad \+=", ln)]
    assert rule_lines and all(ln.index(ln[col:].lstrip()) == col for ln in rule_lines)
    assert "dB = A.T @ dY  (1000,10) = (1000,64)(64,10)" in text
    assert repr(explain(loss)) == str(explain(loss))


def test_html_table() -> None:
    x = leaf(2, 3)
    y = x * x
    y.backward(cr.ones(2, 3, dtype=cr.float64))
    page = explain(y, params={"<x>": x})._repr_html_()
    assert page.startswith('<table class="chainrule-explain">') and page.endswith("</table>")
    assert page.count("<tr") == 1 + 3  # header, Mul, Branch, AccumulateGrad
    assert '<tr class="branch">' in page and "&lt;x&gt;" in page and "<x>" not in page
    assert ">da = unbroadcast(dY * b, a.shape)  (2,3) = (2,3)(2,3)</code>" in page
    # the same cells as the text table, one line per <br>
    mul = re.search(r'<tr class="op">(.*?)</tr>', page, re.S).group(1)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", mul, re.S)
    assert cells[:4] == ["1", "Mul", "a=&lt;x&gt; (2,3)<br>b=&lt;x&gt; (2,3)", "(2,3)"]
    assert float(cells[4]) == pytest.approx(np.sqrt(6), rel=1e-3)  # printed to 4 digits


# -- the seeds' networks (need the elementwise, reduction, loss ops and cr.nn) ------------------


def test_seed_two_layer_network() -> None:
    """003: Y = relu(X W1) W2, loss = ||Y_pred - Y||_F^2, shapes (64,1000),(1000,100),(100,10)."""
    X = leaf(64, 1000, requires_grad=False)
    W1, W2 = leaf(1000, 100, seed=1), leaf(100, 10, seed=2)
    Y = leaf(64, 10, seed=3, requires_grad=False)
    loss = ((cr.relu(X @ W1) @ W2 - Y) ** 2).sum()
    loss.backward()
    ex = explain(loss, params={"W1": W1, "W2": W2})
    ops = [r.op for r in ex.rows if r.kind == "op"]
    assert ops[-3:] == ["MatMul", "ReLU", "MatMul"]
    second, relu, first = (r for r in ex.rows if r.op in ("MatMul", "ReLU"))
    assert "dA = dY @ B.T  (64,100) = (64,10)(10,100)" in rule_texts(second)
    assert "dB = A.T @ dY  (100,10) = (100,64)(64,10)" in rule_texts(second)
    assert [o.source for o in second.inputs] == [f"#{relu.step}", "W2"]
    assert rule_texts(first) == ["dB = A.T @ dY  (1000,100) = (1000,64)(64,100)"]
    assert first.inputs[0].source is None  # X needs no gradient
    # the norms are those of the seeds' hand-derived gradients
    x, w1, w2, y = X.numpy(), W1.numpy(), W2.numpy(), Y.numpy()
    h = x @ w1
    hr = np.maximum(h, 0)
    g_pred = 2 * (hr @ w2 - y)
    g_hr = g_pred @ w2.T
    assert second.grad_norms[0] == pytest.approx(np.linalg.norm(g_pred))
    assert relu.grad_norms[0] == pytest.approx(np.linalg.norm(g_hr))
    assert first.grad_norms[0] == pytest.approx(np.linalg.norm(g_hr * (h > 0)))
    leaves = {r.name: r.grad_norms[0] for r in op_rows(ex, "AccumulateGrad")}
    assert leaves["W1"] == pytest.approx(np.linalg.norm(x.T @ (g_hr * (h > 0))))
    assert leaves["W2"] == pytest.approx(np.linalg.norm(hr.T @ g_pred))


def test_mlp_with_softmax_cross_entropy_names_module_parameters() -> None:
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(1000, 100), nn.ReLU(), nn.Linear(100, 10))
    x = cr.randn(64, 1000)
    t = cr.tensor(np.arange(64) % 10)
    loss = F.cross_entropy(model(x), t)
    before = explain(loss)
    loss.backward()
    ex = explain(loss)  # names come from the last Module called
    assert without_norms(ex) == without_norms(before)
    assert ex.rows[0].op == "SoftmaxCrossEntropy"
    assert any(re.search(r"\(64,10\)", str(r)) for r in ex.rows[0].rules)
    lin2, lin1 = op_rows(ex, "Linear")
    assert [o.source for o in lin2.inputs][1:] == ["2.weight", "2.bias"]
    assert [o.source for o in lin1.inputs] == [None, "0.weight", "0.bias"]
    assert "dX = dY @ W  (64,100) = (64,10)(10,100)" in rule_texts(lin2)
    assert "dW = dY.T @ X  (100,1000) = (100,64)(64,1000)" in rule_texts(lin1)
    assert "b: (100,) = sum over axis 0 of (64,100)  (Repeat/Sum)" in lin1.notes
    acc = {r.name: r for r in op_rows(ex, "AccumulateGrad")}
    assert set(acc) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    for name, p in model.named_parameters():
        assert acc[name].grad_norms[0] == pytest.approx(np.linalg.norm(p.grad.numpy()))
    # an explicit params dict gives the same names
    assert without_norms(explain(loss, params=dict(model.named_parameters()))) == (
        without_norms(ex))


def test_bilinear_model() -> None:
    cr.manual_seed(0)
    layer = nn.Bilinear(5, 6, 3)
    x1, x2 = cr.randn(8, 5), cr.randn(8, 6)
    y = layer(x1, x2)
    y.sum().backward()
    ex = explain(y, params=layer)
    (row,) = op_rows(ex, "Bilinear")
    assert [o.source for o in row.inputs] == [None, None, "weight", "bias"]
    assert rule_texts(row) == [
        "dA_k = sum_n dy_nk x1_n x2_n^T  (3,5,6) = (8,3)(8,5)(8,6)",
        "db = dY.sum(0)  (3,)",
    ]
    assert row.symbols == {"N": 8, "in1": 5, "in2": 6, "out": 3}
    assert row.grad_norms[0] == pytest.approx(np.sqrt(8 * 3))


def test_linear_without_bias_has_no_bias_rule() -> None:
    model = nn.Linear(3, 4, bias=False)
    y = model(cr.randn(5, 3, requires_grad=True)).sum()
    y.backward()
    row = next(r for r in explain(y).rows if r.op == "Linear")
    assert [r.grad for r in row.rules] == ["dX", "dW"]


def test_batched_linear_folds_batch_dimensions_into_n() -> None:
    """A (2,5,3) input is used as (10,3): the rules show N = 10, not a symbol."""
    x = cr.randn(2, 5, 3, requires_grad=True)
    y = nn.Linear(3, 4)(x).sum()
    y.backward()
    row = next(r for r in explain(y).rows if r.op == "Linear")
    text = {r.grad: str(r) for r in row.rules}
    assert text["dX"].endswith("(10,3) = (10,4)(4,3)")
    assert text["dW"].endswith("(4,3) = (4,10)(10,3)")
