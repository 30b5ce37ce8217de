"""Reductions: sum, prod, max, min, all, any (one Reduce op), argmax/argmin (ArgReduce), and the
composites mean, var, std, max_and_argmax.  `axis` is None, an int or a tuple (negative axes
count from the end); `keepdims` re-inserts the reduced axes as broadcastable ones.

dtypes follow numpy: sum/prod of bools and integers accumulate in int64, all/any give bool,
max/min keep the input dtype, mean of integers is float64.

Gradients: max/min send the cotangent to *every* element equal to the extremum (Theano's rule:
with ties each tied element receives the full cotangent).  prod's derivative is exact when the
input holds zeros (see `_prod_partials`).
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence

import numpy as np

from ccgrad import dtypes
from ccgrad.graph import Apply, Constant, Op, TensorType, Variable, as_variable, builder, register

_NP = {"sum": np.sum, "prod": np.prod, "max": np.max, "min": np.min, "all": np.all, "any": np.any}


def normalize_axis(axis, ndim: int, what: str) -> tuple[int, ...]:
    """axis None/int/sequence -> sorted tuple of non-negative axes, or TypeError/ValueError."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, Variable):
        raise TypeError(f"{what}: axis must be a Python int or tuple of ints, not a symbolic Variable")
    if isinstance(axis, int | np.integer) and not isinstance(axis, bool):
        axis = (int(axis),)
    out = []
    for a in axis:
        if isinstance(a, Variable | bool) or not isinstance(a, int | np.integer):
            raise TypeError(f"{what}: axis entries must be Python ints, got {a!r}")
        a = int(a)
        if not -ndim <= a < ndim:
            raise ValueError(f"{what}: axis {a} is out of range for a {ndim}-d input")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{what}: repeated axis in {tuple(axis)}")
    return tuple(sorted(out))


def reduce_dtype(kind: str, dtype: str) -> str:
    """The output dtype of reduction `kind` on `dtype` inputs (numpy's rule)."""
    if kind in ("all", "any"):
        return "bool"
    if kind in ("sum", "prod") and dtype in dtypes.DISCRETE:
        return "int64"
    return dtype


def _keep(x: Variable, out: Variable, axes: tuple[int, ...]) -> Variable:
    """Re-insert the reduced `axes` of x into `out` as broadcastable axes (keepdims)."""
    order = []
    k = 0
    for i in range(x.ndim):
        if i in axes:
            order.append("x")
        else:
            order.append(k)
            k += 1
    return builder("dimshuffle")(out, tuple(order))


def _fmt(v: Variable) -> str:
    dims = ", ".join("?" if s is None else str(s) for s in v.type.shape)
    return f"({dims}{',' if v.ndim == 1 else ''})"


