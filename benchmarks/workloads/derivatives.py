"""Higher-order derivative workloads: dense Jacobian of x**2, dense Hessian of Rosenbrock (both
through jacobian()/hessian() and the seed tutorial's scan form), Hessian-vector products of
Rosenbrock (the seed's two forms), and Rop/Lop through dot with a 1000x1000 W."""

from __future__ import annotations

import numpy as np

from benchmarks.workloads import Case, Spec, Workload, jax_spec, numpy_spec, rng, theano_specs


def _x_inputs(p: dict) -> dict:
    r = rng(5)
    return {"x": r.uniform(-1.5, 1.5, p["n"]), "v": r.standard_normal(p["n"])}


def seed_scan_jacobian(th, y, x):
    """The seed's hand-written Jacobian: one T.grad per row inside scan."""
    T = th.T
    J, updates = th.scan(lambda i, y, x: th.grad(y[i], x), sequences=T.arange(y.shape[0]), non_sequences=[y, x])
    return J, updates


# ---------------------------------------------------------------- dense Jacobian of x**2


def _jacobian_entries(p: dict, inp: dict, groups: list[str]) -> list[Spec]:
    x = inp["x"]

    def make_jac(th):
        xv = th.T.dvector("x")
        return th.function([xv], th.jacobian(xv**2, xv, vectorize=True))

    def make_scan(th):
        xv = th.T.dvector("x")
        J, updates = seed_scan_jacobian(th, xv**2, xv)
        return th.function([xv], J, updates=updates)

    specs = [numpy_spec("hand: diag(2x)", lambda a: np.diag(2.0 * a), (x,))]
    specs += theano_specs(groups, "jacobian()", make_jac, (x,))
    specs += theano_specs(groups, "seed scan form", make_scan, (x,))
    specs += jax_spec(groups, "jacrev", lambda jx, jnp: jx.jacrev(lambda a: a**2), (x,))
    specs += jax_spec(groups, "jacfwd", lambda jx, jnp: jx.jacfwd(lambda a: a**2), (x,))
    return specs


def jacobian() -> Workload:
    return Workload(
        name="jacobian",
        title="Dense Jacobian of y = x**2 (n x n output)",
        cases=[Case("n=100", {"n": 100}, quick=True), Case("n=1000", {"n": 1000})],
        inputs=_x_inputs,
        entries=_jacobian_entries,
    )


# ---------------------------------------------------------------- Rosenbrock


def rosen(T, x):
    """sum(100*(x[1:]-x[:-1]**2)**2 + (1-x[:-1])**2) with a module that has `sum`."""
    return T.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def np_rosen_hessian(x: np.ndarray) -> np.ndarray:
    n = x.shape[0]
    H = np.zeros((n, n))
    d = np.zeros(n)
    d[:-1] = 1200 * x[:-1] ** 2 - 400 * x[1:] + 2
    d[1:] += 200
    off = -400 * x[:-1]
    i = np.arange(n)
    H[i, i] = d
    H[i[:-1], i[1:]] = off
    H[i[1:], i[:-1]] = off
    return H


def np_rosen_hvp(x: np.ndarray, v: np.ndarray) -> np.ndarray:
    d = np.empty_like(x)
    d[:-1] = 1200 * x[:-1] ** 2 - 400 * x[1:] + 2
    d[-1] = 0.0
    d[1:] += 200
    off = -400 * x[:-1]
    out = d * v
    out[:-1] += off * v[1:]
    out[1:] += off * v[:-1]
    return out


def _hessian_entries(p: dict, inp: dict, groups: list[str]) -> list[Spec]:
    x = inp["x"]

    def make_hess(th):
        xv = th.T.dvector("x")
        return th.function([xv], th.hessian(rosen(th.T, xv), xv))

    def make_scan(th):
        xv = th.T.dvector("x")
        gy = th.grad(rosen(th.T, xv), xv)
        H, updates = seed_scan_jacobian(th, gy, xv)
        return th.function([xv], H, updates=updates)

    def make_vec(th):
        xv = th.T.dvector("x")
        return th.function([xv], th.jacobian(th.grad(rosen(th.T, xv), xv), xv, vectorize=True))

    specs = [numpy_spec("hand: tridiagonal fill", np_rosen_hessian, (x,))]
    specs += [s for s in theano_specs(groups, "hessian()", make_hess, (x,)) if s.peer == "ccgrad"]
    specs += theano_specs(groups, "seed scan form", make_scan, (x,))
    specs += [s for s in theano_specs(groups, "jacobian(grad, vectorize=True)", make_vec, (x,)) if s.peer != "ccgrad"]
    specs += jax_spec(groups, "jax.hessian", lambda jx, jnp: jx.hessian(lambda a: rosen(jnp, a)), (x,))
    return specs


