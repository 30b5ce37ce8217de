"""Shape and layout ops: Shape, Shape_i, DimShuffle (transpose / add / drop broadcastable
axes), Alloc (broadcast a value to a shape).  Indexing ops live in ops/subtensor.py."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ccgrad import dtypes
from ccgrad.graph import Apply, Constant, Op, TensorType, Variable, as_variable, builder, register


def _int_scalar(x, what: str) -> Variable:
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
    if v.owner is not None and isinstance(v.owner.op, ShapeI):
        s = v.owner.inputs[0].type.shape[v.owner.op.i]
        return s
    return None


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


@register("shape_i")
def shape_i(x, i: int) -> Variable:
    """x.shape[i] as a scalar; a constant when the static shape knows it."""
    x = as_variable(x)
    i = int(i) % x.ndim if x.ndim else int(i)
    return ShapeI(i).make_node(x).outputs[0]


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
        return f"dimshuffle{{{','.join(str(o) for o in self.new_order)}}}({args[0]})"


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
        dims = [_int_scalar(s, "alloc shape entry") for s in shape]
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
        try:
            out = np.broadcast_to(value, shape)
        except ValueError as exc:
            raise ValueError(f"alloc: cannot broadcast value of shape {value.shape} to {shape}") from exc
        return [np.array(out, copy=True)]

    def infer_shape(self, node, input_shapes):
        return [tuple(node.inputs[1:])]

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


_SPECIFY_LIKE = SpecifyShapeLike()


@register("specify_shape_like")
def specify_shape_like(x, ref) -> Variable:
    """x, checked at run time to have ref's shape."""
    return _SPECIFY_LIKE.make_node(x, ref).outputs[0]
