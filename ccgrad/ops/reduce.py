"""Reductions: sum, prod, max, min, all, any (one Reduce op), argmax/argmin, and the
composites mean, var, std.  `axis` is None, an int or a tuple; `keepdims` re-inserts axes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ccgrad import dtypes
from ccgrad.graph import Apply, Constant, Op, TensorType, Variable, as_variable, builder, register

_NP = {"sum": np.sum, "prod": np.prod, "max": np.max, "min": np.min, "all": np.all, "any": np.any}


def normalize_axis(axis, ndim: int, what: str) -> tuple[int, ...]:
    """axis None/int/sequence -> sorted tuple of non-negative axes, or ValueError."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int | np.integer):
        axis = (int(axis),)
    out = []
    for a in axis:
        if isinstance(a, Variable):
            raise TypeError(f"{what}: axis must be a Python int, not a symbolic Variable")
        a = int(a)
        if not -ndim <= a < ndim:
            raise ValueError(f"{what}: axis {a} out of range for a {ndim}-d input")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{what}: repeated axis in {tuple(axis)}")
    return tuple(sorted(out))


def reduce_dtype(kind: str, dtype: str) -> str:
    if kind in ("all", "any"):
        return "bool"
    if kind in ("sum", "prod") and dtype in dtypes.DISCRETE:
        return "int64"
    return dtype


def _keep(x: Variable, out: Variable, axes: tuple[int, ...]) -> Variable:
    """Re-insert reduced axes as broadcastable ones (keepdims)."""
    order = []
    k = 0
    for i in range(x.ndim):
        if i in axes:
            order.append("x")
        else:
            order.append(k)
            k += 1
    return builder("dimshuffle")(out, tuple(order))


class Reduce(Op):
    """Reduce `axis` of x with one of sum/prod/max/min/all/any."""

    __props__ = ("kind", "axis")

    def __init__(self, kind: str, axis: tuple[int, ...]):
        if kind not in _NP:
            raise ValueError(f"unknown reduction {kind!r}")
        self.kind = kind
        self.axis = tuple(axis)

    def __str__(self) -> str:
        return f"{self.kind.capitalize()}{{axis={list(self.axis)}}}"

    def make_node(self, x) -> Apply:
        x = as_variable(x)
        for a in self.axis:
            if a >= x.ndim:
                raise ValueError(f"{self.kind}: axis {a} out of range for {x.ndim}-d input")
        if self.kind in ("max", "min") and x.ndim and any(x.type.shape[a] == 0 for a in self.axis):
            raise ValueError(f"{self.kind}: zero-size axis in static shape {x.type.shape}")
        shape = tuple(s for i, s in enumerate(x.type.shape) if i not in self.axis)
        return Apply(self, [x], [TensorType(reduce_dtype(self.kind, x.dtype), shape=shape)])

    def perform(self, node, inputs):
        x = inputs[0]
        out_dtype = node.outputs[0].dtype
        if self.kind in ("max", "min") and any(x.shape[a] == 0 for a in self.axis):
            raise ValueError(f"{self.kind}: zero-size array along a reduced axis (shape {x.shape})")
        if self.kind in ("sum", "prod"):
            res = _NP[self.kind](x, axis=self.axis, dtype=out_dtype)
        else:
            res = _NP[self.kind](x, axis=self.axis)
        return [np.asarray(res, dtype=out_dtype)]

    def infer_shape(self, node, input_shapes):
        return [tuple(s for i, s in enumerate(input_shapes[0]) if i not in self.axis)]

    def vjp(self, node, cotangents):
        gz = cotangents[0]
        x = node.inputs[0]
        if gz is None or x.dtype not in dtypes.FLOATS or self.kind in ("all", "any"):
            return [None]
        gz_b = _keep(x, gz, self.axis)
        if self.kind == "sum":
            return [builder("fill")(x, gz_b)]
        out_b = _keep(x, node.outputs[0], self.axis)
        if self.kind == "prod":
            return [gz_b * out_b / x]
        # max / min: the gradient goes to every element equal to the extremum.
        return [gz_b * builder("eq")(x, out_b)]

    def jvp(self, node, tangents):
        t = tangents[0]
        x = node.inputs[0]
        if t is None or self.kind in ("all", "any") or x.dtype not in dtypes.FLOATS:
            return [None]
        if self.kind == "sum":
            return [reduce(t, "sum", self.axis)]
        out_b = _keep(x, node.outputs[0], self.axis)
        if self.kind == "prod":
            return [reduce(t * out_b / x, "sum", self.axis)]
        return [reduce(t * builder("eq")(x, out_b), "sum", self.axis)]

    def batch(self, node, inputs, batched):
        x = inputs[0]
        if not batched[0]:
            return [reduce(x, self.kind, self.axis)], [False]
        return [reduce(x, self.kind, tuple(a + 1 for a in self.axis))], [True]

    def pp(self, node, args):
        x = node.inputs[0]
        if self.axis == tuple(range(x.ndim)):
            return f"{self.kind}({args[0]})"
        return f"{self.kind}({args[0]}, axis={list(self.axis) if len(self.axis) > 1 else self.axis[0]})"