def hessian() -> Workload:
    return Workload(
        name="hessian",
        title="Dense Hessian of Rosenbrock sum(100*(x[1:]-x[:-1]**2)**2 + (1-x[:-1])**2)",
        cases=[Case("n=100", {"n": 100}, quick=True), Case("n=1000", {"n": 1000})],
        inputs=_x_inputs,
        entries=_hessian_entries,
    )


def _hvp_entries(p: dict, inp: dict, groups: list[str]) -> list[Spec]:
    x, v = inp["x"], inp["v"]

    def make_gradform(th):
        T = th.T
        xv, vv = T.dvector("x"), T.dvector("v")
        gy = th.grad(rosen(T, xv), xv)
        return th.function([xv, vv], th.grad(T.sum(gy * vv), xv))

    def make_rop(th):
        T = th.T
        xv, vv = T.dvector("x"), T.dvector("v")
        gy = th.grad(rosen(T, xv), xv)
        return th.function([xv, vv], th.Rop(gy, xv, vv))

    def jvp_form(jx, jnp):
        g = jx.grad(lambda a: rosen(jnp, a))
        return lambda a, b: jx.jvp(g, (a,), (b,))[1]

    def vjp_form(jx, jnp):
        g = jx.grad(lambda a: rosen(jnp, a))
        return jx.grad(lambda a, b: jnp.vdot(g(a), b))

    specs = [numpy_spec("hand: tridiagonal H@v", np_rosen_hvp, (x, v))]
    specs += theano_specs(groups, "grad(sum(g*v))", make_gradform, (x, v))
    specs += theano_specs(groups, "Rop(g, x, v)", make_rop, (x, v))
    specs += jax_spec(groups, "jvp(grad)", jvp_form, (x, v))
    specs += jax_spec(groups, "grad(vdot(grad, v))", vjp_form, (x, v))
    return specs


def hvp() -> Workload:
    return Workload(
        name="hvp",
        title="Hessian-vector product of Rosenbrock (the seed's two forms)",
        cases=[Case("1e5", {"n": 100_000}, quick=True), Case("1e6", {"n": 1_000_000})],
        inputs=_x_inputs,
        entries=_hvp_entries,
    )


# ---------------------------------------------------------------- Rop / Lop through dot


def _roplop_inputs(p: dict) -> dict:
    r = rng(6)
    n = p["n"]
    return {"W": r.standard_normal((n, n)), "V": r.standard_normal((n, n)), "v": r.standard_normal(n),
            "x": r.standard_normal(n)}


def _roplop_entries(p: dict, inp: dict, groups: list[str]) -> list[Spec]:
    W, x = inp["W"], inp["x"]
    if p["op"] == "Rop":
        V = inp["V"]

        def make(th):
            T = th.T
            Wv, Vv, xv = T.dmatrix("W"), T.dmatrix("V"), T.dvector("x")
            return th.function([Wv, Vv, xv], th.Rop(T.dot(xv, Wv), Wv, Vv), on_unused_input="ignore")

        def jx_fn(jx, jnp):
            return lambda W_, V_, x_: jx.jvp(lambda w: x_ @ w, (W_,), (V_,))[1]

        return ([numpy_spec("hand: x @ V", lambda W_, V_, x_: x_ @ V_, (W, V, x))]
                + theano_specs(groups, "Rop(dot(x, W), W, V)", make, (W, V, x))
                + jax_spec(groups, "jvp", jx_fn, (W, V, x)))
    v = inp["v"]

    def make_lop(th):
        T = th.T
        Wv, vv, xv = T.dmatrix("W"), T.dvector("v"), T.dvector("x")
        return th.function([Wv, vv, xv], th.Lop(T.dot(xv, Wv), Wv, vv), on_unused_input="ignore")

    def jx_lop(jx, jnp):
        return lambda W_, v_, x_: jx.vjp(lambda w: x_ @ w, W_)[1](v_)[0]

    return ([numpy_spec("hand: outer(x, v)", lambda W_, v_, x_: np.outer(x_, v_), (W, v, x))]
            + theano_specs(groups, "Lop(dot(x, W), W, v)", make_lop, (W, v, x))
            + jax_spec(groups, "vjp", jx_lop, (W, v, x)))


def rop_lop() -> Workload:
    return Workload(
        name="rop_lop",
        title="Rop / Lop through dot(x, W), W 1000x1000 (the seed's examples)",
        cases=[Case("Rop W1000", {"op": "Rop", "n": 1000}, quick=True),
               Case("Lop W1000", {"op": "Lop", "n": 1000}, quick=True)],
        inputs=_roplop_inputs,
        entries=_roplop_entries,
    )
