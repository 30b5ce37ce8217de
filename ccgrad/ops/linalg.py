"""Linear algebra: Dot for every vector/matrix combination (numpy semantics), MatMul (a stack of
matrix products over broadcast leading axes), and the builders dot, matmul (`@`), batched_dot,
tensordot and outer.

dtypes follow numpy promotion (int . int stays int, int . float32 is float64).  Inner
dimensions must agree: a ValueError at build time when both are static, at run time otherwise,
naming both shapes.  Gradients are dots with transposes, so they differentiate again.
"""

from __future__ import annotations

import numpy as np

from ccgrad import dtypes
from ccgrad.graph import Apply, Op, TensorType, Variable, as_variable, builder, register


def _fmt(v: Variable) -> str:
    dims = ", ".join("?" if s is None else str(s) for s in v.type.shape)
    return f"({dims}{',' if v.ndim == 1 else ''})"


def _ds(x: Variable, pattern) -> Variable:
    return builder("dimshuffle")(x, tuple(pattern))


def _swap_last(x: Variable) -> Variable:
    """x with its last two axes exchanged."""
    n = x.ndim
    return _ds(x, tuple(range(n - 2)) + (n - 1, n - 2))


def _outer(a: Variable, b: Variable) -> Variable:
    """a[:, None] * b[None, :] for vectors a, b."""
    return _ds(a, (0, "x")) * _ds(b, ("x", 0))


def _add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def _check_dtypes(name: str, a: Variable, b: Variable) -> str:
    try:
        return dtypes.upcast(a.dtype, b.dtype)
    except TypeError as exc:
        raise TypeError(f"{name}: cannot combine dtypes {a.dtype} and {b.dtype}") from exc