class Reduce(Op):
    """Reduce the axes `axis` (sorted, non-negative) of x with sum/prod/max/min/all/any."""

    __props__ = ("kind", "axis")

    def __init__(self, kind: str, axis: Sequence[int]):
        if kind not in _NP:
            raise ValueError(f"unknown reduction {kind!r}")
        self.kind = kind
        self.axis = tuple(int(a) for a in axis)
        if list(self.axis) != sorted(set(self.axis)) or builtins.any(a < 0 for a in self.axis):
            raise ValueError(f"{kind}: axis must be sorted, unique and non-negative, got {axis}")

    def __str__(self) -> str:
        return f"{self.kind.capitalize()}{{axis={list(self.axis)}}}"

    def identity(self, dtype: str):
        """The neutral element of the reduction for `dtype` (the C accumulator's start value)."""
        if self.kind in ("sum", "any"):
            return 0
        if self.kind in ("prod", "all"):
            return 1
        if dtype in dtypes.FLOATS:
            return -np.inf if self.kind == "max" else np.inf
        if dtype == "bool":
            return 0 if self.kind == "max" else 1
        info = np.iinfo(dtype)
        return info.min if self.kind == "max" else info.max

    def make_node(self, x) -> Apply:
        x = as_variable(x)
        for a in self.axis:
            if a >= x.ndim:
                raise ValueError(f"{self.kind}: axis {a} is out of range for input of shape {_fmt(x)}")
        if self.kind in ("max", "min") and builtins.any(x.type.shape[a] == 0 for a in self.axis):
            raise ValueError(
                f"{self.kind}: cannot reduce a zero-size axis (axis {list(self.axis)} of static "
                f"shape {_fmt(x)}): the {self.kind} of an empty set is undefined"
            )
        shape = tuple(s for i, s in enumerate(x.type.shape) if i not in self.axis)
        return Apply(self, [x], [TensorType(reduce_dtype(self.kind, x.dtype), shape=shape)])

    def perform(self, node, inputs):
        x = inputs[0]
        out_dtype = node.outputs[0].dtype
        if self.kind in ("max", "min") and builtins.any(x.shape[a] == 0 for a in self.axis):
            raise ValueError(
                f"{self.kind}: cannot reduce a zero-size axis (axis {list(self.axis)} of an input "
                f"of shape {x.shape}): the {self.kind} of an empty set is undefined"
            )
        if self.kind in ("sum", "prod"):
            res = _NP[self.kind](x, axis=self.axis, dtype=out_dtype)
        else:
            res = _NP[self.kind](x, axis=self.axis)
        return [np.array(res, dtype=out_dtype)]

    def infer_shape(self, node, input_shapes):
        return [tuple(s for i, s in enumerate(input_shapes[0]) if i not in self.axis)]

    def _partials(self, node) -> Variable:
        """d out / d x, broadcast to x's shape (for prod, max, min)."""
        x = node.inputs[0]
        if self.kind == "prod":
            return _prod_partials(x, self.axis)
        return builder("eq")(x, _keep(x, node.outputs[0], self.axis))

    def vjp(self, node, cotangents):
        gz = cotangents[0]
        x = node.inputs[0]
        if gz is None or x.dtype not in dtypes.FLOATS or self.kind in ("all", "any"):
            return [None]
        gz_b = _keep(x, gz, self.axis)
        if self.kind == "sum":
            return [builder("fill")(x, gz_b)]
        return [gz_b * self._partials(node)]

    def jvp(self, node, tangents):
        t = tangents[0]
        x = node.inputs[0]
        if t is None or self.kind in ("all", "any") or x.dtype not in dtypes.FLOATS:
            return [None]
        if self.kind == "sum":
            return [reduce(t, "sum", self.axis)]
        return [reduce(t * self._partials(node), "sum", self.axis)]

    def batch(self, node, inputs, batched):
        x = inputs[0]
        axes = tuple(a + 1 for a in self.axis) if batched[0] else self.axis
        return [Reduce(self.kind, axes).make_node(x).outputs[0]], [batched[0]]

    def c_code(self, ctx, node, ins):
        """One loop nest over x; a full reduction of a contiguous x is one flat simd loop."""
        from ccgrad.lower.reductions import emit_reduction
        from ccgrad.lower.values import CVal
        from ccgrad.ops.scalar import c_cast

        x = ins[0]
        xv = node.inputs[0]
        out_dt = node.outputs[0].dtype
        if xv.ndim == 0:
            return [CVal(out_dt, 0, scalar=c_cast(x.value(), xv.dtype, out_dt))]
        flat_ok, flat = "0", None
        if x.ptr is not None and len(self.axis) == xv.ndim:
            flat_ok = x.runtime_contiguous()

            def flat(i):
                return [], f"{x.ptr}[{i}]"

        return [emit_reduction(ctx, node, 0, list(x.shape), self.axis, self.kind,
                               lambda idx: ([], x.at(idx)), xv.dtype, flat_ok, flat)]

    def pp(self, node, args):
        x = node.inputs[0]
        if self.axis == tuple(range(x.ndim)):
            return f"{self.kind}({args[0]})"
        ax = list(self.axis) if len(self.axis) != 1 else self.axis[0]
        return f"{self.kind}({args[0]}, axis={ax})"


