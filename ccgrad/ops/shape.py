"""Shape and layout ops: Shape, Shape_i, DimShuffle (transpose / add / drop broadcastable
axes), Alloc (broadcast a value to a shape), SpecifyShapeLike, each with its C emission.  Reshape
lives in ops/reshape.py, the symbolic-integer helpers shape rules share in ops/symint.py,
indexing ops in ops/subtensor.py."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ccgrad.graph import Apply, Constant, Op, TensorType, Variable, as_variable, builder, register
from ccgrad.lower.values import CVal
from ccgrad.ops.indexspec import c_assign, c_int64
from ccgrad.ops.symint import (  # noqa: F401  (re-exported: older importers use ccgrad.ops.shape)
    SymInt,
    as_int64,
    constant_value,
    fold,
    int_scalar,
    shape_entries,
    static_int,
    sym_add,
    sym_ceildiv,
    sym_eq,
    sym_floordiv,
    sym_lt,
    sym_max,
    sym_min,
    sym_mul,
    sym_neg,
    sym_prod,
    sym_sub,
    sym_switch,
)


def shape_list(x: Variable) -> list[SymInt]:
    """x's shape as SymInts: Python ints for static lengths, shape_i Variables otherwise."""
    return [s if s is not None else shape_i(x, i) for i, s in enumerate(x.type.shape)]


def batch_broadcast(x: Variable, nb: SymInt) -> Variable:
    """x with a new leading axis of length nb (the value repeated): for batch rules whose
    unbatched operand must meet batched ones."""
    x = as_variable(x)
    v = dimshuffle(x, ("x",) + tuple(range(x.ndim)))
    return alloc(v, nb, *shape_list(x))


def move_axis_to_front(x: Variable, k: int) -> Variable:
    """x with axis k moved to position 0 (the other axes keep their order)."""
    if k == 0:
        return x
    order = [k] + [i for i in range(x.ndim) if i != k]
    return dimshuffle(x, tuple(order))


# ---------------------------------------------------------------------------------------------


class Shape(Op):
    """x.shape as an int64 vector.  Disconnected from x's values (no gradient flows)."""

    pp_name = "shape"

    def make_node(self, x) -> Apply:
        x = as_variable(x)
        return Apply(self, [x], [TensorType("int64", shape=(x.ndim,))])

    def perform(self, node, inputs):
        return [np.array(inputs[0].shape, dtype="int64")]

    def infer_shape(self, node, input_shapes):
        return [(Constant(TensorType("int64", shape=()), node.inputs[0].ndim),)]

    def connection_pattern(self, node):
        return [[False]]

    def vjp(self, node, cotangents):
        return [None]

    def jvp(self, node, tangents):
        return [None]

    def batch(self, node, inputs, batched):
        x = inputs[0]
        if not batched[0]:
            return [shape(x)], [False]
        return [builder("getitem")(shape(x), slice(1, None))], [False]

    def c_code(self, ctx, node, ins):
        """A small int64 array of x's axis lengths."""
        x = ins[0]
        name = ctx.name("shp")
        ctx.line(f"int64_t {name}[{max(1, x.ndim)}] = {{{', '.join(x.shape) or '0'}}};")
        return [CVal("int64", 1, ptr=name, shape=[str(x.ndim)], strides=["1"], contiguous=True, base="const")]


_SHAPE = Shape()


@register("shape")
def shape(x) -> Variable:
    """The symbolic shape vector of x."""
    return _SHAPE.make_node(x).outputs[0]


class ShapeI(Op):
    """x.shape[i] as an int64 scalar (what x.shape[i] rewrites to)."""

    __props__ = ("i",)

    def __init__(self, i: int):
        self.i = int(i)

    def make_node(self, x) -> Apply:
        x = as_variable(x)
        if not 0 <= self.i < x.ndim:
            raise ValueError(f"shape_i: axis {self.i} out of range for {x.ndim}-d input")
        return Apply(self, [x], [TensorType("int64", shape=())])

    def perform(self, node, inputs):
        return [np.array(inputs[0].shape[self.i], dtype="int64")]

    def infer_shape(self, node, input_shapes):
        return [()]

    def connection_pattern(self, node):
        return [[False]]

    def vjp(self, node, cotangents):
        return [None]

    def jvp(self, node, tangents):
        return [None]

    def batch(self, node, inputs, batched):
        return [shape_i(inputs[0], self.i + (1 if batched[0] else 0))], [False]

    def pp(self, node, args):
        return f"{args[0]}.shape[{self.i}]"

    def c_code(self, ctx, node, ins):
        return [CVal("int64", 0, scalar=f"((int64_t){ins[0].shape[self.i]})", contiguous=True)]


