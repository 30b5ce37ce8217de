"""Array construction and combination: Join (concatenate / join / stack / horizontal_stack /
vertical_stack) and ARange (arange), each with its C emission.  Diagonal-structured arrays
(eye, diag, banded) live in ops/diag.py, the composites tile, repeat, zeros, ones in
ops/composites.py."""

from __future__ import annotations

import math

import numpy as np

from ccgrad import dtypes
from ccgrad.graph import Apply, Constant, Op, TensorType, Variable, as_variable, builder, register
from ccgrad.lower.values import CVal
from ccgrad.ops.indexspec import c_assign, c_static_dims
from ccgrad.ops.shape import batch_broadcast, dimshuffle, shape_i, shape_list
from ccgrad.ops.subtensor import getitem
from ccgrad.ops.symint import (
    as_int64,
    constant_value,
    static_int,
    sym_add,
    sym_ceildiv,
    sym_max,
    sym_sub,
)
from ccgrad.options import config


def _common_dtype(vs: list[Variable]) -> str:
    """numpy's promotion, with Python scalars (weak constants) adapting to the others."""
    strong = [v.dtype for v in vs if not (isinstance(v, Constant) and v.weak)]
    weak = [v.dtype for v in vs if isinstance(v, Constant) and v.weak]
    if not strong:
        top = max(weak, key=dtypes.kind_rank)
        return config.floatX if top in dtypes.FLOATS else dtypes.upcast(*weak)
    target = dtypes.upcast(*strong)
    for w in weak:
        if dtypes.kind_rank(w) > dtypes.kind_rank(target):
            target = dtypes.upcast(target, config.floatX if w in dtypes.FLOATS else "int64")
    return target


def _cast_all(vs: list[Variable], dtype: str) -> list[Variable]:
    out = []
    for v in vs:
        if v.dtype != dtype and isinstance(v, Constant) and v.weak:
            v = Constant(TensorType(dtype, shape=v.type.shape), v.data)
        out.append(builder("cast")(v, dtype))
    return out


# ---------------------------------------------------------------------------------------------