class Dot(Op):
    """numpy.dot for 1-d and 2-d operands: vec.vec -> 0-d, mat.vec, vec.mat, mat.mat."""

    pp_name = "dot"

    def make_node(self, a, b) -> Apply:
        a, b = as_variable(a), as_variable(b)
        for what, v in (("first", a), ("second", b)):
            if v.ndim not in (1, 2):
                raise TypeError(f"dot: the {what} operand must be 1-d or 2-d, got a {v.ndim}-d "
                                f"{v.type!r} (use ccgrad.tensor.dot for other ranks)")
        out_dtype = _check_dtypes("dot", a, b)
        ka, kb = a.type.shape[-1], b.type.shape[0]
        if ka is not None and kb is not None and ka != kb:
            raise ValueError(
                f"dot: inner dimensions differ: {a} of shape {_fmt(a)} (length {ka} on its last axis) "
                f"and {b} of shape {_fmt(b)} (length {kb} on its first axis)"
            )
        shape = a.type.shape[:-1] + b.type.shape[1:]
        return Apply(self, [a, b], [TensorType(out_dtype, shape=shape)])

    def perform(self, node, inputs):
        a, b = inputs
        if a.shape[-1] != b.shape[0]:
            raise ValueError(f"dot: inner dimensions differ: shapes {a.shape} and {b.shape} "
                             f"({a.shape[-1]} != {b.shape[0]})")
        return [np.array(np.dot(a, b), dtype=node.outputs[0].dtype)]

    def infer_shape(self, node, input_shapes):
        sa, sb = input_shapes
        return [tuple(sa[:-1]) + tuple(sb[1:])]

    def vjp(self, node, cotangents):
        gz = cotangents[0]
        a, b = node.inputs
        if gz is None:
            return [None, None]
        ga = gb = None
        if a.dtype in dtypes.FLOATS:
            if b.ndim == 1:
                ga = gz * b if a.ndim == 1 else _outer(gz, b)  # (k,) or (m, k)
            else:
                ga = dot(b, gz) if a.ndim == 1 else dot(gz, b.T)  # (k,) or (m, k)
        if b.dtype in dtypes.FLOATS:
            if a.ndim == 1:
                gb = gz * a if b.ndim == 1 else _outer(a, gz)  # (k,) or (k, n)
            else:
                gb = dot(gz, a) if b.ndim == 1 else dot(a.T, gz)  # (k,) or (k, n)
        return [ga, gb]

    def jvp(self, node, tangents):
        ta, tb = tangents
        a, b = node.inputs
        return [_add(None if ta is None else dot(ta, b), None if tb is None else dot(a, tb))]

    def batch(self, node, inputs, batched):
        a, b = inputs
        return [_batched_dot(a, b, batched[0], batched[1])], [batched[0] or batched[1]]

    def pp(self, node, args):
        return f"dot({args[0]}, {args[1]})"

    def c_code(self, ctx, node, ins):
        """BLAS gemm/gemv/dot for floats (C loops for integers or without BLAS)."""
        out_dt = node.outputs[0].dtype
        a, b = (ctx.cast(ctx.materialize(v), out_dt) for v in ins)
        ctx.use_blas()
        sfx = _C_SUFFIX[out_dt]
        ka, kb = a.shape[-1], b.shape[0]
        if ka != kb:
            ctx.check(f"{ka} == {kb}", 1, "dot: inner dimensions differ: first operand has length %lld on its "
                      "last axis, second has %lld on its first", ka, kb, expected=ka, got=kb)
        if a.ndim == 1 and b.ndim == 1:
            out = ctx.scalar(node, 0)
            ctx.line(f"ccg_dotv_{sfx}({ka}, {a.ptr}, {a.strides[0]}, {b.ptr}, {b.strides[0]}, &{out.scalar});")
            return [out]
        m, sa0, sa1 = ("1", "0", a.strides[0]) if a.ndim == 1 else (a.shape[0], a.strides[0], a.strides[1])
        n, sb0, sb1 = ("1", b.strides[0], "0") if b.ndim == 1 else (b.shape[1], b.strides[0], b.strides[1])
        shape = ([] if a.ndim == 1 else [a.shape[0]]) + ([] if b.ndim == 1 else [b.shape[1]])
        out = ctx.alloc(node, 0, shape)
        ctx.check(f"ccg_gemm_{sfx}({m}, {n}, {ka}, {a.ptr}, {sa0}, {sa1}, {b.ptr}, {sb0}, {sb1}, {out.ptr}) == 0",
                  4, "dot: cannot allocate a temporary")
        return [out]


_C_SUFFIX = {"float32": "f32", "float64": "f64", "int8": "i8", "int16": "i16", "int32": "i32",
             "int64": "i64", "uint8": "u8", "bool": "b"}

_DOT = Dot()


def _batched_dot(a: Variable, b: Variable, a_batched: bool, b_batched: bool) -> Variable:
    """dot(a[i], b[i]) for every i of the leading batch axis (on the flagged operands), through
    one MatMul: vectors become 1-row / 1-column matrices, the unbatched operand gets a
    broadcastable batch axis, and the inserted axes are dropped again afterwards."""
    a_vec = a.ndim - a_batched == 1
    b_vec = b.ndim - b_batched == 1
    if a_batched:
        a3 = _ds(a, (0, "x", 1)) if a_vec else a
    else:
        a3 = _ds(a, ("x", "x", 0)) if a_vec else _ds(a, ("x", 0, 1))
    if b_batched:
        b3 = _ds(b, (0, 1, "x")) if b_vec else b
    else:
        b3 = _ds(b, ("x", 0, "x")) if b_vec else _ds(b, ("x", 0, 1))
    out = _MATMUL.make_node(a3, b3).outputs[0]
    keep = [0] + ([] if a_vec else [1]) + ([] if b_vec else [2])
    return _ds(out, keep) if len(keep) < 3 else out


