"""Build one C source into one loadable module with cffi (out-of-line API mode).

cffi writes the module's C (our source plus its Python wrappers) with `emit_c_code`; we run the
compiler directly, which costs half of going through setuptools.  Failures raise CompileError
with a short message and the path of the saved source, never a wall of compiler output.
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import threading

from ccgrad.options import options

# Bump when the layout of generated modules or cache entries changes.
FORMAT_VERSION = "1"


class CompileError(RuntimeError):
    """The C compiler failed (or is missing).  `.source_path` holds the generated source and
    `.log_path` the full compiler output."""

    def __init__(self, message: str, source_path: str | None = None, log_path: str | None = None):
        super().__init__(message)
        self.source_path = source_path
        self.log_path = log_path


# ---------------------------------------------------------------------------------------------
# The toolchain: what the build uses, and therefore what the cache key must cover.


@functools.lru_cache(maxsize=1)
def compiler() -> tuple[str, str]:
    """(absolute path, first line of --version) of the C compiler, or CompileError."""
    cc = options.cc
    parts = shlex.split(cc)
    path = shutil.which(parts[0]) if parts else None
    if path is None:
        raise CompileError(
            f"no C compiler found (looked for {cc!r}; set CC or install gcc). "
            "Run `ccgrad doctor` for a diagnosis, or use function(..., mode='py') to run without C."
        )
    try:
        out = subprocess.run([path, *parts[1:], "--version"], capture_output=True, text=True,
                             timeout=30, check=False).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CompileError(f"cannot run the C compiler {path}: {exc}") from exc
    version = out.splitlines()[0].strip() if out else "unknown"
    return path, version


def _default_flags() -> list[str]:
    opt = "-O1" if options.test_build else "-O3"
    flags = [opt, "-std=c99", "-fPIC", "-fno-math-errno", "-fopenmp-simd", "-fno-strict-aliasing"]
    if platform.machine() in ("x86_64", "AMD64", "aarch64", "arm64"):
        flags.append("-march=native")
    return flags


@functools.lru_cache(maxsize=1)
def cflags() -> tuple[str, ...]:
    """Compile flags: CCGRAD_CFLAGS when set, else -O3 -march=native (-O1 for test builds),
    plus the vector-math declarations the C library supports."""
    flags = shlex.split(options.cflags) if options.cflags else _default_flags()
    if "-ffast-math" in flags or "-Ofast" in flags:
        raise CompileError("-ffast-math/-Ofast change results and process-wide FPU flags; remove them from CCGRAD_CFLAGS")
    mvec = libmvec_level()
    if mvec:
        flags.append(f"-DCCG_MVEC={mvec}")
    return tuple(flags)


def libmvec_level() -> int:
    """glibc's vector math: 0 none, 1 (exp/log/pow/sin/cos, glibc 2.22+), 2 (most of libm, 2.35+)."""
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"):
        return 0
    try:
        name, ver = os.confstr("CS_GNU_LIBC_VERSION").split()
        major, minor = (int(x) for x in ver.split(".")[:2])
    except (ValueError, OSError, AttributeError):
        return 0
    if name != "glibc":
        return 0
    if (major, minor) >= (2, 35):
        return 2
    return 1 if (major, minor) >= (2, 22) else 0


@functools.lru_cache(maxsize=1)
def target() -> str:
    """The CPU target the flags resolve to (e.g. 'march=znver3' plus a hash of the enabled
    instruction-set options), so an entry never loads on a CPU it was not built for."""
    path, _ = compiler()
    flags = [f for f in cflags() if f.startswith(("-m", "-O"))]
    try:
        out = subprocess.run([path, *flags, "-Q", "--help=target"], capture_output=True, text=True,
                             timeout=30, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        out = ""
    march = re.search(r"^\s*-march=\s*(\S+)", out, re.M)
    enabled = sorted(re.findall(r"^\s*(-m[\w.-]+)\s+\[enabled\]", out, re.M))
    digest = hashlib.sha256(" ".join(enabled).encode()).hexdigest()[:16]
    return f"{platform.machine()}/march={march.group(1) if march else 'default'}/isa={digest}"


def python_abi() -> str:
    return f"{sys.implementation.cache_tag}{sysconfig.get_config_var('EXT_SUFFIX') or ''}"


def cffi_version() -> str:
    from importlib.metadata import version

    return version("cffi")


def libraries(features: tuple[str, ...]) -> list[str]:
    libs = ["-lm"]
    if libmvec_level() and "-DCCG_MVEC=0" not in cflags():
        libs.append("-lmvec")
    return libs


# ---------------------------------------------------------------------------------------------


def build(source: str, module_name: str, build_dir: str, features: tuple[str, ...] = ()) -> str:
    """Compile `source` into the extension module `module_name` inside `build_dir`.

    Returns the path of the built file.  Writes `<module>.c` (cffi's full module source) and,
    on failure, `compile.log`, then raises CompileError naming them.
    """
    from cffi.recompiler import make_c_source

    path, _ = compiler()
    c_path = os.path.join(build_dir, module_name + ".c")
    with _FFI_LOCK:
        make_c_source(_ffi(), module_name, source, c_path)
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    out_path = os.path.join(build_dir, module_name + suffix)
    inc = sysconfig.get_paths()["include"]
    cmd = [path, *shlex.split(options.cc)[1:], *cflags(), "-shared", f"-I{inc}", c_path, "-o", out_path,
           *libraries(features)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    except subprocess.TimeoutExpired as exc:
        raise CompileError(f"the C compiler timed out after 600 s; source kept at {c_path}", c_path) from exc
    except OSError as exc:
        raise CompileError(f"cannot run the C compiler: {exc}; source kept at {c_path}", c_path) from exc
    log_path = os.path.join(build_dir, "compile.log")
    with open(log_path, "w", encoding="utf-8") as fh:
        fh.write(" ".join(shlex.quote(c) for c in cmd) + "\n\n" + proc.stdout + proc.stderr)
    if proc.returncode != 0 or not os.path.exists(out_path):
        first = _first_error(proc.stderr + proc.stdout)
        raise CompileError(
            f"C compilation failed: {first}\n  generated source: {c_path}\n  full compiler output: {log_path}",
            c_path, log_path,
        )
    return out_path


_FFI_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def _ffi():
    """One FFI per process holding the ABI declarations (parsing them costs ~30 ms)."""
    import cffi

    from ccgrad.lower import abi_cdef

    ffi = cffi.FFI()
    ffi.cdef(abi_cdef())
    return ffi


def _first_error(text: str) -> str:
    for line in text.splitlines():
        if "error" in line.lower():
            return line.strip()[:300]
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return lines[0][:300] if lines else "(no compiler output)"