class Join(Op):
    """Concatenation of tensors of one dtype and ndim along `axis` (other axes must match)."""

    __props__ = ("axis",)

    def __init__(self, axis: int):
        self.axis = int(axis)

    def __str__(self) -> str:
        return f"Join{{axis={self.axis}}}"

    def make_node(self, *tensors) -> Apply:
        if not tensors:
            raise ValueError("join: needs at least one tensor")
        ts = [as_variable(t) for t in tensors]
        nd, dt = ts[0].ndim, ts[0].dtype
        for i, t in enumerate(ts):
            if t.ndim != nd:
                raise ValueError(f"join: input {i} {t.type!r} has ndim {t.ndim}, input 0 has {nd}")
            if t.dtype != dt:
                raise TypeError(f"join: input {i} has dtype {t.dtype}, input 0 has {dt} (cast first)")
        if not 0 <= self.axis < nd:
            raise ValueError(f"join: axis {self.axis} out of range for {nd}-d inputs")
        shape = []
        for a in range(nd):
            col = [t.type.shape[a] for t in ts]
            if a == self.axis:
                shape.append(None if None in col else sum(col))
                continue
            known = {s for s in col if s is not None}
            if len(known) > 1:
                raise ValueError(
                    f"join: inputs disagree on axis {a}: static shapes {[t.type.shape for t in ts]}"
                )
            shape.append(known.pop() if known else None)
        return Apply(self, ts, [TensorType(dt, shape=shape)])

    def perform(self, node, inputs):
        ref = inputs[0].shape
        for i, x in enumerate(inputs):
            for a in range(x.ndim):
                if a != self.axis and x.shape[a] != ref[a]:
                    raise ValueError(
                        f"join: input {i} has length {x.shape[a]} on axis {a}, input 0 has {ref[a]} "
                        f"(shapes {[v.shape for v in inputs]})"
                    )
        return [np.concatenate(inputs, axis=self.axis)]

    def infer_shape(self, node, input_shapes):
        out = []
        for a in range(node.outputs[0].ndim):
            s = node.outputs[0].type.shape[a]
            if s is not None:
                out.append(as_int64(s))
            elif a == self.axis:
                total = 0
                for shp in input_shapes:
                    total = sym_add(total, shp[a])
                out.append(as_int64(total))
            else:
                out.append(input_shapes[0][a])
        return [tuple(out)]

    def vjp(self, node, cotangents):
        gz = cotangents[0]
        if gz is None:
            return [None] * len(node.inputs)
        res = []
        start = 0
        for t in node.inputs:
            n = shape_list(t)[self.axis]
            stop = sym_add(start, n)
            piece = getitem(gz, (slice(None),) * self.axis + (slice(start, stop),))
            res.append(piece if t.dtype in dtypes.FLOATS else None)
            start = stop
        return res

    def jvp(self, node, tangents):
        if all(t is None for t in tangents):
            return [None]
        ts = [builder("zeros_like")(x) if t is None else builder("cast")(t, x.dtype)
              for x, t in zip(node.inputs, tangents)]
        return [self.make_node(*ts).outputs[0]]

    def batch(self, node, inputs, batched):
        if not any(batched):
            return [self.make_node(*inputs).outputs[0]], [False]
        nb = shape_i(next(x for x, b in zip(inputs, batched) if b), 0)
        ts = [x if b else batch_broadcast(x, nb) for x, b in zip(inputs, batched)]
        return [Join(self.axis + 1).make_node(*ts).outputs[0]], [True]

    def pp(self, node, args):
        return f"join({self.axis}, {', '.join(args)})"

    def c_code(self, ctx, node, ins):
        """Each input copied into its block of a fresh buffer; every other axis must match
        input 0's (ValueError naming the input and axis)."""
        from ccgrad.lower.loops import emit_copy

        ax, ref = self.axis, ins[0]
        for i, t in enumerate(ins[1:], 1):
            for a in range(t.ndim):
                if a != ax and t.shape[a] != ref.shape[a]:
                    ctx.check(f"{t.shape[a]} == {ref.shape[a]}", 1,
                              f"join: input {i} has length %lld on axis {a}, input 0 has %lld", t.shape[a],
                              ref.shape[a], axis=a, expected=ref.shape[a], got=t.shape[a])
        total = ctx.name("jn")
        ctx.line(f"const int64_t {total} = {' + '.join(t.shape[ax] for t in ins)};")
        shape = c_static_dims(node.outputs[0], [total if a == ax else d for a, d in enumerate(ref.shape)])
        out = ctx.alloc(node, 0, shape)
        start = "0"
        for t in ins:
            block = CVal(t.dtype, t.ndim, ptr=f"({out.ptr} + {start} * {out.strides[ax]})", shape=list(t.shape),
                         strides=list(out.strides), contiguous=ax == 0, base=out.base)
            if ax == 0:
                emit_copy(ctx, block, t)
            else:
                c_assign(ctx, block, t, (None,) * t.ndim, "set", "join")
            nxt = ctx.name("jo")
            ctx.line(f"const int64_t {nxt} = {start} + {t.shape[ax]};")
            start = nxt
        return [out]


def _axis_int(axis, what: str) -> int:
    if isinstance(axis, Variable):
        c = static_int(axis)
        if c is None:
            raise TypeError(f"{what}: axis must be a Python int (symbolic axes are not supported)")
        return c
    return int(axis)


@register("join")
def join(axis, *tensors) -> Variable:
    """Theano's join(axis, *tensors): concatenation along `axis` (a lone tensor is returned)."""
    if len(tensors) == 1 and isinstance(tensors[0], list | tuple):
        tensors = tuple(tensors[0])
    if not tensors:
        raise ValueError("join: needs at least one tensor")
    vs = [as_variable(t) for t in tensors]
    vs = _cast_all(vs, _common_dtype(vs))
    if len(vs) == 1:
        return vs[0]
    nd = vs[0].ndim
    a = _axis_int(axis, "join")
    if not -nd <= a < nd:
        raise ValueError(f"join: axis {a} out of range for {nd}-d inputs")
    return Join(a % nd).make_node(*vs).outputs[0]


@register("concatenate")
def concatenate(tensor_list, axis: int = 0) -> Variable:
    """numpy's concatenate(tensor_list, axis)."""
    if not isinstance(tensor_list, list | tuple):
        raise TypeError("concatenate: the first argument must be a list or tuple of tensors")
    return join(axis, *tensor_list)