def _prod_partials(x: Variable, axes: tuple[int, ...]) -> Variable:
    """d prod(x, axes) / d x, exact when x holds zeros, as a graph shaped like x.

    With z = (x == 0), xs = x with zeros replaced by 1, q = prod(xs) (no zeros, so q / xs is the
    product of the other non-zero entries) and c = the number of zeros among the *other*
    entries of the group, the partial is q / xs when c == 0, 0 when c >= 2, and when c == 1 it
    is q / xs times the one other zero: 0 in value, but its derivative is q / xs, so the
    expression `others` keeps that zero in the graph.  First and second derivatives are then
    exact everywhere; third and higher ones at points with several zeros are not.  (An infinite
    entry gets NaN for its own partial, inf / inf, as with the naive out / x.)
    """
    eq, cast, switch = builder("eq"), builder("cast"), builder("switch")
    z = eq(x, 0)
    xs = switch(z, 1, x)
    q = _keep(x, reduce(xs, "prod", axes), axes)
    zx = switch(z, x, 0)  # zero in value; carries d/dx at the zero entries (no inf * 0)
    others = _keep(x, reduce(zx, "sum", axes), axes) - zx
    c = _keep(x, reduce(z, "sum", axes), axes) - cast(z, "int64")
    return q / xs * (eq(c, 0) + eq(c, 1) * others)


def reduce(x, kind: str, axis=None, keepdims: bool = False) -> Variable:
    """Build Reduce{kind} over `axis` (a node even when no axis is reduced)."""
    x = as_variable(x)
    axes = normalize_axis(axis, x.ndim, kind)
    out = Reduce(kind, axes).make_node(x).outputs[0]
    return _keep(x, out, axes) if keepdims else out


def _acc(x: Variable, dtype) -> Variable:
    """x converted to the requested accumulation dtype (numpy's `dtype=` argument)."""
    return x if dtype is None else builder("cast")(x, dtype)


@register("sum")
def sum(x, axis=None, keepdims: bool = False, dtype=None, acc_dtype=None) -> Variable:  # noqa: A001
    """Sum over `axis` (all axes by default).  Bools and integers sum in int64, as numpy;
    `dtype` sets the accumulation and output dtype."""
    out = reduce(_acc(as_variable(x), dtype), "sum", axis, keepdims)
    return _acc(out, dtype)


@register("prod")
def prod(x, axis=None, keepdims: bool = False, dtype=None, acc_dtype=None) -> Variable:
    """Product over `axis`; its gradient is exact at zeros.  Integers multiply in int64."""
    out = reduce(_acc(as_variable(x), dtype), "prod", axis, keepdims)
    return _acc(out, dtype)


@register("max")
def max(x, axis=None, keepdims: bool = False) -> Variable:  # noqa: A001
    """Maximum over `axis`.  The gradient goes to every element equal to the maximum."""
    return reduce(x, "max", axis, keepdims)


@register("min")
def min(x, axis=None, keepdims: bool = False) -> Variable:  # noqa: A001
    """Minimum over `axis`.  The gradient goes to every element equal to the minimum."""
    return reduce(x, "min", axis, keepdims)


@register("all")
def all(x, axis=None, keepdims: bool = False) -> Variable:  # noqa: A001
    """True where every element along `axis` is non-zero."""
    return reduce(x, "all", axis, keepdims)


@register("any")
def any(x, axis=None, keepdims: bool = False) -> Variable:  # noqa: A001
    """True where some element along `axis` is non-zero."""
    return reduce(x, "any", axis, keepdims)


def _count(x: Variable, axes: Sequence[int], dtype: str) -> Variable:
    """Number of elements over `axes` as a `dtype` scalar (a constant when static)."""
    static = [x.type.shape[a] for a in axes]
    if builtins.all(s is not None for s in static):
        return Constant(TensorType(dtype, shape=()), int(np.prod(static, dtype="int64")))
    n = None
    for a in axes:
        d = builder("shape_i")(x, a)
        n = d if n is None else n * d
    return builder("cast")(n, dtype)


