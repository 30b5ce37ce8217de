"""Reshape (numpy's reshape, one entry may be -1) with its reshape / flatten builders and C
emission, and the shape_padleft / shape_padright / shape_padaxis builders (axes of length 1
added by DimShuffle)."""

from __future__ import annotations

import numpy as np

from ccgrad.graph import Apply, Op, TensorType, Variable, as_variable, register
from ccgrad.lower.values import CVal, row_major_strides
from ccgrad.ops.indexspec import c_int64, c_static_dims
from ccgrad.ops.shape import ShapeI, dimshuffle, shape_i, shape_list
from ccgrad.ops.symint import (
    as_int64,
    int_scalar,
    shape_entries,
    static_int,
    sym_eq,
    sym_floordiv,
    sym_max,
    sym_neg,
    sym_prod,
    sym_switch,
)


def _nonneg(v) -> bool:
    """True when a shape entry can never be -1 at run time (a known length or a shape_i)."""
    c = static_int(v)
    if c is not None:
        return c >= 0
    return v.owner is not None and isinstance(v.owner.op, ShapeI)


class Reshape(Op):
    """x reshaped to `ndim` scalar integer inputs (numpy's reshape; one entry may be -1).

    The target shape is one int scalar input per output axis (a symbolic shape vector is split
    by the `reshape` builder), so static lengths come from constant entries.
    """

    __props__ = ("ndim",)

    def __init__(self, ndim: int):
        self.ndim = int(ndim)

    def __str__(self) -> str:
        return f"Reshape{{{self.ndim}}}"

    def make_node(self, x, *shape) -> Apply:
        x = as_variable(x)
        if len(shape) != self.ndim:
            raise TypeError(f"Reshape{{{self.ndim}}} takes {self.ndim} shape entries, got {len(shape)}")
        dims = [int_scalar(s, "reshape: shape entry") for s in shape]
        consts = [static_int(d) for d in dims]
        shown = tuple("?" if c is None else c for c in consts)
        if sum(c == -1 for c in consts) > 1:
            raise ValueError(f"reshape: only one entry of the shape {shown} can be -1")
        if any(c is not None and c < -1 for c in consts):
            raise ValueError(f"reshape: negative entry in the shape {shown}")
        static = [c if c is not None and c >= 0 else None for c in consts]
        size = None if None in x.type.shape else int(np.prod(x.type.shape, dtype="int64"))
        if size is not None and all(c is not None for c in consts):
            rest = int(np.prod([c for c in consts if c != -1], dtype="int64"))
            if -1 in consts:
                if rest == 0 or size % rest:
                    raise ValueError(f"reshape: cannot reshape {x.type!r} (size {size}) into shape {shown}")
                static[consts.index(-1)] = size // rest
            elif rest != size:
                raise ValueError(f"reshape: cannot reshape {x.type!r} (size {size}) into shape {shown}")
        return Apply(self, [x, *dims], [TensorType(x.dtype, shape=static)])

    def perform(self, node, inputs):
        x, *dims = inputs
        shp = tuple(int(d) for d in dims)
        if sum(d == -1 for d in shp) > 1 or any(d < -1 for d in shp):
            raise ValueError(f"reshape: invalid target shape {shp} for an array of shape {x.shape}")
        try:
            y = x.reshape(shp)
        except ValueError:
            raise ValueError(
                f"reshape: cannot reshape an array of shape {x.shape} (size {x.size}) into shape {shp}"
            ) from None
        return [np.array(y, copy=True)]

    def infer_shape(self, node, input_shapes):
        dims = list(node.inputs[1:])
        size = sym_prod(input_shapes[0])
        out = []
        for i, d in enumerate(dims):
            s = node.outputs[0].type.shape[i]
            c = static_int(d)
            if s is not None:
                out.append(s)
            elif _nonneg(d):
                out.append(d)
            elif c == -1:
                others = sym_prod(e for j, e in enumerate(dims) if j != i)
                out.append(sym_floordiv(size, sym_max(others, 1)))
            else:  # a symbolic entry that may be -1 at run time
                inferred = sym_floordiv(size, sym_max(sym_neg(sym_prod(dims)), 1))
                out.append(sym_switch(sym_eq(d, -1), inferred, d))
        return [tuple(as_int64(v) for v in out)]

    def connection_pattern(self, node):
        return [[True]] + [[False]] * self.ndim

    def vjp(self, node, cotangents):
        gz = cotangents[0]
        x = node.inputs[0]
        rest = [None] * self.ndim
        if gz is None:
            return [None] + rest
        return [Reshape(x.ndim).make_node(gz, *shape_list(x)).outputs[0]] + rest

    def jvp(self, node, tangents):
        t = tangents[0]
        return [None if t is None else self.make_node(t, *node.inputs[1:]).outputs[0]]

    def batch(self, node, inputs, batched):
        x, *dims = inputs
        if any(batched[1:]):
            raise NotImplementedError("reshape with a batched target shape")
        if not batched[0]:
            return [self.make_node(x, *dims).outputs[0]], [False]
        return [Reshape(self.ndim + 1).make_node(x, shape_i(x, 0), *dims).outputs[0]], [True]

    def pp(self, node, args):
        tail = "," if self.ndim == 1 else ""
        return f"reshape({args[0]}, ({', '.join(args[1:])}{tail}))"

    def c_code(self, ctx, node, ins):
        """Checks the target shape against x's size (one -1 entry inferred).  The result is a
        view of x when x is C-contiguous at run time (decided at run time unless known at
        compile time), else a C-contiguous copy in a work buffer: either way a C-contiguous
        value, so consumers take their flat fast paths."""
        x, *dims = ins
        out_var = node.outputs[0]
        ds = [c_int64(ctx, d, "rs") for d in dims]
        may_infer = [k for k, d in enumerate(node.inputs[1:]) if not _nonneg(d)]
        size, known = ctx.name("size"), ctx.name("known")
        ctx.line(f"const int64_t {size} = {x.size()};")
        entries = ", ".join(f"{d} == -1 ? 1 : {d}" if k in may_infer else d for k, d in enumerate(ds)) or "1"
        ctx.line(f"const int64_t {known} = ccg_nbytes((const int64_t[]){{{entries}}}, {len(ds)}, 1);")
        n_inf = " + ".join(f"({ds[k]} == -1)" for k in may_infer) or "0"
        ok = (f"{known} >= 0 && ({n_inf} == 0 ? {known} == {size} : "
              f"({n_inf} == 1 && {known} > 0 && {size} % {known} == 0))")
        shown = ", ".join("%lld" for _ in ds) + ("," if len(ds) == 1 else "")
        ctx.check(ok, 3, f"reshape: cannot reshape an array of size %lld into shape ({shown})", size, *ds)
        shape = [f"({d} == -1 ? {size} / {known} : {d})" if k in may_infer else d for k, d in enumerate(ds)]
        shape = c_static_dims(out_var, shape)
        if not shape:
            return [ctx.scalar(node, 0, init=x.at(["0"] * x.ndim))]
        if x.ptr is None:
            return [CVal(x.dtype, len(shape), scalar=x.scalar, shape=shape, strides=["0"] * len(shape), base=x.base)]
        strides = row_major_strides(shape)
        if x.contiguous:
            return [CVal(x.dtype, len(shape), ptr=x.ptr, shape=shape, strides=strides, contiguous=True, base=x.base)]
        from ccgrad.lower.loops import emit_copy

        p = ctx.name("r")
        ctx.line(f"{x.ctype} *{p} = {x.ptr};")
        with ctx.if_(f"!({x.runtime_contiguous()})"):
            tmp = ctx.scratch(x.dtype, list(x.shape))
            emit_copy(ctx, tmp, x)
            ctx.line(f"{p} = {tmp.ptr};")
        return [CVal(x.dtype, len(shape), ptr=p, shape=shape, strides=strides, contiguous=True, base=x.base)]


