"""cr.distributed's collectives under mpiexec -n 2 and -n 3, against values computed here."""

from __future__ import annotations

import pytest
from mpirun import check_ok, run_mpi

pytest.importorskip("mpi4py")

COLLECTIVES = """
import numpy as np
import chainrule as cr
import chainrule.distributed as dist
from chainrule.distributed import ReduceOp

assert dist.is_available() and not dist.is_initialized()
dist.init_process_group("mpi")
assert dist.is_initialized() and dist.get_backend() == "mpi"
r, n = dist.get_rank(), dist.get_world_size()
assert dist.group.WORLD.size() == n

def check(got, want):
    assert np.array_equal(np.asarray(got), np.asarray(want)), (got, want)

values = [np.array([[1.5, -2.0], [3.0, 0.25]]) * (k + 1) - k for k in range(n)]
mine = values[r]
expected = {
    ReduceOp.SUM: sum(values),
    ReduceOp.AVG: sum(values) / n,
    ReduceOp.MAX: np.maximum.reduce(values),
    ReduceOp.MIN: np.minimum.reduce(values),
    ReduceOp.PRODUCT: np.multiply.reduce(values),
}
for dtype in (cr.float32, cr.float64):
    for op, want in expected.items():
        t = cr.tensor(mine, dtype=dtype)
        version = t._version[0]
        assert dist.all_reduce(t, op=op) is None
        assert t.dtype == dtype and t._version[0] > version
        np.testing.assert_allclose(t.numpy(), want.astype(dtype), rtol=1e-6)

# integers: SUM MAX MIN PRODUCT exactly; bitwise ops; AVG refused
ints = cr.tensor([r + 1, 2 * r - 1, 7])
dist.all_reduce(ints)
check(ints, [sum(k + 1 for k in range(n)), sum(2 * k - 1 for k in range(n)), 7 * n])
b = cr.tensor([1 << r, 3])
dist.all_reduce(b, op=ReduceOp.BOR)
check(b, [(1 << n) - 1, 3])
try:
    dist.all_reduce(cr.tensor([1, 2]), op=ReduceOp.AVG)
    raise AssertionError("AVG on integers should fail")
except TypeError as e:
    assert "AVG" in str(e)

# a non-contiguous tensor is reduced in place too
base = cr.tensor(np.arange(12.0).reshape(3, 4) + r)
view = base.T
dist.all_reduce(view)
check(base, n * np.arange(12.0).reshape(3, 4) + sum(range(n)))

# async: a Work handle
t = cr.tensor([float(r)])
work = dist.all_reduce(t, op=ReduceOp.MAX, async_op=True)
assert work.wait() and work.is_completed()
check(t, [n - 1.0])

# broadcast from every source
for src in range(n):
    t = cr.tensor([r, 10 * r, 100 * r])
    dist.broadcast(t, src=src)
    check(t, [src, 10 * src, 100 * src])
w = dist.broadcast(cr.zeros(2), src=0, async_op=True)
w.wait()

# all_gather
outs = [cr.zeros(2, 3) for _ in range(n)]
dist.all_gather(outs, cr.full((2, 3), float(r)))
for k, o in enumerate(outs):
    check(o, np.full((2, 3), float(k)))

# reduce: the result on dst, the others keep their tensor
for dst in range(n):
    t = cr.tensor([r + 1.0, 2.0])
    dist.reduce(t, dst=dst, op=ReduceOp.SUM)
    check(t, [n * (n + 1) / 2, 2.0 * n] if r == dst else [r + 1.0, 2.0])

dist.barrier()
dist.barrier(async_op=True).wait()

# picklable objects
objects = [None] * n
dist.all_gather_object(objects, {"rank": r, "text": "x" * (r * 100)})
assert objects == [{"rank": k, "text": "x" * (k * 100)} for k in range(n)]
sent = [("from", r), list(range(r + 3))] if r == n - 1 else [None, None]
dist.broadcast_object_list(sent, src=n - 1)
assert sent == [("from", n - 1), list(range(n + 2))], sent

# errors name the op and what was expected
for call, kind, words in [
    (lambda: dist.broadcast(cr.zeros(1), src=n), ValueError, "src"),
    (lambda: dist.all_gather([cr.zeros(2)], cr.zeros(2)), ValueError, "world_size"),
    (lambda: dist.all_gather([cr.zeros(3)] * n, cr.zeros(2)), ValueError, "shape"),
    (lambda: dist.all_reduce([1.0]), TypeError, "Tensor"),
    (lambda: dist.all_reduce(cr.zeros(1), op="mean"), ValueError, "op"),
    (lambda: dist.init_process_group("mpi"), RuntimeError, "twice"),
]:
    try:
        call()
        raise AssertionError(f"expected {kind.__name__} with {words!r}")
    except kind as e:
        assert words in str(e), e

dist.destroy_process_group()
assert not dist.is_initialized()
print(f"OK {r}", flush=True)
"""


@pytest.mark.parametrize("n", [2, 3])
def test_collectives(tmp_path, n):
    check_ok(run_mpi(n, COLLECTIVES, tmp_path), n)


GLOO_ALIAS = """
import os
import chainrule as cr
import chainrule.distributed as dist

# a PyTorch script's env:// settings are ignored under mpiexec: MPI gives rank and size
os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT="29500", RANK="7", WORLD_SIZE="9")
dist.init_process_group("gloo", init_method="env://")
r = dist.get_rank()
assert dist.get_world_size() == 2 and dist.get_backend() == "gloo"
t = cr.ones(3)
dist.all_reduce(t)
assert t.tolist() == [2.0, 2.0, 2.0]
try:
    dist.destroy_process_group()
    dist.init_process_group("mpi", world_size=5)
    raise AssertionError("a world_size that is not MPI's must be refused")
except ValueError as e:
    assert "world_size=5" in str(e)
print(f"OK {r}", flush=True)
"""


def test_gloo_is_an_alias_and_env_is_ignored(tmp_path):
    check_ok(run_mpi(2, GLOO_ALIAS, tmp_path), 2)
