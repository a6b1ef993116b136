"""chainrule: a NumPy deep-learning library built on hand-derived backward rules.

``import chainrule as cr`` and use it as you would ``torch``: tensors with ``backward()``,
``cr.nn`` layers, ``cr.optim`` optimizers, ``cr.utils.data`` loaders. Every operation is a
graph node whose forward and backward stand side by side in :mod:`chainrule.ops`.
"""

# chainrule.autograd comes first: it enters the tensor <-> autograd <-> ops import cycle
# at its start (see chainrule/tensor.py's docstring)
from chainrule import autograd, datasets, nn, optim, utils, viz  # noqa: I001
from chainrule import onnx
from chainrule import distributions  # noqa: I001
from chainrule import transforms
from chainrule import distributed
from chainrule.autograd import (
    enable_grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from chainrule.creation import *  # noqa: F403
from chainrule.dtypes import (
    bool,  # noqa: A004
    double,
    dtype,
    finfo,
    float,  # noqa: A004
    iinfo,
    int,  # noqa: A004
    short,
    float16,
    float32,
    float64,
    get_default_dtype,
    half,
    int8,
    int16,
    int32,
    int64,
    long,
    set_default_dtype,
    uint8,
)
from chainrule.explain import explain
from chainrule.ops import *  # noqa: F403
from chainrule.promotion import promote_types, result_type
from chainrule.random import (
    Generator,
    default_generator,
    get_rng_state,
    initial_seed,
    manual_seed,
    seed,
    set_rng_state,
)
from chainrule.serialization import CheckpointError, load, save
from chainrule.tensor import Tensor, as_tensor, from_numpy, is_tensor, tensor

# PyTorch's everyday names (device probes, legacy spellings): parity with scripts
from chainrule import accelerator, backends, cuda  # noqa: E402, I001
import chainrule.linalg as linalg  # noqa: E402 (not chainrule.ops.linalg, star-imported above)
from chainrule.autograd.inference_mode import inference_mode, is_inference_mode_enabled
from chainrule.device import device
from chainrule.legacy import (
    BoolTensor,
    ByteTensor,
    CharTensor,
    DoubleTensor,
    FloatTensor,
    HalfTensor,
    IntTensor,
    LongTensor,
    ShortTensor,
)
from chainrule.printing import get_printoptions, set_printoptions
from chainrule.runtime import (
    are_deterministic_algorithms_enabled,
    get_default_device,
    get_num_threads,
    set_default_device,
    set_num_threads,
    use_deterministic_algorithms,
)
from chainrule.size import Size

__version__ = "0.1.0"
