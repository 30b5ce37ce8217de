"""Array construction and combination: Join (concatenate / join / stack), ARange, Eye,
ExtractDiag / AllocDiag (diag), and the composites tile, repeat, zeros, ones built from
alloc, reshape and indexing (so their gradients come from those ops)."""

from __future__ import annotations

import math

import numpy as np

from ccgrad import dtypes
from ccgrad.graph import Apply, Constant, Op, TensorType, Variable, as_variable, builder, register
from ccgrad.lower.values import CVal
from ccgrad.ops.indexspec import c_assign, c_int64, c_static_dims, c_walk
from ccgrad.ops.shape import alloc, batch_broadcast, dimshuffle, reshape, shape_i, shape_list
from ccgrad.ops.subtensor import getitem, write_at
from ccgrad.ops.symint import (
    as_int64,
    constant_value,
    int_scalar,
    shape_entries,
    static_int,
    sym_add,
    sym_ceildiv,
    sym_max,
    sym_min,
    sym_mul,
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


# ---------------------------------------------------------------------------------------------


class Eye(Op):
    """An n x m matrix with ones on diagonal k (numpy's eye); n, m, k are int scalars."""

    __props__ = ("dtype",)

    def __init__(self, dtype: str):
        self.dtype = dtypes.canonical(dtype)

    def __str__(self) -> str:
        return f"Eye{{{self.dtype}}}"

    def make_node(self, n, m, k) -> Apply:
        vs = [int_scalar(v, f"eye: {name}") for v, name in zip((n, m, k), ("n", "m", "k"))]
        shape = [static_int(vs[0]), static_int(vs[1])]
        for s in shape:
            if s is not None and s < 0:
                raise ValueError(f"eye: negative dimension {s}")
        return Apply(self, vs, [TensorType(self.dtype, shape=shape)])

    def perform(self, node, inputs):
        n, m, k = (int(v) for v in inputs)
        if n < 0 or m < 0:
            raise ValueError(f"eye: negative dimension in ({n}, {m})")
        return [np.eye(n, m, k, dtype=self.dtype)]

    def infer_shape(self, node, input_shapes):
        return [(as_int64(node.inputs[0]), as_int64(node.inputs[1]))]

    def connection_pattern(self, node):
        return [[False], [False], [False]]

    def vjp(self, node, cotangents):
        return [None, None, None]

    def jvp(self, node, tangents):
        return [None]

    def batch(self, node, inputs, batched):
        if any(batched):
            raise NotImplementedError("eye with batched sizes")
        return [self.make_node(*inputs).outputs[0]], [False]

    def pp(self, node, args):
        return f"eye({', '.join(args)})"

    def c_code(self, ctx, node, ins):
        """Zeros, then ones at (i, i + k) for the rows where the diagonal lies inside."""
        n, m, k = (c_int64(ctx, v, p) for v, p in zip(ins, ("en", "em", "ek")))
        ctx.check(f"{n} >= 0 && {m} >= 0", 3, "eye: negative dimension in (%lld, %lld)", n, m)
        out = ctx.alloc(node, 0, c_static_dims(node.outputs[0], [n, m]))
        ctx.line(f"memset({out.ptr}, 0, (size_t)({out.size()}) * sizeof({out.ctype}));")
        lo, hi, i = ctx.name("lo"), ctx.name("hi"), ctx.name("i")
        ctx.line(f"const int64_t {lo} = {k} >= 0 ? 0 : ({k} < -{n} ? {n} : -{k});")
        ctx.line(f"const int64_t {hi} = ({k} > {m} || {k} < -{n}) ? 0 : ({m} - {k} < {n} ? {m} - {k} : {n});")
        with ctx.loop(i, hi, start=lo):
            ctx.line(f"{out.at([i, f'{i} + {k}'])} = 1;")
        return [out]


@register("eye")
def eye(n, m=None, k=0, dtype=None) -> Variable:
    """numpy's eye(n, m, k): ones on the k-th diagonal (dtype defaults to config.floatX)."""
    return Eye(dtype or config.floatX).make_node(n, n if m is None else m, k).outputs[0]


@register("identity_like")
def identity_like(x, dtype=None) -> Variable:
    """An identity matrix of x's shape (and dtype)."""
    x = as_variable(x)
    return eye(shape_list(x)[0], shape_list(x)[1], 0, dtype or x.dtype)


# ---------------------------------------------------------------------------------------------


def _diag_len(n1, n2, k: int):
    if n1 is None or n2 is None:
        return None
    if k >= 0:
        return sym_max(0, sym_min(n1, sym_sub(n2, k)))
    return sym_max(0, sym_min(sym_add(n1, k), n2))


class ExtractDiag(Op):
    """numpy's diagonal(x, offset, axis1, axis2): the diagonal becomes the last axis."""

    __props__ = ("offset", "axis1", "axis2")

    def __init__(self, offset: int = 0, axis1: int = 0, axis2: int = 1):
        self.offset, self.axis1, self.axis2 = int(offset), int(axis1), int(axis2)
        if self.axis1 == self.axis2 or min(self.axis1, self.axis2) < 0:
            raise ValueError(f"diagonal: axis1={axis1} and axis2={axis2} must be distinct non-negative axes")

    def make_node(self, x) -> Apply:
        x = as_variable(x)
        if max(self.axis1, self.axis2) >= x.ndim:
            raise ValueError(f"diagonal: axes ({self.axis1}, {self.axis2}) out of range for {x.type!r}")
        s = x.type.shape
        rest = [d for i, d in enumerate(s) if i not in (self.axis1, self.axis2)]
        length = _diag_len(s[self.axis1], s[self.axis2], self.offset)
        return Apply(self, [x], [TensorType(x.dtype, shape=rest + [length])])

    def perform(self, node, inputs):
        return [np.diagonal(inputs[0], self.offset, self.axis1, self.axis2).copy()]

    def infer_shape(self, node, input_shapes):
        s = input_shapes[0]
        rest = [d for i, d in enumerate(s) if i not in (self.axis1, self.axis2)]
        return [tuple(rest) + (as_int64(_diag_len(s[self.axis1], s[self.axis2], self.offset)),)]

    def vjp(self, node, cotangents):
        gz = cotangents[0]
        x = node.inputs[0]
        if gz is None or x.dtype not in dtypes.FLOATS:
            return [None]
        length = shape_list(node.outputs[0])[-1]
        ar = arange(length)
        rows = ar if self.offset >= 0 else ar - self.offset
        cols = ar + self.offset if self.offset > 0 else ar
        index: list = [slice(None)] * x.ndim
        index[self.axis1], index[self.axis2] = rows, cols
        nd = gz.ndim
        p, q = sorted((self.axis1, self.axis2))
        if q == p + 1:  # the diagonal axis sits where the indexed axes were (numpy's rule)
            order = tuple(range(p)) + (nd - 1,) + tuple(range(p, nd - 1))
        else:
            order = (nd - 1,) + tuple(range(nd - 1))
        return [write_at(builder("zeros_like")(x), tuple(index), dimshuffle(gz, order))]

    def jvp(self, node, tangents):
        t = tangents[0]
        return [None if t is None else self.make_node(t).outputs[0]]

    def batch(self, node, inputs, batched):
        if not batched[0]:
            return [self.make_node(inputs[0]).outputs[0]], [False]
        op = ExtractDiag(self.offset, self.axis1 + 1, self.axis2 + 1)
        return [op.make_node(inputs[0]).outputs[0]], [True]

    def pp(self, node, args):
        return f"diagonal({args[0]}, {self.offset}, {self.axis1}, {self.axis2})"

    def c_code(self, ctx, node, ins):
        """A view: the diagonal axis has stride s1 + s2 and starts at the offset's corner."""
        x, k = ins[0], self.offset
        n1, n2 = x.shape[self.axis1], x.shape[self.axis2]
        s1, s2 = x.strides[self.axis1], x.strides[self.axis2]
        ln = ctx.name("dl")
        lim1, lim2 = (n1, f"{n2} - {k}") if k >= 0 else (f"{n1} - {-k}", n2)
        ctx.line(f"int64_t {ln} = {lim1} < {lim2} ? {lim1} : {lim2};")
        ctx.line(f"if ({ln} < 0) {ln} = 0;")
        rest = [a for a in range(x.ndim) if a not in (self.axis1, self.axis2)]
        shape = c_static_dims(node.outputs[0], [x.shape[a] for a in rest] + [ln])
        if x.ptr is None:
            return [CVal(x.dtype, len(shape), scalar=x.scalar, shape=shape, strides=["0"] * len(shape), base=x.base)]
        corner = "0" if k == 0 else (f"{k} * {s2}" if k > 0 else f"{-k} * {s1}")
        p = ctx.name("v")
        ctx.line(f"{x.ctype} *{p} = {x.ptr} + ({ln} > 0 ? {corner} : 0);")
        return [CVal(x.dtype, len(shape), ptr=p, shape=shape, strides=[x.strides[a] for a in rest] + [f"({s1} + {s2})"],
                     base=x.base)]


class AllocDiag(Op):
    """numpy's diag(v, k) for the last axis of v: (..., n) -> (..., n+|k|, n+|k|)."""

    __props__ = ("offset",)

    def __init__(self, offset: int = 0):
        self.offset = int(offset)

    def make_node(self, v) -> Apply:
        v = as_variable(v)
        if v.ndim < 1:
            raise ValueError(f"diag: needs a vector (or a stack of vectors), got {v.type!r}")
        n = v.type.shape[-1]
        size = None if n is None else n + abs(self.offset)
        return Apply(self, [v], [TensorType(v.dtype, shape=v.type.shape[:-1] + (size, size))])

    def perform(self, node, inputs):
        v = inputs[0]
        n = v.shape[-1]
        size = n + abs(self.offset)
        out = np.zeros(v.shape[:-1] + (size, size), dtype=v.dtype)
        i = np.arange(n)
        out[..., i + max(0, -self.offset), i + max(0, self.offset)] = v
        return [out]

    def infer_shape(self, node, input_shapes):
        s = input_shapes[0]
        size = as_int64(sym_add(s[-1], abs(self.offset)))
        return [tuple(s[:-1]) + (size, size)]

    def vjp(self, node, cotangents):
        gz = cotangents[0]
        if gz is None or node.inputs[0].dtype not in dtypes.FLOATS:
            return [None]
        return [ExtractDiag(self.offset, gz.ndim - 2, gz.ndim - 1).make_node(gz).outputs[0]]

    def jvp(self, node, tangents):
        t = tangents[0]
        return [None if t is None else self.make_node(t).outputs[0]]

    def batch(self, node, inputs, batched):
        return [self.make_node(inputs[0]).outputs[0]], [batched[0]]

    def pp(self, node, args):
        return f"diag({args[0]}, {self.offset})"

    def c_code(self, ctx, node, ins):
        """Zeros, then v's last axis written along diagonal `offset` of the last two axes."""
        v, k = ins[0], self.offset
        size = ctx.name("dn")
        ctx.line(f"const int64_t {size} = {v.shape[-1]} + {abs(k)};")
        out = ctx.alloc(node, 0, c_static_dims(node.outputs[0], list(v.shape[:-1]) + [size, size]))
        ctx.line(f"memset({out.ptr}, 0, (size_t)({out.size()}) * sizeof({out.ctype}));")

        def body(w):
            i = w[-1]
            ctx.line(f"{out.at(w[:-1] + [f'{i} + {max(0, -k)}', f'{i} + {max(0, k)}'])} = {v.at(w)};")

        c_walk(ctx, list(v.shape), body)
        return [out]


@register("diag")
def diag(v, k: int = 0) -> Variable:
    """numpy's diag: a vector gives a matrix with v on diagonal k, a matrix gives its k-th
    diagonal."""
    v = as_variable(v)
    if v.ndim == 1:
        return AllocDiag(k).make_node(v).outputs[0]
    if v.ndim == 2:
        return ExtractDiag(k, 0, 1).make_node(v).outputs[0]
    raise ValueError(f"diag: input must be 1-d or 2-d, got {v.type!r}")


@register("diagonal")
def diagonal(x, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Variable:
    """numpy's diagonal: the diagonal of the (axis1, axis2) planes, as the last axis."""
    x = as_variable(x)
    a1, a2 = (int(a) % x.ndim if x.ndim else int(a) for a in (axis1, axis2))
    return ExtractDiag(offset, a1, a2).make_node(x).outputs[0]


# ---------------------------------------------------------------------------------------------
# Composites


def _reps_list(reps, what: str) -> list:
    if isinstance(reps, Variable) and reps.ndim == 1 and not isinstance(reps, Constant) and reps.type.shape[0] is None:
        raise NotImplementedError(f"{what}: a symbolic vector of unknown length is not supported")
    return shape_entries(reps, what)


@register("tile")
def tile(x, reps, ndim: int | None = None) -> Variable:
    """numpy's tile: x repeated reps[i] times along axis i (reps ints or int scalars)."""
    x = as_variable(x)
    reps = _reps_list(reps, "tile")
    for r in reps:
        if isinstance(r, int) and r < 0:
            raise ValueError(f"tile: negative repetition count in {reps}")
    d = max(x.ndim, len(reps), ndim or 0)
    reps = [1] * (d - len(reps)) + list(reps)
    x = dimshuffle(x, ("x",) * (d - x.ndim) + tuple(range(x.ndim)))
    dims = shape_list(x)
    pattern: list = []
    target: list = []
    for i in range(d):
        pattern += ["x", i]
        target += [reps[i], dims[i]]
    y = alloc(dimshuffle(x, tuple(pattern)), *target)
    return reshape(y, [sym_mul(r, n) for r, n in zip(reps, dims)])


@register("repeat")
def repeat(x, repeats, axis: int | None = None) -> Variable:
    """numpy's repeat: each element repeated `repeats` times along `axis` (the flattened x
    when None).  `repeats` is an int, an int scalar, or a constant list of counts."""
    x = as_variable(x)
    if axis is None:
        x = builder("flatten")(x)
        axis = 0
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"repeat: axis {axis} out of range for a {x.ndim}-d input")
    axis %= x.ndim
    dims = shape_list(x)
    if isinstance(repeats, Variable) and repeats.ndim == 1 and isinstance(repeats, Constant):
        repeats = repeats.data.tolist()
    if isinstance(repeats, list | tuple | np.ndarray):
        counts = [int(c) for c in np.asarray(repeats).reshape(-1)]
        if len(counts) != 1:
            if any(c < 0 for c in counts):
                raise ValueError(f"repeat: negative count in {counts}")
            # Pin the axis length to len(counts) (checked at run time by the reshape).
            x = reshape(x, dims[:axis] + [len(counts)] + dims[axis + 1:])
            idx = np.repeat(np.arange(len(counts)), counts).astype("int64")
            return getitem(x, (slice(None),) * axis + (Constant(TensorType("int64", shape=idx.shape), idx),))
        repeats = counts[0]
    if isinstance(repeats, Variable):
        if repeats.ndim != 0:
            raise NotImplementedError("repeat: symbolic per-element counts are not supported")
        repeats = int_scalar(repeats, "repeat: repeats")
    elif int(repeats) < 0:
        raise ValueError(f"repeat: negative count {repeats}")
    order = tuple(range(axis + 1)) + ("x",) + tuple(range(axis + 1, x.ndim))
    y = alloc(dimshuffle(x, order), *dims[:axis + 1], repeats, *dims[axis + 1:])
    return reshape(y, dims[:axis] + [sym_mul(dims[axis], repeats)] + dims[axis + 1:])


def _filled(value: float, shape, dtype, what: str) -> Variable:
    dt = dtypes.canonical(dtype or config.floatX)
    return alloc(Constant(TensorType(dt, shape=()), value), *shape_entries(shape, what))


@register("zeros")
def zeros(shape, dtype=None) -> Variable:
    """A tensor of zeros (dtype defaults to config.floatX); shape as for reshape."""
    return _filled(0, shape, dtype, "zeros")


@register("ones")
def ones(shape, dtype=None) -> Variable:
    """A tensor of ones (dtype defaults to config.floatX); shape as for reshape."""
    return _filled(1, shape, dtype, "ones")


# ---------------------------------------------------------------------------------------------


class BandedMatrix(Op):
    """An n x m matrix that is zero except on the diagonals `offsets` (static ints), where it
    holds the vectors v_k (each of the diagonal's length).  The optimizer builds it for
    structured Jacobians and Hessians (ccgrad.rewrite.structure), so they cost a pass over the
    diagonals instead of several passes over n*m elements.  Diagonals may carry leading axes
    (all the same): the result is then a stack of such matrices."""

    __props__ = ("offsets",)

    def __init__(self, offsets):
        self.offsets = tuple(int(k) for k in offsets)
        if len(set(self.offsets)) != len(self.offsets):
            raise ValueError(f"banded: repeated offset in {self.offsets}")

    def make_node(self, n, m, *diags) -> Apply:
        n, m = int_scalar(n, "banded: n"), int_scalar(m, "banded: m")
        diags = [as_variable(d) for d in diags]
        if len(diags) != len(self.offsets):
            raise TypeError(f"banded: {len(self.offsets)} offsets but {len(diags)} diagonals")
        if not diags:
            raise TypeError("banded: needs at least one diagonal")
        nd = diags[0].ndim
        for d in diags:
            if d.ndim != nd or nd < 1:
                raise TypeError(f"banded: diagonals must be vectors (or equal stacks of them), got {d.type!r}")
        lead = tuple(None if len({d.type.shape[a] for d in diags} - {None}) != 1 else
                     next(s for s in (d.type.shape[a] for d in diags) if s is not None)
                     for a in range(nd - 1))
        dtype = dtypes.upcast(*[d.dtype for d in diags])
        return Apply(self, [n, m, *diags], [TensorType(dtype, shape=lead + (static_int(n), static_int(m)))])

    @staticmethod
    def diag_len(n: int, m: int, k: int) -> int:
        return max(0, min(n - max(0, -k), m - max(0, k)))

    def perform(self, node, inputs):
        n, m, *diags = inputs
        n, m = int(n), int(m)
        if n < 0 or m < 0:
            raise ValueError(f"banded: negative dimension in ({n}, {m})")
        lead = diags[0].shape[:-1]
        if any(d.shape[:-1] != lead for d in diags):
            raise ValueError(f"banded: diagonals of different leading shapes {[d.shape for d in diags]}")
        out = np.zeros(lead + (n, m), dtype=node.outputs[0].dtype)
        for k, v in zip(self.offsets, diags):
            L = self.diag_len(n, m, k)
            if v.shape[-1] != L:
                raise ValueError(f"banded: diagonal {k} of a ({n}, {m}) matrix has length {L}, got {v.shape[-1]}")
            i = np.arange(L)
            out[..., i + max(0, -k), i + max(0, k)] = v
        return [out]

    def infer_shape(self, node, input_shapes):
        lead = tuple(input_shapes[2][:-1])
        return [lead + (as_int64(node.inputs[0]), as_int64(node.inputs[1]))]

    def connection_pattern(self, node):
        return [[False], [False]] + [[True]] * (len(node.inputs) - 2)

    def vjp(self, node, cotangents):
        gz = cotangents[0]
        rest = [None] * len(self.offsets)
        if gz is not None:
            nd = gz.ndim
            rest = [builder("diagonal")(gz, k, nd - 2, nd - 1) for k in self.offsets]
        return [None, None, *rest]

    def jvp(self, node, tangents):
        ts = tangents[2:]
        if all(t is None for t in ts):
            return [None]
        n, m, *diags = node.inputs
        ts = [t if t is not None else builder("zeros_like")(d) for t, d in zip(ts, diags)]
        return [self.make_node(n, m, *ts).outputs[0]]

    def batch(self, node, inputs, batched):
        n, m, *diags = inputs
        if batched[0] or batched[1]:
            raise NotImplementedError("banded with batched sizes (a ragged result)")
        if not any(batched[2:]):
            return [self.make_node(n, m, *diags).outputs[0]], [False]
        ref = next(d for d, b in zip(diags, batched[2:]) if b)
        size = shape_i(ref, 0)
        full = []
        for d, b in zip(diags, batched[2:]):
            if not b:  # give the unbatched diagonals the batch axis
                d = alloc(dimshuffle(d, ("x",) + tuple(range(d.ndim))), size, *shape_list(d))
            full.append(d)
        return [self.make_node(n, m, *full).outputs[0]], [True]

    def pp(self, node, args):
        return f"banded{{{','.join(map(str, self.offsets))}}}({', '.join(args)})"

    def c_code(self, ctx, node, ins):
        """Zeros, then each diagonal written along its positions (for every leading index)."""
        n, m, *diags = ins
        nn, mm = ctx.name("bn"), ctx.name("bm")
        ctx.line(f"const int64_t {nn} = (int64_t)({n.value()});")
        ctx.line(f"const int64_t {mm} = (int64_t)({m.value()});")
        ctx.check(f"{nn} >= 0 && {mm} >= 0", 3, "banded: negative dimension (%lld, %lld)", nn, mm)
        lead = list(diags[0].shape[:-1])
        for d in diags[1:]:
            for a, (x, y) in enumerate(zip(d.shape[:-1], lead)):
                if x != y:
                    ctx.check(f"{x} == {y}", 1, f"banded: diagonals differ on leading axis {a}: %lld and %lld", x, y)
        out = ctx.alloc(node, 0, lead + [nn, mm], zero=True)
        ct = out.ctype
        idx = [ctx.name("bb") for _ in lead]
        managers = []
        for i, d in zip(idx, lead):
            cm = ctx.loop(i, d)
            cm.__enter__()
            managers.append(cm)
        base = " + ".join(f"{i} * {st}" for i, st in zip(idx, out.strides[: len(lead)])) or "0"
        for k, d in zip(self.offsets, diags):
            L = ctx.name("bl")
            ctx.line(f"const int64_t {L} = ccg_max_i64(0, ccg_min_i64({nn} - {max(0, -k)}, {mm} - {max(0, k)}));")
            ctx.check(f"{d.shape[-1]} == {L}", 1, f"banded: diagonal {k} has length %lld, the matrix needs %lld",
                      d.shape[-1], L)
            t = ctx.name("t")
            with ctx.loop(t, L):
                ctx.line(f"{out.ptr}[{base} + ({t} + {max(0, -k)}) * {mm} + {t} + {max(0, k)}] = "
                         f"({ct})({d.at(idx + [t])});")
        for cm in reversed(managers):
            cm.__exit__(None, None, None)
        return [out]


@register("banded")
def banded(n, m, diags: dict) -> Variable:
    """An n x m matrix with diags[k] on diagonal k and zeros elsewhere."""
    offsets = sorted(diags)
    return BandedMatrix(offsets).make_node(n, m, *[diags[k] for k in offsets]).outputs[0]