@register("shape_i")
def shape_i(x, i: int) -> Variable:
    """x.shape[i] as an int64 scalar (negative i counts from the end).  It stays a ShapeI node
    (so x remains in the graph); `constant_value` sees its static length when x's type knows it."""
    x = as_variable(x)
    i = int(i)
    if not -x.ndim <= i < x.ndim:
        raise IndexError(f"shape_i: axis {i} out of range for a {x.ndim}-d input {x.type!r}")
    return ShapeI(i % x.ndim).make_node(x).outputs[0]


# ---------------------------------------------------------------------------------------------


class DimShuffle(Op):
    """Reorder axes, insert broadcastable axes ('x'), drop axes of static length 1."""

    __props__ = ("input_ndim", "new_order")

    def __init__(self, input_ndim: int, new_order: Sequence):
        self.input_ndim = int(input_ndim)
        self.new_order = tuple("x" if o == "x" else int(o) for o in new_order)
        axes = [o for o in self.new_order if o != "x"]
        if len(set(axes)) != len(axes):
            raise ValueError(f"dimshuffle{self.new_order}: an input axis appears twice")
        for o in axes:
            if not 0 <= o < self.input_ndim:
                raise ValueError(
                    f"dimshuffle{self.new_order}: axis {o} out of range for a "
                    f"{self.input_ndim}-d input"
                )
        self.drop = tuple(i for i in range(self.input_ndim) if i not in axes)

    def __str__(self) -> str:
        return f"DimShuffle{{{','.join(str(o) for o in self.new_order)}}}"

    @property
    def is_transpose_only(self) -> bool:
        return not self.drop and "x" not in self.new_order

    def make_node(self, x) -> Apply:
        x = as_variable(x)
        if x.ndim != self.input_ndim:
            raise ValueError(
                f"dimshuffle{self.new_order} expects a {self.input_ndim}-d input, got "
                f"{x.ndim}-d {x.type!r}"
            )
        for i in self.drop:
            if x.type.shape[i] != 1:
                raise ValueError(
                    f"dimshuffle{self.new_order} drops axis {i} of {x.type!r}, which is not "
                    "of static length 1 (broadcastable)"
                )
        shape = tuple(1 if o == "x" else x.type.shape[o] for o in self.new_order)
        return Apply(self, [x], [TensorType(x.dtype, shape=shape)])

    def perform(self, node, inputs):
        x = inputs[0]
        if any(x.shape[i] != 1 for i in self.drop):
            raise ValueError(f"{self}: dropped axes must have length 1, got shape {x.shape}")
        kept = [o for o in self.new_order if o != "x"]
        y = np.transpose(x.reshape([d for i, d in enumerate(x.shape) if i not in self.drop]),
                         np.argsort(np.argsort(kept)))
        y = y.reshape([1 if o == "x" else x.shape[o] for o in self.new_order])
        return [np.array(y, copy=True)]

    def infer_shape(self, node, input_shapes):
        one = Constant(TensorType("int64", shape=()), 1)
        return [tuple(one if o == "x" else input_shapes[0][o] for o in self.new_order)]

    def vjp(self, node, cotangents):
        gz = cotangents[0]
        if gz is None:
            return [None]
        new_axes = [i for i, o in enumerate(self.new_order) if o == "x"]
        if new_axes:
            gz = builder("sum")(gz, axis=tuple(new_axes))
        kept = [o for o in self.new_order if o != "x"]
        # gz now has axes in the order `kept`; put them back and re-insert dropped axes.
        order = []
        for i in range(self.input_ndim):
            order.append("x" if i in self.drop else kept.index(i))
        return [dimshuffle(gz, tuple(order))]

    def jvp(self, node, tangents):
        t = tangents[0]
        return [None if t is None else dimshuffle(t, self.new_order)]

    def batch(self, node, inputs, batched):
        x = inputs[0]
        if not batched[0]:
            return [dimshuffle(x, self.new_order)], [False]
        order = (0,) + tuple("x" if o == "x" else o + 1 for o in self.new_order)
        return [dimshuffle(x, order)], [True]

    def pp(self, node, args):
        if self.new_order == tuple(range(self.input_ndim))[::-1] and self.input_ndim == 2:
            return f"{args[0]}.T"
        k = len(self.new_order) - self.input_ndim
        if k > 0 and self.new_order == ("x",) * k + tuple(range(self.input_ndim)):
            return args[0]  # broadcasting padding (as Theano prints it): x ** 2, not x ** dimshuffle{x}(2)
        return f"dimshuffle{{{','.join(str(o) for o in self.new_order)}}}({args[0]})"

    def c_code(self, ctx, node, ins):
        """A view: axes permuted, new axes of length 1 with stride 0, dropped axes left out."""
        x = ins[0]
        kept = [o for o in self.new_order if o != "x"]
        in_order = kept == sorted(kept)  # only length-1 axes come or go: the layout is unchanged
        return [CVal(x.dtype, len(self.new_order), ptr=x.ptr, scalar=x.scalar,
                     shape=["1" if o == "x" else x.shape[o] for o in self.new_order],
                     strides=["0" if o == "x" else x.strides[o] for o in self.new_order],
                     contiguous=x.contiguous and in_order, contig_flag=x.contig_flag if in_order else None,
                     base=x.base)]


