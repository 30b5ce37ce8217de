"""Diagonal-structured arrays: Eye (eye, identity_like), ExtractDiag (diagonal, diag of a
matrix), AllocDiag (diag of a vector) and BandedMatrix (banded: the optimizer's structured
Jacobians and Hessians), each with its C emission."""

from __future__ import annotations

import numpy as np

from ccgrad import dtypes
from ccgrad.graph import Apply, Op, TensorType, Variable, as_variable, builder, register
from ccgrad.lower.values import CVal
from ccgrad.ops.arrays import arange
from ccgrad.ops.indexspec import c_int64, c_static_dims, c_walk
from ccgrad.ops.shape import alloc, dimshuffle, shape_i, shape_list
from ccgrad.ops.subtensor import write_at
from ccgrad.ops.symint import as_int64, int_scalar, static_int, sym_add, sym_max, sym_min, sym_sub
from ccgrad.options import config

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
        lengths = []
        for k, d in zip(self.offsets, diags):
            L = ctx.name("bl")
            ctx.line(f"const int64_t {L} = ccg_max_i64(0, ccg_min_i64({nn} - {max(0, -k)}, {mm} - {max(0, k)}));")
            ctx.check(f"{d.shape[-1]} == {L}", 1, f"banded: diagonal {k} has length %lld, the matrix needs %lld",
                      d.shape[-1], L)
            lengths.append(L)
        out = ctx.alloc(node, 0, lead + [nn, mm], zero=True)
        ct = out.ctype

        def body(idx):
            base = " + ".join(f"{i} * {st}" for i, st in zip(idx, out.strides[: len(lead)])) or "0"
            for k, d, L in zip(self.offsets, diags, lengths):
                t = ctx.name("t")
                with ctx.loop(t, L):
                    ctx.line(f"{out.ptr}[{base} + ({t} + {max(0, -k)}) * {mm} + {t} + {max(0, k)}] = "
                             f"({ct})({d.at(idx + [t])});")

        c_walk(ctx, lead, body)
        return [out]


@register("banded")
def banded(n, m, diags: dict) -> Variable:
    """An n x m matrix with diags[k] on diagonal k and zeros elsewhere."""
    offsets = sorted(diags)
    return BandedMatrix(offsets).make_node(n, m, *[diags[k] for k in offsets]).outputs[0]
