"""Ready-made datasets: Digits (embedded), MNIST, FashionMNIST, CIFAR10, Spiral."""

from chainrule.datasets.cifar import CIFAR10
from chainrule.datasets.digits import Digits
from chainrule.datasets.mnist import MNIST, FashionMNIST
from chainrule.datasets.spiral import Spiral

__all__ = ["CIFAR10", "Digits", "FashionMNIST", "MNIST", "Spiral"]
