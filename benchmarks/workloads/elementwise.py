"""Call overhead and elementwise gradients: the scalar/3-vector gradient of x**2 (dispatch cost),
the logistic gradient at 1e3..1e7 elements and the tanh/exp/log1p chain at 1e6/1e7."""

from __future__ import annotations

import numpy as np

from benchmarks.graphs import jax_logistic_grad, logistic_graph
from benchmarks.handc import kernel
from benchmarks.measure import Prepared
from benchmarks.workloads import Case, Spec, Workload, jax_spec, numpy_spec, rng, theano_specs

# ---------------------------------------------------------------- call overhead


def _overhead_inputs(p: dict) -> dict:
    return {"x": np.array(1.5) if p["kind"] == "scalar" else np.array([1.5, -0.5, 2.0])}


def _overhead_entries(p: dict, inp: dict, groups: list[str]) -> list[Spec]:
    x = inp["x"]
    scalar = p["kind"] == "scalar"

    def make(th):
        T = th.T
        v = T.dscalar("x") if scalar else T.dvector("x")
        cost = v**2 if scalar else T.sum(v**2)
        return th.function([v], th.grad(cost, v))

    specs = [numpy_spec("hand: 2*x", lambda a: 2 * a, (x,))]
    specs += theano_specs(groups, "checks on", make, (x,))
    specs += theano_specs(groups, "trust_input", make, (x,), trust=True)
    specs += jax_spec(groups, "jit(grad)",
                      lambda jx, jnp: jx.grad((lambda a: a**2) if scalar else (lambda a: jnp.sum(a**2))), (x,))
    return specs


def call_overhead() -> Workload:
    return Workload(
        name="call_overhead",
        title="Call overhead: gradient of x**2 on a 0-d array / sum(x**2) on a 3-vector, f(np.array(1.5))",
        cases=[Case("scalar", {"kind": "scalar"}, quick=True), Case("vec3", {"kind": "vec3"}, quick=True)],
        inputs=_overhead_inputs,
        entries=_overhead_entries,
    )


# ---------------------------------------------------------------- logistic gradient


def np_logistic_grad(x: np.ndarray) -> np.ndarray:
    s = 1.0 / (1.0 + np.exp(-x))
    return s * (1.0 - s)


def _vector_inputs(p: dict) -> dict:
    return {"x": rng(1).standard_normal(p["n"])}


def _handc_spec(groups: list[str], name: str, x: np.ndarray) -> list[Spec]:
    if "handc" not in groups:
        return []
    return [Spec("handc", "fused loop, fresh output", lambda: Prepared(kernel(name), (x,)))]


def _logistic_entries(p: dict, inp: dict, groups: list[str]) -> list[Spec]:
    x = inp["x"]

    def make(th):
        return th.function(*logistic_graph(th))

    specs = [numpy_spec("hand", np_logistic_grad, (x,))]
    specs += _handc_spec(groups, "logistic_grad", x)
    specs += theano_specs(groups, "grad", make, (x,))
    specs += jax_spec(groups, "jit(grad)", jax_logistic_grad, (x,))
    return specs


def logistic_grad() -> Workload:
    sizes = [("1e3", 1000), ("1e5", 100_000), ("1e6", 1_000_000), ("1e7", 10_000_000)]
    return Workload(
        name="logistic_grad",
        title="Logistic gradient: T.grad(T.sum(1/(1+T.exp(-x))), x), float64",
        cases=[Case(label, {"n": n}, quick=(n == 1000)) for label, n in sizes],
        inputs=_vector_inputs,
        entries=_logistic_entries,
    )


# ---------------------------------------------------------------- elementwise chain


def np_chain_grad(x: np.ndarray) -> np.ndarray:
    t = np.tanh(x)
    e = np.exp(-x * x)
    return (1.0 - t * t) * e - 2.0 * x * t * e + 2.0 * x / (1.0 + x * x)


def _chain_entries(p: dict, inp: dict, groups: list[str]) -> list[Spec]:
    x = inp["x"]

    def make(th):
        T = th.T
        v = T.dvector("x")
        return th.function([v], th.grad(T.sum(T.tanh(v) * T.exp(-v**2) + T.log1p(v * v)), v))

    def jx_fn(jx, jnp):
        return jx.grad(lambda a: jnp.sum(jnp.tanh(a) * jnp.exp(-a**2) + jnp.log1p(a * a)))

    specs = [numpy_spec("hand", np_chain_grad, (x,))]
    specs += _handc_spec(groups, "chain_grad", x)
    specs += theano_specs(groups, "grad", make, (x,))
    specs += jax_spec(groups, "jit(grad)", jx_fn, (x,))
    return specs


def elementwise_chain() -> Workload:
    return Workload(
        name="elementwise_chain",
        title="Elementwise chain: gradient of sum(tanh(x)*exp(-x**2) + log1p(x*x)), float64",
        cases=[Case("1e6", {"n": 1_000_000}, quick=True), Case("1e7", {"n": 10_000_000})],
        inputs=_vector_inputs,
        entries=_chain_entries,
    )
