"""Indexing: Subtensor (basic slicing/int indexing, symbolic scalar indices), AdvancedSubtensor1
(integer vector on axis 0), AdvancedSubtensor (integer arrays, numpy semantics), their
set/increment counterparts IncSubtensor / AdvancedIncSubtensor1 / AdvancedIncSubtensor, and the
builders getitem (x[...]), set_subtensor and inc_subtensor.

The index is an op parameter, the *spec*: one entry per indexed axis of x, each
  - a Python int (a constant index, may be negative),
  - "i" (a symbolic int scalar index: the next index input),
  - "a" (an integer array index: the next index input; advanced ops only),
  - a (start, stop, step) tuple whose fields are None, Python ints or "i".
Index inputs follow x (and y for the inc ops) in spec order.  Axes beyond the spec are taken
whole; `None`/newaxis is applied first by a DimShuffle (as Theano does), Ellipsis is expanded,
trailing full slices are dropped, so equal indexings give equal ops.  Parsing and the layout
rules live in ops/indexspec.py.

In C, basic indexing is a view (no copy); advanced indexing gathers into a fresh buffer; the
writing ops copy x (or take over x's buffer when x dies there) and store / accumulate y.  Every
index is checked at run time (IndexError naming the op, axis, index and length).
"""

from __future__ import annotations

import numpy as np

from ccgrad import dtypes
from ccgrad.graph import Apply, Constant, Op, TensorType, Variable, as_variable, builder, register
from ccgrad.lower.values import CVal
from ccgrad.ops.indexspec import (  # noqa: F401  (re-exported for importers of ccgrad.ops.subtensor)
    FULL,
    CIndex,
    adv_location,
    c_check_fill,
    c_static_dims,
    c_update,
    check_int_var,
    fill_spec,
    index_dims,
    np_index,
    parse_index,
    pp_index,
    spec_str,
    static_bcast,
    static_slice_len,
    sym_bcast,
    sym_slice_len,
)
from ccgrad.ops.shape import Shape, batch_broadcast, dimshuffle, move_axis_to_front, shape_i
from ccgrad.ops.symint import as_int64, fold, static_int


def _static_or_i(v: Variable):
    c = static_int(v)
    return "i" if c is None else c


def _zero(dtype: str) -> Constant:
    return Constant(TensorType(dtype, shape=()), 0)


# ---------------------------------------------------------------------------------------------
# Reading: Subtensor, AdvancedSubtensor1, AdvancedSubtensor


