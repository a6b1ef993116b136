"""cr.distributions against torch.distributions in float64: log_prob, entropy, moments
and their gradients; gradcheck through log_prob and rsample; samples; validation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import distributions as D
from tests.opcheck import torch

rng = np.random.default_rng(0)
LOC = rng.standard_normal((2, 3))
SCALE = rng.uniform(0.5, 2.0, (2, 3))
P = rng.uniform(0.1, 0.9, (2, 3))
LOGITS = rng.standard_normal((2, 4))
A = rng.standard_normal((2, 3, 3))
COV = A @ np.swapaxes(A, -1, -2) + 3 * np.eye(3)
MLOC = rng.standard_normal((2, 3))

# name -> (constructor(lib, *params), params, value)
CASES: dict[str, tuple[Any, tuple[np.ndarray, ...], np.ndarray]] = {
    "normal": (lambda d, m, s: d.Normal(m, s), (LOC, SCALE), rng.standard_normal((4, 2, 3))),
    "normal_broadcast": (lambda d, m, s: d.Normal(m, s), (LOC[0], SCALE[:, :1]),
                         rng.standard_normal((2, 3))),
    "uniform": (lambda d, lo, hi: d.Uniform(lo, hi), (LOC, LOC + SCALE),
                LOC + 0.5 * SCALE),
    "bernoulli_probs": (lambda d, p: d.Bernoulli(probs=p), (P,), np.array([[0.0, 1, 1],
                                                                          [1, 0, 0]])),
    "bernoulli_logits": (lambda d, lg: d.Bernoulli(logits=lg), (LOC,),
                         np.array([[0.0, 1, 1], [1, 0, 0]])),
    "categorical_probs": (lambda d, p: d.Categorical(probs=p), (np.exp(LOGITS),),
                          np.array([[0, 3], [2, 1], [1, 1]])),
    "categorical_logits": (lambda d, lg: d.Categorical(logits=lg), (LOGITS,),
                           np.array([3, 0])),
    "mvn_cov": (lambda d, m, c: d.MultivariateNormal(m, covariance_matrix=c), (MLOC, COV),
                rng.standard_normal((5, 2, 3))),
    "mvn_precision": (lambda d, m, c: d.MultivariateNormal(m, precision_matrix=c),
                      (MLOC, COV), rng.standard_normal((2, 3))),
    "mvn_scale_tril": (lambda d, m, c: d.MultivariateNormal(m, scale_tril=c),
                       (MLOC, np.linalg.cholesky(COV)), rng.standard_normal((4, 1, 3))),
    "mvn_shared_cov": (lambda d, m, c: d.MultivariateNormal(m, covariance_matrix=c),
                       (MLOC, COV[0]), rng.standard_normal((2, 3))),
}
SYMMETRIC = {"mvn_cov", "mvn_precision", "mvn_shared_cov"}


def _make(lib: Any, name: str, params: tuple[Any, ...]) -> Any:
    make, _, _ = CASES[name]
    if name in SYMMETRIC:  # keep the matrix symmetric under perturbation
        params = (*params[:-1], (params[-1] + params[-1].mT) * 0.5)
    if name == "mvn_scale_tril":
        params = (*params[:-1], params[-1] * lib.tensor(np.tril(np.ones((3, 3)))))
    return make(lib.distributions, *params)


def _value(lib: Any, name: str) -> Any:
    v = CASES[name][2]
    return lib.tensor(v) if "categorical" not in name else lib.tensor(v, dtype=lib.int64)


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch(name: str) -> None:
    if torch is None:
        pytest.skip("torch not installed")
    params = CASES[name][1]
    cps = [cr.tensor(p, requires_grad=True) for p in params]
    tps = [torch.tensor(p, requires_grad=True) for p in params]
    cd, td = _make(cr, name, cps), _make(torch, name, tps)
    assert tuple(cd.batch_shape) == tuple(td.batch_shape)
    assert tuple(cd.event_shape) == tuple(td.event_shape)
    clp, tlp = cd.log_prob(_value(cr, name)), td.log_prob(_value(torch, name))
    np.testing.assert_allclose(clp.detach().numpy(), tlp.detach().numpy(), rtol=1e-11)
    cent, tent = cd.entropy(), td.entropy()
    np.testing.assert_allclose(cent.detach().numpy(), tent.detach().numpy(), rtol=1e-11)
    for attr in ("mean", "variance", "stddev"):
        a, b = getattr(cd, attr), getattr(td, attr)
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-11,
                                   err_msg=attr)
    for attr in ("probs", "logits", "covariance_matrix", "precision_matrix", "scale_tril"):
        if hasattr(td, attr) and not (attr in ("probs", "logits") and "mvn" in name):
            a, b = getattr(cd, attr), getattr(td, attr)
            np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10,
                                       atol=1e-14, err_msg=attr)
    cw = np.random.default_rng(1).standard_normal(tuple(clp.shape))
    ew = np.random.default_rng(2).standard_normal(tuple(cent.shape))
    closs = (clp * cr.tensor(cw)).sum() + (cent * cr.tensor(ew)).sum()
    tloss = (tlp * torch.tensor(cw)).sum() + (tent * torch.tensor(ew)).sum()
    cgrads = cr.autograd.grad(closs, cps)
    tgrads = torch.autograd.grad(tloss, tps)
    for i, (g, tg) in enumerate(zip(cgrads, tgrads, strict=True)):
        np.testing.assert_allclose(g.numpy(), tg.numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=f"gradient of parameter {i}")


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradcheck_log_prob_and_entropy(name: str) -> None:
    params = [cr.tensor(p, requires_grad=True) for p in CASES[name][1]]
    value = _value(cr, name)

    def f(*ps: Any) -> Any:
        d = _make(cr, name, ps)
        return d.log_prob(value).sum() + d.entropy().sum()

    assert cr.autograd.gradcheck(f, params, atol=1e-5, rtol=1e-3)
    if "uniform" not in name:
        assert cr.autograd.gradgradcheck(f, params, atol=1e-5, rtol=1e-3)


@pytest.mark.parametrize("name", ["normal", "normal_broadcast", "uniform", "mvn_cov",
                                  "mvn_precision", "mvn_scale_tril"])
def test_rsample_is_differentiable(name: str) -> None:
    params = [cr.tensor(p, requires_grad=True) for p in CASES[name][1]]

    def f(*ps: Any) -> Any:
        cr.manual_seed(7)  # the same noise at every evaluation
        return _make(cr, name, ps).rsample((3,))

    assert cr.autograd.gradcheck(f, params, atol=1e-5, rtol=1e-3)
    cr.manual_seed(7)
    s = _make(cr, name, params).rsample((3,))
    cr.manual_seed(7)
    t = _make(cr, name, params).sample((3,))
    np.testing.assert_array_equal(s.detach().numpy(), t.numpy())
    assert s.requires_grad and not t.requires_grad


def test_rsample_reparameterisation_normal() -> None:
    loc = cr.tensor([1.0, -2.0], requires_grad=True)
    scale = cr.tensor([0.5, 3.0], requires_grad=True)
    cr.manual_seed(0)
    x = D.Normal(loc, scale).rsample((4,))
    x.sum().backward()
    np.testing.assert_allclose(loc.grad.numpy(), [4.0, 4.0])
    eps = (x.detach().numpy() - loc.detach().numpy()) / scale.detach().numpy()
    np.testing.assert_allclose(scale.grad.numpy(), eps.sum(0))


def test_sample_statistics_and_shapes() -> None:
    cr.manual_seed(0)
    n = D.Normal(cr.tensor([1.0, -1.0]), cr.tensor([2.0, 0.5]))
    s = n.sample((20000,))
    assert tuple(s.shape) == (20000, 2)
    np.testing.assert_allclose(s.numpy().mean(0), [1.0, -1.0], atol=0.05)
    np.testing.assert_allclose(s.numpy().std(0), [2.0, 0.5], rtol=0.03)
    c = D.Categorical(probs=cr.tensor([[0.2, 0.5, 0.3], [1.0, 0.0, 0.0]]))
    cs = c.sample((20000,)).numpy()
    assert cs.shape == (20000, 2) and cs.dtype == np.int64
    np.testing.assert_allclose(np.bincount(cs[:, 0], minlength=3) / 20000, [0.2, 0.5, 0.3],
                               atol=0.015)
    assert (cs[:, 1] == 0).all()
    b = D.Bernoulli(probs=cr.tensor([0.25]))
    assert abs(b.sample((20000,)).numpy().mean() - 0.25) < 0.015
    u = D.Uniform(cr.tensor(-1.0), cr.tensor(3.0)).sample((10000,)).numpy()
    assert u.min() >= -1 and u.max() < 3 and abs(u.mean() - 1) < 0.05
    cov = np.array([[2.0, 0.6], [0.6, 1.0]])
    m = D.MultivariateNormal(cr.tensor([1.0, 2.0], dtype=cr.float64),
                            covariance_matrix=cr.tensor(cov))
    ms = m.sample((40000,)).numpy()
    np.testing.assert_allclose(np.cov(ms.T), cov, atol=0.05)
    assert tuple(D.Normal(0.0, 1.0).sample().shape) == ()
    assert D.Normal(0.0, 1.0).sample((2, 3)).dtype == cr.float32


def test_float32_stays_float32() -> None:
    loc, scale = cr.zeros(3), cr.ones(3)
    d = D.Normal(loc, scale)
    assert d.rsample().dtype == cr.float32 and d.log_prob(cr.zeros(3)).dtype == cr.float32
    assert D.Categorical(logits=cr.zeros(3)).entropy().dtype == cr.float32
    m = D.MultivariateNormal(cr.zeros(2), scale_tril=cr.eye(2))
    assert m.log_prob(cr.zeros(2)).dtype == cr.float32 and m.rsample().dtype == cr.float32


def test_seeded_sampling_is_reproducible() -> None:
    cr.manual_seed(3)
    a = D.Normal(0.0, 1.0).sample((5,)).numpy()
    cr.manual_seed(3)
    b = D.Normal(0.0, 1.0).sample((5,)).numpy()
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(("make", "match"), [
    (lambda: D.Normal(cr.tensor([0.0]), cr.tensor([-1.0])),
     r"Expected parameter scale \(Tensor of shape \(1,\)\) of distribution Normal"),
    (lambda: D.Normal(cr.tensor([0.0]), cr.tensor([0.0])), "GreaterThan"),
    (lambda: D.Uniform(cr.tensor(1.0), cr.tensor(0.0)), "LessThan"),
    (lambda: D.Bernoulli(probs=cr.tensor(1.5)), r"Interval\(lower_bound=0.0"),
    (lambda: D.Bernoulli(probs=0.5, logits=0.0), "Either `probs` or `logits`"),
    (lambda: D.Categorical(probs=cr.tensor([0.5, -0.5])), "Simplex"),
    (lambda: D.Categorical(logits=cr.tensor(1.0)), "at least one-dimensional"),
    (lambda: D.MultivariateNormal(cr.zeros(2), covariance_matrix=cr.tensor([[1.0, 2.0],
                                                                            [2.0, 1.0]])),
     "PositiveDefinite"),
    (lambda: D.MultivariateNormal(cr.zeros(2), scale_tril=cr.tensor([[1.0, 1.0],
                                                                     [0.0, 1.0]])),
     "LowerCholesky"),
    (lambda: D.MultivariateNormal(cr.zeros(2)), "Exactly one of"),
    (lambda: D.MultivariateNormal(cr.tensor(0.0), scale_tril=cr.eye(2)),
     "loc must be at least one-dimensional"),
])
def test_argument_validation(make: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()


def test_sample_validation_and_switch() -> None:
    n = D.Normal(cr.zeros(3), cr.ones(3))
    with pytest.raises(ValueError, match="must be a Tensor"):
        n.log_prob(0.5)
    with pytest.raises(ValueError, match="not broadcastable"):
        n.log_prob(cr.zeros(2))
    c = D.Categorical(probs=cr.tensor([0.5, 0.5]))
    with pytest.raises(ValueError, match=r"within the support \(IntegerInterval\(lower_bound=0,"
                                         r" upper_bound=1\)\)"):
        c.log_prob(cr.tensor(3))
    with pytest.raises(ValueError, match="right-most size of value must match event_shape"):
        D.MultivariateNormal(cr.zeros(3), scale_tril=cr.eye(3)).log_prob(cr.zeros(2))
    with pytest.raises(ValueError, match="support"):
        D.Uniform(0.0, 1.0).log_prob(cr.tensor(2.0))
    # validate_args=False: no checks (log_prob of an impossible value is -inf, not an error)
    u = D.Uniform(0.0, 1.0, validate_args=False)
    assert u.log_prob(cr.tensor(2.0)).item() == -np.inf
    D.Normal(cr.tensor([0.0]), cr.tensor([-1.0]), validate_args=False)
    D.Distribution.set_default_validate_args(False)
    try:
        D.Normal(cr.tensor([0.0]), cr.tensor([-1.0]))
    finally:
        D.Distribution.set_default_validate_args(True)


def test_lazy_parameters_expand_and_support() -> None:
    b = D.Bernoulli(logits=cr.tensor([0.0, 2.0]))
    np.testing.assert_allclose(b.probs.numpy(), 1 / (1 + np.exp(-np.array([0.0, 2.0]))),
                               rtol=1e-6)
    c = D.Categorical(probs=cr.tensor([1.0, 3.0]))  # normalised
    np.testing.assert_allclose(c.probs.numpy(), [0.25, 0.75])
    np.testing.assert_allclose(c.logits.numpy(), np.log([0.25, 0.75]), rtol=1e-6)
    e = D.Normal(cr.tensor(0.0), cr.tensor(1.0)).expand((4, 2))
    assert tuple(e.batch_shape) == (4, 2) and tuple(e.sample().shape) == (4, 2)
    assert tuple(c.enumerate_support().numpy()) == (0, 1)
    assert D.Normal.has_rsample and not D.Categorical.has_rsample
    with pytest.raises(NotImplementedError):
        c.rsample()
