"""grad's public semantics (Theano's): argument forms, disconnected and undefined gradients,
consider_constant / zero_grad / disconnected_grad, integer inputs, names, known_grads, broadcasting,
and the linear size of gradient graphs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import ccgrad
import ccgrad.tensor as T
from ccgrad import gradient as G
from ccgrad import pp
from ccgrad.graph import Apply, Op, is_undefined, toposort, undefined
from tests.tolerance import assert_close

MODES = ["py"]


@pytest.fixture(params=MODES)
def mode(request):
    return request.param


def run(inputs, outputs, values, mode):
    return ccgrad.function(inputs, outputs, mode=mode, on_unused_input="ignore")(*values)


# --------------------------------------------------------------------------------------------- basics


def test_pp_of_unoptimized_gradient_is_the_seed_string():
    x = T.dscalar("x")
    assert pp(T.grad(x**2, x)) == "((fill((x ** 2), 1.0) * 2) * (x ** (2 - 1)))"


def test_grad_reachable_from_all_entry_points():
    assert ccgrad.grad is G.grad and T.grad is G.grad
    assert ccgrad.Lop is G.Lop and T.Rop is G.Rop


def test_cost_must_be_scalar():
    x = T.dvector("x")
    with pytest.raises(TypeError, match="cost must be a scalar"):
        G.grad(x * 2, x)


def test_cost_none_needs_known_grads():
    x = T.dvector("x")
    with pytest.raises(AssertionError):
        G.grad(None, x)


def test_wrt_forms(mode):
    x, y = T.dvector("x"), T.dvector("y")
    c = T.sum(x * y)
    single = G.grad(c, x)
    assert isinstance(single, ccgrad.tensor.Variable)
    as_list = G.grad(c, [x, y])
    assert isinstance(as_list, list) and len(as_list) == 2
    as_tuple = G.grad(c, (x, y))
    assert isinstance(as_tuple, tuple) and len(as_tuple) == 2
    gx, gy = run([x, y], list(as_tuple), [np.array([1.0, 2.0]), np.array([3.0, 4.0])], mode)
    assert_close(gx, np.array([3.0, 4.0]))
    assert_close(gy, np.array([1.0, 2.0]))
    with pytest.raises(TypeError, match="set"):
        G.grad(c, {x, y})
    with pytest.raises(TypeError):
        G.grad(c, [x, 3.0])


def test_invalid_policy_strings():
    x = T.dvector("x")
    c = T.sum(x)
    for kw in ({"disconnected_inputs": "maybe"}, {"return_disconnected": "zeros"}, {"null_gradients": "x"}):
        with pytest.raises(ValueError):
            G.grad(c, x, **kw)


def test_several_paths_accumulate(mode):
    x = T.dvector("x")
    g = G.grad(T.sum(x * x + x + T.sin(x)), x)
    v = np.array([0.3, -1.2])
    assert_close(run([x], g, [v], mode), 2 * v + 1 + np.cos(v))


def test_grad_of_cost_wrt_itself_is_one(mode):
    x = T.dvector("x")
    c = T.sum(x)
    assert_close(run([x], G.grad(c, c), [np.ones(2)], mode), np.array(1.0))


def test_float32_gradients_stay_float32(mode):
    x = T.fvector("x")
    g = G.grad(T.sum(x * 2.0 + T.exp(x)), x)
    assert g.dtype == "float32"
    out = run([x], g, [np.array([0.0, 1.0], "float32")], mode)
    assert out.dtype == np.float32
    assert_close(out, np.array([3.0, 2.0 + np.e], "float32"), dtype="float32")


def test_broadcast_inputs_get_summed_gradients(mode):
    r = T.row("r", dtype="float64")  # shape (1, n)
    c = T.col("c", dtype="float64")  # shape (m, 1)
    m = T.dmatrix("m")
    cost = T.sum(r * m + c * m * m)
    gr, gc = G.grad(cost, [r, c])
    assert gr.type.shape[0] == 1 and gc.type.shape[1] == 1
    mv = np.arange(6.0).reshape(2, 3)
    out_r, out_c = run([r, c, m], [gr, gc], [np.ones((1, 3)), np.ones((2, 1)), mv], mode)
    assert_close(out_r, mv.sum(0, keepdims=True))
    assert_close(out_c, (mv * mv).sum(1, keepdims=True))


def test_scalar_weak_constants_and_mixed_ranks(mode):
    x, s = T.dvector("x"), T.dscalar("s")
    g = G.grad(T.sum(x * s) + s**3, [x, s])
    gx, gs = run([x, s], g, [np.array([1.0, 2.0]), np.array(2.0)], mode)
    assert_close(gx, np.array([2.0, 2.0]))
    assert_close(gs, np.array(3.0 + 12.0))


# --------------------------------------------------------------------------------------------- disconnected


def test_disconnected_raise_warn_ignore(mode):
    x, y = T.dvector("x"), T.dvector("y")
    c = T.sum(x * 2)
    with pytest.raises(G.DisconnectedInputError, match="y") as info:
        G.grad(c, [x, y])
    assert isinstance(info.value, ValueError)
    with pytest.warns(UserWarning, match="not part of"):
        gx, gy = G.grad(c, [x, y], disconnected_inputs="warn")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gx, gy = G.grad(c, [x, y], disconnected_inputs="ignore")
    out = run([x, y], [gx, gy], [np.ones(2), np.ones(3)], mode)
    assert_close(out[1], np.zeros(3))
    assert out[1].dtype == np.float64


def test_return_disconnected_options():
    x, y = T.dvector("x"), T.dvector("y")
    c = T.sum(x)
    assert G.grad(c, [x, y], disconnected_inputs="ignore", return_disconnected="None")[1] is None
    d = G.grad(c, [x, y], disconnected_inputs="ignore", return_disconnected="Disconnected")[1]
    assert isinstance(d, G.DisconnectedType) and isinstance(d.type, G.DisconnectedType)


def test_non_differentiable_paths_are_disconnected():
    x = T.dvector("x")
    for cost in (T.sum(T.argmax(x) * 1.0), T.cast(T.shape(x)[0], "float64"), T.sum(x.shape) * 1.0):
        with pytest.raises(G.DisconnectedInputError):
            G.grad(cost, x)


def test_zero_derivative_ops_are_connected(mode):
    x = T.dvector("x")
    g = G.grad(T.sum(T.floor(x) + T.sign(x) + T.cast(T.gt(x, 0), "float64")), x)
    assert_close(run([x], g, [np.array([0.5, -1.5])], mode), np.zeros(2))


# --------------------------------------------------------------------------------------------- constants


def test_consider_constant_blocks_flow_through_the_variable(mode):
    x = T.dvector("x")
    h = T.exp(x)
    cost = T.sum(h * h) + T.sum(x)
    gx = G.grad(cost, x, consider_constant=[h])
    v = np.array([0.1, 0.7])
    assert_close(run([x], gx, [v], mode), np.ones(2))
    # The constant's own gradient is still computed, and so is a leaf listed as constant.
    gh = G.grad(cost, h, consider_constant=[h])
    assert_close(run([x], gh, [v], mode), 2 * np.exp(v))
    gx2 = G.grad(cost, x, consider_constant=[x])
    assert_close(run([x], gx2, [v], mode), 2 * np.exp(2 * v) + 1)
    # Only through h: x is disconnected.
    with pytest.raises(G.DisconnectedInputError):
        G.grad(T.sum(h * h), x, consider_constant=[h])


def test_consider_constant_argument_is_checked():
    x = T.dvector("x")
    with pytest.raises(TypeError):
        G.grad(T.sum(x), x, consider_constant=x)
    with pytest.raises(TypeError):
        G.grad(T.sum(x), x, consider_constant=[1.0])


def test_zero_grad(mode):
    x = T.dvector("x")
    z = G.zero_grad(x)
    cost = T.sum(z * x)  # d/dx = z (the other factor is a constant)
    v = np.array([1.5, -2.0])
    assert_close(run([x], G.grad(cost, x), [v], mode), v)
    assert_close(run([x], G.grad(T.sum(z**2), x), [v], mode), np.zeros(2))  # connected: no error
    assert_close(run([x], z, [v], mode), v)


def test_disconnected_grad(mode):
    x = T.dvector("x")
    d = G.disconnected_grad(x)
    v = np.array([1.5, -2.0])
    assert_close(run([x], G.grad(T.sum(d * x), x), [v], mode), v)
    with pytest.raises(G.DisconnectedInputError):
        G.grad(T.sum(d**2), x)


def test_consider_constant_function_is_deprecated_zero_grad(mode):
    x = T.dvector("x")
    with pytest.warns(DeprecationWarning):
        c = G.consider_constant(x)
    assert_close(run([x], G.grad(T.sum(c**2), x), [np.ones(2)], mode), np.zeros(2))


# --------------------------------------------------------------------------------------------- integers


def test_integer_inputs_get_float_zeros_of_their_shape(mode):
    i = T.ivector("i")
    x = T.dvector("x")
    gi, gx = G.grad(T.sum(T.cast(i, "float64") * x), [i, x])
    assert gi.dtype == ccgrad.config.floatX
    out_i, out_x = run([i, x], [gi, gx], [np.array([1, 2, 3], "int32"), np.ones(3)], mode)
    assert out_i.shape == (3,) and out_i.dtype.kind == "f" and not out_i.any()
    assert_close(out_x, np.array([1.0, 2.0, 3.0]))
    m = T.lmatrix("m")
    gm = G.grad(T.sum(m * 2.5), m)
    assert run([m], gm, [np.ones((2, 4), "int64")], mode).shape == (2, 4)


def test_integer_input_reaching_only_through_argmax_is_disconnected():
    i = T.lvector("i")
    with pytest.raises(G.DisconnectedInputError):
        G.grad(T.cast(T.argmax(i), "float64"), i)


# --------------------------------------------------------------------------------------------- undefined


class _Undefined(Op):
    """floor-like test op whose gradient is mathematically undefined (Theano's grad_undefined)."""

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [x.type])

    def perform(self, node, inputs):
        return [np.array(inputs[0], copy=True)]

    def vjp(self, node, cotangents):
        return [undefined("test op: undefined by design")]

    def jvp(self, node, tangents):
        return [None]