class _Read:
    """What the three reading ops share; each class fixes which specs it accepts."""

    spec: tuple = ()
    pp_name = "subtensor"

    def __str__(self) -> str:
        return f"{type(self).__name__}{{{spec_str(self.spec)}}}"

    def inc_op(self, set_instead_of_inc: bool) -> Op:
        raise NotImplementedError

    def make_node(self, x, *idx) -> Apply:
        name = type(self).__name__
        x = as_variable(x)
        idx = [as_variable(v) for v in idx]
        spec = self.spec
        if len(spec) > x.ndim:
            raise IndexError(f"{name}{{{spec_str(spec)}}}: too many indices for a {x.ndim}-d {x.type!r}")
        wants = [p for e in spec for p in (e if isinstance(e, tuple) else (e,)) if p in ("i", "a")]
        if len(wants) != len(idx):
            raise TypeError(f"{name}{{{spec_str(spec)}}} takes {len(wants)} index inputs, got {len(idx)}")
        for w, v in zip(wants, idx):
            check_int_var(v, name)
            if (w == "i") != (v.ndim == 0):
                kind = "a scalar" if w == "i" else "an array"
                raise TypeError(f"{name}{{{spec_str(spec)}}}: expected {kind} index, got {v.type!r}")
        # Statically known symbolic scalars (e.g. shape_i of a static axis) refine the type.
        info = [(_static_or_i(v) if w == "i" else v.type.shape) for w, v in zip(wants, idx)]
        it = iter(info)
        for axis, e in enumerate(spec):
            if isinstance(e, tuple):
                for p in e:
                    if p == "i":
                        next(it)
                continue
            if e in ("i", "a"):
                e = next(it)
            n = x.type.shape[axis]
            if isinstance(e, int) and n is not None and not -n <= e < n:
                raise IndexError(f"{name}: index {e} is out of bounds for axis {axis} with length {n}")
        dims = index_dims(spec, x.type.shape, info, static_slice_len, static_bcast)
        return Apply(self, [x, *idx], [TensorType(x.dtype, shape=dims)])

    def perform(self, node, inputs):
        x, *vals = inputs
        index = np_index(type(self).__name__, self.spec, x.shape, vals)
        return [np.array(x[index], copy=True)]

    def infer_shape(self, node, input_shapes):
        xdims = [fold(s) for s in input_shapes[0]]
        info = [v if v.ndim == 0 else [fold(s) for s in shp]
                for v, shp in zip(node.inputs[1:], input_shapes[1:])]
        dims = index_dims(self.spec, xdims, info, sym_slice_len, sym_bcast)
        return [tuple(as_int64(d) for d in dims)]

    def connection_pattern(self, node):
        return [[True]] + [[False]] * (len(node.inputs) - 1)

    def vjp(self, node, cotangents):
        gz = cotangents[0]
        x, *idx = node.inputs
        rest = [None] * len(idx)
        if gz is None or x.dtype not in dtypes.FLOATS:
            return [None] + rest
        gx = self.inc_op(False).make_node(builder("zeros_like")(x), gz, *idx).outputs[0]
        return [gx] + rest

    def jvp(self, node, tangents):
        t = tangents[0]
        return [None if t is None else self.make_node(t, *node.inputs[1:]).outputs[0]]

    def batch(self, node, inputs, batched):
        return _batch_read(self, inputs, batched)

    def pp(self, node, args):
        return f"{args[0]}[{pp_index(self.spec, args[1:])}]"

    def c_code(self, ctx, node, ins):
        """Basic indexing is a view (pointer offset, clamped lengths, scaled strides); advanced
        indexing gathers into a fresh buffer.  Every index is checked before memory is read."""
        x, *idx = ins
        out_var = node.outputs[0]
        ci = CIndex(ctx, type(self).__name__, self.spec, list(x.shape), idx, [v.type.shape for v in node.inputs[1:]])
        dims = c_static_dims(out_var, ci.dims)
        if ci.arrays:
            out = ctx.alloc(node, 0, dims)
            ci.walk(x.strides, lambda w, o: ctx.line(
                f"{out.at(w)} = {x.scalar if x.ptr is None else f'{x.ptr}[{o}]'};"))
            return [out]
        off = ci.base_offset(x.strides)
        if out_var.ndim == 0:
            return [ctx.scalar(node, 0, init=x.scalar if x.ptr is None else f"{x.ptr}[{off}]")]
        if x.ptr is None:
            return [CVal(x.dtype, out_var.ndim, scalar=x.scalar, shape=dims, strides=["0"] * len(dims), base=x.base)]
        p = ctx.name("v")
        ctx.line(f"{x.ctype} *{p} = {x.ptr} + ({off});")
        # x[i, j, a:b] of a C-contiguous x is C-contiguous
        contiguous = x.contiguous and all(e[0] == "int" for e in ci.entries[:-1]) and (
            not ci.entries or ci.entries[-1][0] == "int" or ci.entries[-1][3] == "1")
        return [CVal(x.dtype, out_var.ndim, ptr=p, shape=dims, strides=ci.view_strides(x.strides),
                     contiguous=contiguous, base=x.base)]


