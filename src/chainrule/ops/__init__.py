"""Every differentiable operation, grouped by kind; each module keeps forward and backward
of an op side by side. This package re-exports their functional forms."""

from chainrule.ops.activation import *  # noqa: F403
from chainrule.ops.arithmetic import *  # noqa: F403
from chainrule.ops.cross_entropy import *  # noqa: F403
from chainrule.ops.dropout import *  # noqa: F403
from chainrule.ops.elementwise import *  # noqa: F403
from chainrule.ops.indexing import *  # noqa: F403
from chainrule.ops.linalg import *  # noqa: F403
from chainrule.ops.loss import *  # noqa: F403
from chainrule.ops.minmax import *  # noqa: F403
from chainrule.ops.reduce import *  # noqa: F403
from chainrule.ops.shape import *  # noqa: F403
