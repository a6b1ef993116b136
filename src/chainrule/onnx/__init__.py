"""Export to ONNX: ``cr.onnx.export(model, args, "model.onnx")``, as ``torch.onnx.export``.

The model is traced on example inputs in eval mode and each chainrule op is translated to
ONNX (opset 17, IR version 8: ONNX Runtime 1.12 and later). Needs the optional ``onnx``
package (``pip install chainrule[onnx]``); importing chainrule does not import it.

Supported operations (the op classes of :mod:`chainrule.ops` and what they become):

* layers: ``Linear`` (Gemm for a matrix input, MatMul + Add for batched inputs),
  ``Bilinear`` (Einsum + Add), ``BatchNorm1d`` in eval mode (BatchNormalization), ReLU,
  LeakyReLU, Sigmoid, Tanh, Softmax and LogSoftmax (with their axis), Dropout and
  Identity (nothing: eval mode), Flatten;
* arithmetic: add, sub, mul, div, neg, reciprocal, pow, matmul/mm/bmm/dot, outer, einsum,
  type casts (``.float()``, ``.to(dtype)``), clone;
* elementwise: exp, log, log1p, sqrt, sin, cos, abs, sign, clamp (number or tensor
  bounds), maximum, minimum, where;
* reductions: sum, mean, prod, var, std, amax/amin, max/min over a dim (values),
  logsumexp;
* shapes: reshape/view/flatten, squeeze, unsqueeze, transpose/permute/``.T``,
  expand/broadcast_to, cat, stack, split/chunk, basic indexing (ints, slices, None,
  ``...``, one integer index array), flip, repeat/tile.

Losses, in-place updates of tensors outside recorded ops, boolean-mask indexing and
training-mode dropout raise :class:`UnsupportedOperatorError` (naming the op and the
submodule that ran it). A trace freezes Python control flow and values computed outside
these ops; a second trace on other input values catches that (:class:`OnnxExporterError`).
"""

from chainrule.onnx._errors import OnnxExporterError, UnsupportedOperatorError
from chainrule.onnx._export import OPSET_VERSION, export

__all__ = ["export", "OPSET_VERSION", "OnnxExporterError", "UnsupportedOperatorError"]
