"""DistributedDataParallel under mpiexec: N processes with batch B train as one with N*B."""

from __future__ import annotations

import pytest
from mpirun import check_ok, run_mpi

import chainrule as cr
from chainrule import nn
from chainrule.nn.parallel import DistributedDataParallel

pytest.importorskip("mpi4py")

COMMON = """
import numpy as np
import chainrule as cr
from chainrule import nn
import chainrule.distributed as dist
from chainrule.nn.parallel import DistributedDataParallel as DDP

dist.init_process_group("mpi")
r, n = dist.get_rank(), dist.get_world_size()
cr.set_default_dtype(cr.float64)
F = nn.functional

def mlp(seed):
    cr.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 32), nn.Tanh(), nn.Linear(32, 32), nn.ReLU(),
                         nn.Linear(32, 4))

def max_diff(a, b):
    return max(float((p.data - q.data).abs().max())
               for p, q in zip(a.parameters(), b.parameters()))
"""

EQUIVALENCE = COMMON + """
B, STEPS = 5, 6
rng = np.random.default_rng(0)
X = rng.standard_normal((STEPS, n * B, 6))
Y = rng.integers(0, 4, (STEPS, n * B))

for cap, optim in [(None, "sgd"), (0.002, "sgd"), (1e-6, "adam")]:
    model = mlp(100 + r)  # a different initialisation on every rank ...
    ddp = DDP(model, bucket_cap_mb=cap)
    reference = mlp(100)  # ... and DDP broadcasts rank 0's
    assert max_diff(model, reference) == 0.0
    if cap == 1e-6:
        assert len(ddp._buckets) == 6  # one parameter per bucket
    launched = []
    finish = ddp._finish_backward
    def spy(finish=finish, ddp=ddp):
        launched.append(ddp._next_bucket)  # buckets started during backward
        finish()
    ddp.__dict__["_finish_backward"] = spy

    def make(params):
        if optim == "sgd":
            return cr.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=1e-3)
        return cr.optim.Adam(params, lr=1e-2)
    opt, ref_opt = make(ddp.parameters()), make(reference.parameters())
    for s in range(STEPS):
        mine = slice(r * B, (r + 1) * B)
        loss = F.cross_entropy(ddp(cr.tensor(X[s, mine])), cr.tensor(Y[s, mine]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        ref_loss = F.cross_entropy(reference(cr.tensor(X[s])), cr.tensor(Y[s]))
        ref_opt.zero_grad()
        ref_loss.backward()
        ref_opt.step()
    err = max_diff(model, reference)
    assert err < 1e-12, (cap, optim, err)
    # every bucket was started from the hooks, during backward
    assert launched == [len(ddp._buckets)] * STEPS, launched

    # the replicas are equal, bit for bit
    gathered = [cr.zeros(model[0].weight.shape) for _ in range(n)]
    dist.all_gather(gathered, model[0].weight.detach())
    assert all(np.array_equal(g.numpy(), gathered[0].numpy()) for g in gathered)

# the wrapper: .module, state_dict keys with module., train/eval reach the module
assert ddp.module is model
assert list(ddp.state_dict()) == ["module." + k for k in model.state_dict()]
ddp.eval()
assert not model.training
print(f"OK {r}", flush=True)
"""


@pytest.mark.parametrize("n", [2, 3])
def test_n_processes_train_as_one_with_the_whole_batch(tmp_path, n):
    check_ok(run_mpi(n, EQUIVALENCE, tmp_path), n)


