"""Identity ops that only change how gradients flow: zero_grad, disconnected_grad,
consider_constant.  The optimizer removes them before evaluation or lowering."""

from __future__ import annotations

import numpy as np

from ccgrad.graph import Apply, Op, as_variable, register


class GradientBlock(Op):
    """Forward: identity.  Backward: zero (kind 'zero') or disconnected (kind 'disconnected')."""

    __props__ = ("kind",)

    def __init__(self, kind: str):
        if kind not in ("zero", "disconnected"):
            raise ValueError(kind)
        self.kind = kind

    def make_node(self, x) -> Apply:
        x = as_variable(x)
        return Apply(self, [x], [x.type])

    def perform(self, node, inputs):
        return [np.array(inputs[0], copy=True)]

    def infer_shape(self, node, input_shapes):
        return [input_shapes[0]]

    def connection_pattern(self, node):
        return [[self.kind == "zero"]]

    def vjp(self, node, cotangents):
        return [None]

    def jvp(self, node, tangents):
        return [None]

    def batch(self, node, inputs, batched):
        return [self.make_node(inputs[0]).outputs[0]], [batched[0]]

    def pp(self, node, args):
        return f"{self.kind}_grad({args[0]})"

    def c_code(self, ctx, node, ins):
        return [ins[0]]  # the same value (a view)


_ZERO = GradientBlock("zero")
_DISCONNECTED = GradientBlock("disconnected")


@register("zero_grad")
def zero_grad(x):
    """x in the forward pass; its gradient is zero (still connected)."""
    return _ZERO.make_node(x).outputs[0]


@register("disconnected_grad")
def disconnected_grad(x):
    """x in the forward pass; gradients treat it as disconnected from its inputs."""
    return _DISCONNECTED.make_node(x).outputs[0]


@register("consider_constant")
def consider_constant(x):
    """x whose gradient is zero (Theano's ConsiderConstant: still connected)."""
    return _ZERO.make_node(x).outputs[0]
