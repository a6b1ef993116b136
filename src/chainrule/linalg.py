"""``cr.linalg``: PyTorch's ``torch.linalg`` names (norms; more as issues ask)."""

from chainrule.ops.linalg import matmul
from chainrule.ops.norms import linalg_norm as norm
from chainrule.ops.norms import matrix_norm, vector_norm

__all__ = ["norm", "vector_norm", "matrix_norm", "matmul"]
