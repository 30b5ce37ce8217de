"""Time dense Jacobians and Hessians: the Jacobian of x**2 and the Hessian of Rosenbrock at
n=100 and n=1000, built by `jacobian()`/`hessian()` (vectorized) and by Theano's scan form (when
ccgrad.ops.scan exists), in mode "py" and "c" (when the C backend supports every op), against
numpy by hand and, with --peers, JAX (jacrev / hessian under jit) and PyTensor when installed.

Usage: python benchmarks/jacobian_hessian.py [--quick] [--peers] [--sizes 100 1000]
Issue E's targets at n=1000 (1 thread): Jacobian <= 0.12 ms, Hessian <= 0.5 ms.  Reports; does
not gate.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "XLA_FLAGS"):
    os.environ.setdefault(_v, "1" if _v != "XLA_FLAGS" else
                          "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402

import ccgrad  # noqa: E402
import ccgrad.tensor as T  # noqa: E402
from ccgrad import gradient  # noqa: E402

TARGET_MS = {("jacobian", 1000): 0.12, ("hessian", 1000): 0.5}


def bench(fn: Callable[[], object], budget_s: float) -> float:
    """Median time of one call in ms, repeating for about budget_s seconds."""
    fn()
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-7)
    inner = max(1, int(0.002 / once))
    rounds = max(3, min(200, int(budget_s / (once * inner))))
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - t0) / inner)
    return statistics.median(times) * 1e3


def rosenbrock(x):
    return T.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def numpy_rosen_hessian(x: np.ndarray) -> np.ndarray:
    n = x.size
    h = np.zeros((n, n))
    d = np.zeros(n)
    d[:-1] = 1200 * x[:-1] ** 2 - 400 * x[1:] + 2
    d[1:] += 200
    i = np.arange(n)
    h[i, i] = d
    off = -400 * x[:-1]
    h[i[:-1], i[1:]] = off
    h[i[1:], i[:-1]] = off
    return h


def ccgrad_variants(kind: str, n: int) -> dict[str, tuple]:
    """name -> (inputs, output) graphs for one problem."""
    x = T.TensorType("float64", shape=(n,))("x")
    out: dict[str, tuple] = {}
    scan = _scan()
    loop_name = "seed scan form" + ("" if _pass_in_pipeline() else " (no rewrite)")
    if kind == "jacobian":
        y = x ** 2
        out["jacobian()"] = ([x], gradient.jacobian(y, x))
        if scan is not None:
            J, _ = scan(lambda i, y, x: T.grad(y[i], x), sequences=T.arange(y.shape[0]), non_sequences=[y, x])
            out[loop_name] = ([x], J)
    else:
        cost = rosenbrock(x)
        out["hessian()"] = ([x], gradient.hessian(cost, x))
        if scan is not None:
            gy = T.grad(cost, x)
            H, _ = scan(lambda i, gy, x: T.grad(gy[i], x), sequences=T.arange(gy.shape[0]), non_sequences=[gy, x])
            out[loop_name] = ([x], H)
    return out


def _scan():
    try:
        from ccgrad.ops.scan import scan
    except ImportError:
        return None
    return scan


def _pass_in_pipeline() -> bool:
    """Does the optimizer run the Jacobian pattern rewrite (ccgrad/rewrite/jacobian.py)?"""
    try:
        from ccgrad import rewrite
        from ccgrad.rewrite.jacobian import jacobian_pass
    except ImportError:
        return False
    return any(step is jacobian_pass for _, step in rewrite.PIPELINE)


def peers(kind: str, n: int, xv: np.ndarray) -> dict[str, Callable[[], object]]:
    found: dict[str, Callable[[], object]] = {}
    try:
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        xj = jnp.asarray(xv)
        if kind == "jacobian":
            f = jax.jit(jax.jacrev(lambda v: v ** 2))
        else:
            f = jax.jit(jax.hessian(lambda v: jnp.sum(100 * (v[1:] - v[:-1] ** 2) ** 2 + (1 - v[:-1]) ** 2)))
        found["jax"] = lambda: f(xj).block_until_ready()
    except Exception as exc:  # not installed, or failing: report and go on
        print(f"  (jax unavailable: {type(exc).__name__})")
    try:
        import pytensor
        import pytensor.tensor as pt

        xp = pt.dvector("x")
        if kind == "jacobian":
            out = pytensor.gradient.jacobian(xp ** 2, xp)
        else:
            out = pytensor.gradient.hessian(pt.sum(100 * (xp[1:] - xp[:-1] ** 2) ** 2 + (1 - xp[:-1]) ** 2), xp)
        fp = pytensor.function([xp], out, mode="FAST_RUN")
        fp.trust_input = True
        found["pytensor (default)"] = lambda: fp(xv)
    except Exception as exc:
        print(f"  (pytensor unavailable: {type(exc).__name__})")
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short runs (CI smoke)")
    ap.add_argument("--peers", action="store_true", help="also time JAX and PyTensor when installed")
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    ap.add_argument("--modes", nargs="+", default=["py", "c"])
    args = ap.parse_args()
    budget = 0.05 if args.quick else 0.5
    rng = np.random.default_rng(0)
    print(f"{'problem':<22}{'n':>6}  {'implementation':<28}{'ms':>10}{'vs numpy':>10}")
    for kind in ("jacobian", "hessian"):
        for n in args.sizes:
            xv = rng.uniform(-1.5, 1.5, n)
            ref = 2 * np.diag(xv) if kind == "jacobian" else numpy_rosen_hessian(xv)
            if kind == "jacobian":
                base = bench(lambda: np.diag(2 * xv), budget)
                base_name = "numpy diag(2x)"
            else:
                base = bench(lambda: numpy_rosen_hessian(xv), budget)
                base_name = "numpy tridiagonal fill"
            label = "x**2" if kind == "jacobian" else "rosenbrock"
            print(f"{kind + ' ' + label:<22}{n:>6}  {base_name:<28}{base:>10.4f}{1.0:>10.2f}")
            for name, (ins, out) in ccgrad_variants(kind, n).items():
                for mode in args.modes:
                    tag = f"ccgrad {name} [{mode}]"
                    try:
                        f = ccgrad.function(ins, out, mode=mode)
                        got = np.asarray(f(xv))
                    except Exception as exc:
                        print(f"{'':<28}  {tag:<40}{'n/a':>10}  ({type(exc).__name__}: {str(exc)[:60]})")
                        continue
                    ok = np.allclose(got, ref, rtol=1e-10, atol=1e-10)
                    ms = bench(lambda f=f: f(xv), budget)
                    target = TARGET_MS.get((kind, n))
                    flag = "" if ok else "  WRONG VALUES"
                    if target is not None and mode == "c":
                        flag += f"  (target {target} ms: {'OK' if ms <= target else 'not met'})"
                    print(f"{'':<28}  {tag:<40}{ms:>10.4f}{ms / base:>10.2f}{flag}")
            if args.peers:
                for name, fn in peers(kind, n, xv).items():
                    ms = bench(fn, budget)
                    print(f"{'':<28}  {name:<28}{ms:>10.4f}{ms / base:>10.2f}")


if __name__ == "__main__":
    main()
