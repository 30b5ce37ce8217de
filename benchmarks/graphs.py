"""Graph builders shared by the in-process workloads and the fresh-process compile probe.

Deliberately import-free: the probe loads this module before it starts the clock on
`import ccgrad`, so nothing here may pull in a library whose import time is being measured.
Theano-dialect builders take a `benchmarks.dialects.Dialect`; JAX builders take (jax, jax.numpy).
"""

from __future__ import annotations

MLP_ARGS = ("X", "Y", "W1", "b1", "W2", "b2")


def logistic_graph(th) -> tuple[list, object]:
    """Inputs [x] and d/dx sum(1/(1+exp(-x)))."""
    T = th.T
    v = T.dvector("x")
    return [v], th.grad(T.sum(1 / (1 + T.exp(-v))), v)


def jax_logistic_grad(jx, jnp):
    return jx.grad(lambda a: jnp.sum(1 / (1 + jnp.exp(-a))))


def mlp_graph(th) -> tuple[list, list]:
    """Inputs [X, Y, W1, b1, W2, b2] and the gradients of the MLP loss w.r.t. [W1, b1, W2, b2]:
    loss = -mean(sum(Y * log_softmax(tanh(X W1 + b1) W2 + b2), axis=1))."""
    T = th.T
    X, Y, W1, W2 = T.dmatrix("X"), T.dmatrix("Y"), T.dmatrix("W1"), T.dmatrix("W2")
    b1, b2 = T.dvector("b1"), T.dvector("b2")
    hid = T.tanh(T.dot(X, W1) + b1)
    logp = th.log_softmax(T.dot(hid, W2) + b2)
    loss = -T.mean(T.sum(Y * logp, axis=1))
    return [X, Y, W1, b1, W2, b2], th.grad(loss, [W1, b1, W2, b2])


def jax_mlp_grad(jx, jnp):
    def loss(X, Y, W1, b1, W2, b2):
        hid = jnp.tanh(X @ W1 + b1)
        return -jnp.mean(jnp.sum(Y * jx.nn.log_softmax(hid @ W2 + b2, axis=1), axis=1))

    return jx.grad(loss, argnums=(2, 3, 4, 5))
