"""``chainrule eval``, ``gradcheck``, ``graph`` and ``bench``."""

from __future__ import annotations

import csv
import sys

import pytest

import chainrule as cr
from chainrule.cli import bench as bench_command
from chainrule.cli import gradcheck as gradcheck_command

REQUIRED_OPS = (
    "add sub mul div neg reciprocal pow exp log sqrt abs sin cos tanh sigmoid relu clamp "
    "maximum minimum where sum mean var std max min amax amin logsumexp prod reshape flatten "
    "squeeze unsqueeze transpose permute expand cat stack getitem matmul mm bmm outer einsum "
    "linear bilinear softmax log_softmax cross_entropy nll_loss mse_loss binary_cross_entropy "
    "binary_cross_entropy_with_logits leaky_relu batch_norm l1_loss dropout cross_entropy_probs "
    "cross_entropy_smoothing"
).split()


# ------------------------------------------------------------------------------ eval


def test_eval_reproduces_the_last_epochs_test_accuracy(cli, tmp_path):
    code, _, _ = cli("train", "--epochs", "2", "--hidden", "16", "--no-progress", "--out", tmp_path)
    assert code == 0
    with open(tmp_path / "metrics.csv", newline="") as f:
        last = list(csv.DictReader(f))[-1]
    code, out, err = cli("eval", "--checkpoint", tmp_path / "checkpoint.ckpt")
    assert code == 0, err
    assert "MLP 64-16-10 (relu) on digits, epoch 2" in out
    assert (
        f"test loss {float(last['test_loss']):.4f}  test acc {100 * float(last['test_acc']):.2f}%"
        "  (355 samples)"
    ) in out

    code, out, _ = cli("eval", "--checkpoint", tmp_path, "--split", "train", "--batch-size", "7")
    assert code == 0
    assert "train acc" in out and "(1442 samples)" in out


def test_eval_uses_the_given_data_root(cli, tmp_path, mnist_writer):
    first = mnist_writer(tmp_path / "first", n_train=20, n_test=10)
    assert cli("train", "--dataset", "mnist", "--data-root", first, "--epochs", "1",
               "--hidden", "8", "--no-progress", "--out", tmp_path / "run")[0] == 0
    moved = mnist_writer(tmp_path / "moved", n_train=20, n_test=30, seed=1)
    first.rename(tmp_path / "gone")
    code, _, err = cli("eval", "--checkpoint", tmp_path / "run")
    assert code == 1 and "--data-root" in err  # the training folder is gone
    code, out, err = cli("eval", "--checkpoint", tmp_path / "run", "--data-root", moved)
    assert code == 0, err
    assert "(30 samples)" in out


# ------------------------------------------------------------------------- gradcheck


def test_the_registry_covers_every_built_in_op():
    names = [case.name for case in gradcheck_command.OPS]
    assert sorted(set(REQUIRED_OPS) - set(names)) == []
    assert len(names) == len(set(names))
    for case in gradcheck_command.OPS:
        x = [cr.ones(*shape, dtype=cr.float64) for shape in case.shapes]
        assert case.fn(*x).dtype == cr.float64, case.name