def test_undefined_gradients_raise_or_return():
    x, y = T.dvector("x"), T.dvector("y")
    cost = T.sum(T.exp(_Undefined()(x)) * 2 + y)
    with pytest.raises(G.NullTypeGradError, match="undefined by design") as info:
        G.grad(cost, x)
    assert isinstance(info.value, TypeError)
    gx, gy = G.grad(cost, [x, y], null_gradients="return")
    assert is_undefined(gx) and not is_undefined(gy)
    G.grad(cost, y)  # y's gradient is fine


# --------------------------------------------------------------------------------------------- names


def test_gradient_names():
    x = T.dvector("x")
    c = T.sum(x**2)
    c.name = "cost"
    assert G.grad(c, x).name == "(dcost/dx)"
    assert G.grad(c, x, add_names=False).name is None
    unnamed = T.sum(x**2)
    assert G.grad(unnamed, x).name is None
    h = T.tanh(x)
    h.name = "h"
    c2 = T.sum(h)
    c2.name = "c2"
    assert G.grad(c2, [x, h])[1].name == "(dc2/dh)"


# --------------------------------------------------------------------------------------------- known_grads


def test_known_grads_without_cost(mode):
    x = T.dvector("x")
    h = T.exp(x)
    gh = T.dvector("gh")
    g = G.grad(None, x, known_grads={h: gh})
    v, w = np.array([0.0, 1.0]), np.array([2.0, 3.0])
    assert_close(run([x, gh], g, [v, w], mode), w * np.exp(v))