@register("reshape")
def reshape(x, shape, ndim: int | None = None) -> Variable:
    """x with a new shape (numpy semantics, one entry may be -1).  `shape` mixes Python ints
    and int scalars, or is an int vector Variable (then its length or `ndim` gives the rank)."""
    x = as_variable(x)
    dims = shape_entries(shape, "reshape", ndim)
    if ndim is not None and len(dims) != ndim:
        raise ValueError(f"reshape: ndim={ndim} but the shape has {len(dims)} entries")
    return Reshape(len(dims)).make_node(x, *dims).outputs[0]


@register("flatten")
def flatten(x, ndim: int = 1, outdim: int | None = None) -> Variable:
    """Theano's flatten: keep the first ndim-1 axes and collapse the rest into one."""
    x = as_variable(x)
    ndim = int(outdim if outdim is not None else ndim)
    if ndim < 1 or (ndim > 1 and ndim > x.ndim):
        raise ValueError(f"flatten: ndim={ndim} must be between 1 and the input's ndim {x.ndim}")
    dims = shape_list(x)
    target = dims[: ndim - 1] + [sym_prod(dims[ndim - 1:])]
    return Reshape(ndim).make_node(x, *target).outputs[0]


@register("shape_padleft")
def shape_padleft(x, n_ones: int = 1) -> Variable:
    """x with n_ones broadcastable axes added in front."""
    x = as_variable(x)
    return dimshuffle(x, ("x",) * n_ones + tuple(range(x.ndim)))


@register("shape_padright")
def shape_padright(x, n_ones: int = 1) -> Variable:
    """x with n_ones broadcastable axes added at the end."""
    x = as_variable(x)
    return dimshuffle(x, tuple(range(x.ndim)) + ("x",) * n_ones)


@register("shape_padaxis")
def shape_padaxis(x, axis: int) -> Variable:
    """x with a broadcastable axis inserted at `axis` (numpy's expand_dims)."""
    x = as_variable(x)
    if not -x.ndim - 1 <= axis <= x.ndim:
        raise IndexError(f"shape_padaxis: axis {axis} out of range for a {x.ndim}-d input")
    axis %= x.ndim + 1
    order: list = list(range(x.ndim))
    order.insert(axis, "x")
    return dimshuffle(x, tuple(order))
