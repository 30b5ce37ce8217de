"""The Elemwise op: one scalar op (a row of the table in ccgrad.ops.scalar) applied over
broadcast inputs, the builders for every row (add, exp, ...), and cast / fill / zeros_like /
ones_like.

Broadcasting follows numpy, restricted as in Theano: a dimension broadcasts only when its static
length is 1, so gradients can sum it back.  Python scalars are weak constants that take the
dtype of the other operands (float32 * 0.1 stays float32).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ccgrad import dtypes
from ccgrad.graph import Apply, Constant, Op, TensorType, Variable, as_variable, builder, register
from ccgrad.ops.scalar import SCALAR_OPS, ScalarOp, c_cast, cast_op  # noqa: F401  (re-exported)
from ccgrad.options import config

# ---------------------------------------------------------------------------------------------
# The Elemwise op


def _resolve_weak(inputs: list[Variable]) -> list[Variable]:
    """Give Python-scalar constants the dtype the other operands call for (NEP 50)."""
    strong = [v.dtype for v in inputs if not (isinstance(v, Constant) and v.weak)]
    if len(strong) == len(inputs):
        return inputs
    if not strong:
        # All weak: ints keep their smallest dtype (so `2 - 1` stays int8, as Theano), floats
        # become floatX, bools stay bool.
        ranks = [dtypes.kind_rank(v.dtype) for v in inputs]
        top = max(ranks)
        if top < 2:
            return inputs
        return [Constant(TensorType(config.floatX, shape=()), v.data, weak=True) for v in inputs]
    target = dtypes.upcast(*strong)
    trank = dtypes.kind_rank(target)
    out = []
    for v in inputs:
        if not (isinstance(v, Constant) and v.weak):
            out.append(v)
            continue
        rank = dtypes.kind_rank(v.dtype)
        if rank < trank and dtypes.upcast(v.dtype, target) == target:
            # A Python int next to floats keeps its small int dtype, so `x ** 2` prints and
            # differentiates as in Theano; it cannot change the result dtype.
            out.append(v)
        elif rank < trank:
            # A large Python int next to float32 (x * 100000) must not upcast to float64.
            out.append(Constant(TensorType(target, shape=()), v.data, weak=True))
        elif rank == trank:
            if rank == 1 and not _fits(v.data, target):
                # Out of the tensor's range (int8 + 1000, uint8 + -1): numpy 2 raises; we keep
                # the constant's own smallest dtype, which promotes as Theano / numpy 1 did.
                out.append(v)
            else:
                out.append(Constant(TensorType(target, shape=()), v.data, weak=True))
        else:
            new = config.floatX if rank == 2 else "int64"
            out.append(Constant(TensorType(new, shape=()), v.data, weak=True))
    return out


def _fits(value: np.ndarray, dtype: str) -> bool:
    info = np.iinfo(dtype)
    return bool(info.min <= int(value) <= info.max)


def broadcast_static(op_name: str, inputs: Sequence[Variable]) -> tuple[int | None, ...]:
    """The static output shape of an elementwise op, or ValueError naming the operands."""
    ndim = inputs[0].ndim
    out = []
    for axis in range(ndim):
        known = {v.type.shape[axis] for v in inputs} - {None, 1}
        if len(known) > 1:
            shapes = ", ".join(f"input {i} {_fmt_shape(v)}" for i, v in enumerate(inputs))
            raise ValueError(
                f"{op_name}: incompatible static shapes on axis {axis}: {shapes} "
                "(only dimensions of static length 1 broadcast)"
            )
        if known:
            out.append(known.pop())
        elif all(v.type.shape[axis] == 1 for v in inputs):
            out.append(1)
        else:
            out.append(None)
    return tuple(out)


def _fmt_shape(v: Variable) -> str:
    name = f"'{v.name}' " if v.name else ""
    dims = ", ".join("?" if s is None else str(s) for s in v.type.shape)
    return f"{name}of shape ({dims}{',' if v.ndim == 1 else ''})"


class Elemwise(Op):
    """Apply one scalar op over broadcast inputs (all of the same ndim after padding)."""

    __props__ = ("scalar_op",)

    def __init__(self, scalar_op: ScalarOp):
        self.scalar_op = scalar_op

    def __str__(self) -> str:
        return f"Elemwise{{{self.scalar_op}}}"

    def make_node(self, *inputs) -> Apply:
        sop = self.scalar_op
        if sop.nin >= 0 and len(inputs) != sop.nin:
            raise TypeError(f"{sop.name} takes {sop.nin} inputs, got {len(inputs)}")
        if sop.nin < 0 and len(inputs) < 1:
            raise TypeError(f"{sop.name} needs at least one input")
        ins = [as_variable(x) for x in inputs]
        k = sop.promote_from
        ins = ins[:k] + _resolve_weak(ins[k:])
        ndim = max(v.ndim for v in ins)
        ins = [_left_pad(v, ndim) for v in ins]
        in_dtypes = [v.dtype for v in ins]
        sop.check_inputs(in_dtypes)
        out_dtype = sop.out_dtype(in_dtypes)
        shape = broadcast_static(sop.name, ins)
        return Apply(self, ins, [TensorType(out_dtype, shape=shape)])

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        check_runtime_broadcast(self.scalar_op.name, node, inputs)
        with np.errstate(all="ignore"):
            res = self.scalar_op.impl(*inputs)
        out_t = node.outputs[0].type
        res = np.asarray(res)
        shape = np.broadcast_shapes(*[a.shape for a in inputs])
        if res.shape != shape:
            res = np.broadcast_to(res, shape)
        return [np.array(res, dtype=out_t.dtype, copy=True)]

    def infer_shape(self, node: Apply, input_shapes: list[tuple]) -> list[tuple]:
        out = []
        for axis in range(node.outputs[0].ndim):
            dim = None
            for v, shp in zip(node.inputs, input_shapes):
                if v.type.shape[axis] != 1:
                    dim = shp[axis]
                    break
            out.append(dim if dim is not None else input_shapes[0][axis])
        return [tuple(out)]

    def vjp(self, node: Apply, cotangents: list) -> list:
        gz = cotangents[0]
        if gz is None or self.scalar_op.vjp is None:
            return [None] * len(node.inputs)
        return list(self.scalar_op.vjp(list(node.inputs), node.outputs[0], gz))

    def jvp(self, node: Apply, tangents: list) -> list:
        out = node.outputs[0]
        if all(t is None for t in tangents) or self.scalar_op.jvp is None:
            return [None]
        if out.dtype not in dtypes.FLOATS:
            return [None]
        t = self.scalar_op.jvp(list(node.inputs), out, list(tangents))
        if t is None:
            return [None]
        t = as_variable(t)
        # A tangent built only from broadcast inputs (row + matrix: t_row) must still have the
        # output's shape: the driver sums broadcast axes back but never broadcasts up.
        if any(s == 1 and o != 1 for s, o in zip(t.type.shape, out.type.shape)):
            t = fill(out, t)
        return [t]

    def batch(self, node: Apply, inputs: list[Variable], batched: list[bool]):
        ins = [v if b else v.dimshuffle("x", *range(v.ndim)) for v, b in zip(inputs, batched)]
        return [elemwise(self.scalar_op, *ins)], [True]

    def c_code(self, ctx, node: Apply, ins: list):
        """One loop nest over the broadcast shape, the scalar op's C expression per element
        (ccgrad.lower.loops builds the nest)."""
        from ccgrad.lower.loops import emit_elemwise_node

        return emit_elemwise_node(ctx, node, ins)

    def pp(self, node: Apply, args: list[str]) -> str:
        sop = self.scalar_op
        if sop.name == "neg":
            return f"-{args[0]}"
        if sop.name == "invert":
            return f"~{args[0]}"
        if sop.name == "second":
            return f"fill({args[0]}, {args[1]})"
        if sop.name == "cast":
            return f"cast{{{sop.param}}}({args[0]})"
        if sop.infix is not None and len(args) >= 2:
            return "(" + f" {sop.infix} ".join(args) + ")"
        return f"{sop.name}({', '.join(args)})"


def check_runtime_broadcast(name: str, node: Apply, inputs: Sequence[np.ndarray],
                            ndim: int | None = None) -> tuple[int, ...]:
    """Theano's rule at run time: non-broadcastable dims must agree exactly.  Returns the loop
    shape; `ndim` is its rank (default: the first output's)."""
    out_ndim = node.outputs[0].ndim if ndim is None else ndim
    loop = []
    for axis in range(out_ndim):
        length = None
        for i, (v, a) in enumerate(zip(node.inputs, inputs)):
            if a.ndim != out_ndim:
                raise ValueError(f"{name}: input {i} has ndim {a.ndim}, expected {out_ndim}")
            if v.type.shape[axis] == 1:
                if a.shape[axis] != 1:
                    raise ValueError(f"{name}: input {i} must have length 1 on axis {axis}, got {a.shape}")
                continue
            if length is None:
                length = (i, a.shape[axis])
            elif a.shape[axis] != length[1]:
                raise ValueError(
                    f"{name}: shape mismatch on axis {axis}: input {length[0]} has length "
                    f"{length[1]}, input {i} has length {a.shape[axis]} "
                    f"(shapes {[x.shape for x in inputs]})"
                )
        loop.append(1 if length is None else length[1])
    return tuple(loop)


def _left_pad(v: Variable, ndim: int) -> Variable:
    if v.ndim == ndim:
        return v
    pad = ["x"] * (ndim - v.ndim)
    return builder("dimshuffle")(v, tuple(pad) + tuple(range(v.ndim)))


_ELEMWISE_OPS: dict[ScalarOp, Elemwise] = {}


def elemwise(sop: ScalarOp, *inputs) -> Variable:
    """Build Elemwise{sop}(*inputs)."""
    op = _ELEMWISE_OPS.get(sop)
    if op is None:
        op = _ELEMWISE_OPS[sop] = Elemwise(sop)
    return op.make_node(*inputs).outputs[0]


def _builder_for(sop: ScalarOp) -> Callable[..., Variable]:
    def build(*inputs):
        return elemwise(sop, *inputs)

    build.__name__ = sop.name
    build.__doc__ = f"Elementwise {sop.name} with numpy broadcasting."
    return build


for _name, _sop in list(SCALAR_OPS.items()):
    register(_name)(_builder_for(_sop))

# Theano's spellings of the same builders.
register("abs_")(_builder_for(SCALAR_OPS["abs"]))
register("sgn")(_builder_for(SCALAR_OPS["sign"]))


@register("cast")
def cast(x, dtype) -> Variable:
    """x converted to `dtype` (no node when it already has it)."""
    x = as_variable(x)
    dtype = dtypes.canonical(dtype)
    if x.dtype == dtype:
        return x
    return elemwise(cast_op(dtype), x)


@register("fill")
def fill(model, value) -> Variable:
    """`value` broadcast to the shape of `model` (Theano's fill / second)."""
    return elemwise(SCALAR_OPS["second"], model, value)


@register("zeros_like")
def zeros_like(x, dtype=None) -> Variable:
    x = as_variable(x)
    dt = dtypes.canonical(dtype) if dtype else x.dtype
    return fill(x, Constant(TensorType(dt, shape=()), 0))


@register("ones_like")
def ones_like(x, dtype=None) -> Variable:
    x = as_variable(x)
    dt = dtypes.canonical(dtype) if dtype else x.dtype
    return fill(x, Constant(TensorType(dt, shape=()), 1))
