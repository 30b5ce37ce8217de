"""The `T` facade (`import ccgrad.tensor as T`): variable constructors in Theano's spellings,
the op builders (reached through the registry), grad/Lop/Rop and friends."""

from __future__ import annotations

from ccgrad import dtypes

# The op builders are reachable as T.<name> (see __getattr__ below); these are re-exported
# explicitly because Theano code uses them most.
from ccgrad.gradient import Lop, Rop, grad
from ccgrad.graph import Constant, TensorType, Variable, as_variable, builder, registered_names
from ccgrad.ops import nnet  # noqa: F401  (T.nnet.sigmoid, T.nnet.softmax, ...)
from ccgrad.options import config

__all__ = ["TensorType", "Variable", "grad", "Lop", "Rop", "constant", "as_tensor_variable",
           "tensor", "scalar", "vector", "matrix", "row", "col", "tensor3", "tensor4"]


def _dtype(dtype) -> str:
    return config.floatX if dtype is None else dtypes.canonical(dtype)


def tensor(dtype=None, broadcastable=None, name: str | None = None, shape=None) -> Variable:
    """A symbolic input of the given dtype and broadcastable pattern / static shape."""
    if shape is None and broadcastable is None:
        raise TypeError("tensor() needs broadcastable= or shape=")
    return TensorType(_dtype(dtype), broadcastable=broadcastable, shape=shape)(name)


def scalar(name: str | None = None, dtype=None) -> Variable:
    """A 0-d input (dtype defaults to config.floatX)."""
    return TensorType(_dtype(dtype), shape=())(name)


def vector(name: str | None = None, dtype=None, shape=None) -> Variable:
    """A 1-d input."""
    return TensorType(_dtype(dtype), shape=shape or (None,))(name)


def matrix(name: str | None = None, dtype=None, shape=None) -> Variable:
    """A 2-d input."""
    return TensorType(_dtype(dtype), shape=shape or (None, None))(name)


def row(name: str | None = None, dtype=None) -> Variable:
    """A 2-d input with a broadcastable first axis (shape (1, n))."""
    return TensorType(_dtype(dtype), shape=(1, None))(name)


def col(name: str | None = None, dtype=None) -> Variable:
    """A 2-d input with a broadcastable second axis (shape (n, 1))."""
    return TensorType(_dtype(dtype), shape=(None, 1))(name)


def tensor3(name: str | None = None, dtype=None) -> Variable:
    """A 3-d input."""
    return TensorType(_dtype(dtype), shape=(None,) * 3)(name)


def tensor4(name: str | None = None, dtype=None) -> Variable:
    """A 4-d input."""
    return TensorType(_dtype(dtype), shape=(None,) * 4)(name)


def tensor5(name: str | None = None, dtype=None) -> Variable:
    """A 5-d input."""
    return TensorType(_dtype(dtype), shape=(None,) * 5)(name)


_KINDS = {"scalar": scalar, "vector": vector, "matrix": matrix, "row": row, "col": col,
          "tensor3": tensor3, "tensor4": tensor4, "tensor5": tensor5}
_PREFIX = {"d": "float64", "f": "float32", "i": "int32", "l": "int64", "b": "int8", "w": "int16"}


def _make_prefixed(prefix: str, kind: str):
    dt = _PREFIX[prefix]
    base = _KINDS[kind]

    def ctor(name: str | None = None) -> Variable:
        return base(name, dtype=dt)

    ctor.__name__ = prefix + kind
    ctor.__doc__ = f"A {dt} {kind} input (Theano's T.{prefix}{kind})."
    return ctor


for _p in _PREFIX:
    for _k in _KINDS:
        globals()[_p + _k] = _make_prefixed(_p, _k)
        __all__.append(_p + _k)


def _plural(kind: str):
    base = _KINDS[kind]

    def ctor(names: str, dtype=None):
        names = names.replace(",", " ").split()
        return [base(n, dtype=dtype) for n in names]

    ctor.__name__ = kind + "s"
    return ctor


scalars, vectors, matrices = _plural("scalar"), _plural("vector"), _plural("matrix")
dscalars = lambda names: scalars(names, "float64")
dvectors = lambda names: vectors(names, "float64")
dmatrices = lambda names: matrices(names, "float64")
fscalars = lambda names: scalars(names, "float32")
fvectors = lambda names: vectors(names, "float32")
fmatrices = lambda names: matrices(names, "float32")
iscalars = lambda names: scalars(names, "int32")
ivectors = lambda names: vectors(names, "int32")
lscalars = lambda names: scalars(names, "int64")
lvectors = lambda names: vectors(names, "int64")


def constant(value, name: str | None = None, dtype=None) -> Constant:
    """A constant.  Python ints take the smallest int dtype holding them (Theano's rule)."""
    if dtype is None and isinstance(value, int) and not isinstance(value, bool):
        return Constant(TensorType(dtypes.smallest_int_dtype(value), shape=()), value, name=name)
    v = as_variable(value, name=name, dtype=dtype)
    if not isinstance(v, Constant):
        raise TypeError("constant() needs a value, not a symbolic expression")
    if v.weak:
        v = Constant(v.type, v.data, name=name)
    return v


def as_tensor_variable(x, name: str | None = None, ndim: int | None = None) -> Variable:
    """x as a Variable (constants for numbers and arrays)."""
    v = as_variable(x, name=name)
    if ndim is not None and v.ndim != ndim:
        raise ValueError(f"as_tensor_variable: expected ndim {ndim}, got {v.ndim} ({v.type!r})")
    return v


as_tensor = as_tensor_variable


def second(a, b) -> Variable:
    """b broadcast to a's shape (Theano's second / fill)."""
    return builder("fill")(a, b)


def where(cond, a, b) -> Variable:
    """numpy's where: the elementwise switch."""
    return builder("switch")(cond, a, b)


def inv(x) -> Variable:
    """Elementwise reciprocal 1/x."""
    return builder("true_div")(1.0, x)


reciprocal = inv


def __getattr__(name: str):
    """Every registered op builder is reachable as T.<name>."""
    if name.startswith("__"):
        raise AttributeError(name)
    try:
        return builder(name)
    except KeyError:
        raise AttributeError(f"module 'ccgrad.tensor' has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(registered_names()))
