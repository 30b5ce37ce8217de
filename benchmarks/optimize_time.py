"""Time the graph optimizer on the MLP gradient graph (784-256-10, tanh, softmax cross-entropy,
gradients w.r.t. all four parameters, plus the loss), phase by phase.

Usage: python benchmarks/optimize_time.py [--quick] [--labels int|onehot]
The issue's target is < 100 ms for the whole pipeline; this script reports, it does not gate.
"""

from __future__ import annotations

import argparse
import statistics
import time

import ccgrad.tensor as T
from ccgrad import gradient
from ccgrad.graph import FunctionGraph, graph_inputs
from ccgrad.rewrite import PIPELINE, optimize
from ccgrad.rewrite.engine import Phase


def build_mlp(labels: str = "int") -> FunctionGraph:
    """The loss and its gradients for a 784-256-10 tanh MLP with softmax cross-entropy."""
    x = T.dmatrix("x")
    W1 = T.TensorType("float64", shape=(784, 256))("W1")
    b1 = T.TensorType("float64", shape=(256,))("b1")
    W2 = T.TensorType("float64", shape=(256, 10))("W2")
    b2 = T.TensorType("float64", shape=(10,))("b2")
    h = T.tanh(T.dot(x, W1) + b1)
    p = T.nnet.softmax(T.dot(h, W2) + b2)
    y = T.lvector("y") if labels == "int" else T.dmatrix("y")
    loss = T.mean(T.nnet.categorical_crossentropy(p, y))
    params = [W1, b1, W2, b2]
    outs = [loss, *gradient.grad(loss, params)]
    return FunctionGraph([x, y, *params], outs)


def _phase_times(fg: FunctionGraph) -> list[tuple[str, float, int]]:
    rows = []
    outs = list(fg.outputs)
    for name, step in PIPELINE:
        t0 = time.perf_counter()
        outs = step.run(fg.inputs, outs) if isinstance(step, Phase) else step(fg.inputs, outs)
        rows.append((name, time.perf_counter() - t0, len(FunctionGraph(fg.inputs, outs).toposort())))
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few repetitions (CI smoke run)")
    ap.add_argument("--labels", choices=("int", "onehot"), default="int")
    args = ap.parse_args(argv)
    repeat = 3 if args.quick else 15
    fg = build_mlp(args.labels)
    assert not [v for v in graph_inputs(fg.outputs) if all(v is not i for i in fg.inputs)]
    n_before = len(fg.toposort())
    optimize(fg)  # warm caches (imports, op tables)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        opt = optimize(fg)
        times.append(time.perf_counter() - t0)
    n_after = len(opt.toposort())
    print(f"MLP gradient graph ({args.labels} labels): {n_before} nodes -> {n_after} nodes")
    print(f"optimize: median {1e3 * statistics.median(times):.1f} ms, min {1e3 * min(times):.1f} ms "
          f"over {repeat} runs (target < 100 ms)")
    for name, dt, n in _phase_times(fg):
        print(f"  {name:<13} {1e3 * dt:7.1f} ms   {n:4d} nodes after")


if __name__ == "__main__":
    main()
