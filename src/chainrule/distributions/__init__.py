"""``cr.distributions``: probability distributions with PyTorch's API
(``torch.distributions``): ``sample``, reparameterised ``rsample``, ``log_prob``,
``entropy``, moments, argument validation and ``kl_divergence``.

Samples come from chainrule's seeded generator (``cr.manual_seed``); log-probabilities,
entropies and KL divergences are differentiable in the parameters.
"""

from chainrule.distributions import constraints
from chainrule.distributions.bernoulli import Bernoulli
from chainrule.distributions.categorical import Categorical
from chainrule.distributions.distribution import Distribution
from chainrule.distributions.independent import Independent
from chainrule.distributions.kl import kl_divergence, register_kl
from chainrule.distributions.multivariate_normal import MultivariateNormal
from chainrule.distributions.normal import Normal
from chainrule.distributions.uniform import Uniform

__all__ = [
    "Bernoulli", "Categorical", "Distribution", "Independent", "MultivariateNormal",
    "Normal", "Uniform", "constraints", "kl_divergence", "register_kl",
]