@register("mean")
def mean(x, axis=None, keepdims: bool = False, dtype=None, acc_dtype=None) -> Variable:
    """Arithmetic mean over `axis`; bools and integers average in float64 (numpy)."""
    x = as_variable(x)
    axes = normalize_axis(axis, x.ndim, "mean")
    s = reduce(x, "sum", axes, keepdims)
    if s.dtype not in dtypes.FLOATS:
        s = builder("cast")(s, "float64")
    out = builder("true_div")(s, _count(x, axes, s.dtype))
    return _acc(out, dtype)


@register("var")
def var(x, axis=None, keepdims: bool = False, ddof: int = 0, corrected: bool = False) -> Variable:
    """Variance over `axis`: mean squared deviation, divided by n - ddof (corrected: ddof=1)."""
    x = as_variable(x)
    if x.dtype == "bool":
        x = builder("cast")(x, "int8")
    axes = normalize_axis(axis, x.ndim, "var")
    d = x - mean(x, axes, keepdims=True)
    ss = reduce(d * d, "sum", axes, keepdims)
    n = _count(x, axes, ss.dtype)
    ddof = 1 if corrected and not ddof else ddof
    if ddof:
        n = n - ddof
    return builder("true_div")(ss, n)


@register("std")
def std(x, axis=None, keepdims: bool = False, ddof: int = 0, corrected: bool = False) -> Variable:
    """Standard deviation over `axis`: sqrt(var)."""
    return builder("sqrt")(var(x, axis, keepdims, ddof, corrected))


# ---------------------------------------------------------------------------------------------


