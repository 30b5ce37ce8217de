"""BLAS-bound model gradients: logistic regression (10000x100, the tutorial's cost with
0.01*sum(w**2)), a 2-layer tanh MLP with log-softmax cross-entropy (256x784x256x10), and Theano's
classic training step with shared weights and updates (400x784)."""

from __future__ import annotations

import numpy as np

from benchmarks.dialects import jax, jax_sync
from benchmarks.graphs import MLP_ARGS, jax_mlp_grad, mlp_graph
from benchmarks.measure import Prepared
from benchmarks.workloads import Case, Spec, Workload, jax_spec, numpy_spec, rng, theano_specs

# ---------------------------------------------------------------- logistic regression gradient


def _logreg_inputs(p: dict) -> dict:
    r = rng(2)
    n, d = p["n"], p["d"]
    return {"X": r.standard_normal((n, d)), "y": r.integers(0, 2, n).astype(np.float64),
            "w": 0.1 * r.standard_normal(d)}


def np_logreg_grad(X, y, w):
    p = 1.0 / (1.0 + np.exp(-(X @ w)))
    return X.T @ (p - y) * (1.0 / X.shape[0]) + 0.02 * w


def _logreg_entries(p: dict, inp: dict, groups: list[str]) -> list[Spec]:
    args = (inp["X"], inp["y"], inp["w"])

    def make(th):
        T = th.T
        X, y, w = T.dmatrix("X"), T.dvector("y"), T.dvector("w")
        prob = 1 / (1 + T.exp(-T.dot(X, w)))
        xent = -y * T.log(prob) - (1 - y) * T.log(1 - prob)
        cost = T.mean(xent) + 0.01 * T.sum(w**2)
        return th.function([X, y, w], th.grad(cost, w))

    def jx_fn(jx, jnp):
        def cost(X, y, w):
            prob = 1 / (1 + jnp.exp(-(X @ w)))
            return jnp.mean(-y * jnp.log(prob) - (1 - y) * jnp.log(1 - prob)) + 0.01 * jnp.sum(w**2)

        return jx.grad(cost, argnums=2)

    return ([numpy_spec("hand", np_logreg_grad, args)] + theano_specs(groups, "grad", make, args)
            + jax_spec(groups, "jit(grad)", jx_fn, args))


def logreg_grad() -> Workload:
    return Workload(
        name="logreg_grad",
        title="Logistic-regression gradient (X 10000x100): grad(mean(xent) + 0.01*sum(w**2), w)",
        cases=[Case("10000x100", {"n": 10_000, "d": 100}, quick=True)],
        inputs=_logreg_inputs,
        entries=_logreg_entries,
    )


# ---------------------------------------------------------------- MLP gradient


def _mlp_inputs(p: dict) -> dict:
    r = rng(3)
    b, d, h, k = p["sizes"]
    Y = np.zeros((b, k))
    Y[np.arange(b), r.integers(0, k, b)] = 1.0
    return {"X": r.standard_normal((b, d)), "Y": Y,
            "W1": r.standard_normal((d, h)) / np.sqrt(d), "b1": 0.1 * r.standard_normal(h),
            "W2": r.standard_normal((h, k)) / np.sqrt(h), "b2": 0.1 * r.standard_normal(k)}


def np_mlp_grad(X, Y, W1, b1, W2, b2):
    h = np.tanh(X @ W1 + b1)
    z = h @ W2 + b2
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    dz = (p * Y.sum(axis=1, keepdims=True) - Y) * (1.0 / X.shape[0])
    dh = (dz @ W2.T) * (1.0 - h * h)
    return [X.T @ dh, dh.sum(axis=0), h.T @ dz, dz.sum(axis=0)]


def _mlp_entries(p: dict, inp: dict, groups: list[str]) -> list[Spec]:
    args = tuple(inp[k] for k in MLP_ARGS)

    def make(th):
        return th.function(*mlp_graph(th))

    return ([numpy_spec("hand (backprop)", np_mlp_grad, args)] + theano_specs(groups, "grad", make, args)
            + jax_spec(groups, "jit(grad)", jax_mlp_grad, args))


def mlp_grad() -> Workload:
    return Workload(
        name="mlp_grad",
        title="2-layer MLP gradient (256x784x256x10, tanh, log_softmax cross-entropy) w.r.t. [W1,b1,W2,b2]",
        cases=[Case("256x784x256x10", {"sizes": (256, 784, 256, 10)}, quick=True)],
        inputs=_mlp_inputs,
        entries=_mlp_entries,
    )