class Subtensor(_Read, Op):
    """Basic indexing x[...] with ints, slices and symbolic int scalars (numpy semantics:
    slices clamp, out-of-range ints raise IndexError)."""

    __props__ = ("spec",)

    def __init__(self, spec: tuple):
        spec = tuple(spec)
        if "a" in spec:
            raise ValueError(f"Subtensor spec {spec} has an array entry; use AdvancedSubtensor")
        self.spec = spec

    def inc_op(self, set_instead_of_inc):
        return IncSubtensor(self.spec, set_instead_of_inc)


class AdvancedSubtensor1(_Read, Op):
    """x[idx] with an integer vector idx on axis 0 (the common gather; negative indices wrap)."""

    spec = ("a",)

    def __str__(self) -> str:
        return "AdvancedSubtensor1"

    def make_node(self, x, *idx) -> Apply:
        if len(idx) != 1 or as_variable(idx[0]).ndim != 1:
            raise TypeError("AdvancedSubtensor1 takes one integer vector index")
        return super().make_node(x, *idx)

    def inc_op(self, set_instead_of_inc):
        return AdvancedIncSubtensor1(set_instead_of_inc)


class AdvancedSubtensor(_Read, Op):
    """Indexing with integer arrays (and ints/slices beside them), numpy's advanced rules:
    the arrays broadcast together; their dims replace the indexed axes in place when the array
    entries are contiguous, else they go in front."""

    __props__ = ("spec",)

    def __init__(self, spec: tuple):
        spec = tuple(spec)
        if "a" not in spec:
            raise ValueError(f"AdvancedSubtensor spec {spec} has no array entry; use Subtensor")
        self.spec = spec

    def inc_op(self, set_instead_of_inc):
        return AdvancedIncSubtensor(self.spec, set_instead_of_inc)


def read_op(spec: tuple, inputs: list[Variable]) -> Op:
    """The reading op for a spec: Subtensor, AdvancedSubtensor1 (a lone vector) or AdvancedSubtensor."""
    if "a" not in spec:
        return Subtensor(spec)
    if spec == ("a",) and inputs[0].ndim == 1:
        return AdvancedSubtensor1()
    return AdvancedSubtensor(spec)


def _fields(spec: tuple):
    """(entry kind, slice?) for each index input in order."""
    for e in spec:
        if isinstance(e, tuple):
            yield from (("i", True) for p in e if p == "i")
        elif e in ("i", "a"):
            yield e, False


def _batch_read(op: _Read, inputs, batched):
    x, idx = inputs[0], list(inputs[1:])
    spec = op.spec
    if not any(batched[1:]):
        if not batched[0]:
            return [op.make_node(x, *idx).outputs[0]], [False]
        new_spec = (FULL,) + spec
        out = read_op(new_spec, idx).make_node(x, *idx).outputs[0]
        k = 0
        if "a" in spec and adv_location(new_spec) == 0:
            k = max(v.ndim for (e, _), v in zip(_fields(spec), idx) if e == "a")
        return [move_axis_to_front(out, k)], [True]
    # A batched index: express the whole thing as one advanced index whose broadcast dims start
    # with the batch axis, then move that axis to the front.
    new_spec, new_inputs, K = _batched_spec(op, idx, batched[1:], batched[0])
    out = AdvancedSubtensor(new_spec).make_node(x, *new_inputs).outputs[0]
    if batched[0]:
        return [dimshuffle(out, _lead_order(spec, K, out.ndim))], [True]
    return [move_axis_to_front(out, adv_location(new_spec))], [True]