class MatMul(Op):
    """numpy.matmul for operands of equal rank >= 3: matrix products over the last two axes,
    leading axes broadcast as in elementwise ops (only static length 1 broadcasts)."""

    pp_name = "matmul"

    def make_node(self, a, b) -> Apply:
        a, b = as_variable(a), as_variable(b)
        if a.ndim != b.ndim or a.ndim < 3:
            raise TypeError(f"MatMul needs two operands of equal rank >= 3, got shapes {_fmt(a)} "
                            f"and {_fmt(b)} (use ccgrad.tensor.matmul)")
        out_dtype = _check_dtypes("matmul", a, b)
        batch = []
        for axis, (x, y) in enumerate(zip(a.type.shape[:-2], b.type.shape[:-2])):
            if x is not None and y is not None and x != y and 1 not in (x, y):
                raise ValueError(f"matmul: batch axis {axis} differs: shapes {_fmt(a)} and {_fmt(b)}")
            batch.append(y if x == 1 else x if y == 1 else x if x is not None else y)
        ka, kb = a.type.shape[-1], b.type.shape[-2]
        if ka is not None and kb is not None and ka != kb:
            raise ValueError(f"matmul: inner dimensions differ: shapes {_fmt(a)} and {_fmt(b)} "
                             f"({ka} != {kb})")
        shape = tuple(batch) + (a.type.shape[-2], b.type.shape[-1])
        return Apply(self, [a, b], [TensorType(out_dtype, shape=shape)])

    def perform(self, node, inputs):
        a, b = inputs
        va, vb = node.inputs
        for axis in range(a.ndim - 2):
            la, lb = a.shape[axis], b.shape[axis]
            if (va.type.shape[axis] == 1 and la != 1) or (vb.type.shape[axis] == 1 and lb != 1):
                raise ValueError(f"matmul: broadcastable batch axis {axis} has length != 1: "
                                 f"shapes {a.shape} and {b.shape}")
            if la != lb and va.type.shape[axis] != 1 and vb.type.shape[axis] != 1:
                raise ValueError(f"matmul: batch axis {axis} differs: shapes {a.shape} and {b.shape} "
                                 "(only axes of static length 1 broadcast)")
        if a.shape[-1] != b.shape[-2]:
            raise ValueError(f"matmul: inner dimensions differ: shapes {a.shape} and {b.shape} "
                             f"({a.shape[-1]} != {b.shape[-2]})")
        out = np.matmul(a.astype(node.outputs[0].dtype, copy=False), b.astype(node.outputs[0].dtype, copy=False))
        return [np.array(out, dtype=node.outputs[0].dtype)]

    def infer_shape(self, node, input_shapes):
        va = node.inputs[0]
        sa, sb = input_shapes
        batch = tuple(sb[i] if va.type.shape[i] == 1 else sa[i] for i in range(va.ndim - 2))
        return [batch + (sa[-2], sb[-1])]

    def vjp(self, node, cotangents):
        gz = cotangents[0]
        a, b = node.inputs
        if gz is None:
            return [None, None]
        ga = matmul(gz, _swap_last(b)) if a.dtype in dtypes.FLOATS else None
        gb = matmul(_swap_last(a), gz) if b.dtype in dtypes.FLOATS else None
        return [ga, gb]

    def jvp(self, node, tangents):
        ta, tb = tangents
        a, b = node.inputs
        return [_add(None if ta is None else matmul(ta, b), None if tb is None else matmul(a, tb))]

    def batch(self, node, inputs, batched):
        a, b = (v if bt else _ds(v, ("x",) + tuple(range(v.ndim))) for v, bt in zip(inputs, batched))
        return [self.make_node(a, b).outputs[0]], [True]

    def pp(self, node, args):
        return f"matmul({args[0]}, {args[1]})"

    def c_code(self, ctx, node, ins):
        """One gemm per matrix of the broadcast batch."""
        out_dt = node.outputs[0].dtype
        a, b = (ctx.cast(ctx.materialize(v), out_dt) for v in ins)
        va, vb = node.inputs
        ctx.use_blas()
        sfx = _C_SUFFIX[out_dt]
        nb = va.ndim - 2
        ka, kb = a.shape[-1], b.shape[-2]
        if ka != kb:
            ctx.check(f"{ka} == {kb}", 1, "matmul: inner dimensions differ: %lld and %lld", ka, kb)
        batch = []
        for ax in range(nb):
            sa, sb = va.type.shape[ax], vb.type.shape[ax]
            if sa == 1:
                batch.append(b.shape[ax])
            elif sb == 1:
                batch.append(a.shape[ax])
            else:
                if a.shape[ax] != b.shape[ax]:
                    ctx.check(f"{a.shape[ax]} == {b.shape[ax]}", 1,
                              f"matmul: batch axis {ax} differs: %lld and %lld", a.shape[ax], b.shape[ax])
                batch.append(a.shape[ax])
        m, n = a.shape[-2], b.shape[-1]
        out = ctx.alloc(node, 0, batch + [m, n])
        idx = [ctx.name("bi") for _ in range(nb)]
        managers = []
        for ax in range(nb):
            cm = ctx.loop(idx[ax], batch[ax])
            cm.__enter__()
            managers.append(cm)
        # broadcast batch axes (static length 1) read matrix 0 whatever their stride
        sa_b = ["0" if va.type.shape[ax] == 1 else a.strides[ax] for ax in range(nb)]
        sb_b = ["0" if vb.type.shape[ax] == 1 else b.strides[ax] for ax in range(nb)]
        off_a = " + ".join(f"{i} * {s}" for i, s in zip(idx, sa_b)) or "0"
        off_b = " + ".join(f"{i} * {s}" for i, s in zip(idx, sb_b)) or "0"
        off_o = " + ".join(f"{i} * {s}" for i, s in zip(idx, out.strides[:nb])) or "0"
        ctx.check(f"ccg_gemm_{sfx}({m}, {n}, {ka}, {a.ptr} + ({off_a}), {a.strides[-2]}, {a.strides[-1]}, "
                  f"{b.ptr} + ({off_b}), {b.strides[-2]}, {b.strides[-1]}, {out.ptr} + ({off_o})) == 0",
                  4, "matmul: cannot allocate a temporary")
        for cm in reversed(managers):
            cm.__exit__(None, None, None)
        return [out]


