"""kl_divergence between the distributions, against torch's values and gradients, with
gradchecks, the infinite cases, register_kl dispatch and the unimplemented pairs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import distributions as D
from tests.opcheck import torch

rng = np.random.default_rng(5)
A, B = rng.standard_normal((2, 3, 3)), rng.standard_normal((3, 3))
COV1 = A @ np.swapaxes(A, -1, -2) + 2 * np.eye(3)
COV2 = B @ B.T + 2 * np.eye(3)

# name -> (make pair from lib and parameter tensors, parameters)
PAIRS: dict[str, tuple[Any, tuple[np.ndarray, ...]]] = {
    "normal_normal": (lambda d, m1, s1, m2, s2: (d.Normal(m1, s1), d.Normal(m2, s2)),
                      (rng.standard_normal(4), rng.uniform(0.5, 2, 4),
                       rng.standard_normal(4), rng.uniform(0.5, 2, 4))),
    "bernoulli_bernoulli": (lambda d, p, q: (d.Bernoulli(probs=p), d.Bernoulli(probs=q)),
                            (rng.uniform(0.1, 0.9, 5), rng.uniform(0.1, 0.9, 5))),
    "bernoulli_logits": (lambda d, p, q: (d.Bernoulli(logits=p), d.Bernoulli(logits=q)),
                         (rng.standard_normal(5) * 3, rng.standard_normal(5))),
    "categorical": (lambda d, p, q: (d.Categorical(logits=p), d.Categorical(logits=q)),
                    (rng.standard_normal((2, 4)), rng.standard_normal((2, 4)))),
    "categorical_probs": (lambda d, p, q: (d.Categorical(probs=p), d.Categorical(probs=q)),
                          (rng.uniform(0.1, 1, (3, 4)), rng.uniform(0.1, 1, (3, 4)))),
    "uniform_uniform": (lambda d, a, b, c, e: (d.Uniform(a, b), d.Uniform(c, e)),
                        (np.array([0.0, 0.2]), np.array([1.0, 0.5]),
                         np.array([-1.0, 0.1]), np.array([2.0, 0.9]))),
    "uniform_normal": (lambda d, a, b, m, s: (d.Uniform(a, b), d.Normal(m, s)),
                       (np.array([0.0, -1.0]), np.array([1.0, 2.0]),
                        np.array([0.3, 0.0]), np.array([1.5, 0.7]))),
    "mvn_mvn": (lambda d, m1, c1, m2, c2: (
        d.MultivariateNormal(m1, covariance_matrix=(c1 + c1.mT) * 0.5),
        d.MultivariateNormal(m2, covariance_matrix=(c2 + c2.mT) * 0.5)),
        (rng.standard_normal((2, 3)), COV1, rng.standard_normal(3), COV2)),
}


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_kl_matches_torch(name: str) -> None:
    if torch is None:
        pytest.skip("torch not installed")
    make, params = PAIRS[name]
    cps = [cr.tensor(p, requires_grad=True) for p in params]
    tps = [torch.tensor(p, requires_grad=True) for p in params]
    ckl = D.kl_divergence(*make(D, *cps))
    tkl = torch.distributions.kl_divergence(*make(torch.distributions, *tps))
    np.testing.assert_allclose(ckl.detach().numpy(), tkl.detach().numpy(), rtol=1e-11)
    w = np.random.default_rng(0).standard_normal(tuple(ckl.shape))
    cg = cr.autograd.grad((ckl * cr.tensor(w)).sum(), cps)
    tg = torch.autograd.grad((tkl * torch.tensor(w)).sum(), tps)
    for i, (a, b) in enumerate(zip(cg, tg, strict=True)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=f"parameter {i}")


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_kl_gradcheck(name: str) -> None:
    make, params = PAIRS[name]
    ps = [cr.tensor(p, requires_grad=True) for p in params]
    assert cr.autograd.gradcheck(lambda *a: D.kl_divergence(*make(D, *a)), ps,
                                 atol=1e-5, rtol=1e-3)


def test_kl_of_a_distribution_with_itself_is_zero() -> None:
    n = D.Normal(cr.tensor([0.3]), cr.tensor([2.0]))
    assert D.kl_divergence(n, n).item() == 0.0
    c = D.Categorical(logits=cr.randn(3, 5))
    np.testing.assert_allclose(D.kl_divergence(c, c).numpy(), 0.0, atol=1e-6)


def test_infinite_and_zero_cases_match_torch() -> None:
    if torch is None:
        pytest.skip("torch not installed")
    cases = [
        (lambda d, lib: (d.Bernoulli(probs=lib.tensor([0.0, 1.0, 0.5, 0.3])),
                         d.Bernoulli(probs=lib.tensor([0.5, 1.0, 0.0, 1.0])))),
        (lambda d, lib: (d.Categorical(probs=lib.tensor([[0.0, 0.5, 0.5], [0.5, 0.5, 0.0]])),
                         d.Categorical(probs=lib.tensor([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])))),
        (lambda d, lib: (d.Uniform(lib.tensor([0.0, 0.0]), lib.tensor([1.0, 2.0])),
                         d.Uniform(lib.tensor([0.5, -1.0]), lib.tensor([1.0, 3.0])))),
    ]
    for make in cases:
        ours = D.kl_divergence(*make(D, cr)).numpy()
        theirs = torch.distributions.kl_divergence(*make(torch.distributions, torch)).numpy()
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_unimplemented_pair_and_register_kl() -> None:
    with pytest.raises(NotImplementedError, match="No KL"):
        D.kl_divergence(D.Normal(0.0, 1.0), D.Bernoulli(probs=0.5))

    class MyNormal(D.Normal):
        pass

    # a subclass uses its parent's rule until it registers its own
    a, b = MyNormal(0.0, 1.0), MyNormal(1.0, 2.0)
    assert np.isclose(D.kl_divergence(a, b).item(),
                      D.kl_divergence(D.Normal(0.0, 1.0), D.Normal(1.0, 2.0)).item())

    @D.register_kl(MyNormal, MyNormal)
    def _kl(p: Any, q: Any) -> Any:
        return cr.tensor(42.0)

    assert D.kl_divergence(a, b).item() == 42.0
    assert D.kl_divergence(D.Normal(0.0, 1.0), b).item() != 42.0
    with pytest.raises(TypeError, match="Distribution subclass"):
        D.register_kl(int, D.Normal)
    with pytest.raises(ValueError, match="different event shapes"):
        D.kl_divergence(D.MultivariateNormal(cr.zeros(2), scale_tril=cr.eye(2)),
                        D.MultivariateNormal(cr.zeros(3), scale_tril=cr.eye(3)))


def test_independent_matches_torch() -> None:
    if torch is None:
        pytest.skip("torch not installed")
    mu, sd = rng.standard_normal((4, 3)), rng.uniform(0.5, 2, (4, 3))
    mu2, sd2 = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    value = rng.standard_normal((2, 4, 3))
    out = []
    for lib in (cr, torch):
        ps = [lib.tensor(a, requires_grad=True) for a in (mu, sd)]
        d = lib.distributions.Independent(lib.distributions.Normal(*ps), 1)
        q = lib.distributions.Independent(
            lib.distributions.Normal(lib.tensor(mu2), lib.tensor(sd2)), 1)
        lp, ent = d.log_prob(lib.tensor(value)), d.entropy()
        kl = lib.distributions.kl_divergence(d, q)
        total = lp.sum() + ent.sum() + kl.sum()
        grads = [g.numpy() for g in (cr.autograd.grad(total, ps) if lib is cr
                                     else torch.autograd.grad(total, ps))]
        out.append((tuple(d.batch_shape), tuple(d.event_shape), lp.detach().numpy(),
                    ent.detach().numpy(), kl.detach().numpy(), grads,
                    tuple(d.rsample((5,)).shape)))
    (a, b) = out
    assert a[0] == b[0] == (4,) and a[1] == b[1] == (3,) and a[6] == b[6]
    for x, y in zip(a[2:6], b[2:6], strict=True):
        for u, v in zip(x if isinstance(x, list) else [x], y if isinstance(y, list) else [y],
                        strict=True):
            np.testing.assert_allclose(u, v, rtol=1e-11)
    with pytest.raises(ValueError, match="reinterpreted_batch_ndims"):
        D.Independent(D.Normal(cr.zeros(3), cr.ones(3)), 2)
