"""Ready-made datasets: ``Digits`` (embedded), ``MNIST``, ``FashionMNIST``, ``Spiral``."""

from chainrule.datasets.digits import Digits
from chainrule.datasets.mnist import MNIST, FashionMNIST
from chainrule.datasets.spiral import Spiral

__all__ = ["Digits", "FashionMNIST", "MNIST", "Spiral"]