@register("stack")
def stack(*tensors, axis: int = 0) -> Variable:
    """numpy's stack(tensors, axis): join along a new axis (Theano also takes stack(a, b, c))."""
    if len(tensors) == 1 and isinstance(tensors[0], list | tuple):
        tensors = tuple(tensors[0])
    if not tensors:
        raise ValueError("stack: needs at least one tensor")
    vs = [as_variable(t) for t in tensors]
    vs = _cast_all(vs, _common_dtype(vs))
    nd = vs[0].ndim
    if any(v.ndim != nd for v in vs):
        raise ValueError(f"stack: all inputs must have the same ndim, got {[v.type for v in vs]}")
    a = _axis_int(axis, "stack")
    if not -nd - 1 <= a <= nd:
        raise ValueError(f"stack: axis {a} out of range for stacking {nd}-d inputs")
    a %= nd + 1
    order = tuple(range(a)) + ("x",) + tuple(range(a, nd))
    parts = [dimshuffle(v, order) for v in vs]
    if len(parts) == 1:
        return parts[0]
    return Join(a).make_node(*parts).outputs[0]


@register("horizontal_stack")
def horizontal_stack(*tensors) -> Variable:
    """Concatenate matrices side by side (axis 1)."""
    return join(1, *tensors)


@register("vertical_stack")
def vertical_stack(*tensors) -> Variable:
    """Concatenate matrices on top of each other (axis 0)."""
    return join(0, *tensors)


# ---------------------------------------------------------------------------------------------