_MATMUL = MatMul()


@register("dot")
def dot(a, b) -> Variable:
    """numpy.dot: scalars multiply elementwise; 1-d/2-d operands use Dot; an N-d first operand
    contracts its last axis with b's second-to-last (or only) axis, as numpy does."""
    a, b = as_variable(a), as_variable(b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if a.ndim <= 2 and b.ndim <= 2:
        return _DOT.make_node(a, b).outputs[0]
    if b.ndim <= 2:
        return matmul(a, b)  # for b 1-d or 2-d, numpy's dot and matmul agree
    # b N-d: out = a.shape[:-1] + b.shape[:-2] + b.shape[-1:], as a stack of (1, k) @ (k, n).
    p, q = a.ndim, b.ndim
    a2 = _ds(a, tuple(range(p - 1)) + ("x",) * (q - 2) + ("x", p - 1))
    b2 = _ds(b, ("x",) * (p - 1) + tuple(range(q)))
    out = matmul(a2, b2)
    n = out.ndim
    return _ds(out, tuple(range(n - 2)) + (n - 1,))


@register("matmul")
def matmul(a, b) -> Variable:
    """numpy.matmul (the `@` operator): 1-d/2-d as dot; higher ranks multiply the matrices of
    the last two axes and broadcast the leading ones; 1-d operands are promoted and squeezed."""
    a, b = as_variable(a), as_variable(b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must not be scalars (got shapes {_fmt(a)} and {_fmt(b)}); "
                         "use * for scalar multiplication")
    if a.ndim <= 2 and b.ndim <= 2:
        return _DOT.make_node(a, b).outputs[0]
    a_vec, b_vec = a.ndim == 1, b.ndim == 1
    if a_vec:
        a = _ds(a, ("x", 0))
    if b_vec:
        b = _ds(b, (0, "x"))
    n = max(a.ndim, b.ndim)
    a = _ds(a, ("x",) * (n - a.ndim) + tuple(range(a.ndim)))
    b = _ds(b, ("x",) * (n - b.ndim) + tuple(range(b.ndim)))
    out = _MATMUL.make_node(a, b).outputs[0]
    keep = tuple(range(n - 2)) + (() if a_vec else (n - 2,)) + (() if b_vec else (n - 1,))
    return _ds(out, keep)


@register("batched_dot")
def batched_dot(a, b) -> Variable:
    """[dot(a[i], b[i]) for i] over the leading axis (Theano's T.batched_dot); a[i] and b[i]
    are vectors or matrices."""
    a, b = as_variable(a), as_variable(b)
    for what, v in (("first", a), ("second", b)):
        if v.ndim not in (2, 3):
            raise TypeError(f"batched_dot: the {what} operand must be 2-d or 3-d, got {v.type!r}")
    return _batched_dot(a, b, True, True)


def _tensordot_axes(a: Variable, b: Variable, axes) -> tuple[list[int], list[int]]:
    if isinstance(axes, int | np.integer):
        n = int(axes)
        if n < 0 or n > a.ndim or n > b.ndim:
            raise ValueError(f"tensordot: axes={n} is invalid for shapes {_fmt(a)} and {_fmt(b)}")
        return list(range(a.ndim - n, a.ndim)), list(range(n))
    try:
        xa, xb = axes
    except (TypeError, ValueError):
        raise TypeError(f"tensordot: axes must be an int or a pair of axis lists, got {axes!r}") from None
    xa = [xa] if isinstance(xa, int | np.integer) else list(xa)
    xb = [xb] if isinstance(xb, int | np.integer) else list(xb)
    if len(xa) != len(xb):
        raise ValueError(f"tensordot: {len(xa)} axes of a but {len(xb)} axes of b: {axes!r}")
    out = []
    for v, ax in ((a, xa), (b, xb)):
        norm = []
        for x in ax:
            if not -v.ndim <= int(x) < v.ndim:
                raise ValueError(f"tensordot: axis {x} is out of range for shape {_fmt(v)}")
            norm.append(int(x) % v.ndim)
        if len(set(norm)) != len(norm):
            raise ValueError(f"tensordot: repeated axis in {ax}")
        out.append(norm)
    return out[0], out[1]


@register("tensordot")
def tensordot(a, b, axes=2) -> Variable:
    """numpy.tensordot: sum the products over a's `axes[0]` and b's `axes[1]` (an int n means
    a's last n and b's first n); result axes are a's free axes then b's free axes."""
    a, b = as_variable(a), as_variable(b)
    xa, xb = _tensordot_axes(a, b, axes)
    for i, j in zip(xa, xb):
        la, lb = a.type.shape[i], b.type.shape[j]
        if la is not None and lb is not None and la != lb:
            raise ValueError(f"tensordot: summed axes differ in length: axis {i} of {_fmt(a)} vs "
                             f"axis {j} of {_fmt(b)}")
    fa = [i for i in range(a.ndim) if i not in xa]
    fb = [j for j in range(b.ndim) if j not in xb]
    if len(xa) == 1 and len(fa) <= 1 and len(fb) <= 1:
        return dot(_ds(a, fa + xa), _ds(b, xb + fb))
    # General case: broadcast product, then sum the contracted axes.
    a2 = _ds(a, fa + ["x"] * len(fb) + xa)
    b2 = _ds(b, ["x"] * len(fa) + fb + xb)
    prod = a2 * b2
    if not xa:
        return prod
    n = len(fa) + len(fb)
    out = builder("sum")(prod, axis=tuple(range(n, n + len(xa))))
    return builder("cast")(out, _check_dtypes("tensordot", a, b))


@register("outer")
def outer(x, y) -> Variable:
    """Outer product of two vectors (other inputs are flattened first, as Theano does)."""
    x, y = as_variable(x), as_variable(y)
    x = x if x.ndim == 1 else builder("flatten")(x)
    y = y if y.ndim == 1 else builder("flatten")(y)
    return _outer(x, y)