FEATURES = COMMON + """
B = 4
rng = np.random.default_rng(1)
X = rng.standard_normal((3, n * B, 6))
Y = rng.integers(0, 4, (3, n * B))
mine = slice(r * B, (r + 1) * B)

# no_sync: gradients accumulate locally; the next synced backward averages the sum
model, reference = mlp(7), mlp(7)
ddp = DDP(model)
with ddp.no_sync():
    for s in range(2):
        F.cross_entropy(ddp(cr.tensor(X[s, mine])), cr.tensor(Y[s, mine])).backward()
local = model[0].weight.grad.numpy().copy()
others = [cr.zeros(local.shape) for _ in range(n)]
dist.all_gather(others, cr.tensor(local))
assert not np.allclose(others[0].numpy(), others[1].numpy())  # not reduced
F.cross_entropy(ddp(cr.tensor(X[2, mine])), cr.tensor(Y[2, mine])).backward()
for s in range(3):
    F.cross_entropy(reference(cr.tensor(X[s])), cr.tensor(Y[s])).backward()
for p, q in zip(model.parameters(), reference.parameters()):
    np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12, atol=1e-14)

# BatchNorm: rank 0's buffers are broadcast at the start of each forward
cr.manual_seed(3)
net = nn.Sequential(nn.Linear(6, 5), nn.BatchNorm1d(5))
bn = net[1]
ddp = DDP(net)
bn.running_mean.data[...] = float(r)  # diverged replicas ...
bn.num_batches_tracked.data[...] = 10 * r
x = cr.tensor(X[0, mine])
ddp(x).sum().backward()  # ... rank 0's buffers, then this rank's batch
h = net[0](x).detach().numpy()
np.testing.assert_allclose(bn.running_mean.numpy(), 0.9 * 0.0 + 0.1 * h.mean(axis=0),
                           rtol=1e-12)
assert int(bn.num_batches_tracked.item()) == 1
cr.manual_seed(3)
net = nn.Sequential(nn.Linear(6, 5), nn.BatchNorm1d(5))  # (one DDP per module)
bn = net[1]
kept = DDP(net, broadcast_buffers=False)  # construction broadcasts once ...
bn.running_mean.data[...] = float(r)
kept(x)  # ... but forward does not
assert np.allclose(bn.running_mean.numpy(), 0.9 * r + 0.1 * h.mean(axis=0))

# unused parameters: an error naming them, or find_unused_parameters=True
class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(6, 3)
        self.b = nn.Linear(6, 3)
        self.never = nn.Linear(6, 3)
    def forward(self, x, use_b):
        return self.a(x) + (self.b(x) if use_b else 0)

cr.manual_seed(4)
branchy = Branchy()
ddp = DDP(branchy)
x = cr.tensor(X[0, mine])
try:
    ddp(x, True).sum().backward()
    raise AssertionError("unused parameters must be an error")
except RuntimeError as e:
    assert "never.weight" in str(e) and "find_unused_parameters" in str(e), e
cr.manual_seed(4)
branchy = Branchy()
ddp = DDP(branchy, find_unused_parameters=True)
ddp(x, r == 0).sum().backward()  # b is used on rank 0 only, never on no rank
assert branchy.never.weight.grad is None
want_b = np.tile(X[0, 0:B].sum(axis=0), (3, 1)) / n  # rank 0's gradient, averaged
np.testing.assert_allclose(branchy.b.weight.grad.numpy(), want_b, rtol=1e-12)
want_a = np.tile(X[0].sum(axis=0), (3, 1)) / n
np.testing.assert_allclose(branchy.a.weight.grad.numpy(), want_a, rtol=1e-12)
print(f"OK {r}", flush=True)
"""


def test_no_sync_buffers_and_unused_parameters(tmp_path):
    check_ok(run_mpi(2, FEATURES, tmp_path), 2)


MISMATCH = COMMON + """
model = mlp(0) if r == 0 else nn.Sequential(nn.Linear(6, 3))
try:
    DDP(model)
    raise AssertionError("different models must be refused")
except RuntimeError as e:
    assert "different model" in str(e), e
print(f"OK {r}", flush=True)
"""


def test_different_models_are_refused(tmp_path):
    check_ok(run_mpi(2, MISMATCH, tmp_path), 2)


def test_needs_a_process_group():
    with pytest.raises(ValueError, match="init_process_group"):
        DistributedDataParallel(nn.Linear(2, 2))
    with pytest.raises(TypeError, match="nn.Module"):
        DistributedDataParallel(cr.zeros(2))


def test_buckets_follow_pytorchs_rule():
    params = [nn.Parameter(cr.zeros(n)) for n in (1000, 2000, 300_000, 10, 10)]
    make = DistributedDataParallel._make_buckets
    # reverse order; a bucket closes once it holds the cap (the first at 1 MB by default)
    buckets = make(params, cap=25 * 2**20, first_cap=2**20)
    assert [[id(p) for p in b.params] for b in buckets] == [
        [id(params[4]), id(params[3]), id(params[2])], [id(params[1]), id(params[0])]]
    one_each = make(params, cap=1)
    assert [len(b.params) for b in one_each] == [1] * 5
    mixed = make([nn.Parameter(cr.zeros(3, dtype=cr.float64)), *params[:2]], cap=2**20)
    assert sorted(b.buffer.dtype.name for b in mixed) == ["float32", "float64"]
