"""Theano-dialect adapters: one namespace per peer that speaks Theano's API (ccgrad, PyTensor's C
backend, PyTensor's default backend), so every workload writes its graph once and all three
compile the very same graph.  Also the JAX set-up and which peers are installed.

Attribute lookups on ccgrad happen at call time, so a missing feature (say `ccgrad.scan`) surfaces
as an exception in that cell only ("unsupported: ..."), and tests can monkeypatch
`ccgrad.function`.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import warnings
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent / ".bench"  # git-ignored scratch (peer caches)

PEER_GROUPS = {  # --peers name -> report columns it brings
    "numpy": ("numpy",),
    "handc": ("handc",),
    "pytensor": ("pytensor_c", "pytensor"),
    "jax": ("jax",),
}
PEER_LABELS = {"ccgrad": "ccgrad (C)", "numpy": "numpy (hand)", "handc": "hand C loop",
               "pytensor_c": "PyTensor C (cvm)", "pytensor": "PyTensor default", "jax": "JAX (jit)"}


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def available_groups() -> list[str]:
    """Peer groups usable here: numpy always; handc with a C compiler; the others when installed."""
    import shutil

    groups = ["numpy"]
    if shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc"):
        groups.append("handc")
    if installed("pytensor"):
        groups.append("pytensor")
    if installed("jax") and installed("jaxlib"):
        groups.append("jax")
    return groups


class Dialect:
    """Theano's API as spoken by one peer: T (the tensor module), function, scan, shared, grad,
    Rop, Lop, jacobian, hessian, log_softmax."""

    peer = ""

    def function(self, inputs, outputs, **kw):
        raise NotImplementedError

    def set_trust_input(self, f) -> None:
        f.trust_input = True


class CcgradDialect(Dialect):
    peer = "ccgrad"

    @property
    def T(self):
        import ccgrad.tensor

        return ccgrad.tensor

    def _ccgrad(self):
        import ccgrad

        return ccgrad

    def function(self, inputs, outputs, **kw):
        return self._ccgrad().function(inputs, outputs, mode="c", **kw)

    def scan(self, *args, **kw):
        return self._ccgrad().scan(*args, **kw)

    def shared(self, *args, **kw):
        return self._ccgrad().shared(*args, **kw)

    def grad(self, cost, wrt):
        return self._ccgrad().grad(cost, wrt)

    def Rop(self, f, wrt, v):
        return self._ccgrad().Rop(f, wrt, v)

    def Lop(self, f, wrt, v):
        return self._ccgrad().Lop(f, wrt, v)

    def jacobian(self, expr, wrt, vectorize=True):
        return self._ccgrad().gradient.jacobian(expr, wrt)

    def hessian(self, cost, wrt):
        return self._ccgrad().gradient.hessian(cost, wrt)

    def log_softmax(self, x):
        return self.T.nnet.log_softmax(x)


class PytensorDialect(Dialect):
    """PyTensor 3: `linker="cvm"` is Theano's C code + C VM (the backend ccgrad descends from);
    `None` is PyTensor's default mode (numba in PyTensor 3)."""

    def __init__(self, linker: str | None):
        self.linker = linker
        self.peer = "pytensor_c" if linker == "cvm" else "pytensor"

    @property
    def T(self):
        return _pytensor().tensor

    def _mode(self):
        if self.linker is None:
            return None
        from pytensor.compile.mode import Mode

        return Mode(linker=self.linker)

    def function(self, inputs, outputs, **kw):
        return _pytensor().function(inputs, outputs, mode=self._mode(), **kw)

    def scan(self, *args, **kw):
        return _pytensor().scan(*args, **kw)

    def shared(self, *args, **kw):
        return _pytensor().shared(*args, **kw)

    def grad(self, cost, wrt):
        return _pytensor().grad(cost, wrt)

    def Rop(self, f, wrt, v):
        return _pytensor().gradient.Rop(f, wrt, v)

    def Lop(self, f, wrt, v):
        return _pytensor().gradient.Lop(f, wrt, v)

    def jacobian(self, expr, wrt, vectorize=True):
        return _pytensor().gradient.jacobian(expr, wrt, vectorize=vectorize)

    def hessian(self, cost, wrt):
        return _pytensor().gradient.hessian(cost, wrt)

    def log_softmax(self, x):
        from pytensor.tensor.special import log_softmax

        return log_softmax(x, axis=-1)


@functools.lru_cache(maxsize=1)
def _pytensor():
    """Import PyTensor quietly, compiling into the suite's own cache dir unless told otherwise."""
    flags = os.environ.get("PYTENSOR_FLAGS", "")
    if "base_compiledir" not in flags:
        os.environ["PYTENSOR_FLAGS"] = ",".join(
            f for f in (flags, f"base_compiledir={BENCH_DIR / 'pytensor'}") if f)
    os.environ.setdefault("NUMBA_CACHE_DIR", str(BENCH_DIR / "numba"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pytensor
        import pytensor.gradient
        import pytensor.tensor
    warnings.filterwarnings("ignore", module="pytensor")
    warnings.filterwarnings("ignore", message=".*(Lop|Rop) is deprecated.*")
    return pytensor


def dialects(groups: list[str]) -> list[Dialect]:
    """ccgrad plus the Theano-speaking peers among the selected groups."""
    out: list[Dialect] = [CcgradDialect()]
    if "pytensor" in groups:
        out += [PytensorDialect("cvm"), PytensorDialect(None)]
    return out


@functools.lru_cache(maxsize=1)
def jax():
    """JAX with float64 enabled, its CPU backend started with --threads CPUs schedulable (XLA_FLAGS
    were set by the runner before this import, but they do not cover XLA's own thread pools)."""
    import jax as _jax

    from benchmarks.threads import limit_affinity_during

    _jax.config.update("jax_enable_x64", True)
    _jax.config.update("jax_platforms", "cpu")
    limit_affinity_during(_jax.devices)  # XLA's pools get --threads workers
    return _jax


def jax_sync(out):
    """Wait for JAX's asynchronous dispatch to finish (for timing) and return the result."""
    return jax().block_until_ready(out)