def _batched_spec(op, idx: list[Variable], flags: list[bool], x_batched: bool):
    """(spec, index inputs, K) of one advanced index doing `op`'s indexing for every element of
    the batch: batched scalars become index vectors, batched arrays keep their leading batch
    axis, and a batched x is indexed by an arange over the batch (broadcast against the rest).
    K is the number of broadcast index dims of the unbatched indexing."""
    fields = list(zip(_fields(op.spec), idx, flags))
    if any(is_slice and b for (_, is_slice), _, b in fields):
        raise NotImplementedError(f"{op}: batching over a slice bound is not supported")
    nb = shape_i(next(v for _, v, b in fields if b), 0)
    K = max([v.ndim - b for (e, _), v, b in fields if e == "a"] + [0])
    new_spec: list = []
    new_inputs: list[Variable] = []
    if x_batched:
        new_spec.append("a")
        new_inputs.append(dimshuffle(builder("arange")(nb), (0,) + ("x",) * K))
    it = iter(fields)
    for e in op.spec:
        if isinstance(e, tuple):
            new_inputs.extend(next(it)[1] for p in e if p == "i")
        elif e in ("i", "a"):
            _, v, b = next(it)
            if b:
                v = dimshuffle(v, (0,) + ("x",) * (K - v.ndim + 1) + tuple(range(1, v.ndim)))
                e = "a"
            new_inputs.append(v)
        new_spec.append(e)
    return tuple(new_spec), new_inputs, K


def _lead_order(spec: tuple, n_idx: int, ndim: int) -> list[int]:
    """With the batch arange in front, numpy puts the 1 + n_idx index dims first: (B, index
    dims, slice dims).  The order taking that to (B, unbatched layout), where the index dims
    sat after the first k0 slice dims."""
    k0 = adv_location(spec) if "a" in spec else 0
    return [0, *range(1 + n_idx, 1 + n_idx + k0), *range(1, 1 + n_idx), *range(1 + n_idx + k0, ndim)]


# ---------------------------------------------------------------------------------------------
# Writing: IncSubtensor, AdvancedIncSubtensor1, AdvancedIncSubtensor


def _cast_y(name: str, y: Variable, dtype: str) -> Variable:
    if y.dtype == dtype:
        return y
    if isinstance(y, Constant) and y.weak:
        data = y.data.astype(dtype)
        if not np.array_equal(data, y.data):
            raise TypeError(f"{name}: the value {y.data.item()!r} cannot be stored in a {dtype} tensor")
        return Constant(TensorType(dtype, shape=y.type.shape), data)
    if np.can_cast(y.dtype, dtype, "safe"):
        return builder("cast")(y, dtype)
    raise TypeError(
        f"{name}: cannot store {y.dtype} values into a {dtype} tensor without losing "
        f"information; cast y to {dtype} first"
    )


def _check_y(name: str, ytype: TensorType, y: np.ndarray, view_shape: tuple) -> None:
    """Theano's broadcasting rule for y against the indexed region (run time)."""
    off = len(view_shape) - y.ndim
    if off < 0:
        raise ValueError(f"{name}: y of shape {y.shape} has more dims than the indexed region {view_shape}")
    for k in range(y.ndim):
        if ytype.shape[k] == 1 or y.shape[k] == view_shape[off + k]:
            continue
        raise ValueError(
            f"{name}: y of shape {y.shape} does not match the indexed region of shape {view_shape} "
            f"on axis {off + k}; only axes of static length 1 broadcast"
        )


