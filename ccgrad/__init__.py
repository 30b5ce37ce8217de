"""ccgrad: symbolic math compiled to C.  Build graphs with `ccgrad.tensor`, differentiate them
with `grad`/`Rop`/`Lop`, and compile them with `function`."""

from ccgrad import function as function_module  # noqa: F401
from ccgrad import (  # noqa: F401
           gradient,
           ops,
           printing,
           tensor,
)
from ccgrad.function import In, MissingInputError, Out, UnusedInputError, function
from ccgrad.gradient import Lop, Rop, grad
from ccgrad.options import config
from ccgrad.printing import debugprint, pp
from ccgrad.scan_module import foldl, foldr, map, reduce, scan, until  # noqa: A004
from ccgrad.sharedvar import TensorSharedVariable, shared
from ccgrad.warm import warmup

__version__ = "0.1.0"

__all__ = ["function", "grad", "Lop", "Rop", "pp", "debugprint", "tensor", "gradient", "printing",
           "config", "In", "Out", "UnusedInputError", "MissingInputError", "__version__", "scan", "until",
           "scan_module", "map", "reduce", "foldl", "foldr", "shared", "TensorSharedVariable", "warmup"]