class ArgReduce(Op):
    """Index of the max/min over `axis`; several axes are searched as one flattened (C-order)
    axis, so axis=all axes gives numpy's flat index.  Ties: the first occurrence."""

    __props__ = ("kind", "axis")

    def __init__(self, kind: str, axis: Sequence[int]):
        if kind not in ("argmax", "argmin"):
            raise ValueError(f"unknown arg-reduction {kind!r}")
        self.kind = kind
        self.axis = tuple(int(a) for a in axis)

    def __str__(self) -> str:
        return f"{self.kind.capitalize()}{{axis={list(self.axis)}}}"

    def make_node(self, x) -> Apply:
        x = as_variable(x)
        for a in self.axis:
            if not 0 <= a < x.ndim:
                raise ValueError(f"{self.kind}: axis {a} is out of range for input of shape {_fmt(x)}")
        if builtins.any(x.type.shape[a] == 0 for a in self.axis):
            raise ValueError(f"{self.kind}: attempt to get {self.kind} of an empty sequence "
                             f"(axis {list(self.axis)} of static shape {_fmt(x)})")
        shape = tuple(s for i, s in enumerate(x.type.shape) if i not in self.axis)
        return Apply(self, [x], [TensorType("int64", shape=shape)])

    def perform(self, node, inputs):
        x = inputs[0]
        keep = [i for i in range(x.ndim) if i not in self.axis]
        moved = np.transpose(x, keep + list(self.axis))
        size = int(np.prod([x.shape[a] for a in self.axis], dtype="int64"))
        if size == 0:
            raise ValueError(f"{self.kind}: attempt to get {self.kind} of an empty sequence "
                             f"(axis {list(self.axis)} of an input of shape {x.shape})")
        flat = moved.reshape(moved.shape[: len(keep)] + (size,))
        fn = np.argmax if self.kind == "argmax" else np.argmin
        return [np.array(fn(flat, axis=-1), dtype="int64")]

    def infer_shape(self, node, input_shapes):
        return [tuple(s for i, s in enumerate(input_shapes[0]) if i not in self.axis)]

    def connection_pattern(self, node):
        return [[False]]

    def vjp(self, node, cotangents):
        return [None]

    def jvp(self, node, tangents):
        return [None]

    def c_code(self, ctx, node, ins):
        """For each kept index: walk the reduced axes in C order, keeping the first extremum
        (a NaN wins, as in numpy)."""
        from ccgrad.lower.loops import emit_lanes  # noqa: F401  (loops for the kept axes below)

        x = ctx.materialize(ins[0])
        xv = node.inputs[0]
        red = [a for a in self.axis]
        kept = [a for a in range(xv.ndim) if a not in red]
        n_red = " * ".join(x.shape[a] for a in red) or "1"
        ctx.check(f"({n_red}) > 0", 3, f"{self.kind}: attempt to get {self.kind} of an empty sequence")
        out = ctx.alloc(node, 0, [x.shape[a] for a in kept]) if kept else ctx.scalar(node, 0)
        cmp = ">" if self.kind == "argmax" else "<"
        ct = x.ctype
        idx = [ctx.name("a") for _ in range(xv.ndim)]
        outer = []
        for a in kept:
            cm = ctx.loop(idx[a], x.shape[a])
            cm.__enter__()
            outer.append(cm)
        best, pos, cnt = ctx.name("best"), ctx.name("pos"), ctx.name("cnt")
        first = {a: "0" for a in red}
        ctx.line(f"{ct} {best} = {x.at([first.get(a, idx[a]) for a in range(xv.ndim)])};")
        ctx.line(f"int64_t {pos} = 0, {cnt} = 0;")
        inner = []
        for a in red:
            cm = ctx.loop(idx[a], x.shape[a])
            cm.__enter__()
            inner.append(cm)
        v = ctx.name("v")
        ctx.line(f"const {ct} {v} = {x.at(idx)};")
        if xv.dtype in dtypes.FLOATS:
            cond = f"({v} {cmp} {best} || ({v} != {v} && {best} == {best}))"
        else:
            cond = f"({v} {cmp} {best})"
        ctx.line(f"if ({cond}) {{ {best} = {v}; {pos} = {cnt}; }}")
        ctx.line(f"{cnt}++;")
        for cm in reversed(inner):
            cm.__exit__(None, None, None)
        if kept:
            off = " + ".join(f"{idx[a]} * {st}" for a, st in zip(kept, out.strides))
            ctx.line(f"{out.ptr}[{off}] = {pos};")
        else:
            ctx.line(f"{out.scalar} = {pos};")
        for cm in reversed(outer):
            cm.__exit__(None, None, None)
        return [out]

    def batch(self, node, inputs, batched):
        axes = tuple(a + 1 for a in self.axis) if batched[0] else self.axis
        return [ArgReduce(self.kind, axes).make_node(inputs[0]).outputs[0]], [batched[0]]

    def pp(self, node, args):
        return f"{self.kind}({args[0]}, axis={list(self.axis)})"


def _arg(kind: str, x, axis, keepdims: bool) -> Variable:
    x = as_variable(x)
    axes = normalize_axis(axis, x.ndim, kind)
    out = ArgReduce(kind, axes).make_node(x).outputs[0]
    return _keep(x, out, axes) if keepdims else out


@register("argmax")
def argmax(x, axis=None, keepdims: bool = False) -> Variable:
    """Index of the maximum (first one on ties), int64; axis=None gives the flat index."""
    return _arg("argmax", x, axis, keepdims)


@register("argmin")
def argmin(x, axis=None, keepdims: bool = False) -> Variable:
    """Index of the minimum (first one on ties), int64; axis=None gives the flat index."""
    return _arg("argmin", x, axis, keepdims)


@register("max_and_argmax")
def max_and_argmax(x, axis=None, keepdims: bool = False) -> list[Variable]:
    """[max(x, axis), argmax(x, axis)] (Theano's T.max_and_argmax)."""
    return [max(x, axis, keepdims), argmax(x, axis, keepdims)]
