"""Symbolic integers for shape rules: a SymInt is a Python int or a 0-d integer Variable, and the
`sym_*` helpers fold to Python ints whenever every operand is known at build time, so one piece
of code yields static shapes and symbolic (int64) shape graphs.  Also the readers of integer
arguments (`int_scalar`, `constant_value`, `static_int`, `shape_entries`)."""

from __future__ import annotations

import numpy as np

from ccgrad import dtypes
from ccgrad.graph import Constant, TensorType, Variable, as_variable, builder

SymInt = int | Variable


def int_scalar(x, what: str) -> Variable:
    """A 0-d integer Variable (Python ints become int64 constants)."""
    if isinstance(x, int | np.integer) and not isinstance(x, bool):
        return Constant(TensorType("int64", shape=()), int(x))
    v = as_variable(x)
    if v.ndim != 0 or v.dtype not in dtypes.INTS:
        raise TypeError(f"{what} must be an integer scalar, got {v.type!r}")
    return v


def constant_value(v: Variable):
    """The Python value of a constant (or of a Shape_i on a static dim); None when unknown."""
    if isinstance(v, Constant):
        return v.data.item() if v.data.ndim == 0 else v.data
    if v.owner is not None:
        from ccgrad.ops.shape import ShapeI  # shape.py builds on this module

        if isinstance(v.owner.op, ShapeI):
            return v.owner.inputs[0].type.shape[v.owner.op.i]
    return None


def static_int(v) -> int | None:
    """The Python int value of a SymInt when known at build time, else None."""
    if isinstance(v, Variable):
        c = constant_value(v)
        if c is None or np.ndim(c) != 0:
            return None
        return int(c)
    return int(v)


def fold(v) -> SymInt:
    """v as a Python int when known at build time, else unchanged."""
    c = static_int(v)
    return c if c is not None else v


def as_int64(v) -> Variable:
    """A SymInt as a 0-d int64 Variable."""
    if isinstance(v, Variable):
        return v if v.dtype == "int64" else builder("cast")(v, "int64")
    return Constant(TensorType("int64", shape=()), int(v))


def _sym2(a, b, py, name: str) -> SymInt:
    a, b = fold(a), fold(b)
    if not isinstance(a, Variable) and not isinstance(b, Variable):
        return py(a, b)
    return builder(name)(as_int64(a), as_int64(b))


def sym_add(a, b) -> SymInt:
    a, b = fold(a), fold(b)
    if isinstance(a, int) and a == 0:
        return b
    if isinstance(b, int) and b == 0:
        return a
    return _sym2(a, b, lambda p, q: p + q, "add")


def sym_sub(a, b) -> SymInt:
    b = fold(b)
    if isinstance(b, int) and b == 0:
        return a
    return _sym2(a, b, lambda p, q: p - q, "sub")


def sym_mul(a, b) -> SymInt:
    a, b = fold(a), fold(b)
    if isinstance(a, int) and a == 1:
        return b
    if isinstance(b, int) and b == 1:
        return a
    return _sym2(a, b, lambda p, q: p * q, "mul")


def sym_floordiv(a, b) -> SymInt:
    return _sym2(a, b, lambda p, q: p // q, "int_div")


def sym_ceildiv(a, b) -> SymInt:
    """ceil(a / b) for integers (any signs)."""
    return sym_neg(sym_floordiv(sym_neg(a), b))


def sym_neg(a) -> SymInt:
    a = fold(a)
    return -a if isinstance(a, int) else builder("neg")(as_int64(a))


def sym_max(a, b) -> SymInt:
    return _sym2(a, b, max, "maximum")


def sym_min(a, b) -> SymInt:
    return _sym2(a, b, min, "minimum")


def sym_lt(a, b):
    """a < b: a Python bool when known, else a bool Variable."""
    return _sym2(a, b, lambda p, q: p < q, "lt")


def sym_eq(a, b):
    return _sym2(a, b, lambda p, q: p == q, "eq")


def sym_switch(cond, a, b) -> SymInt:
    """`a if cond else b`, folded when cond is known."""
    if isinstance(cond, bool | np.bool_):
        return a if cond else b
    c = constant_value(cond)
    if c is not None:
        return a if bool(c) else b
    a, b = fold(a), fold(b)
    if isinstance(a, int) and isinstance(b, int) and a == b:
        return a
    return builder("switch")(cond, as_int64(a), as_int64(b))


def sym_prod(items) -> SymInt:
    out: SymInt = 1
    for v in items:
        out = sym_mul(out, v)
    return out


def shape_entries(shape, what: str, ndim: int | None = None) -> list[SymInt]:
    """A shape argument (int, tuple/list of ints and int scalars, or an int vector Variable)
    as a list of SymInts.  A symbolic vector needs a static length or `ndim`."""
    if isinstance(shape, Variable):
        return _vector_entries(shape, what, ndim)
    if isinstance(shape, int | np.integer) and not isinstance(shape, bool):
        return [int(shape)]
    if isinstance(shape, np.ndarray):
        if shape.ndim > 1:
            raise ValueError(f"{what}: shape must be 1-d, got an array of shape {shape.shape}")
        shape = shape.reshape(-1).tolist()
    if not isinstance(shape, list | tuple):
        raise TypeError(f"{what}: shape must be an int, a tuple/list or an int vector, not {type(shape).__name__}")
    out: list[SymInt] = []
    for s in shape:
        if isinstance(s, Variable):
            if s.ndim != 0 or s.dtype not in dtypes.INTS:
                raise TypeError(f"{what}: shape entries must be integer scalars, got {s.type!r}")
            out.append(fold(s))
        elif isinstance(s, int | np.integer) and not isinstance(s, bool):
            out.append(int(s))
        else:
            raise TypeError(f"{what}: shape entries must be ints or integer scalars, got {s!r}")
    return out


def _vector_entries(shape: Variable, what: str, ndim: int | None) -> list[SymInt]:
    from ccgrad.ops.arrays import Join  # both modules build on this one
    from ccgrad.ops.shape import DimShuffle, Shape, shape_list

    if shape.dtype not in dtypes.INTS:
        raise TypeError(f"{what}: shape must have an integer dtype, got {shape.type!r}")
    if shape.ndim == 0:
        return [fold(shape)]
    if shape.ndim != 1:
        raise ValueError(f"{what}: shape must be a vector or a list of scalars, got {shape.type!r}")
    if isinstance(shape, Constant):
        return [int(v) for v in shape.data]
    node = shape.owner
    if node is not None and isinstance(node.op, Shape):
        return shape_list(node.inputs[0])
    if (node is not None and isinstance(node.op, Join) and all(
            i.owner is not None and isinstance(i.owner.op, DimShuffle) and i.owner.op.new_order == ("x",)
            for i in node.inputs)):
        return [fold(i.owner.inputs[0]) for i in node.inputs]  # a stack of scalars
    n = shape.type.shape[0]
    if n is None:
        n = ndim
    elif ndim is not None and ndim != n:
        raise ValueError(f"{what}: ndim={ndim} disagrees with the shape vector's length {n}")
    if n is None:
        raise ValueError(
            f"{what}: the length of the symbolic shape vector {shape} is unknown; pass ndim="
        )
    return [fold(builder("getitem")(shape, k)) for k in range(n)]
