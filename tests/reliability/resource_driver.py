"""Resource checks in a clean child process (`python -m tests.reliability.resource_driver CMD`).

rss      RSS growth over N calls of a small compiled function (after a warm-up), through the C
         call path, the Python wrapper path (shared variable updates) and the error path; and
         the reference counts of the arguments.
fpu      MXCSR (x86-64: read by a tiny C helper built here and loaded with ctypes) before and
         after loading M distinct compiled modules; subnormal arithmetic in numpy and in
         generated code afterwards.
Prints a JSON summary.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile


def _rss_kib() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cmd_rss(args) -> dict:
    import numpy as np

    import ccgrad
    import ccgrad.tensor as T

    x, y = T.dvector("x"), T.dvector("y")
    f = ccgrad.function([x, y], [T.tanh(x) * y + 1.0, T.sum(x * y)], mode="c")
    w = ccgrad.shared(np.zeros(8), name="w") if hasattr(ccgrad, "shared") else None
    g = ccgrad.function([x], T.sum(x), updates=[(w, w + x)], mode="c") if w is not None else None
    xv, yv = np.linspace(-1, 1, 8), np.linspace(0, 2, 8)
    bad = np.ones(9)
    out = {}

    def measure(label, fn, n):
        for _ in range(min(20_000, n)):  # warm-up: allocator pools, caches
            fn()
        gc.collect()
        before, refs = _rss_kib(), (sys.getrefcount(xv), sys.getrefcount(yv))
        for _ in range(n):
            fn()
        gc.collect()
        after = _rss_kib()
        out[label] = {"calls": n, "rss_growth_kib": after - before,
                      "refcounts_unchanged": refs == (sys.getrefcount(xv), sys.getrefcount(yv))}

    def failing():
        try:
            f(xv, bad)
        except ValueError:
            pass

    measure("c_call", lambda: f(xv, yv), args.calls)
    if g is not None:
        measure("update_call", lambda: g(xv), max(1, args.calls // 10))
    measure("error_call", failing, max(1, args.calls // 10))
    out["rss_kib"] = _rss_kib()
    return out


_MXCSR_C = """
unsigned int ccg_test_get_mxcsr(void) { unsigned int m; __asm__ volatile("stmxcsr %0" : "=m"(m)); return m; }
"""


def _mxcsr_reader():
    import ctypes

    with tempfile.TemporaryDirectory(prefix="ccgrad-mxcsr-") as d:
        src, lib = os.path.join(d, "m.c"), os.path.join(d, "libm_mxcsr.so")
        with open(src, "w") as fh:
            fh.write(_MXCSR_C)
        subprocess.run(["gcc", "-shared", "-fPIC", "-O1", src, "-o", lib], check=True)
        fn = ctypes.CDLL(lib).ccg_test_get_mxcsr  # stays mapped after the file is removed
    fn.restype = ctypes.c_uint
    return fn


def cmd_fpu(args) -> dict:
    import numpy as np

    import ccgrad
    import ccgrad.tensor as T
    from ccgrad import compile as cc
    from tests.reliability import family

    x86 = platform.machine() in ("x86_64", "AMD64")
    raw = _mxcsr_reader() if x86 else (lambda: 0)

    def read() -> int:  # control bits only: DAZ, masks, rounding, FTZ (bits 0-5 are sticky status)
        return raw() & 0xFFC0

    before = read()
    changed = []
    for i in range(args.modules):
        f, ref, vals = family.build(args.first + i)
        assert family.check(f, ref, vals)
        now = read()
        if now != before:
            changed.append((i, hex(now)))
    after = read()
    tiny = np.finfo(np.float64).smallest_subnormal
    xs = T.dvector("xs")
    xf = T.fvector("xf")
    h = ccgrad.function([xs], xs * 0.5 + xs, mode="c")
    hf = ccgrad.function([xf], xf * np.float32(0.5), mode="c")
    sub64 = h(np.array([tiny * 4, 1e-310]))
    sub32 = hf(np.array([np.finfo(np.float32).smallest_subnormal * 4], dtype=np.float32))
    return {
        "x86_64": x86, "modules": args.modules, "mxcsr_before": hex(before), "mxcsr_after": hex(after),
        "changed_after_loads": changed, "ftz_daz_bits": hex(after & 0x8040),
        "numpy_subnormal_ok": bool(tiny * 1.0 > 0 and np.float64(tiny) / 2 == 0 and tiny * 3 > tiny),
        "generated_f64_subnormal_ok": bool(sub64[0] == tiny * 6 and 0 < sub64[1] < np.finfo(np.float64).tiny),
        "generated_f32_subnormal_ok": bool(sub32[0] == np.finfo(np.float32).smallest_subnormal * 2),
        "fast_math_flags": [fl for fl in cc.cflags() if fl in ("-ffast-math", "-Ofast", "-ffinite-math-only",
                                                                "-funsafe-math-optimizations")],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("rss")
    r.add_argument("--calls", type=int, default=100_000)
    r.set_defaults(run=cmd_rss)
    f = sub.add_parser("fpu")
    f.add_argument("--modules", type=int, default=10)
    f.add_argument("--first", type=int, default=8000)
    f.set_defaults(run=cmd_fpu)
    args = p.parse_args(argv)
    print(json.dumps(args.run(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