def test_known_grads_override_the_computed_gradient(mode):
    x = T.dvector("x")
    h = T.exp(x)
    c = T.sum(h * h)
    v = np.array([0.0, 1.0])
    # h's gradient is replaced (Theano: "the gradient is 1 unless specified otherwise").
    assert_close(run([x], G.grad(c, x, known_grads={h: T.ones_like(h)}), [v], mode), np.exp(v))
    assert_close(run([x], G.grad(c, x, known_grads={c: T.constant(3.0)}), [v], mode), 6 * np.exp(2 * v))


def test_known_grads_layers_reproduce_the_full_gradient(mode):
    """Theano's test_known_grads: seeding any cut of the graph with its true gradients gives the
    true gradients on the inputs."""
    x, c = T.dscalar("x"), T.dvector("c")
    t = T.lscalar("t")
    ct = c[t]
    p = x**3
    y = ct * p
    cost = T.sqr(y)
    inputs = [c, t, x]
    values = [np.array([0.5, -1.0, 2.0]), np.array(1, "int64"), np.array(0.7)]
    true = run(inputs, G.grad(cost, inputs, disconnected_inputs="ignore"), values, mode)
    for layer in ([cost], [y], [ct, p], [ct, x]):
        first = G.grad(cost, layer, disconnected_inputs="ignore")
        full = G.grad(None, inputs, known_grads=dict(zip(layer, first)), disconnected_inputs="ignore")
        for a, b in zip(true, run(inputs, full, values, mode)):
            assert_close(b, a)


def test_known_grads_are_checked():
    x = T.dvector("x")
    with pytest.raises(ValueError):
        G.grad(None, x, known_grads={x: T.dmatrix("g")})
    with pytest.raises(TypeError):
        G.grad(None, x, known_grads={x: T.ivector("g")})


# --------------------------------------------------------------------------------------------- size


def _chain_grad_size(depth: int) -> int:
    x = T.dmatrix("x")
    h = x
    params = []
    for i in range(depth):
        W, b = T.dmatrix(f"W{i}"), T.dvector(f"b{i}")
        params += [W, b]
        h = T.tanh(T.dot(h, W) + b)
    grads = G.grad(T.sum(h**2), params)
    return len(toposort(grads))


def test_gradient_graph_grows_linearly_with_depth():
    n10, n20, n50 = (_chain_grad_size(d) for d in (10, 20, 50))
    per_layer_a = (n20 - n10) / 10
    per_layer_b = (n50 - n20) / 30
    assert per_layer_a == pytest.approx(per_layer_b, rel=0.05), (n10, n20, n50)
    assert n50 / n10 < 5.5, (n10, n50)
    assert per_layer_b < 40  # a handful of nodes per layer, forward and backward together


def test_only_needed_paths_are_differentiated():
    """Parameters not on the path from wrt add no gradient nodes."""
    x = T.dvector("x")
    side = x
    for _ in range(30):
        side = T.sin(side)
    w = T.dvector("w")
    cost = T.sum(w * side)
    small = len(toposort([G.grad(cost, w)]))
    assert small < 40  # the forward chain of 30 sines plus a few nodes: no backward chain
