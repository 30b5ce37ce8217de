"""Bad-input fuzzer for compiled functions (`python -m tests.reliability.fuzz_inputs --calls N`).

A dozen compiled functions (elementwise with broadcasting and static shapes, reductions, indexing
with scalar/vector/slice indices, reshape/alloc/arange/join, dot, integer arithmetic, float32,
softmax/one-hot, repeat/tile) are called with valid arguments and then with mutated ones: wrong
counts and keywords, wrong ndims, dtypes and shapes, non-contiguous, negative and zero strides,
misaligned and byte-swapped data, read-only arrays, NaN/inf/-0/subnormals, integer extremes,
empty and 0-d arrays, huge declared sizes (zero-stride views), and objects that are not arrays.

Every call must either give the result the reference evaluator gives (`mode="py"` on the same
arguments) or raise a clear Python exception (TypeError, ValueError, IndexError, or MemoryError
for impossible sizes) with a message; a C call must never accept what the reference rejects
(a missing check), never reject what it accepts, and never modify its inputs.  The fuzzer runs in
a child process so that a crash is seen as a failure: before each call it writes the call's
description to --log, so the last line names the crashing call (a call running longer than
--call-timeout ends the process the same way: a hang).  `--start I` resumes after call I-1,
`--only I` replays call I.  Prints a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

ALLOWED = (TypeError, ValueError, IndexError, MemoryError)


@dataclass
class Spec:
    name: str
    inputs: list[tuple[str, str, tuple]]  # (name, dtype, static shape with None entries)
    build: Callable  # vars -> list of outputs
    sample: Callable  # rng -> list of valid values
    huge_ok: bool = False  # loops are proportional to output sizes (huge inputs fail at allocation)


def _f64(rng, shape, lo=-2.0, hi=2.0):
    return rng.uniform(lo, hi, size=shape)


def _dims(rng, n, lo=0, hi=5):
    return [int(rng.integers(lo, hi + 1)) for _ in range(n)]


def _specs() -> list[Spec]:
    import ccgrad.tensor as T

    def elemwise(x, r, c, s):
        return [x * r + c * s, T.exp(T.tanh(x)) / (1 + r * r), T.maximum(x, c), T.switch(x > s, x, r),
                T.sqrt(abs(x)) - T.log1p(c * c)]

    def s_elemwise(rng):
        m, n = _dims(rng, 2)
        return [_f64(rng, (m, n)), _f64(rng, (1, n)), _f64(rng, (m, 1)), np.float64(rng.uniform(-1, 1))]

    def reduce(x):
        return [T.sum(x, axis=0), T.max(x, axis=1), T.argmax(x, axis=0), T.mean(x), T.prod(x, axis=1),
                T.min(x), T.sum(x * x)]

    def s_reduce(rng):
        return [_f64(rng, tuple(_dims(rng, 2, 1, 5)))]

    def index(x, v, i, j, iv):
        return [x[i], x[i:j], x[::-1, j], x[iv], v[iv], T.inc_subtensor(v[iv], 1.0), T.set_subtensor(x[i], 2.0),
                v[j::2], x[-1]]

    def s_index(rng):
        m, n = _dims(rng, 2, 1, 5)
        return [_f64(rng, (m, n)), _f64(rng, (m,)), np.int64(rng.integers(-m, m)), np.int64(rng.integers(-n, n)),
                rng.integers(-m, m, size=int(rng.integers(0, 6))).astype(np.int64)]

    def shape(v, n, m):
        return [T.reshape(v, (n, m)), T.arange(n), T.alloc(v[0], n, m) + 1.0, T.concatenate([v, v[::-1] * 2]),
                T.reshape(v, (-1, m)), T.zeros((n, 2)) + n]

    def s_shape(rng):
        n, m = _dims(rng, 2, 1, 4)
        return [_f64(rng, (n * m,)), np.int64(n), np.int64(m)]

    def dot(a, b, v):
        return [T.dot(a, b), T.dot(a, v), T.outer(v, v), T.dot(v, v)]

    def s_dot(rng):
        m, k, n = _dims(rng, 3, 0, 4)
        return [_f64(rng, (m, k)), _f64(rng, (k, n)), _f64(rng, (k,))]

    def ints(a, b):
        return [a // b, a % b, a * b + a, abs(a), -a, a - b, T.maximum(a, b), T.sum(a)]

    def s_ints(rng):
        n = int(rng.integers(0, 6))
        vals = np.array([0, 1, -1, 7, -7, 2**31 - 1, -(2**31), 100000], dtype=np.int64)
        return [rng.choice(vals, size=n).astype(np.int32), rng.choice(vals, size=n).astype(np.int32)]

    def f32(x, y):
        return [x * y, T.sum(x, axis=1), T.exp(x) - y, T.nnet.sigmoid(x)]

    def s_f32(rng):
        m, n = _dims(rng, 2)
        return [_f64(rng, (m, n)).astype(np.float32), _f64(rng, (n,)).astype(np.float32)]

    def static(x, y):
        return [x + y, T.sum(x, axis=0) * y[0]]

    def s_static(rng):
        m = int(rng.integers(0, 4))
        return [_f64(rng, (m, 3)), _f64(rng, (1, 3))]

    def nnet(x, iv, n):
        return [T.nnet.softmax(x), T.to_one_hot(iv, n), T.nnet.relu(x)]

    def s_nnet(rng):
        m, n = _dims(rng, 2, 1, 4)
        return [_f64(rng, (m, n)), rng.integers(0, n, size=m).astype(np.int64), np.int64(n)]

    def tile(v, r):
        return [T.repeat(v, r), T.tile(v, (r,)), T.repeat(v, 2)]

    def s_tile(rng):
        return [_f64(rng, (int(rng.integers(0, 4)),)), np.int64(rng.integers(0, 4))]

    def scalars(a, b):
        return [a * b, a / (b * b + 1), T.exp(a) + b]

    def s_scalars(rng):
        return [np.float64(rng.normal()), np.float64(rng.normal())]

    f8, i8 = "float64", "int64"
    return [
        Spec("elemwise", [("x", f8, (None, None)), ("r", f8, (1, None)), ("c", f8, (None, 1)), ("s", f8, ())],
             elemwise, s_elemwise, huge_ok=True),
        Spec("reduce", [("x", f8, (None, None))], reduce, s_reduce),
        Spec("index", [("x", f8, (None, None)), ("v", f8, (None,)), ("i", i8, ()), ("j", i8, ()),
                       ("iv", i8, (None,))], index, s_index),
        Spec("shape", [("v", f8, (None,)), ("n", i8, ()), ("m", i8, ())], shape, s_shape),
        Spec("dot", [("a", f8, (None, None)), ("b", f8, (None, None)), ("v", f8, (None,))], dot, s_dot),
        Spec("ints", [("a", "int32", (None,)), ("b", "int32", (None,))], ints, s_ints, huge_ok=False),
        Spec("float32", [("x", "float32", (None, None)), ("y", "float32", (None,))], f32, s_f32, huge_ok=True),
        Spec("static", [("x", f8, (None, 3)), ("y", f8, (1, 3))], static, s_static),
        Spec("nnet", [("x", f8, (None, None)), ("iv", i8, (None,)), ("n", i8, ())], nnet, s_nnet),
        Spec("repeat", [("v", f8, (None,)), ("r", i8, ())], tile, s_tile),
        Spec("scalars", [("a", f8, ()), ("b", f8, ())], scalars, s_scalars, huge_ok=True),
    ]


# ---------------------------------------------------------------------------------------------
# mutations


def _embed_strided(a: np.ndarray, rng) -> np.ndarray:
    if a.ndim == 0:
        return a
    big = np.zeros(tuple(2 * s + 1 for s in a.shape), dtype=a.dtype)
    view = big[tuple(slice(1, None, 2) for _ in a.shape)]
    view[...] = a
    return view


def _reversed(a: np.ndarray, rng) -> np.ndarray:
    if a.ndim == 0:
        return a
    c = np.ascontiguousarray(a[tuple(slice(None, None, -1) for _ in a.shape)])
    return c[tuple(slice(None, None, -1) for _ in a.shape)]


def _misaligned(a: np.ndarray, rng) -> np.ndarray:
    if a.dtype.itemsize == 1:
        return a
    buf = np.zeros(a.nbytes + 1, dtype=np.uint8)
    out = np.frombuffer(buf.data, dtype=a.dtype, count=a.size, offset=1).reshape(a.shape)
    out[...] = a
    return out


def _zero_stride(a: np.ndarray, rng) -> np.ndarray:
    """A read-only view with zero strides: every element is a[0...] (broadcast_to)."""
    if a.ndim == 0 or a.size == 0:
        return a
    return np.broadcast_to(a[(slice(0, 1),) * a.ndim], a.shape)


def _huge(a: np.ndarray, rng) -> np.ndarray:
    """A zero-stride view declaring an enormous size on some axis."""
    if a.ndim == 0:
        return a
    base = np.ones((1,) * a.ndim, dtype=a.dtype)
    shape = list(a.shape)
    ax = int(rng.integers(a.ndim))
    shape[ax] = int(rng.choice([2**31 + 7, 2**40, 2**62 // max(1, a.dtype.itemsize)]))
    if a.ndim > 1 and rng.random() < 0.5:
        shape = [2**29 + 1] * a.ndim  # no axis is large, their product is
    try:
        return np.lib.stride_tricks.as_strided(base, shape=shape, strides=(0,) * a.ndim, writeable=False)
    except ValueError:  # numpy refuses more than 2**63 bytes
        shape = [1] * a.ndim
        shape[ax] = 2**60 // a.dtype.itemsize
        return np.lib.stride_tricks.as_strided(base, shape=shape, strides=(0,) * a.ndim, writeable=False)


def _special_values(a: np.ndarray, rng) -> np.ndarray:
    a = np.array(a, copy=True)
    if a.size == 0:
        return a
    flat = a.reshape(-1)
    if a.dtype.kind == "f":
        pool = [np.nan, np.inf, -np.inf, -0.0, 5e-324 if a.dtype == np.float64 else 1e-45, 1e308, -1e308]
    elif a.dtype.kind in "iu":
        info = np.iinfo(a.dtype)
        pool = [info.min, info.max, 0, -1 if info.min < 0 else 1]
    else:
        return a
    for _ in range(int(rng.integers(1, 3))):
        flat[int(rng.integers(flat.size))] = pool[int(rng.integers(len(pool)))]
    return a


def _index_extremes(a, rng):
    if isinstance(a, np.ndarray) and a.dtype.kind in "iu":
        a = np.array(a, copy=True)
        if a.size:
            flat = a.reshape(-1)
            info = np.iinfo(a.dtype)
            pool = [v for v in (2**62, -(2**62), 2**63 - 1, -(2**63), 2**31, -(2**31) - 1, 1000, -1000)
                    if info.min <= v <= info.max]
            flat[int(rng.integers(flat.size))] = pool[int(rng.integers(len(pool)))]
        return a
    return _special_values(a, rng)


def _reshape_wrong(a: np.ndarray, rng):
    if a.ndim == 0:
        return np.zeros(int(rng.integers(0, 3)), dtype=a.dtype)
    shape = list(a.shape)
    ax = int(rng.integers(a.ndim))
    shape[ax] = max(0, shape[ax] + int(rng.choice([-1, 1, 2])))
    return np.resize(a, shape) if a.size else np.zeros(shape, dtype=a.dtype)


def _empty(a: np.ndarray, rng):
    if a.ndim == 0:
        return a
    shape = list(a.shape)
    shape[int(rng.integers(a.ndim))] = 0
    return np.zeros(shape, dtype=a.dtype)


def _ndim_wrong(a: np.ndarray, rng):
    if rng.random() < 0.5 or a.ndim == 0:
        return a[..., None]
    return a.sum(axis=-1).astype(a.dtype)


DTYPES = ["int8", "int16", "int32", "int64", "uint8", "uint64", "float16", "float32", "float64", "complex128",
          "bool", "object", "U3", "datetime64[s]", [("a", "f8"), ("b", "i4")]]


def _dtype_wrong(a: np.ndarray, rng):
    dt = DTYPES[int(rng.integers(len(DTYPES)))]
    try:
        return a.astype(dt)
    except (TypeError, ValueError):
        return np.zeros(a.shape, dtype=dt)


def _byteswapped(a: np.ndarray, rng):
    if a.dtype.itemsize == 1:
        return a
    return a.astype(a.dtype.newbyteorder(">" if sys.byteorder == "little" else "<"))


def _readonly(a: np.ndarray, rng):
    a = np.array(a, copy=True)
    a.setflags(write=False)
    return a


def _fortran(a, rng):
    return np.asfortranarray(a)


def _as_list(a: np.ndarray, rng):
    return a.tolist()


def _as_matrix_or_masked(a: np.ndarray, rng):
    if a.ndim == 2 and rng.random() < 0.5:
        return np.asmatrix(a)
    return np.ma.masked_array(a, mask=np.zeros(a.shape, dtype=bool))


def _not_an_array(a, rng):
    import ccgrad.tensor as T

    pool = [None, "abc", b"abc", {}, {"a": 1}, object(), [[1.0], [2.0, 3.0]], 3.5, 7, True, 1 + 2j, T.dscalar("v"),
            (1, 2), [], [[]], memoryview(b"12345678"), range(3), np.float64(2.0), np.int32(3), float("nan"),
            lambda: 1, Ellipsis, slice(1), 2**70, -(2**70)]
    return pool[int(rng.integers(len(pool)))]


ARG_MUTATIONS: dict[str, Callable] = {
    "strided": _embed_strided, "reversed": _reversed, "misaligned": _misaligned, "zero-stride": _zero_stride,
    "fortran": _fortran, "byteswapped": _byteswapped, "readonly": _readonly, "special-values": _special_values,
    "index-extremes": _index_extremes, "wrong-shape": _reshape_wrong, "empty": _empty, "wrong-ndim": _ndim_wrong,
    "wrong-dtype": _dtype_wrong, "list": _as_list, "subclass": _as_matrix_or_masked, "not-an-array": _not_an_array,
    "huge": _huge,
}
CALL_MUTATIONS = ["too-few", "too-many", "bad-keyword", "keyword-ok", "duplicate-keyword"]


# ---------------------------------------------------------------------------------------------
# running and comparing


def _copy(v):
    if isinstance(v, np.ndarray) and not isinstance(v, np.matrix | np.ma.MaskedArray):
        if v.strides and 0 in v.strides and v.size > 1_000_000:
            return v  # a huge zero-stride view: read-only, cannot be modified
        c = np.empty_like(v)
        c[...] = v
        if not v.flags.writeable:
            c.setflags(write=False)
        return c
    return v


def _same(a, b) -> bool:
    """Bitwise equal (NaN and NaT included)."""
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        if a.strides and 0 in a.strides and a.size > 1_000_000:
            return True
        if a.dtype.hasobject:
            return bool(np.array_equal(a, b))
        return np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes()
    return True


def _input_scale(args) -> float:
    """Sum of |finite values| over the float arguments: the magnitude of the terms a reduction
    or product may add in another order (DESIGN §8 measures such errors against it)."""
    total = 0.0
    for a in args:
        if isinstance(a, np.ndarray | np.generic) and np.asarray(a).dtype.kind == "f" and np.asarray(a).size < 10**6:
            v = np.asarray(a, dtype=np.float64)
            with np.errstate(over="ignore", invalid="ignore"):
                total += float(np.sum(np.abs(v[np.isfinite(v)])))
    return total


def _close(got, want, input_scale: float = 0.0) -> str | None:
    """None if got matches want (DESIGN §8: errors measured against the larger of the output's
    magnitude and the summed magnitude of the inputs), else a description."""
    got = got if isinstance(got, list) else [got]
    want = want if isinstance(want, list) else [want]
    if len(got) != len(want):
        return f"{len(got)} outputs, reference has {len(want)}"
    for k, (g, w) in enumerate(zip(got, want)):
        g, w = np.asarray(g), np.asarray(w)
        if not g.dtype.isnative:
            return f"output {k}: non-native byte order {g.dtype.str}"
        # the reference passes byte-swapped inputs through; compare dtypes by name
        if g.shape != w.shape or g.dtype.name != w.dtype.name:
            return f"output {k}: {g.dtype}{g.shape} vs reference {w.dtype}{w.shape}"
        if w.dtype.kind in "biu":
            if not np.array_equal(g, w):
                return f"output {k}: integers differ: {g.reshape(-1)[:6]} vs {w.reshape(-1)[:6]}"
            continue
        gn, wn = np.isnan(g), np.isnan(w)
        if not np.array_equal(gn, wn):
            return f"output {k}: NaN positions differ: {g.reshape(-1)[:6]} vs {w.reshape(-1)[:6]}"
        fin = np.isfinite(w)
        if not np.array_equal(g[~fin & ~wn], w[~fin & ~wn]):
            return f"output {k}: inf differs: {g.reshape(-1)[:6]} vs {w.reshape(-1)[:6]}"
        rtol = 1e-5 if w.dtype == np.float32 else 1e-10
        scale = max(float(np.max(np.abs(w[fin]))) if fin.any() else 0.0, input_scale)
        with np.errstate(invalid="ignore", over="ignore"):
            err = np.abs(g[fin].astype(np.float64) - w[fin].astype(np.float64))
        if err.size and float(err.max()) > rtol * (1.0 + scale):
            return f"output {k}: max error {float(err.max()):.3g} (scale {scale:.3g})"
    return None


def _numpy_arange_quirk(c_exc, args, py_val) -> bool:
    """numpy's arange(n) returns an *empty* array for n near 2**63 (numpy 2.4: arange(2**63 - 1)
    has shape (0,)), so the reference's one_hot/arange give an empty result where C rightly
    raises MemoryError.  Such calls are counted apart, not as failures."""
    if not isinstance(c_exc, MemoryError):
        return False
    big = any(isinstance(a, np.ndarray | np.integer | int) and not isinstance(a, bool) and np.ndim(a) == 0
              and np.asarray(a).dtype.kind in "iu" and abs(int(a)) >= 2**62 for a in args)
    outs = py_val if isinstance(py_val, list) else [py_val]
    return big and any(0 in np.shape(o) for o in outs)


def _call(fn, args, kwargs):
    try:
        with np.errstate(all="ignore"):
            return "ok", fn(*args, **kwargs)
    except Exception as exc:
        return "err", exc


def make_call(spec: Spec, rng) -> tuple[list, dict, list[str]]:
    """Valid arguments for spec, then 0-2 mutations; returns (args, kwargs, mutation names)."""
    args = spec.sample(rng)
    kwargs: dict = {}
    muts: list[str] = []
    n_mut = int(rng.choice([0, 1, 1, 1, 2]))
    names = [n for n, _, _ in spec.inputs]
    for _ in range(n_mut):
        if rng.random() < 0.1:
            m = CALL_MUTATIONS[int(rng.integers(len(CALL_MUTATIONS)))]
            muts.append(m)
            if m == "too-few" and args:
                args = args[:-1]
            elif m == "too-many":
                args = [*args, args[-1] if args else 1.0]
            elif m == "bad-keyword":
                kwargs["no_such_argument"] = 1.0
            elif m == "keyword-ok" and args and len(args) == len(names) and not kwargs:
                kwargs[names[-1]] = args[-1]
                args = args[:-1]
            elif m == "duplicate-keyword" and args and len(args) == len(names):
                kwargs[names[0]] = args[0]
            continue
        keys = [k for k in ARG_MUTATIONS if k != "huge" or spec.huge_ok]
        m = keys[int(rng.integers(len(keys)))]
        if not args:
            continue
        i = int(rng.integers(len(args)))
        if not isinstance(args[i], np.ndarray | np.generic):
            continue
        a = np.asarray(args[i])
        if (m == "huge" and a.ndim == 0) or a.size > 1_000_000:
            continue
        try:
            with np.errstate(all="ignore"):
                new = ARG_MUTATIONS[m](a, rng)
        except (ValueError, TypeError, OverflowError, MemoryError):
            continue
        muts.append(f"{m}@{names[i] if i < len(names) else i}")
        args = list(args)
        args[i] = new
    return args, kwargs, muts


def _describe(v) -> str:
    if isinstance(v, np.ndarray):
        return f"{type(v).__name__}({v.dtype}, shape={v.shape}, strides={v.strides})"
    r = repr(v)
    return r[:60]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--calls", type=int, default=1000)
    p.add_argument("--start", type=int, default=0, help="first call index (to resume after a crash)")
    p.add_argument("--call-timeout", type=float, default=30.0, help="seconds before a call counts as hung")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log", default=None)
    p.add_argument("--only", type=int, default=None, help="replay one call index")
    p.add_argument("--max-memory", type=float, default=6.0,
                   help="GiB of address space (RLIMIT_AS; 0: none, as under ASan): sizes that cannot be "
                        "allocated must give MemoryError, never an out-of-memory kill")
    args = p.parse_args(argv)
    if args.max_memory > 0:
        import resource

        lim = int(args.max_memory * (1 << 30))
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
    if os.environ.get("CCGRAD_ASAN_DISPATCH"):
        from tests.reliability import asan_boot

        asan_boot.preload_dispatch(os.environ["CCGRAD_ASAN_DISPATCH"])
    import ccgrad
    from ccgrad.graph import TensorType

    log_fd = os.open(args.log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600) if args.log else None
    t0 = time.perf_counter()
    funcs = []
    for spec in _specs():
        vs = [TensorType(dt, shape=shape)(n) for n, dt, shape in spec.inputs]
        outs = spec.build(*vs)
        fc = ccgrad.function(vs, outs, mode="c")
        fp = ccgrad.function(vs, outs, mode="py")
        funcs.append((spec, fc, fp))
    build_s = time.perf_counter() - t0
    counts = {"calls": 0, "results": 0, "errors": 0, "reference_quirks": 0}
    by_exc: dict[str, int] = {}
    by_mut: dict[str, int] = {}
    failures: list[str] = []
    indices = [args.only] if args.only is not None else range(args.start, args.calls)
    import faulthandler

    for idx in indices:
        rng = np.random.default_rng([args.seed, idx])
        spec, fc, fp = funcs[int(rng.integers(len(funcs)))]
        call_args, kwargs, muts = make_call(spec, rng)
        desc = f"call {idx} {spec.name} {muts} args=[{', '.join(_describe(a) for a in call_args)}] kw={list(kwargs)}"
        if log_fd is not None:
            os.write(log_fd, (desc + "\n").encode())
        for m in muts or ["none"]:
            by_mut[m.split("@")[0]] = by_mut.get(m.split("@")[0], 0) + 1
        before = [_copy(a) for a in call_args]
        faulthandler.dump_traceback_later(args.call_timeout, exit=True)  # a hang ends the process
        c_kind, c_val = _call(fc, call_args, kwargs)
        faulthandler.cancel_dump_traceback_later()
        counts["calls"] += 1
        mutated = [i for i, (a, b) in enumerate(zip(call_args, before)) if not _same(a, b)]
        py_args = [_copy(a) for a in before]
        py_kw = {k: _copy(v) for k, v in kwargs.items()}
        p_kind, p_val = _call(fp, py_args, py_kw)
        problem = None
        if mutated:
            problem = f"the call modified argument(s) {mutated}"
        elif c_kind == "err":
            counts["errors"] += 1
            by_exc[type(c_val).__name__] = by_exc.get(type(c_val).__name__, 0) + 1
            if not isinstance(c_val, ALLOWED):
                problem = f"unclear exception {type(c_val).__name__}: {c_val}"
            elif not str(c_val).strip():
                problem = f"{type(c_val).__name__} without a message"
            elif p_kind == "ok" and _numpy_arange_quirk(c_val, call_args, p_val):
                counts["reference_quirks"] += 1
            elif p_kind == "ok":
                problem = f"C raised {type(c_val).__name__}({c_val}) but the reference accepts the call"
        else:
            counts["results"] += 1
            if p_kind == "err":
                problem = (f"C returned a result but the reference raised {type(p_val).__name__}: "
                           f"{str(p_val)[:200]} (a missing check?)")
            else:
                problem = _close(c_val, p_val, _input_scale(before))
        if problem:
            failures.append(f"{desc}: {problem}")
    summary = {"calls": counts["calls"], "results": counts["results"], "clear_errors": counts["errors"],
               "failures": len(failures), "first_failures": failures[:25],
               "reference_quirks": counts["reference_quirks"], "exceptions": by_exc,
               "mutations": by_mut, "functions": len(funcs), "build_s": round(build_s, 2),
               "seconds": round(time.perf_counter() - t0, 2)}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:
        traceback.print_exc()
        sys.exit(2)
