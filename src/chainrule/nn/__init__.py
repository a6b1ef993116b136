"""``cr.nn``: layers, losses and containers with PyTorch's names (``import chainrule.nn as nn``).

``cr.nn.functional`` (as ``F``) holds the stateless functions the layers call, and
``cr.nn.init`` the weight initialisers.
"""

from chainrule.nn import functional, init, parallel, utils
from chainrule.nn.modules import *  # noqa: F403
from chainrule.nn.modules import __all__ as _modules_all
from chainrule.nn.parameter import Parameter

__all__ = ["Parameter", "functional", "init", "parallel", "utils", *_modules_all]
