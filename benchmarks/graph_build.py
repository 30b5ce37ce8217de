"""Time gradient-graph construction: the MLP loss (784-256-10, tanh, softmax cross-entropy) and
its gradient with respect to all parameters, plus a deep tanh chain to show linear growth.

Usage: python benchmarks/graph_build.py [--quick]
The issue's target is < 50 ms for the MLP gradient graph; this script reports, it does not gate.
"""

from __future__ import annotations

import argparse
import statistics
import time

import ccgrad.tensor as T
from ccgrad import gradient
from ccgrad.graph import toposort


def _softmax_xent(logits, y_int):
    """Mean categorical cross-entropy of softmax(logits) against integer labels (T.nnet when there)."""
    nnet = getattr(T, "nnet", None)
    if nnet is not None and hasattr(nnet, "softmax") and hasattr(nnet, "categorical_crossentropy"):
        return T.mean(nnet.categorical_crossentropy(nnet.softmax(logits), y_int))
    z = logits - T.max(logits, axis=1, keepdims=True)
    logp = z - T.log(T.sum(T.exp(z), axis=1, keepdims=True))
    onehot = T.eq(T.arange(10).dimshuffle("x", 0), y_int.dimshuffle(0, "x"))
    return -T.mean(T.sum(logp * onehot, axis=1))


def build_mlp_grad():
    """Forward loss and gradient graphs of a 784-256-10 tanh MLP (static weight shapes)."""
    x = T.dmatrix("x")
    y = T.lvector("y")
    W1 = T.TensorType("float64", shape=(784, 256))("W1")
    b1 = T.TensorType("float64", shape=(256,))("b1")
    W2 = T.TensorType("float64", shape=(256, 10))("W2")
    b2 = T.TensorType("float64", shape=(10,))("b2")
    h = T.tanh(T.dot(x, W1) + b1)
    loss = _softmax_xent(T.dot(h, W2) + b2, y)
    loss.name = "loss"
    params = [W1, b1, W2, b2]
    return loss, params, gradient.grad(loss, params)


def build_chain_grad(depth: int):
    x = T.dmatrix("x")
    h, params = x, []
    for i in range(depth):
        W, b = T.dmatrix(f"W{i}"), T.dvector(f"b{i}")
        params += [W, b]
        h = T.tanh(T.dot(h, W) + b)
    return gradient.grad(T.sum(h**2), params)


def timed(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few repetitions (CI smoke run)")
    args = ap.parse_args()
    repeat = 3 if args.quick else 50

    timed(build_mlp_grad, 2)  # warm imports and registries
    ms, (loss, params, grads) = timed(build_mlp_grad, repeat)
    n_fwd, n_all = len(toposort([loss])), len(toposort(list(grads)))
    ms_grad, _ = timed(lambda: gradient.grad(loss, params), repeat)
    print(f"{'graph':<34}{'ms (median)':>12}{'apply nodes':>13}")
    print(f"{'MLP 784-256-10 loss + gradient':<34}{ms:>12.3f}{n_all:>13}")
    print(f"{'  gradient only (grad call)':<34}{ms_grad:>12.3f}{n_all - n_fwd:>13}")
    for depth in (10, 50) if args.quick else (10, 20, 50, 100):
        ms_c, g = timed(lambda d=depth: build_chain_grad(d), max(3, repeat // 5))
        print(f"{f'tanh chain, {depth} layers':<34}{ms_c:>12.3f}{len(toposort(list(g))):>13}")
    print(f"target: MLP gradient graph < 50 ms -> {'OK' if ms < 50 else 'SLOW'}")


if __name__ == "__main__":
    main()