def _op_classes() -> list[type]:
    def walk(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from walk(sub)

    return [c for c in set(walk(cr.autograd.Op))
            if c.__module__.startswith("chainrule.") and c.backward is not cr.autograd.Op.backward]


def test_every_differentiable_op_of_the_library_has_a_row():
    # ops found at run time, so ops added later are covered too (or named in NOT_CHECKED)
    seen = set()
    for case in gradcheck_command.OPS:
        seen.update(gradcheck_command.node_names(case))
    missing = sorted(
        c.__name__ for c in _op_classes()
        if c.__name__ not in gradcheck_command.NOT_CHECKED
        and not any(k.__name__ in seen for k in [c, *c.__subclasses__()])
    )
    assert missing == [], "add an OpCase to cli/gradcheck.py OPS for: " + ", ".join(missing)


def test_op_selection_accepts_the_names_explain_prints(cli):
    select = gradcheck_command.select
    assert [c.name for c in select(["Linear"])] == ["linear"]
    assert [c.name for c in select(["linear", "Linear"])] == ["linear"]
    assert "leaky_relu" in [c.name for c in select(["LeakyReLU"])]
    code, out, err = cli("gradcheck", "--op", "NoSuchOp")
    assert code == 2
    assert "NoSuchOp" in out + err and "Linear" in out + err


def test_gradcheck_passes_and_prints_a_table(cli):
    code, out, err = cli("gradcheck")
    assert code == 0, out + err
    lines = out.splitlines()
    assert lines[0].split() == ["op", "shapes", "max", "abs", "error", "ok"]
    rows = {line.split()[0]: line.split() for line in lines[2:] if line and line[0] != " "}
    for name in REQUIRED_OPS:
        assert rows[name][-1] == "ok", rows[name]
        assert float(rows[name][-2]) < 1e-6
    assert rows["bilinear"][1:5] == ["(3,2)", "(3,4)", "(5,2,4)", "(5,)"]
    assert lines[-1].endswith("all ok")


def test_gradcheck_second_order_and_op_selection(cli):
    code, out, _ = cli("gradcheck", "--op", "tanh", "--op", "bilinear", "--second-order")
    assert code == 0
    rows = [line.split() for line in out.splitlines()[2:4]]
    assert [row[0] for row in rows] == ["tanh", "bilinear"]
    assert all(row[-2:] == ["ok", "ok"] for row in rows)
    assert "2 ops checked" in out


class _WrongSquare(cr.autograd.Function):
    """x ** 2 with the backward 1 * x instead of 2 * x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * x


def test_gradcheck_reports_a_wrong_backward_and_exits_1(cli, monkeypatch):
    wrong = gradcheck_command.OpCase("wrong_square", _WrongSquare.apply, ((3,),), 0.5, 2.0)
    cases = [*gradcheck_command.OPS[:2], wrong]
    monkeypatch.setattr(gradcheck_command, "OPS", cases)
    code, out, _ = cli("gradcheck")
    assert code == 1
    row = next(line for line in out.splitlines() if line.startswith("wrong_square"))
    assert row.split()[-1] == "FAIL"
    assert float(row.split()[-2]) > 0.4  # |2x - x| = x >= 0.5
    assert "1 failed" in out
    assert "wrong_square: GradcheckError: gradcheck: Jacobian mismatch" in out


def test_gradcheck_reports_an_op_that_raises(cli, monkeypatch):
    def broken(x):
        raise ValueError("broken op")

    case = gradcheck_command.OpCase("broken", broken, ((2,),))
    monkeypatch.setattr(gradcheck_command, "OPS", [case])
    code, out, _ = cli("gradcheck")
    assert code == 1
    assert "broken: ValueError: broken op" in out


# ----------------------------------------------------------------------------- graph


def test_graph_writes_the_dot_source(cli, tmp_path):
    code, out, err = cli("graph", "--out", tmp_path, "--format", "dot", "--batch-size", "4")
    assert code == 0, err
    dot = (tmp_path / "graph.dot").read_text()
    assert dot.lstrip().startswith("digraph")
    for name in ("1.weight", "1.bias", "3.weight", "3.bias"):
        assert name in dot
    assert f"wrote {tmp_path / 'graph.dot'}" in out


def test_graph_default_format_writes_dot_and_svg_when_graphviz_is_installed(cli, tmp_path):
    import shutil

    code, out, _ = cli("graph", "--out", tmp_path, "--hidden", "8,8", "--activation", "tanh")
    assert code == 0
    assert (tmp_path / "graph.dot").is_file()
    assert (tmp_path / "graph.svg").is_file() == (shutil.which("dot") is not None)


# ----------------------------------------------------------------------------- bench


def test_bench_hands_its_arguments_to_the_runner(cli, tmp_path, monkeypatch):
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "__init__.py").write_text("")
    (tmp_path / "bench" / "run.py").write_text(
        "def main(argv):\n    print('bench got', argv)\n    return 3\n"
    )
    monkeypatch.setattr(bench_command, "_candidates", lambda: [tmp_path])
    monkeypatch.setattr(sys, "path", list(sys.path))
    saved = {name: sys.modules.pop(name, None) for name in ("bench", "bench.run")}
    try:
        code, out, _ = cli("bench", "--quick", "--filter", "mlp")
    finally:  # forget the fake package, bring back the real one if it was imported
        for name, module in saved.items():
            sys.modules.pop(name, None)
            if module is not None:
                sys.modules[name] = module
    assert code == 3
    assert out.strip() == "bench got ['--quick', '--filter', 'mlp']"


def test_bench_without_the_repository(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(bench_command, "_candidates", lambda: [tmp_path])
    code, out, err = cli("bench")
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("chainrule: error: the benchmarks live in")


def test_bench_help_of_the_real_runner(cli):
    if bench_command.find_repository() is None:
        pytest.skip("not run from a source checkout")
    code, out, _ = cli("bench", "--help")
    assert code == 0
    assert "usage:" in out