class _Inc:
    """What the three writing ops share: x with x[index] replaced by (or incremented by) y."""

    spec: tuple = ()
    set_instead_of_inc: bool = False

    def __str__(self) -> str:
        kind = "Set" if self.set_instead_of_inc else "Inc"
        return f"{type(self).__name__}{{{kind}; {spec_str(self.spec)}}}"

    def read_op(self) -> Op:
        raise NotImplementedError

    def with_spec(self, spec: tuple) -> Op:
        """The writing op of the same kind for another spec (used by batch rules)."""
        if "a" in spec:
            return AdvancedIncSubtensor(spec, self.set_instead_of_inc)
        return IncSubtensor(spec, self.set_instead_of_inc)

    def make_node(self, x, y, *idx) -> Apply:
        name = "set_subtensor" if self.set_instead_of_inc else "inc_subtensor"
        x = as_variable(x)
        view = self.read_op().make_node(x, *idx).outputs[0]
        y = _cast_y(name, as_variable(y), x.dtype)
        if y.ndim > view.ndim:
            raise ValueError(
                f"{name}: y {y.type!r} has more dims than the indexed region {view.type!r}"
            )
        off = view.ndim - y.ndim
        for k, s in enumerate(y.type.shape):
            v = view.type.shape[off + k]
            if s not in (None, 1) and v is not None and s != v:
                raise ValueError(
                    f"{name}: y of static shape {y.type.shape} cannot fill the indexed region of "
                    f"static shape {view.type.shape} (axis {off + k})"
                )
        return Apply(self, [x, y, *view.owner.inputs[1:]], [x.type])

    def perform(self, node, inputs):
        x, y, *vals = inputs
        name = type(self).__name__
        out = np.array(x, copy=True)
        index = np_index(name, self.spec, x.shape, vals)
        _check_y(name, node.inputs[1].type, y, out[index].shape)
        if self.set_instead_of_inc:
            out[index] = y
        elif "a" in self.spec:
            np.add.at(out, index, y)  # repeated indices accumulate
        else:
            out[index] += y
        return [out]

    def infer_shape(self, node, input_shapes):
        return [input_shapes[0]]

    def connection_pattern(self, node):
        return [[True], [True]] + [[False]] * (len(node.inputs) - 2)

    def vjp(self, node, cotangents):
        gz = cotangents[0]
        x, y, *idx = node.inputs
        rest = [None] * len(idx)
        if gz is None:
            return [None, None] + rest
        gx = None
        if x.dtype in dtypes.FLOATS:
            gx = gz
            if self.set_instead_of_inc:
                gx = self.make_node(gz, _zero(gz.dtype), *idx).outputs[0]
        gy = None
        if y.dtype in dtypes.FLOATS:
            gy = self.read_op().make_node(gz, *idx).outputs[0]
            if gy.ndim > y.ndim:
                gy = builder("sum")(gy, axis=tuple(range(gy.ndim - y.ndim)))
        return [gx, gy] + rest

    def jvp(self, node, tangents):
        tx, ty = tangents[0], tangents[1]
        x, _, *idx = node.inputs
        if (tx is None and ty is None) or x.dtype not in dtypes.FLOATS:
            return [None]
        if tx is None:
            tx = builder("zeros_like")(x)
        if ty is None:
            if not self.set_instead_of_inc:
                return [tx]
            ty = _zero(x.dtype)
        ty = builder("cast")(ty, x.dtype)
        return [self.make_node(tx, ty, *idx).outputs[0]]

    def batch(self, node, inputs, batched):
        x, y, *idx = inputs
        if not any(batched):
            return [self.make_node(x, y, *idx).outputs[0]], [False]
        nb = shape_i(next(v for v, b in zip(inputs, batched) if b), 0)
        if not batched[0]:
            x = batch_broadcast(x, nb)
        view_nd = self.read_op().make_node(node.inputs[0], *node.inputs[2:]).outputs[0].ndim
        if any(batched[2:]):
            # One advanced write over the batched x (see _batched_spec); y goes from the layout
            # (B, unbatched region) to the layout of that advanced index.
            new_spec, new_inputs, K = _batched_spec(self.read_op(), idx, batched[2:], True)
            yb = y if batched[1] else dimshuffle(y, ("x",) + tuple(range(y.ndim)))
            yb = dimshuffle(yb, (0,) + ("x",) * (view_nd + 1 - yb.ndim) + tuple(range(1, yb.ndim)))
            order = _lead_order(self.spec, K, yb.ndim)
            yb = dimshuffle(yb, tuple(order.index(k) for k in range(len(order))))  # the inverse order
            op = AdvancedIncSubtensor(new_spec, self.set_instead_of_inc)
            return [op.make_node(x, yb, *new_inputs).outputs[0]], [True]
        new_spec = (FULL,) + self.spec
        k = 0
        if "a" in self.spec and adv_location(new_spec) == 0:
            k = max(v.ndim for (e, _), v in zip(_fields(self.spec), idx) if e == "a")
        yb = y if batched[1] else dimshuffle(y, ("x",) + tuple(range(y.ndim)))
        pad = view_nd + 1 - yb.ndim
        yb = dimshuffle(yb, (0,) + ("x",) * pad + tuple(range(1, yb.ndim)))
        yb = dimshuffle(yb, tuple(range(1, k + 1)) + (0,) + tuple(range(k + 1, yb.ndim)))
        return [self.with_spec(new_spec).make_node(x, yb, *idx).outputs[0]], [True]

    def pp(self, node, args):
        fn = "set_subtensor" if self.set_instead_of_inc else "inc_subtensor"
        return f"{fn}({args[0]}[{pp_index(self.spec, args[2:])}], {args[1]})"

    def c_code(self, ctx, node, ins):
        """A copy of x (or x's own buffer when x dies here), then y stored / added through the
        index in row-major order, so increments at repeated advanced positions accumulate."""
        from ccgrad.lower.loops import emit_copy

        x, y, *idx = ins
        xv, yv = node.inputs[:2]
        name = type(self).__name__
        mode = "set" if self.set_instead_of_inc else "add"
        ci = CIndex(ctx, name, self.spec, list(x.shape), idx, [v.type.shape for v in node.inputs[2:]])
        follow = c_check_fill(ctx, name, y, yv.type.shape, ci.dims, "y")
        if xv.ndim == 0:
            r = ctx.scalar(node, 0, init=x.value())
            ctx.line(c_update(r.scalar, y.value(), mode, xv.dtype))
            return [r]
        out = ctx.alloc(node, 0, list(x.shape), reuse=[(xv, x)] if x.ptr is not None else [])
        if out.base == x.base:  # in place: x's buffer, possibly at an offset (then copied down)
            with ctx.if_(f"{out.ptr} != {x.ptr}"):
                emit_copy(ctx, out, x)
        elif xv.ndim == 1 and ci.entries[0][0] == "slice" and ci.entries[0][3] == "1":
            self._c_copy_around(ctx, ci, out, x, y, follow, mode, xv.dtype)
            return [out]
        else:
            emit_copy(ctx, out, x)

        def body(w, o):
            ctx.line(c_update(f"{out.ptr}[{o}]", y.at([w[f] if f is not None else "0" for f in follow]), mode,
                              xv.dtype))

        ci.walk(out.strides, body)
        return [out]

    @staticmethod
    def _c_copy_around(ctx, ci, out, x, y, follow, mode: str, dtype: str) -> None:
        """1-D, one unit-step slice, into a new buffer: x copied around the region and x (+) y
        written inside it, one pass over x instead of a full copy followed by the update (the
        usual last step of a gradient: its output is inc_subtensor(a[1:], b))."""
        first, length = ci.entries[0][1], ci.entries[0][2]
        lo, hi, i = ctx.name("lo"), ctx.name("hi"), ctx.name("i")
        ctx.line(f"const int64_t {lo} = {length} > 0 ? {first} : 0;")
        ctx.line(f"const int64_t {hi} = {lo} + {length};")
        for start, stop, inside in (("0", lo, False), (lo, hi, True), (hi, out.shape[0], False)):
            with ctx.loop(i, stop, start=start):
                ctx.line(f"{out.ptr}[{i}] = {x.at([i])};")
                if inside:
                    src = y.at([f"({i} - {lo})" if f is not None else "0" for f in follow])
                    ctx.line(c_update(f"{out.ptr}[{i}]", src, mode, dtype))


