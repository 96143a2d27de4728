"""mudsc: Python binding of libmudsc, which merges neural networks trained
from different initialisations by MuDSC (Xu et al., CVPR 2024).

A thin ctypes layer over the C ABI: NumPy arrays are passed without copies
where the library can borrow them, every error raises a MudscError subclass
carrying the library's message, and handles are freed by close(), ``with``
blocks and garbage collection.

    >>> import mudsc
    >>> g = mudsc.Graph.mlp([512, 512])
    >>> result = mudsc.merge([state_a, state_b], g)      # dicts of arrays
    >>> result.tensors["layers.0.weight"]

The library is $MUDSC_LIBRARY if set, else libmudsc.so.0 from the system's
library path.  ``import mudsc.torch`` adds the PyTorch helpers.
"""
from .errors import (CancelledError, ExistsError, InternalError, InvalidArgumentError,
                     MismatchError, MudscError, MudscIOError, NotFoundError, NumericError,
                     OutOfMemoryError, ParseError, RangeError, ShapeError, StateError,
                     UnsupportedError)
from .runtime import (blas_info, set_log_callback, set_threads, status_name, status_str,
                      threads, version, version_number)
from .model import Model, TensorInfo
from .graph import Binding, Graph, Point, Split
from .accum import Accumulator
from .matcher import Matcher, PointResult
from .stats import Stats
from .merge import MergeResult, merge
from .field import Field, quadrature
from .averaging import average
from .correct import repair, repair_layer
from .lsq import Lsq
from .partial import partial_merge

__version__ = "0.2.0"

__all__ = [
    "Accumulator", "Binding", "CancelledError", "ExistsError", "Field", "Graph", "InternalError",
    "InvalidArgumentError", "Lsq", "Matcher", "MergeResult", "MismatchError", "Model", "MudscError",
    "MudscIOError", "NotFoundError", "NumericError", "OutOfMemoryError", "ParseError", "Point",
    "PointResult", "RangeError", "ShapeError", "Split", "StateError", "Stats", "TensorInfo",
    "UnsupportedError", "average", "blas_info", "merge", "partial_merge", "quadrature",
    "repair", "repair_layer", "set_log_callback", "set_threads", "status_name", "status_str", "threads",
    "version", "version_number",
]
