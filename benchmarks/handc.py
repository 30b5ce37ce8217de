"""The hand-written C anchor: each elementwise gradient as one fused C loop that writes a freshly
allocated numpy output, built with `gcc -O3 -march=native -fno-math-errno` and glibc's vector math
(libm functions declared with `simd` attributes), no -ffast-math; loaded with cffi's ABI mode.

This is the figure issue D compares ccgrad's fused loops against (peers-bench.md "Physical
limits": 1.07 ms at 1e6 and 11.1 ms at 1e7 for the logistic gradient with a reused output).
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

SOURCE = r"""
#include <math.h>
#include <stdint.h>
#ifdef HANDC_MVEC
__attribute__((simd("notinbranch"))) extern double exp(double);
__attribute__((simd("notinbranch"))) extern double tanh(double);
__attribute__((simd("notinbranch"))) extern double log1p(double);
#endif

/* d/dx sum(1/(1+exp(-x))) = s*(1-s) with s the logistic */
void logistic_grad(const double *restrict x, double *restrict out, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        double s = 1.0 / (1.0 + exp(-x[i]));
        out[i] = s * (1.0 - s);
    }
}

/* d/dx sum(tanh(x)*exp(-x*x) + log1p(x*x)) */
void chain_grad(const double *restrict x, double *restrict out, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        double xi = x[i], t = tanh(xi), e = exp(-xi * xi);
        out[i] = (1.0 - t * t) * e - 2.0 * xi * t * e + 2.0 * xi / (1.0 + xi * xi);
    }
}
"""
CDEF = """
void logistic_grad(const double *x, double *out, int64_t n);
void chain_grad(const double *x, double *out, int64_t n);
"""
FLAGS = ["-O3", "-march=native", "-fno-math-errno", "-fPIC", "-shared", "-std=c99"]


def _glibc_has_mvec() -> bool:
    """tanh/log1p vector variants arrived in glibc 2.35."""
    try:
        name, ver = os.confstr("CS_GNU_LIBC_VERSION").split()
        major, minor = (int(v) for v in ver.split(".")[:2])
    except (ValueError, OSError, AttributeError):
        return False
    return name == "glibc" and (major, minor) >= (2, 35)


@functools.lru_cache(maxsize=1)
def library():
    """Compile (once per source+flags, cached under .bench/) and load; returns (ffi, lib, flags)."""
    import cffi

    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if cc is None:
        raise RuntimeError("no C compiler found")
    flags = FLAGS + (["-DHANDC_MVEC"] if _glibc_has_mvec() else [])
    libs = ["-lmvec", "-lm"] if _glibc_has_mvec() else ["-lm"]
    tag = hashlib.sha256((SOURCE + " ".join(flags) + cc).encode()).hexdigest()[:16]
    from benchmarks.dialects import BENCH_DIR

    out_dir = BENCH_DIR / "handc"
    out_dir.mkdir(parents=True, exist_ok=True)
    so = out_dir / f"handc_{tag}.so"
    if not so.exists():
        with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
            src = Path(tmp) / "handc.c"
            src.write_text(SOURCE)
            tmp_so = Path(tmp) / "handc.so"
            proc = subprocess.run([cc, *flags, str(src), "-o", str(tmp_so), *libs],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"hand C build failed: {proc.stderr.strip()[:300]}")
            os.replace(tmp_so, so)
    ffi = cffi.FFI()
    ffi.cdef(CDEF)
    return ffi, ffi.dlopen(str(so)), " ".join(flags + libs)


def kernel(name: str):
    """A Python callable x -> fresh output array running the named C loop."""
    ffi, lib, _ = library()
    c_fn = getattr(lib, name)
    from_buffer, empty = ffi.from_buffer, np.empty

    def run(x: np.ndarray) -> np.ndarray:
        out = empty(x.shape[0])
        c_fn(from_buffer("double[]", x), from_buffer("double[]", out), x.shape[0])
        return out

    return run
