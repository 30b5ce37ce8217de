"""The Fused op: a region of elementwise ops (optionally ending in one reduction) evaluated as
one loop nest.  Only the optimizer's fusion pass (ccgrad.rewrite.fuse) builds it.

Representation (hashable, no graph objects inside, easy to walk for a code generator):

- `steps`: a tuple of steps `(scalar_op, args, out_dtype)` evaluated in order, one value per
  element of the loop space.  `scalar_op` is a row of the scalar-op table
  (ccgrad.ops.scalar.ScalarOp: its `impl`, `c` and printing are reused), `out_dtype` the
  step's result dtype (what Elemwise's type rule gave the original node).  Each arg is one of
    ("in", i)               node.inputs[i] at the current element (broadcast where its static
                            shape is 1: read `node.inputs[i].type.shape`);
    ("step", j)             the value of an earlier step j < current;
    ("const", dtype, value) a scalar constant of that dtype (value a Python bool/int/float).
  The value of the region is the last step.
- `reduce`: None, or `(kind, axes)` with kind in sum/prod/max/min: the last step's values are
  reduced over `axes` of the loop space, exactly as ccgrad.ops.reduce.Reduce(kind, axes) would
  (sum/prod of integers accumulate in int64).

All inputs have the loop's ndim (the fusion pass keeps the DimShuffles that pad them outside).
The loop space is the broadcast of the inputs' shapes; the output has that shape (minus the
reduced axes).  pp prints the inner expression in Elemwise's infix style, so an optimized graph
reads like the formula it computes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ccgrad import dtypes
from ccgrad.graph import Apply, Constant, Op, TensorType, Variable, as_variable
from ccgrad.ops.elemwise import Elemwise, broadcast_static, check_runtime_broadcast
from ccgrad.ops.reduce import reduce_dtype
from ccgrad.ops.scalar import ScalarOp

REDUCE_KINDS = ("sum", "prod", "max", "min")
_NP_REDUCE = {"sum": np.sum, "prod": np.prod, "max": np.max, "min": np.min}

Ref = tuple  # ("in", i) | ("step", j) | ("const", dtype, value)
Step = tuple  # (ScalarOp, tuple[Ref, ...], str)


class Fused(Op):
    """A fused elementwise region; see the module docstring for the representation."""

    __props__ = ("steps", "reduce")

    def __init__(self, steps: Sequence[Step], reduce: tuple[str, tuple[int, ...]] | None = None):
        self.steps: tuple[Step, ...] = tuple((s, tuple(tuple(a) for a in args), d) for s, args, d in steps)
        if not self.steps:
            raise ValueError("Fused: needs at least one step")
        if reduce is not None:
            kind, axes = reduce
            if kind not in REDUCE_KINDS:
                raise ValueError(f"Fused: unsupported reduction {kind!r}")
            reduce = (kind, tuple(sorted(int(a) for a in axes)))
        self.reduce = reduce

    def __str__(self) -> str:
        names = ",".join(str(s) for s, _, _ in self.steps)
        red = "" if self.reduce is None else f"; {self.reduce[0]}{list(self.reduce[1])}"
        return f"Fused{{{names}{red}}}"

    # -- facts about the program

    def arg_dtype(self, inputs: Sequence[Variable], ref: Ref) -> str:
        """The dtype of one argument reference (inputs: the node's inputs)."""
        if ref[0] == "in":
            return inputs[ref[1]].dtype
        if ref[0] == "step":
            return self.steps[ref[1]][2]
        return ref[1]

    @property
    def value_dtype(self) -> str:
        """dtype of the region's value before the reduction."""
        return self.steps[-1][2]

    def _check(self, inputs: Sequence[Variable]) -> None:
        for j, (sop, args, out) in enumerate(self.steps):
            if not isinstance(sop, ScalarOp):
                raise TypeError(f"Fused: step {j} holds {sop!r}, not a scalar op")
            if sop.nin >= 0 and len(args) != sop.nin:
                raise TypeError(f"Fused: step {j} ({sop}) takes {sop.nin} args, got {len(args)}")
            for a in args:
                bad = (a[0] == "in" and not 0 <= a[1] < len(inputs)) or (
                    a[0] == "step" and not 0 <= a[1] < j) or a[0] not in ("in", "step", "const")
                if bad:
                    raise ValueError(f"Fused: step {j} has an invalid argument {a}")
            in_dtypes = [self.arg_dtype(inputs, a) for a in args]
            sop.check_inputs(in_dtypes)
            if sop.out_dtype(in_dtypes) != out:
                raise TypeError(f"Fused: step {j} ({sop}) of {in_dtypes} gives "
                                f"{sop.out_dtype(in_dtypes)}, the program says {out}")

    # -- the op protocol

    def make_node(self, *inputs) -> Apply:
        ins = [as_variable(v) for v in inputs]
        if not ins:
            raise TypeError("Fused: needs at least one input (the loop space comes from inputs)")
        ndim = ins[0].ndim
        if any(v.ndim != ndim for v in ins):
            raise ValueError(f"Fused: inputs must share one ndim, got {[v.ndim for v in ins]}")
        self._check(ins)
        shape = broadcast_static("fused", ins)
        dtype = self.value_dtype
        if self.reduce is not None:
            kind, axes = self.reduce
            if any(a >= ndim for a in axes):
                raise ValueError(f"Fused: reduction axes {axes} out of range for ndim {ndim}")
            if kind in ("max", "min") and any(shape[a] == 0 for a in axes):
                raise ValueError(f"Fused: {kind} over a zero-size axis of static shape {shape}")
            dtype = reduce_dtype(kind, dtype)
            shape = tuple(s for i, s in enumerate(shape) if i not in axes)
        return Apply(self, ins, [TensorType(dtype, shape=shape)])

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        loop = check_runtime_broadcast("fused", node, inputs, node.inputs[0].ndim)
        one = (1,) * len(loop)
        vals: list[np.ndarray] = []
        with np.errstate(all="ignore"):
            for sop, args, out in self.steps:
                xs = [inputs[a[1]] if a[0] == "in" else vals[a[1]] if a[0] == "step"
                      else np.full(one, a[2], dtype=a[1]) for a in args]
                vals.append(np.asarray(sop.impl(*xs)).astype(out, copy=False))
        res = np.broadcast_to(vals[-1], loop)
        if self.reduce is None:
            return [np.array(res, dtype=node.outputs[0].dtype, copy=True)]
        kind, axes = self.reduce
        out_dtype = node.outputs[0].dtype
        if kind in ("max", "min") and any(loop[a] == 0 for a in axes):
            raise ValueError(f"{kind}: zero-size array along a reduced axis (shape {loop})")
        if kind in ("sum", "prod"):
            r = _NP_REDUCE[kind](res, axis=axes, dtype=out_dtype)
        else:
            r = _NP_REDUCE[kind](res, axis=axes)
        return [np.asarray(r, dtype=out_dtype)]

    def infer_shape(self, node: Apply, input_shapes: list[tuple]) -> list[tuple]:
        out = []
        for axis in range(node.inputs[0].ndim):
            dim = next((shp[axis] for v, shp in zip(node.inputs, input_shapes) if v.type.shape[axis] != 1),
                       input_shapes[0][axis])
            out.append(dim)
        if self.reduce is not None:
            out = [d for i, d in enumerate(out) if i not in self.reduce[1]]
        return [tuple(out)]

    def expand(self, inputs: Sequence[Variable]) -> Variable:
        """The equivalent graph of Elemwise (and Reduce) nodes over `inputs`."""
        from ccgrad.ops.reduce import Reduce

        ndim = inputs[0].ndim
        vals: list[Variable] = []
        for sop, args, _ in self.steps:
            xs = [inputs[a[1]] if a[0] == "in" else vals[a[1]] if a[0] == "step"
                  else Constant(TensorType(a[1], shape=(1,) * ndim), np.full((1,) * ndim, a[2], dtype=a[1]))
                  for a in args]
            vals.append(Elemwise(sop).make_node(*xs).outputs[0])
        if self.reduce is None:
            return vals[-1]
        return Reduce(*self.reduce).make_node(vals[-1]).outputs[0]

    def vjp(self, node: Apply, cotangents: list) -> list:
        # Gradients are normally taken before optimization; this serves graphs built by hand.
        from ccgrad.gradient import grad

        gz = cotangents[0]
        if gz is None:
            return [None] * len(node.inputs)
        out = self.expand(node.inputs)
        gs = grad(None, list(node.inputs), known_grads={out: gz}, disconnected_inputs="ignore",
                  return_disconnected="None", add_names=False)
        return [g if v.dtype in dtypes.FLOATS else None for v, g in zip(node.inputs, gs)]

    def jvp(self, node: Apply, tangents: list) -> list:
        from ccgrad.gradient import forward

        out = self.expand(node.inputs)
        ts = {id(v): t for v, t in zip(node.inputs, tangents) if t is not None}
        return [forward([out], ts, stop=list(node.inputs)).get(id(out))]

    def batch(self, node: Apply, inputs: list[Variable], batched: list[bool]):
        ins = [v if b else v.dimshuffle("x", *range(v.ndim)) for v, b in zip(inputs, batched)]
        red = None if self.reduce is None else (self.reduce[0], tuple(a + 1 for a in self.reduce[1]))
        return [Fused(self.steps, red).make_node(*ins).outputs[0]], [True]

    def c_code(self, ctx, node: Apply, ins: list):
        """One loop nest evaluating the whole program per element, ending in the reduction when
        the region has one (ccgrad.lower.loops builds the nest)."""
        from ccgrad.lower.loops import emit_fused_node

        return emit_fused_node(ctx, node, ins)

    def pp(self, node: Apply, args: list[str]) -> str:
        shown: list[str] = []
        for sop, refs, _ in self.steps:
            parts = [args[a[1]] if a[0] == "in" else shown[a[1]] if a[0] == "step" else _const_str(a[2])
                     for a in refs]
            shown.append(Elemwise(sop).pp(node, parts))
        expr = shown[-1]
        if self.reduce is None:
            return expr
        kind, axes = self.reduce
        if axes == tuple(range(node.inputs[0].ndim)):
            return f"{kind}({expr})"
        return f"{kind}({expr}, axis={list(axes) if len(axes) > 1 else axes[0]})"

    # -- code generation helper

    def scalar_body(self, node: Apply, elems: list[str], name: Callable[[str], str]
                    ) -> tuple[list[str], str]:
        """C statements and the final expression computing one element of the region's value.

        elems: one C expression per node input (the element read); name(prefix) returns a fresh
        C identifier.  Each step becomes a `const` temporary (so shared steps run once)."""
        stmts: list[str] = []
        temps: list[str] = []
        for sop, refs, out in self.steps:
            parts = [elems[a[1]] if a[0] == "in" else temps[a[1]] if a[0] == "step"
                     else dtypes.c_literal(a[2], a[1]) for a in refs]
            in_dtypes = [self.arg_dtype(node.inputs, a) for a in refs]
            t = name("t")
            stmts.append(f"const {dtypes.c_type(out)} {t} = {sop.c(parts, in_dtypes, out)};")
            temps.append(t)
        return stmts, temps[-1]


def _const_str(value) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return str(value)
