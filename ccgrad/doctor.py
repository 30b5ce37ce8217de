"""`ccgrad doctor`: check what building and caching C functions needs, and say how to fix what
is missing: compiler (and that it really builds and loads a module), cffi, Python headers, the
call dispatcher, BLAS, the cache directory's safety, free disk space."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import sysconfig
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

OK, WARN, FAIL = "ok", "warn", "FAIL"
MIN_FREE = 100 << 20  # below this a build may fail: FAIL
LOW_FREE = 1 << 30  # below this: warn


@dataclass
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""


def _compiler() -> Check:
    from ccgrad import compile as cc

    try:
        path, version = cc.compiler()
        flags = " ".join(cc.cflags())
        target = cc.target()
    except cc.CompileError as exc:
        return Check("C compiler", FAIL, str(exc).splitlines()[0],
                     "install a C compiler (Debian/Ubuntu: apt-get install gcc; Fedora: dnf install gcc; "
                     "macOS: xcode-select --install), or point CC at one")
    return Check("C compiler", OK, f"{path} ({version}); flags {flags}; target {target}")


def _cffi() -> Check:
    try:
        import cffi
    except ImportError:
        return Check("cffi", FAIL, "cffi is not installed", "pip install cffi")
    return Check("cffi", OK, f"cffi {cffi.__version__}")


def _headers() -> Check:
    inc = sysconfig.get_paths()["include"]
    header = os.path.join(inc, "Python.h")
    if not os.path.isfile(header):
        return Check("Python headers", FAIL, f"{header} is missing",
                     "install the Python development headers (Debian/Ubuntu: apt-get install python3-dev; "
                     "Fedora: dnf install python3-devel)")
    return Check("Python headers", OK, header)


def _dispatcher() -> Check:
    try:
        from ccgrad import _dispatch
    except ImportError as exc:
        return Check("call dispatcher", FAIL, f"ccgrad._dispatch cannot be imported ({exc})",
                     "reinstall ccgrad so its extension is built: pip install -e . (or pip install ccgrad)")
    return Check("call dispatcher", OK, os.path.basename(getattr(_dispatch, "__file__", "ccgrad._dispatch")))


def _compile_test() -> Check:
    """Lower a tiny graph, build it outside the cache, load it and call it."""
    import numpy as np

    from ccgrad import backend, cache, tensor
    from ccgrad import compile as cc
    from ccgrad.graph import FunctionGraph
    from ccgrad.lower import lower

    t0 = time.perf_counter()
    try:
        x = tensor.dvector("x")
        fg = FunctionGraph([x], [x * 2.0 + 1.0])
        program = lower(fg)
        key = f"doctor{os.getpid()}"
        with tempfile.TemporaryDirectory(prefix="ccgrad-doctor-") as d:
            path = cc.build(program.source, cache.module_name(key), d, program.features)
            loaded = cache._import(key, path)
        sig = {"inputs": [list(t) for t in program.inputs], "outputs": [list(t) for t in program.outputs]}
        run = backend.CompiledKernel(fg.inputs, sig, list(program.hidden), loaded).runner()
        got = run([np.array([1.0, 2.0])])[0]
        if not np.array_equal(got, [3.0, 5.0]):
            return Check("compile test", FAIL, f"a test module computed {got}, expected [3. 5.]",
                         "report this as a bug, with the output of `ccgrad doctor`")
    except cc.CompileError as exc:
        return Check("compile test", FAIL, " ".join(str(exc).split("\n")[:2]),
                     "check the compiler output named above; CCGRAD_CFLAGS or CC may name flags or a "
                     "compiler that does not work")
    except Exception as exc:
        return Check("compile test", FAIL, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
                     "report this as a bug, with the output of `ccgrad doctor`")
    return Check("compile test", OK, f"built, loaded and ran a test module in {time.perf_counter() - t0:.2f} s")


def _blas() -> Check:
    from ccgrad import compile as cc
    from ccgrad import options as _options

    if not _options.options.blas:
        return Check("BLAS", OK, "disabled by CCGRAD_BLAS=0: matrix products use C loops")
    lib = cc.blas_library()
    if lib is None:
        return Check("BLAS", WARN, "scipy-openblas32 is not installed: matrix products use slower C loops",
                     "pip install scipy-openblas32")
    from ccgrad import cache

    return Check("BLAS", OK, cache.blas_identity())


def _cache_dir() -> Check:
    from ccgrad import cache

    path = cache.default_root()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = cache.root()
    if r is not None:
        return Check("cache directory", OK, f"{r} (yours, mode 0700 or stricter)")
    reason = cache.unsafe_reason(path) if os.path.lexists(path) else "it cannot be created"
    fix = "set CCGRAD_CACHE_DIR to a directory only you can write (it is created 0700 if missing)"
    if reason and "writable by group or others" in reason:
        fix = f"chmod 700 {path}   (or {fix})"
    return Check("cache directory", FAIL, f"{path} is not used: {reason}; functions are compiled in every process",
                 fix)


def _free_space() -> Check:
    from ccgrad import cache

    path = cache.default_root()
    probe = path
    while probe and not os.path.exists(probe):
        probe = os.path.dirname(probe)
    try:
        free = shutil.disk_usage(probe or "/").free
    except OSError as exc:
        return Check("free space", WARN, f"cannot tell ({exc.strerror})")
    from ccgrad.cache_admin import format_size

    text = f"{format_size(free)} free at {probe}"
    if free < MIN_FREE:
        return Check("free space", FAIL, text, "free some space, or `ccgrad cache prune --max-size 200M`")
    if free < LOW_FREE:
        return Check("free space", WARN, text, "`ccgrad cache prune` frees old entries")
    return Check("free space", OK, text)


CHECKS: list[Callable[[], Check]] = [_compiler, _cffi, _headers, _dispatcher, _compile_test, _blas, _cache_dir,
                                     _free_space]


def run(out: TextIO | None = None) -> int:
    """Run every check, print one line each (and a fix for each problem); 1 if any failed."""
    out = out or sys.stdout
    checks = []
    for fn in CHECKS:
        if fn is _compile_test and any(c.status == FAIL for c in checks[:4]):
            checks.append(Check("compile test", FAIL, "skipped: fix the problems above first"))
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                checks.append(fn())
            except Exception as exc:  # a check itself must not crash the doctor
                checks.append(Check(fn.__name__.strip("_").replace("_", " "), FAIL,
                                    f"{type(exc).__name__}: {exc}", "report this as a bug"))
    width = max(len(c.name) for c in checks)
    for c in checks:
        out.write(f"{c.status:<4}  {c.name:<{width}}  {c.detail}\n")
        if c.fix and c.status != OK:
            out.write(f"{'':<4}  {'':<{width}}  fix: {c.fix}\n")
    failed = [c for c in checks if c.status == FAIL]
    warned = [c for c in checks if c.status == WARN]
    if failed:
        out.write(f"{len(failed)} problem(s) found: ccgrad cannot compile or cache functions until they are fixed\n")
    elif warned:
        out.write(f"ccgrad works; {len(warned)} warning(s)\n")
    else:
        out.write("everything ccgrad needs is in place\n")
    with contextlib.suppress(Exception):
        out.flush()
    return 1 if failed else 0