def reduce(x, kind: str, axis=None, keepdims: bool = False) -> Variable:
    x = as_variable(x)
    axes = normalize_axis(axis, x.ndim, kind)
    if not axes and kind in ("sum", "prod", "max", "min"):
        out = x if x.dtype == reduce_dtype(kind, x.dtype) else builder("cast")(x, reduce_dtype(kind, x.dtype))
        return out
    out = Reduce(kind, axes).make_node(x).outputs[0]
    return _keep(x, out, axes) if keepdims else out


def _with_dtype(x: Variable, dtype) -> Variable:
    return x if dtype is None else builder("cast")(x, dtype)


@register("sum")
def sum(x, axis=None, keepdims: bool = False, dtype=None, acc_dtype=None) -> Variable:  # noqa: A001
    """Sum over `axis` (all axes by default).  Integer inputs sum in int64, as numpy."""
    return _with_dtype(reduce(x, "sum", axis, keepdims), dtype)


@register("prod")
def prod(x, axis=None, keepdims: bool = False, dtype=None) -> Variable:
    """Product over `axis`."""
    return _with_dtype(reduce(x, "prod", axis, keepdims), dtype)


@register("max")
def max(x, axis=None, keepdims: bool = False) -> Variable:  # noqa: A001
    """Maximum over `axis`."""
    return reduce(x, "max", axis, keepdims)


@register("min")
def min(x, axis=None, keepdims: bool = False) -> Variable:  # noqa: A001
    """Minimum over `axis`."""
    return reduce(x, "min", axis, keepdims)


@register("all")
def all(x, axis=None, keepdims: bool = False) -> Variable:  # noqa: A001
    """True where every element along `axis` is non-zero."""
    return reduce(x, "all", axis, keepdims)


@register("any")
def any(x, axis=None, keepdims: bool = False) -> Variable:  # noqa: A001
    """True where some element along `axis` is non-zero."""
    return reduce(x, "any", axis, keepdims)


def _count(x: Variable, axes: Sequence[int]) -> Variable:
    """Number of elements over `axes`, as a float scalar (constant when static)."""
    static = [x.type.shape[a] for a in axes]
    if all(s is not None for s in static):
        n = int(np.prod(static)) if static else 1
        return Constant(TensorType("int64", shape=()), n)
    n = None
    for a in axes:
        d = builder("shape_i")(x, a)
        n = d if n is None else n * d
    return n


@register("mean")
def mean(x, axis=None, keepdims: bool = False, dtype=None) -> Variable:
    """Arithmetic mean over `axis`; integers average in float64 (numpy)."""
    x = as_variable(x)
    axes = normalize_axis(axis, x.ndim, "mean")
    s = reduce(x, "sum", axes, keepdims)
    if s.dtype not in dtypes.FLOATS:
        s = builder("cast")(s, "float64")
    out = builder("true_div")(s, builder("cast")(_count(x, axes), s.dtype))
    return _with_dtype(out, dtype)