@register("dimshuffle")
def dimshuffle(x, pattern: Sequence) -> Variable:
    """Theano's dimshuffle: pattern of input axes and 'x' for new broadcastable axes."""
    x = as_variable(x)
    pattern = tuple(pattern)
    if pattern == tuple(range(x.ndim)):
        return x
    return DimShuffle(x.ndim, pattern).make_node(x).outputs[0]


@register("transpose")
def transpose(x, axes=None) -> Variable:
    """Reverse the axes (or permute them by `axes`)."""
    x = as_variable(x)
    if axes is None:
        axes = tuple(range(x.ndim))[::-1]
    axes = tuple(int(a) % x.ndim for a in axes)
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(f"transpose: axes {axes} is not a permutation of {x.ndim} axes")
    return dimshuffle(x, axes)


# ---------------------------------------------------------------------------------------------


class Alloc(Op):
    """Broadcast `value` to the shape given by scalar integer inputs (T.alloc)."""

    pp_name = "alloc"

    def make_node(self, value, *shape) -> Apply:
        value = as_variable(value)
        dims = [int_scalar(s, "alloc shape entry") for s in shape]
        if value.ndim > len(dims):
            raise ValueError(
                f"alloc: value of ndim {value.ndim} cannot broadcast to {len(dims)} dims"
            )
        static = []
        offset = len(dims) - value.ndim
        for i, d in enumerate(dims):
            c = constant_value(d)
            if c is not None and c < 0:
                raise ValueError(f"alloc: negative dimension {c} on axis {i}")
            if i >= offset:
                vs = value.type.shape[i - offset]
                if vs not in (None, 1) and c is not None and c != vs:
                    raise ValueError(
                        f"alloc: value of shape {value.type.shape} cannot broadcast to length {c} "
                        f"on axis {i}"
                    )
                if c is None and vs not in (None, 1):
                    c = vs
            static.append(c)
        return Apply(self, [value, *dims], [TensorType(value.dtype, shape=static)])

    def perform(self, node, inputs):
        value, *dims = inputs
        shape = tuple(int(d) for d in dims)
        if any(d < 0 for d in shape):
            raise ValueError(f"alloc: negative dimension in shape {shape}")
        # Theano's rule: only axes of static length 1 broadcast; others must match exactly.
        vtype = node.inputs[0].type
        offset = len(shape) - value.ndim
        for k, (want, got) in enumerate(zip(shape[offset:], value.shape)):
            if vtype.shape[k] != 1 and want != got:
                raise ValueError(
                    f"alloc: value of shape {value.shape} (static {vtype.shape}) does not match "
                    f"length {want} on axis {k + offset} of {shape}; only axes of static length 1 "
                    "broadcast"
                )
        try:
            out = np.broadcast_to(value, shape)
        except ValueError as exc:
            raise ValueError(f"alloc: cannot broadcast value of shape {value.shape} to {shape}") from exc
        return [np.array(out, copy=True)]

    def infer_shape(self, node, input_shapes):
        return [tuple(as_int64(d) for d in node.inputs[1:])]

    def connection_pattern(self, node):
        return [[True]] + [[False]] * (len(node.inputs) - 1)

    def vjp(self, node, cotangents):
        gz = cotangents[0]
        rest = [None] * (len(node.inputs) - 1)
        if gz is None:
            return [None] + rest
        value = node.inputs[0]
        extra = node.outputs[0].ndim - value.ndim
        if extra:
            gz = builder("sum")(gz, axis=tuple(range(extra)))
        return [gz] + rest

    def jvp(self, node, tangents):
        t = tangents[0]
        if t is None:
            return [None]
        return [alloc(t, *node.inputs[1:])]

    def batch(self, node, inputs, batched):
        value, *dims = inputs
        if any(batched[1:]):
            raise NotImplementedError("alloc with a batched shape")
        if not batched[0]:
            return [alloc(value, *dims)], [False]
        nb = shape_i(value, 0)
        extra = len(dims) - (value.ndim - 1)
        v = dimshuffle(value, (0,) + ("x",) * extra + tuple(range(1, value.ndim)))
        return [alloc(v, nb, *dims)], [True]

    def c_code(self, ctx, node, ins):
        """A fresh buffer filled with the value; negative lengths and lengths the value cannot
        fill (only static length 1 broadcasts) are errors."""
        value, *dims = ins
        shape = []
        for a, d in enumerate(dims):
            n = c_int64(ctx, d, "d")
            ctx.check(f"{n} >= 0", 3, f"alloc: negative length %lld on axis {a}", n, axis=a)
            shape.append(n)
        if not shape:
            return [ctx.scalar(node, 0, init=value.value())]
        out = ctx.alloc(node, 0, shape)
        c_assign(ctx, out, value, node.inputs[0].type.shape, "set", "alloc", "the value")
        return [out]