class IncSubtensor(_Inc, Op):
    """x with x[basic index] set to / incremented by y (y broadcasts as in Theano)."""

    __props__ = ("spec", "set_instead_of_inc")

    def __init__(self, spec: tuple, set_instead_of_inc: bool = False):
        self.spec = tuple(spec)
        self.set_instead_of_inc = bool(set_instead_of_inc)
        Subtensor(self.spec)  # validates the spec

    def read_op(self):
        return Subtensor(self.spec)


class AdvancedIncSubtensor1(_Inc, Op):
    """x with x[idx] (integer vector on axis 0) set to / incremented by y; increments at
    repeated indices accumulate (np.add.at)."""

    __props__ = ("set_instead_of_inc",)
    spec = ("a",)

    def __init__(self, set_instead_of_inc: bool = False):
        self.set_instead_of_inc = bool(set_instead_of_inc)

    def read_op(self):
        return AdvancedSubtensor1()


class AdvancedIncSubtensor(_Inc, Op):
    """x with x[advanced index] set to / incremented by y; increments at repeated positions
    accumulate (np.add.at)."""

    __props__ = ("spec", "set_instead_of_inc")

    def __init__(self, spec: tuple, set_instead_of_inc: bool = False):
        self.spec = tuple(spec)
        self.set_instead_of_inc = bool(set_instead_of_inc)
        AdvancedSubtensor(self.spec)

    def read_op(self):
        return AdvancedSubtensor(self.spec)


