"""Logistic regression trained by gradient descent, with shared weights and updates: Theano's
classic "real example" (400 samples of 784 features, 10,000 steps with --full), compiled to C.

The whole training step -- forward pass, cross-entropy, gradient, and the weight update -- is
one compiled function; the updates are computed in place in the shared variables' arrays.

    python examples/logistic_regression.py            # 1,000 steps
    python examples/logistic_regression.py --full     # 10,000 steps, as in Theano's tutorial
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

import numpy as np

import ccgrad
import ccgrad.tensor as T  # noqa: N812  (Theano's spelling)

N, FEATS = 400, 784
LR = 0.1


@dataclass
class Model:
    w: object  # shared variables
    b: object
    train: object  # (x, y) -> [prediction, xent], updates w and b
    predict: object  # x -> prediction


def build(w0: np.ndarray, b0: float = 0.0, mode: str = "c", lr: float = LR) -> Model:
    """Theano's example graph, line for line."""
    x = T.dmatrix("x")
    y = T.dvector("y")
    w = ccgrad.shared(w0, name="w")
    b = ccgrad.shared(float(b0), name="b")
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))  # probability that the target is 1
    prediction = p_1 > 0.5  # the prediction, thresholded
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)  # cross-entropy loss
    cost = xent.mean() + 0.01 * (w**2).sum()  # the cost to minimize
    gw, gb = T.grad(cost, [w, b])
    train = ccgrad.function([x, y], [prediction, xent], updates=[(w, w - lr * gw), (b, b - lr * gb)],
                            mode=mode, name="train")
    predict = ccgrad.function([x], prediction, mode=mode, name="predict")
    return Model(w, b, train, predict)


def numpy_step(x: np.ndarray, y: np.ndarray, w: np.ndarray, b: float, lr: float = LR):
    """The same step written by hand in numpy: (prediction, xent, new w, new b)."""
    p = 1.0 / (1.0 + np.exp(-(x @ w) - b))
    xent = -y * np.log(p) - (1.0 - y) * np.log(1.0 - p)
    gz = (p - y) / x.shape[0]
    return p > 0.5, xent, w - lr * (x.T @ gz + 0.02 * w), b - lr * gz.sum()


def make_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Theano's data: D = (randn(N, feats), randint(0, 2, N)) and w = randn(feats)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, FEATS))
    Y = rng.integers(0, 2, N).astype("float64")
    return X, Y, rng.standard_normal(FEATS)


def time_step(fn, *args, repeat: int = 200) -> float:
    """Best-of-5 mean seconds per call of fn(*args)."""
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(repeat):
            fn(*args)
        best = min(best, (time.perf_counter() - t) / repeat)
    return best


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="10,000 steps (Theano's tutorial)")
    ap.add_argument("--steps", type=int, default=None, help="training steps (default 1,000; 10,000 with --full)")
    ap.add_argument("--mode", default="c", choices=["c", "py"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    steps = args.steps if args.steps is not None else (10_000 if args.full else 1_000)
    say = (lambda *a: None) if args.quiet else print

    X, Y, w0 = make_data(args.seed)
    t = time.perf_counter()
    model = build(w0, mode=args.mode)
    build_s = time.perf_counter() - t
    t = time.perf_counter()
    for _ in range(steps):
        _, err = model.train(X, Y)
    train_s = time.perf_counter() - t
    predicted = model.predict(X)
    accuracy = float(np.mean(predicted == (Y > 0.5)))

    say(f"logistic regression: {N} samples x {FEATS} features, {steps} steps, mode={args.mode}")
    say(f"  compile {build_s:.2f} s, train {train_s:.2f} s ({1e6 * train_s / max(steps, 1):.0f} us/step)")
    say(f"  final cost terms finite: {bool(np.all(np.isfinite(err)))}, mean xent {float(np.mean(err)):.4g}")
    say(f"  target values for D:  {Y[:20].astype(int)} ...")
    say(f"  prediction on D:      {predicted[:20].astype(int)} ...")
    say(f"  training accuracy {accuracy:.3f}, |w| = {np.linalg.norm(model.w.get_value()):.4g}, "
        f"b = {float(model.b.get_value()):.4g}")
    return {"steps": steps, "w": model.w.get_value(), "b": float(model.b.get_value()), "accuracy": accuracy,
            "xent": err, "prediction": predicted, "seconds": train_s, "compile_seconds": build_s}


if __name__ == "__main__":
    main(sys.argv[1:])
