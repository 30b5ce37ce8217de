"""Shape and layout ops: Shape, Shape_i, DimShuffle (transpose / add / drop broadcastable
axes), Alloc (broadcast a value to a shape), Reshape (reshape / flatten), and the small
symbolic-integer arithmetic that shape rules share (`sym_*`: Python ints fold at build time,
anything symbolic becomes an int64 graph).  Indexing ops live in ops/subtensor.py."""

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
# Symbolic integer arithmetic for shape rules.  A "SymInt" is a Python int or a 0-d integer
# Variable; results fold to Python ints whenever every operand is known at build time, so the
# same code yields static shapes and symbolic (int64) shape graphs.

SymInt = int | Variable


def static_int(v) -> int | None:
    """The Python int value of a SymInt when known at build time, else None."""
    if isinstance(v, Variable):
        c = constant_value(v)
        if c is None or np.ndim(c) != 0:
            return None
        return int(c)
    return int(v)


def _fold(v) -> SymInt:
    c = static_int(v)
    return c if c is not None else v


def as_int64(v) -> Variable:
    """A SymInt as a 0-d int64 Variable."""
    if isinstance(v, Variable):
        return v if v.dtype == "int64" else builder("cast")(v, "int64")
    return Constant(TensorType("int64", shape=()), int(v))


def _sym2(a, b, py, name: str) -> SymInt:
    a, b = _fold(a), _fold(b)
    if not isinstance(a, Variable) and not isinstance(b, Variable):
        return py(a, b)
    return builder(name)(as_int64(a), as_int64(b))


def sym_add(a, b) -> SymInt:
    a, b = _fold(a), _fold(b)
    if isinstance(a, int) and a == 0:
        return b
    if isinstance(b, int) and b == 0:
        return a
    return _sym2(a, b, lambda p, q: p + q, "add")


def sym_sub(a, b) -> SymInt:
    b = _fold(b)
    if isinstance(b, int) and b == 0:
        return a
    return _sym2(a, b, lambda p, q: p - q, "sub")


def sym_mul(a, b) -> SymInt:
    a, b = _fold(a), _fold(b)
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
    a = _fold(a)
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
    a, b = _fold(a), _fold(b)
    if isinstance(a, int) and isinstance(b, int) and a == b:
        return a
    return builder("switch")(cond, as_int64(a), as_int64(b))


def sym_prod(items) -> SymInt:
    out: SymInt = 1
    for v in items:
        out = sym_mul(out, v)
    return out


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


# ---------------------------------------------------------------------------------------------


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
        dims = [_int_scalar(s, "reshape: shape entry") for s in shape]
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


def shape_entries(shape, what: str, ndim: int | None = None) -> list[SymInt]:
    """A shape argument (int, tuple/list of ints and int scalars, or an int vector Variable)
    as a list of SymInts.  A symbolic vector needs a static length or `ndim`."""
    if isinstance(shape, Variable):
        if shape.dtype not in dtypes.INTS:
            raise TypeError(f"{what}: shape must have an integer dtype, got {shape.type!r}")
        if shape.ndim == 0:
            return [_fold(shape)]
        if shape.ndim != 1:
            raise ValueError(f"{what}: shape must be a vector or a list of scalars, got {shape.type!r}")
        if isinstance(shape, Constant):
            return [int(v) for v in shape.data]
        if shape.owner is not None and isinstance(shape.owner.op, Shape):
            return shape_list(shape.owner.inputs[0])
        from ccgrad.ops.arrays import Join  # here: arrays imports this module

        node = shape.owner
        if (node is not None and isinstance(node.op, Join) and all(
                i.owner is not None and isinstance(i.owner.op, DimShuffle) and i.owner.op.new_order == ("x",)
                for i in node.inputs)):
            return [_fold(i.owner.inputs[0]) for i in node.inputs]  # a stack of scalars
        n = shape.type.shape[0]
        if n is None:
            n = ndim
        elif ndim is not None and ndim != n:
            raise ValueError(f"{what}: ndim={ndim} disagrees with the shape vector's length {n}")
        if n is None:
            raise ValueError(
                f"{what}: the length of the symbolic shape vector {shape} is unknown; pass ndim="
            )
        return [_fold(builder("getitem")(shape, k)) for k in range(n)]
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
            out.append(_fold(s))
        elif isinstance(s, int | np.integer) and not isinstance(s, bool):
            out.append(int(s))
        else:
            raise TypeError(f"{what}: shape entries must be ints or integer scalars, got {s!r}")
    return out


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
