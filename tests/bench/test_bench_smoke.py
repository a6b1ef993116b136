"""The benchmark suite runs, and computes the same thing in every library (never timed).

Every workload runs once on tiny sizes; the losses of chainrule (and PyTorch, when
installed) must equal the hand-written NumPy reference's step by step, and the reference
itself is checked against finite differences so that the three cannot agree on a wrong
answer. No assertion here depends on how fast anything runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import run as bench_run  # noqa: E402
from bench import workloads as W  # noqa: E402
from bench.reference_numpy import NumpyMLP, chain_forward_backward  # noqa: E402

MLP_WORKLOADS = ["mlp_784", "mlp_tiny", "mlp_digits", "memory"]


def test_every_workload_is_known_to_the_runner() -> None:
    assert set(bench_run.WORKLOAD_NAMES) == set(W.WORKLOADS)


@pytest.mark.parametrize("name", MLP_WORKLOADS)
def test_chainrule_losses_equal_numpy(name: str) -> None:
    steps = W.make_mlp_steps(W.WORKLOADS[name].quick, ["numpy", "chainrule"])
    result = W.check_mlp(steps, 3)
    assert result["match"], result
    losses = result["losses"]
    assert len(losses["chainrule"]) == 3
    assert losses["numpy"][0] != losses["numpy"][2]  # the weights did change


@pytest.mark.parametrize("name", MLP_WORKLOADS)
def test_torch_losses_equal_numpy(name: str) -> None:
    pytest.importorskip("torch")
    steps = W.make_mlp_steps(W.WORKLOADS[name].quick, ["numpy", "torch"])
    result = W.check_mlp(steps, 3)
    assert result["match"], result


def test_loss_check_detects_a_different_computation() -> None:
    spec = W.WORKLOADS["mlp_tiny"].quick
    steps = W.make_mlp_steps(spec, ["numpy", "chainrule"])
    other = W.make_mlp_steps(W.MLPSpec(spec.sizes, spec.batch, spec.loss, lr=0.5,
                                       n_batches=spec.n_batches), ["numpy"])["numpy"]
    result = W.check_mlp({"numpy": steps["numpy"], "chainrule": other}, 3)
    assert not result["match"]
    assert result["max_rel_diff"]["chainrule"] > W.LOSS_RTOL


@pytest.mark.parametrize("loss", ["ce", "mse"])
def test_numpy_reference_gradients_match_finite_differences(loss: str) -> None:
    """In float64, one step of the reference with momentum 0 moves each parameter by
    -lr * gradient; that gradient must equal the central difference of its loss."""
    spec = W.MLPSpec((3, 5, 4), 6, loss, n_batches=1)
    weights, batches = W.make_mlp_problem(spec, seed=1)
    weights = [(w.astype(np.float64), b.astype(np.float64)) for w, b in weights]
    x, t = batches[0]
    x = x.astype(np.float64)
    t = t if loss == "ce" else t.astype(np.float64)
    lr = 0.5

    def loss_at(ws: list[tuple[np.ndarray, np.ndarray]]) -> float:
        return float(NumpyMLP(ws, loss, lr, 0.0).step(x, t))

    model = NumpyMLP(weights, loss, lr, 0.0)
    model.step(x, t)
    eps = 1e-6
    for layer, (W0, b0) in enumerate(weights):
        for which, p0, p1 in (("W", W0, model.W[layer]), ("b", b0, model.b[layer])):
            analytic = (p0 - p1) / lr
            numeric = np.zeros_like(p0)
            for idx in np.ndindex(p0.shape):
                plus = [(w.copy(), b.copy()) for w, b in weights]
                minus = [(w.copy(), b.copy()) for w, b in weights]
                k = 0 if which == "W" else 1
                plus[layer][k][idx] += eps
                minus[layer][k][idx] -= eps
                numeric[idx] = (loss_at(plus) - loss_at(minus)) / (2 * eps)
            np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7,
                                       err_msg=f"layer {layer} {which} ({loss})")


def test_numpy_reference_keeps_float32() -> None:
    weights, batches = W.make_mlp_problem(W.WORKLOADS["mlp_digits"].quick)
    model = NumpyMLP(weights, "ce", 0.01, 0.9)
    loss = model.step(*batches[0])
    assert loss.dtype == np.float32
    assert all(a.dtype == np.float32 for a in model.W + model.b + model.vW + model.vb)


def test_numpy_chain_backward_is_the_product_of_multipliers() -> None:
    x, pairs = W.make_chain_problem(W.ChainSpec(40))
    y, g = chain_forward_backward(x, pairs, np.ones_like(x))
    expected = np.prod(np.stack([a for a, _ in pairs]), axis=0)
    np.testing.assert_array_equal(g, expected)
    assert y.dtype == g.dtype == np.float32


@pytest.mark.parametrize("name", ["per_op", "chain_100k"])
def test_chain_outputs_and_gradients_equal_numpy(name: str) -> None:
    libs = W.available_libs()
    result = W.check_chain(W.WORKLOADS[name].quick, libs)
    assert result["match"], result
    assert set(result["max_rel_diff"]) == set(libs) - {"numpy"}
    assert all(d == 0.0 for d in result["max_rel_diff"].values())  # bit-identical


def test_chain_of_20000_ops_needs_no_recursion() -> None:
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)
    try:
        runs = W.make_chain_runs(W.ChainSpec(20_000), ["chainrule"])
        y, g = runs["chainrule"]()
    finally:
        sys.setrecursionlimit(limit)
    assert g.shape == (8,) and np.all(np.abs(g.numpy()) == 1)


def test_interleave_gives_one_sample_per_round_and_library() -> None:
    calls: list[str] = []
    fns = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}
    times = W.interleave(fns, rounds=3, inner=2)
    assert {k: len(v) for k, v in times.items()} == {"a": 3, "b": 3}
    assert calls == ["a", "a", "b", "b", "b", "b", "a", "a", "a", "a", "b", "b"]
    s = W.summarize([3.0, 1.0, 2.0])
    assert (s["median"], s["min"], s["max"], s["n"]) == (2.0, 1.0, 3.0, 3)


@pytest.mark.parametrize("lib", ["numpy", "chainrule"])
def test_memory_tracemalloc_quick(lib: str) -> None:
    spec = W.WORKLOADS["memory"].quick
    res = W.measure_memory(spec, lib, "tracemalloc", n_steps=2)
    assert res["peak_bytes"] > 0
    ref = W.make_mlp_steps(spec, ["numpy"])["numpy"]
    expected = [ref().item() for _ in range(2)]
    np.testing.assert_allclose(res["losses"], expected, rtol=W.LOSS_RTOL)


def test_memory_rejects_tracemalloc_for_torch() -> None:
    with pytest.raises(ValueError, match="tracemalloc"):
        W.measure_memory(W.WORKLOADS["memory"].quick, "torch", "tracemalloc")


def test_quick_run_end_to_end(tmp_path: Path) -> None:
    """`bench.run.main --quick`: every workload in worker processes, a table and JSON."""
    out = tmp_path / "r.json"
    rc = bench_run.main(["--quick", "--no-torch", "--json", str(out)])
    assert rc == 0
    report = json.loads(out.read_text())
    assert report["ok"] and report["settings"]["quick"]
    assert report["machine"]["cpu"]
    rows = {row["workload"]: row for row in report["rows"]}
    assert set(rows) == {"mlp_784", "mlp_tiny", "mlp_digits", "per_op", "chain_short",
                         "chain_100k", "memory_rss", "memory_tracemalloc", "memory_rss_20"}
    for name, row in rows.items():
        assert "error" not in row, row
        assert set(row["stats"]) == {"numpy", "chainrule"}, name
        assert row["ratios"]["torch"] is None
        if name != "chain_short":
            assert row["match"]["match"], name
    for job in report["jobs"]:  # thread counts were fixed in the worker's environment
        assert job["env"]["env"]["OPENBLAS_NUM_THREADS"] == "1"
        blas = [p for p in job["env"]["threadpools"] if p["user_api"] == "blas"]
        assert all(p["num_threads"] == 1 for p in blas)
    md = out.with_suffix(".md").read_text()
    header = next(line for line in md.splitlines() if line.startswith("| workload"))
    cols = [c.strip() for c in header.strip("|").split("|")]
    assert cols.index("chainrule / numpy") < cols.index("numpy")  # ratios first
    assert "Quick mode" in md


def test_bad_arguments_give_one_line_and_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_run.main(["--threads", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--threads" in err[0]
    assert bench_run.main(["--workload", "nope"]) == 2
    assert "nope" in capsys.readouterr().err


def test_child_environment_fixes_thread_counts() -> None:
    env = bench_run._child_env(2)
    assert all(env[v] == "2" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                       "MKL_NUM_THREADS"))
    assert str(REPO) in env["PYTHONPATH"].split(os.pathsep)


@pytest.mark.parametrize("cmd", [["-m", "bench.run"], ["bench/run.py"]])
def test_entry_points_run(cmd: list[str]) -> None:
    proc = subprocess.run([sys.executable, *cmd, "--help"], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "--quick" in proc.stdout


def test_profile_breakdown_names_the_parts_and_removes_its_timers() -> None:
    from bench import profile_step
    from chainrule.autograd.function import Op

    apply_before = Op.__dict__["apply"]
    res = profile_step.profile_workload("mlp_tiny", calls=2, repeats=1)
    assert Op.__dict__["apply"] is apply_before
    parts = res["parts"]
    for label in ("engine", "optimizer.step", "forward Linear", "backward Linear",
                  "record Linear", "forward: Python outside ops"):
        assert label in parts, sorted(parts)
    assert res["calls"]["forward Linear"] == 3  # three layers per step
    assert "| part |" in profile_step.format_breakdown("mlp_tiny", res)


def test_update_readme_replaces_only_the_marked_table(tmp_path) -> None:
    from bench.run import README_BEGIN, README_END, _write_readme_table

    a, b = tmp_path / "a.md", tmp_path / "b.md"
    a.write_text(f"intro\n{README_BEGIN}\nold\n{README_END}\noutro\n")
    b.write_text(f"{README_BEGIN}\n{README_END}\n")
    _write_readme_table("| new |\n", (a, b))
    assert a.read_text() == f"intro\n{README_BEGIN}\n| new |\n{README_END}\noutro\n"
    assert b.read_text() == f"{README_BEGIN}\n| new |\n{README_END}\n"
    (tmp_path / "c.md").write_text("no markers")
    with pytest.raises(RuntimeError, match="has no"):
        _write_readme_table("x", (tmp_path / "c.md",))