# ---------------------------------------------------------------------------------------------
# Builders


@register("getitem")
def getitem(x, index) -> Variable:
    """x[index] with numpy's semantics for ints, slices, None, Ellipsis and integer arrays.

    `x.shape[i]` with a Python int i gives `shape_i(x, i)` directly (a scalar that keeps the
    static length, so `T.arange(y.shape[0])` has a static shape when y's type knows it).
    """
    x = as_variable(x)
    if (x.owner is not None and isinstance(x.owner.op, Shape)
            and isinstance(index, int | np.integer) and not isinstance(index, bool)):
        inner = x.owner.inputs[0]
        if not -inner.ndim <= index < inner.ndim:
            raise IndexError(f"index {index} is out of bounds for the shape of a {inner.ndim}-d tensor")
        return shape_i(inner, int(index))
    x, spec, inputs = parse_index(x, index)
    return read_op(spec, inputs).make_node(x, *inputs).outputs[0]


def _write(x_sub, y, set_: bool, what: str) -> Variable:
    node = x_sub.owner if isinstance(x_sub, Variable) else None
    if node is None or not isinstance(node.op, _Read):
        raise TypeError(
            f"{what}: the first argument must be the result of indexing a tensor (x[...]), "
            f"got {x_sub!r}"
        )
    return node.op.inc_op(set_).make_node(node.inputs[0], y, *node.inputs[1:]).outputs[0]


@register("set_subtensor")
def set_subtensor(x_sub, y, inplace: bool = False, tolerate_inplace_aliasing: bool = False) -> Variable:
    """Theano's set_subtensor(x[idx], y): a copy of x with x[idx] replaced by y."""
    return _write(x_sub, y, True, "set_subtensor")


@register("inc_subtensor")
def inc_subtensor(x_sub, y, inplace: bool = False, set_instead_of_inc: bool = False,
                  tolerate_inplace_aliasing: bool = False) -> Variable:
    """Theano's inc_subtensor(x[idx], y): a copy of x with y added at x[idx] (repeated
    advanced indices accumulate)."""
    return _write(x_sub, y, set_instead_of_inc, "inc_subtensor")


def write_at(x, index, y, set_instead_of_inc: bool = False) -> Variable:
    """x with x[index] set to / incremented by y, without building the x[index] read."""
    x, spec, inputs = parse_index(as_variable(x), index)
    return read_op(spec, inputs).inc_op(set_instead_of_inc).make_node(x, y, *inputs).outputs[0]


@register("take")
def take(a, indices, axis: int | None = None) -> Variable:
    """numpy's take: elements of a at integer `indices` along `axis` (flattened a when None)."""
    a = as_variable(a)
    if axis is None:
        return getitem(builder("flatten")(a), indices)
    if not -a.ndim <= axis < a.ndim:
        raise ValueError(f"take: axis {axis} out of range for a {a.ndim}-d input")
    return getitem(a, (slice(None),) * (axis % a.ndim) + (indices,))
