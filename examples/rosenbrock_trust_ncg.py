"""scipy.optimize.minimize(method='trust-ncg') on the Rosenbrock function (n=1000) with
ccgrad-compiled `fun`, `jac` and `hessp`, next to scipy's hand-written numpy derivatives
(`rosen`, `rosen_der`, `rosen_hess_prod`): both runs take the same number of iterations.

The Hessian-vector product is the R-operator of the gradient (T.Rop): one compiled function,
no Hessian matrix is ever formed.  Needs scipy (`pip install 'ccgrad[examples]'`).

    python examples/rosenbrock_trust_ncg.py [--n 1000]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import ccgrad
import ccgrad.tensor as T  # noqa: N812  (Theano's spelling)


def rosenbrock(x):
    """sum(100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2): the same text works on graphs and arrays."""
    return (100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2).sum()


def build(mode: str = "c"):
    """(fun, jac, hessp) compiled by ccgrad, with scipy's calling conventions."""
    x = T.dvector("x")
    p = T.dvector("p")
    f = rosenbrock(x)
    g = T.grad(f, x)
    hp = T.Rop(g, x, p)  # H(x) @ p
    fun_c = ccgrad.function([x], f, mode=mode, name="rosen")
    jac_c = ccgrad.function([x], g, mode=mode, name="rosen_der")
    hessp_c = ccgrad.function([x, p], hp, mode=mode, name="rosen_hess_prod")
    return (lambda v: float(fun_c(v))), jac_c, hessp_c


def starting_point(n: int) -> np.ndarray:
    """scipy's tutorial start [1.3, 0.7, 0.8, 1.9, 1.2], repeated to length n."""
    return np.resize(np.array([1.3, 0.7, 0.8, 1.9, 1.2]), n)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000, help="dimension (default 1000)")
    ap.add_argument("--full", action="store_true", help="same as the default (n=1000 is already quick)")
    ap.add_argument("--mode", default="c", choices=["c", "py"])
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    say = (lambda *a: None) if args.quiet else print
    try:
        from scipy.optimize import minimize, rosen, rosen_der, rosen_hess_prod
    except ImportError:
        say("this example needs scipy: pip install scipy (or pip install 'ccgrad[examples]')")
        return {"skipped": "scipy is not installed"}

    x0 = starting_point(args.n)
    fun, jac, hessp = build(args.mode)
    # the compiled derivatives agree with the hand-written ones before we start
    v = np.random.default_rng(0).standard_normal(args.n)
    check = max(abs(fun(x0) - rosen(x0)) / rosen(x0),
                float(np.max(np.abs(jac(x0) - rosen_der(x0)))),
                float(np.max(np.abs(hessp(x0, v) - rosen_hess_prod(x0, v)))))

    runs = {}
    for label, (f, g, h) in {"ccgrad": (fun, jac, hessp),
                             "numpy": (rosen, rosen_der, rosen_hess_prod)}.items():
        t = time.perf_counter()
        res = minimize(f, x0, method="trust-ncg", jac=g, hessp=h, options={"gtol": 1e-8})
        runs[label] = {"seconds": time.perf_counter() - t, "nit": int(res.nit), "nfev": int(res.nfev),
                       "njev": int(res.njev), "nhev": int(res.nhev), "fun": float(res.fun),
                       "success": bool(res.success), "x": res.x}
    say(f"Rosenbrock n={args.n}, trust-ncg, start {x0[:5]}...  (derivatives agree to {check:.1e})")
    say(f"{'':8} {'iterations':>10} {'f evals':>8} {'grad evals':>10} {'H·p evals':>10} {'f(x*)':>10} {'time':>8}")
    for label, r in runs.items():
        say(f"{label:8} {r['nit']:>10} {r['nfev']:>8} {r['njev']:>10} {r['nhev']:>10} {r['fun']:>10.2e} "
            f"{r['seconds']:>7.3f}s")
    same = runs["ccgrad"]["nit"] == runs["numpy"]["nit"]
    say(f"same number of iterations: {same}; max |x_ccgrad - x_numpy| = "
        f"{float(np.max(np.abs(runs['ccgrad']['x'] - runs['numpy']['x']))):.1e}")
    return {"n": args.n, "check": check, "runs": runs, "same_iterations": same}


if __name__ == "__main__":
    main(sys.argv[1:])