@register("var")
def var(x, axis=None, keepdims: bool = False, ddof: int = 0) -> Variable:
    """Variance over `axis` (population variance unless ddof)."""
    x = as_variable(x)
    axes = normalize_axis(axis, x.ndim, "var")
    m = mean(x, axes, keepdims=True)
    d = x - m
    ss = reduce(d * d, "sum", axes, keepdims)
    n = builder("cast")(_count(x, axes), ss.dtype)
    if ddof:
        n = n - ddof
    return builder("true_div")(ss, n)


@register("std")
def std(x, axis=None, keepdims: bool = False, ddof: int = 0) -> Variable:
    """Standard deviation over `axis`."""
    return builder("sqrt")(var(x, axis, keepdims, ddof))


# ---------------------------------------------------------------------------------------------


class ArgReduce(Op):
    """Index of the max/min along one axis (or over the flattened input when axis is None)."""

    __props__ = ("kind", "axis")

    def __init__(self, kind: str, axis: int | None):
        self.kind = kind
        self.axis = axis

    def make_node(self, x) -> Apply:
        x = as_variable(x)
        if self.axis is None:
            shape = ()
        else:
            if not 0 <= self.axis < x.ndim:
                raise ValueError(f"{self.kind}: axis {self.axis} out of range for {x.ndim}-d input")
            shape = tuple(s for i, s in enumerate(x.type.shape) if i != self.axis)
        return Apply(self, [x], [TensorType("int64", shape=shape)])

    def perform(self, node, inputs):
        x = inputs[0]
        size = x.size if self.axis is None else x.shape[self.axis]
        if size == 0:
            raise ValueError(f"{self.kind}: empty sequence (shape {x.shape})")
        fn = np.argmax if self.kind == "argmax" else np.argmin
        return [np.asarray(fn(x, axis=self.axis), dtype="int64")]

    def infer_shape(self, node, input_shapes):
        if self.axis is None:
            return [()]
        return [tuple(s for i, s in enumerate(input_shapes[0]) if i != self.axis)]

    def connection_pattern(self, node):
        return [[False]]

    def vjp(self, node, cotangents):
        return [None]

    def jvp(self, node, tangents):
        return [None]

    def batch(self, node, inputs, batched):
        x = inputs[0]
        if not batched[0]:
            return [ArgReduce(self.kind, self.axis).make_node(x).outputs[0]], [False]
        if self.axis is None:
            flat = builder("reshape")(x, (builder("shape_i")(x, 0), -1))
            return [ArgReduce(self.kind, 1).make_node(flat).outputs[0]], [True]
        return [ArgReduce(self.kind, self.axis + 1).make_node(x).outputs[0]], [True]

    def pp(self, node, args):
        return f"{self.kind}({args[0]}, axis={self.axis})"


def _arg(kind: str, x, axis, keepdims: bool) -> Variable:
    x = as_variable(x)
    if axis is None:
        if x.ndim <= 1:
            axis_n = 0 if x.ndim == 1 else None
        else:
            axis_n = None
    else:
        if isinstance(axis, list | tuple):
            if len(axis) != 1:
                raise ValueError(f"{kind}: only a single axis is supported, got {axis}")
            axis = axis[0]
        axis_n = normalize_axis(int(axis), x.ndim, kind)[0]
    out = ArgReduce(kind, axis_n).make_node(x).outputs[0]
    if keepdims:
        axes = tuple(range(x.ndim)) if axis_n is None else (axis_n,)
        out = _keep(x, out, axes)
    return out


@register("argmax")
def argmax(x, axis=None, keepdims: bool = False) -> Variable:
    """Index of the maximum (first one on ties), int64."""
    return _arg("argmax", x, axis, keepdims)


@register("argmin")
def argmin(x, axis=None, keepdims: bool = False) -> Variable:
    """Index of the minimum (first one on ties), int64."""
    return _arg("argmin", x, axis, keepdims)
