"""The recurrence h_t = tanh(W h_{t-1} + x_t) with a 10x10 W over 10,000 steps, written with scan:
the forward pass (all states) and the gradient of sum(H) with respect to W (back-propagation through
time).  Hand-written numpy is a Python loop over the steps."""

from __future__ import annotations

import numpy as np

from benchmarks.workloads import Case, Spec, Workload, jax_spec, numpy_spec, rng, theano_specs


def _inputs(p: dict) -> dict:
    r = rng(7)
    n, steps = p["n"], p["steps"]
    return {"X": 0.5 * r.standard_normal((steps, n)), "h0": 0.1 * r.standard_normal(n),
            "W": 0.9 * r.standard_normal((n, n)) / np.sqrt(n)}


def np_forward(X, h0, W):
    H = np.empty_like(X)
    h = h0
    for t in range(X.shape[0]):
        h = np.tanh(W @ h + X[t])
        H[t] = h
    return H


def np_grad_W(X, h0, W):
    """d sum(H) / dW by back-propagation through time."""
    H = np_forward(X, h0, W)
    dW = np.zeros_like(W)
    carry = np.zeros_like(h0)
    WT = W.T
    for t in range(X.shape[0] - 1, -1, -1):
        da = (1.0 + carry) * (1.0 - H[t] * H[t])
        dW += np.outer(da, H[t - 1] if t > 0 else h0)
        carry = WT @ da
    return dW


def scan_states(th, X, h0, W):
    """All states of the recurrence, Theano style."""
    T = th.T
    H, _ = th.scan(lambda x_t, h, W: T.tanh(T.dot(W, h) + x_t), sequences=X, outputs_info=h0, non_sequences=W)
    return H


def _entries(p: dict, inp: dict, groups: list[str]) -> list[Spec]:
    args = (inp["X"], inp["h0"], inp["W"])
    gradient = p["what"] == "gradient"

    def make(th):
        T = th.T
        X, h0, W = T.dmatrix("X"), T.dvector("h0"), T.dmatrix("W")
        H = scan_states(th, X, h0, W)
        out = th.grad(T.sum(H), W) if gradient else H
        return th.function([X, h0, W], out)

    def jx_fn(jx, jnp):
        def forward(X, h0, W):
            def step(h, x_t):
                h = jnp.tanh(W @ h + x_t)
                return h, h

            return jx.lax.scan(step, h0, X)[1]

        if gradient:
            return jx.grad(lambda X, h0, W: jnp.sum(forward(X, h0, W)), argnums=2)
        return forward

    hand = np_grad_W if gradient else np_forward
    return ([numpy_spec("hand: Python loop", hand, args)]
            + theano_specs(groups, "scan" + (" + grad" if gradient else ""), make, args)
            + jax_spec(groups, "lax.scan" + (" + grad" if gradient else ""), jx_fn, args))


def recurrence() -> Workload:
    return Workload(
        name="recurrence",
        title="Recurrence h_t = tanh(W h_{t-1} + x_t), W 10x10, 10,000 steps (scan): forward, gradient w.r.t. W",
        cases=[Case("forward", {"n": 10, "steps": 10_000, "what": "forward"}, quick=True),
               Case("gradient", {"n": 10, "steps": 10_000, "what": "gradient"}, quick=True)],
        inputs=_inputs,
        entries=_entries,
    )