# ---------------------------------------------------------------- training step with updates

LR = 0.1


def _train_inputs(p: dict) -> dict:
    r = rng(4)
    n, d = p["n"], p["d"]
    return {"x": r.standard_normal((n, d)), "y": r.integers(0, 2, n).astype(np.float64),
            "w0": 0.01 * r.standard_normal(d)}


class NumpyTrainer:
    """Theano's logistic-regression example written by hand: returns [prediction, xent] and
    updates w and b (gradient descent, step 0.1)."""

    def __init__(self, w0: np.ndarray):
        self.w0 = w0
        self.reset()

    def reset(self) -> None:
        self.w, self.b = self.w0.copy(), 0.0

    def __call__(self, x, y):
        p = 1.0 / (1.0 + np.exp(-(x @ self.w) - self.b))
        xent = -y * np.log(p) - (1.0 - y) * np.log(1.0 - p)
        gz = (p - y) * (1.0 / x.shape[0])
        gw = x.T @ gz + 0.02 * self.w
        gb = gz.sum()
        self.w = self.w - LR * gw
        self.b = self.b - LR * gb
        return [p > 0.5, xent]

    def checked(self, x, y):
        self.reset()
        pred, xent = self(x, y)
        return [pred, xent, self.w, np.array(self.b)]


def _train_entries(p: dict, inp: dict, groups: list[str]) -> list[Spec]:
    x, y, w0 = inp["x"], inp["y"], inp["w0"]
    hand = NumpyTrainer(w0)
    specs = [numpy_spec("hand", hand, (x, y), check=lambda: hand.checked(x, y))]
    state: dict = {}

    def make(th):
        T = th.T
        xv, yv = T.dmatrix("x"), T.dvector("y")
        w = th.shared(w0.copy(), name="w")
        b = th.shared(np.array(0.0), name="b")
        p_1 = 1 / (1 + T.exp(-T.dot(xv, w) - b))
        prediction = p_1 > 0.5
        xent = -yv * T.log(p_1) - (1 - yv) * T.log(1 - p_1)
        cost = T.mean(xent) + 0.01 * T.sum(w**2)
        gw, gb = th.grad(cost, [w, b])
        f = th.function([xv, yv], [prediction, xent], updates=[(w, w - LR * gw), (b, b - LR * gb)])
        state[id(f)] = (w, b)
        return f

    def check(f):
        w, b = state[id(f)]
        w.set_value(w0.copy())
        b.set_value(np.array(0.0))
        pred, xent = f(x, y)
        return [pred, xent, w.get_value(), b.get_value()]

    specs += theano_specs(groups, "function(updates=...)", make, (x, y), check=check)
    if "jax" in groups:
        specs.append(Spec("jax", "jit(step), state in Python", lambda: _jax_trainer(x, y, w0)))
    return specs


def _jax_trainer(x, y, w0) -> Prepared:
    jx = jax()
    import jax.numpy as jnp

    def cost(w, b, xv, yv):
        p_1 = 1 / (1 + jnp.exp(-(xv @ w) - b))
        xent = -yv * jnp.log(p_1) - (1 - yv) * jnp.log(1 - p_1)
        return jnp.mean(xent) + 0.01 * jnp.sum(w**2), (p_1 > 0.5, xent)

    @jx.jit
    def step(w, b, xv, yv):
        (gw, gb), (pred, xent) = jx.grad(cost, argnums=(0, 1), has_aux=True)(w, b, xv, yv)
        return pred, xent, w - LR * gw, b - LR * gb

    st = {}
    xd, yd = jx.device_put(x), jx.device_put(y)

    def reset():
        st["w"], st["b"] = jx.device_put(w0.copy()), jx.device_put(np.array(0.0))

    def run(xv, yv):
        pred, xent, st["w"], st["b"] = step(st["w"], st["b"], xv, yv)
        return pred, xent

    def checked():
        reset()
        pred, xent = run(xd, yd)
        return [pred, xent, st["w"], st["b"]]

    reset()
    return Prepared(run, (xd, yd), sync=jax_sync, check=checked)


def train_step() -> Workload:
    return Workload(
        name="train_step",
        title="Logistic-regression training step with shared w, b and updates (x 400x784)",
        cases=[Case("400x784", {"n": 400, "d": 784}, quick=True)],
        inputs=_train_inputs,
        entries=_train_entries,
    )