def _arange_len(start, stop, step, is_float: bool):
    if is_float:
        return max(0, math.ceil((stop - start) / step))
    return max(0, -((start - stop) // step))


class ARange(Op):
    """numpy's arange(start, stop, step) from three scalars; output dtype is a parameter."""

    __props__ = ("dtype",)

    def __init__(self, dtype: str):
        self.dtype = dtypes.canonical(dtype)

    def __str__(self) -> str:
        return f"ARange{{{self.dtype}}}"

    def make_node(self, start, stop, step) -> Apply:
        vs = [as_variable(v) for v in (start, stop, step)]
        for name, v in zip(("start", "stop", "step"), vs):
            if v.ndim != 0 or v.dtype == "bool":
                raise TypeError(f"arange: {name} must be a numeric scalar, got {v.type!r}")
        consts = [constant_value(v) for v in vs]
        consts = [None if c is None else np.asarray(c).item() for c in consts]
        if consts[2] == 0:
            raise ValueError("arange: step cannot be zero")
        n = None
        if None not in consts:
            n = _arange_len(*consts, any(v.dtype in dtypes.FLOATS for v in vs))
        return Apply(self, vs, [TensorType(self.dtype, shape=(n,))])

    def perform(self, node, inputs):
        start, stop, step = (x.item() for x in inputs)
        if step == 0:
            raise ValueError("arange: step cannot be zero")
        if isinstance(start + stop + step, float):
            q = (stop - start) / step
            if not math.isfinite(q):
                raise ValueError(f"arange: the length of arange({start}, {stop}, {step}) is not finite")
            length = math.ceil(q)
        else:
            length = -(-(stop - start) // step)
        if length > 2**62 // np.dtype(self.dtype).itemsize:  # numpy 2.4 silently returns [] for some
            raise MemoryError(f"arange: {length} elements cannot be allocated")
        return [np.arange(start, stop, step, dtype=self.dtype)]

    def infer_shape(self, node, input_shapes):
        s = node.outputs[0].type.shape[0]
        if s is not None:
            return [(as_int64(s),)]
        start, stop, step = node.inputs
        if any(v.dtype in dtypes.FLOATS for v in node.inputs):
            up = dtypes.upcast(*[v.dtype for v in node.inputs])
            d = builder("ceil")((builder("cast")(stop, up) - start) / step)
            return [(as_int64(sym_max(0, builder("cast")(d, "int64"))),)]
        return [(as_int64(sym_max(0, sym_ceildiv(sym_sub(stop, start), step))),)]

    def connection_pattern(self, node):
        return [[True], [False], [True]]

    def _index(self, node) -> Variable:
        return builder("cast")(arange(shape_i(node.outputs[0], 0)), self.dtype)

    def vjp(self, node, cotangents):
        gz = cotangents[0]
        if gz is None or self.dtype not in dtypes.FLOATS:
            return [None, None, None]
        return [builder("sum")(gz), None, builder("sum")(gz * self._index(node))]

    def jvp(self, node, tangents):
        t0, _, t2 = tangents
        if self.dtype not in dtypes.FLOATS or (t0 is None and t2 is None):
            return [None]
        terms = []
        if t0 is not None:
            terms.append(builder("fill")(node.outputs[0], builder("cast")(t0, self.dtype)))
        if t2 is not None:
            terms.append(builder("cast")(t2, self.dtype) * self._index(node))
        return [terms[0] if len(terms) == 1 else terms[0] + terms[1]]

    def batch(self, node, inputs, batched):
        if any(batched):
            raise NotImplementedError("arange with a batched start/stop/step (the result would be ragged)")
        return [self.make_node(*inputs).outputs[0]], [False]

    def pp(self, node, args):
        return f"arange({', '.join(args)})"

    def c_code(self, ctx, node, ins):
        """Length ceil((stop - start) / step), 0 when negative (step 0, NaN and overflowing
        lengths are ValueErrors); values filled as numpy does: out[0] = start, out[1] =
        start + step, out[i] = out[0] + i * (out[1] - out[0])."""
        ct = dtypes.c_type(self.dtype)
        flt = any(v.dtype in dtypes.FLOATS for v in node.inputs)
        a, b, st, n = (ctx.name(p) for p in ("ara", "arb", "ars", "arn"))
        wt = "double" if flt else "int64_t"
        for name, v in zip((a, b, st), ins):
            ctx.line(f"const {wt} {name} = ({wt})({v.value()});")
        ctx.check(f"{st} != 0", 3, "arange: step cannot be zero")
        if flt:
            ctx.line(f"const double {n}d = ceil(({b} - {a}) / {st});")
            ctx.check(f"{n}d < 4611686018427387904.0 && {n}d == {n}d", 3,
                      "arange: cannot compute the length (it is NaN or too large)")
            ctx.line(f"const int64_t {n} = {n}d > 0 ? (int64_t){n}d : 0;")
            second = f"{a} + {st}"
        else:
            ctx.line(f"int64_t {n}d = 0;")
            ctx.check(f"!__builtin_sub_overflow({b}, {a}, &{n}d)", 3, "arange: the length overflows int64")
            ctx.line(f"const int64_t {n} = {st} > 0 ? ({n}d > 0 ? ({n}d - 1) / {st} + 1 : 0) "
                     f": ({n}d < 0 ? ({n}d + 1) / {st} + 1 : 0);")
            second = f"(int64_t)((uint64_t){a} + (uint64_t){st})"
        out = ctx.alloc(node, 0, c_static_dims(node.outputs[0], [n]))
        b0, dl, i = ctx.name("ar0"), ctx.name("ard"), ctx.name("i")
        ctx.line(f"const {ct} {b0} = ({ct})({a});")
        ctx.line(f"const {ct} {dl} = ({ct})(({ct})({second}) - {b0});")
        ctx.line(f"if ({n} > 0) {out.ptr}[0] = {b0};")
        ctx.line(f"if ({n} > 1) {out.ptr}[1] = ({ct})({second});")
        with ctx.loop(i, n, start="2"):
            if self.dtype in dtypes.FLOATS:
                ctx.line(f"{out.ptr}[{i}] = {b0} + {i} * {dl};")
            else:
                ctx.line(f"{out.ptr}[{i}] = ({ct})((uint64_t){b0} + (uint64_t){i} * (uint64_t){dl});")
        return [out]


@register("arange")
def arange(start, stop=None, step=1, dtype=None) -> Variable:
    """numpy's arange: T.arange(n) or T.arange(start, stop, step).  Integers give int64;
    floats give their promoted dtype (Python floats alone give config.floatX)."""
    if stop is None:
        start, stop = 0, start
    vs = [as_variable(v) for v in (start, stop, step)]
    if dtype is None:
        if all(v.dtype in dtypes.DISCRETE for v in vs):
            dtype = "int64"
        else:
            dtype = _common_dtype(vs)
            if dtype not in dtypes.FLOATS:
                dtype = config.floatX
    return ARange(dtype).make_node(*vs).outputs[0]