_ALLOC = Alloc()


@register("alloc")
def alloc(value, *shape) -> Variable:
    """A new tensor of `shape` filled with `value` (broadcast)."""
    if len(shape) == 1 and isinstance(shape[0], list | tuple):
        shape = tuple(shape[0])
    return _ALLOC.make_node(value, *shape).outputs[0]


# ---------------------------------------------------------------------------------------------


class SpecifyShapeLike(Op):
    """Returns x after checking at run time that x has the shape of `ref`.

    Rop uses it on evaluation points so the result keeps `wrt` in the graph (Theano compiles
    `function([W, V, x], Rop(dot(x, W), W, V))` although the value no longer needs W).
    """

    pp_name = "specify_shape_like"

    def make_node(self, x, ref) -> Apply:
        x = as_variable(x)
        ref = as_variable(ref)
        if x.ndim != ref.ndim:
            raise ValueError(
                f"specify_shape_like: ndim {x.ndim} of {x.type!r} differs from {ref.ndim} of {ref.type!r}"
            )
        shape = tuple(a if a is not None else b for a, b in zip(x.type.shape, ref.type.shape))
        for axis, (a, b) in enumerate(zip(x.type.shape, ref.type.shape)):
            if a is not None and b is not None and a != b:
                raise ValueError(f"specify_shape_like: static length {a} != {b} on axis {axis}")
        return Apply(self, [x, ref], [TensorType(x.dtype, shape=shape)])

    def perform(self, node, inputs):
        x, ref = inputs
        if x.shape != ref.shape:
            raise ValueError(
                f"evaluation point of shape {x.shape} must have the shape {ref.shape} of the "
                f"variable it is paired with ({node.inputs[1]})"
            )
        return [np.array(x, copy=True)]

    def infer_shape(self, node, input_shapes):
        return [input_shapes[1]]

    def connection_pattern(self, node):
        return [[True], [False]]

    def vjp(self, node, cotangents):
        return [cotangents[0], None]

    def jvp(self, node, tangents):
        return [tangents[0]]

    def batch(self, node, inputs, batched):
        x, ref = inputs
        if batched[1] and not batched[0]:
            x = dimshuffle(x, ("x",) + tuple(range(x.ndim)))
            x = alloc(x, shape_i(ref, 0), *[shape_i(x, i) for i in range(1, x.ndim)])
        elif batched[0] and not batched[1]:
            return [x], [True]
        return [self.make_node(x, ref).outputs[0]], [batched[0] or batched[1]]

    def c_code(self, ctx, node, ins):
        """x itself, after checking its lengths against ref's."""
        x, ref = ins
        for a, (d, r) in enumerate(zip(x.shape, ref.shape)):
            if d != r:
                ctx.check(f"{d} == {r}", 1,
                          f"evaluation point {ctx.dim_name(d) or 'value'} has length %lld on axis {a}, but the "
                          f"variable it is paired with ({ctx.dim_name(r) or 'value'}) has length %lld", d, r,
                          axis=a, expected=r, got=d)
        return [x]


_SPECIFY_LIKE = SpecifyShapeLike()


@register("specify_shape_like")
def specify_shape_like(x, ref) -> Variable:
    """x, checked at run time to have ref's shape."""
    return _SPECIFY_LIKE.make_node(x, ref).outputs[0]
