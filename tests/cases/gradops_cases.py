"""Op table cases for ccgrad/ops/gradops.py: GradientBlock (zero_grad, disconnected_grad,
consider_constant).  The forward pass is the identity; the gradient rows build T.grad / T.Rop
inside the case and compare the resulting graph's value with the blocked derivative."""

import numpy as np

import ccgrad.tensor as T
from ccgrad import gradient
from tests.optable import Arg, Case

M23 = Arg(shape=(2, 3))

CASES: list[Case] = [
    # forward: identity, any dtype, layout, empty
    Case("zero_grad_forward", lambda x: T.zero_grad(x), [M23], lambda x: x, grad=False),
    Case("disconnected_grad_forward", lambda x: T.disconnected_grad(x), [Arg(shape=(2, 3), layout="f")],
         lambda x: x, grad=False),
    Case("consider_constant_forward", lambda x: T.consider_constant(x), [Arg("int32", (4,), low=-5, high=5)],
         lambda x: x, grad=False),
    Case("zero_grad_f32_empty", lambda x: T.zero_grad(x), [Arg("float32", (0, 3))], lambda x: x, grad=False),
    Case("zero_grad_reversed_static", lambda x: T.zero_grad(x), [Arg(shape=(1, 3), static=(1,
         None), layout="reversed")],
         lambda x: x, grad=False),
    # backward: d/dx sum(x * block(x)) = block(x) (the blocked factor is a constant)
    Case("zero_grad_grad", lambda x: T.grad(T.sum(x * T.zero_grad(x)), x), [M23], lambda x: x, grad=False),
    Case("disconnected_grad_grad", lambda x: T.grad(T.sum(x * T.disconnected_grad(x)), x), [M23], lambda x: x,
         grad=False),
    Case("consider_constant_grad", lambda x: T.grad(T.sum(T.exp(T.consider_constant(x)) * x), x),
         [M23], lambda x: np.exp(x), grad=False),
    # only through the block: zero (connected) vs disconnected (raises by default)
    Case("zero_grad_only", lambda x: T.grad(T.sum(T.zero_grad(x) ** 2), x), [M23], lambda x: np.zeros_like(x),
         grad=False),
    Case("disconnected_grad_err", lambda x: T.grad(T.sum(T.disconnected_grad(x) ** 2), x), [M23], None,
         expect_error=gradient.DisconnectedInputError),
    Case("disconnected_grad_ignore",
         lambda x: T.grad(T.sum(T.disconnected_grad(x) ** 2), x, disconnected_inputs="ignore"), [M23],
         lambda x: np.zeros_like(x), grad=False),
    # forward mode: Rop through the block is zero
    Case("zero_grad_rop", lambda x, v: T.Rop(x * T.zero_grad(x), x, v), [M23, M23], lambda x, v: v * x, grad=False),
    Case("disconnected_grad_rop", lambda x, v: T.Rop(T.exp(x) + T.disconnected_grad(x), x, v), [M23, M23],
         lambda x, v: np.exp(x) * v, grad=False),
    # second order: the Hessian of sum(x**2 * zero_grad(x)) is 2 * diag(x)
    Case("zero_grad_hvp", lambda x, v: T.grad(T.sum(T.grad(T.sum(x ** 2 * T.zero_grad(x)), x) * v), x),
         [M23, M23], lambda x, v: 2 * x * v, grad=False),
]
