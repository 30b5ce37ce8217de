"""The workload registry: what a workload is (cases x peer entries) and the list the runner knows.

A workload has cases (sizes); for each case, `entries(params, inputs, groups)` lists one Spec per
peer spelling.  The first numpy Spec is the reference every other result is checked against.
Workloads whose procedure is not "build, check, time a call" (compile timings) give `custom`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from benchmarks.dialects import Dialect, dialects, jax, jax_sync
from benchmarks.measure import Prepared


@dataclasses.dataclass
class Case:
    label: str
    params: dict
    quick: bool = False  # run by --quick (each workload's smallest size)


@dataclasses.dataclass
class Spec:
    """One peer's spelling of a case; `build()` returns the Prepared call (timed as "build")."""

    peer: str
    variant: str
    build: Callable[[], Prepared]


@dataclasses.dataclass
class Workload:
    name: str
    title: str
    cases: list[Case]
    inputs: Callable[[dict], dict] | None = None
    entries: Callable[[dict, dict, list[str]], list[Spec]] | None = None
    custom: Callable | None = None  # (quick, groups, emit) -> None, for compile timings
    unit_note: str = ""

    def selected_cases(self, quick: bool) -> list[Case]:
        if not quick:
            return self.cases
        marked = [c for c in self.cases if c.quick]
        return marked or self.cases[:1]


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def theano_specs(groups: list[str], variant: str, make: Callable[[Dialect], object], args: tuple,
                 trust: bool = False, check: Callable | None = None) -> list[Spec]:
    """Specs for ccgrad and the PyTensor backends from one Theano-style graph builder.

    make(th) builds the graph with `th.T`, `th.grad`, ... and returns th.function(...).
    trust=True sets `f.trust_input = True`.  check(f) overrides the value used for the check.
    """
    specs = []
    for th in dialects(groups):
        def build(th=th) -> Prepared:
            f = make(th)
            if trust:
                th.set_trust_input(f)
            return Prepared(f, args, check=(lambda f=f: check(f)) if check else None)

        specs.append(Spec(th.peer, variant, build))
    return specs


def jax_spec(groups: list[str], variant: str, make: Callable, args: tuple) -> list[Spec]:
    """A JAX spec: make(jax, jnp) returns the function to jit; args are moved to the device
    once, before timing; results are synchronised with block_until_ready.  The build includes one
    call, since jit traces and compiles on the first call."""
    if "jax" not in groups:
        return []

    def build() -> Prepared:
        jx = jax()
        import jax.numpy as jnp

        fn = jx.jit(make(jx, jnp))
        dev_args = tuple(jx.device_put(a) for a in args)
        jax_sync(fn(*dev_args))
        return Prepared(fn, dev_args, sync=jax_sync)

    return [Spec("jax", variant, build)]


def numpy_spec(variant: str, fn: Callable, args: tuple, check: Callable | None = None) -> Spec:
    return Spec("numpy", variant, lambda: Prepared(fn, args, check=check))


def registry() -> dict[str, Workload]:
    """Every workload, in report order."""
    from benchmarks.workloads import compile_time, derivatives, elementwise, models, recurrence

    wls = [
        elementwise.call_overhead(),
        elementwise.logistic_grad(),
        elementwise.elementwise_chain(),
        models.logreg_grad(),
        models.mlp_grad(),
        derivatives.jacobian(),
        derivatives.hessian(),
        derivatives.hvp(),
        derivatives.rop_lop(),
        recurrence.recurrence(),
        models.train_step(),
        compile_time.compile_time(),
    ]
    return {w.name: w for w in wls}
