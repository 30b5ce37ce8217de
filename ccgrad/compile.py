"""Build one C source into one loadable module with cffi (out-of-line API mode).

cffi writes the module's C (our source plus its Python wrappers) with `emit_c_code`; we run the
compiler directly, which costs half of going through setuptools.  Failures raise CompileError
with a short message and the path of the saved source, never a wall of compiler output.
"""

from __future__ import annotations

import contextlib
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

from ccgrad import options as _options

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
    """(absolute path, version line) of the C compiler, or CompileError."""
    path, version, _ = _probe()
    return path, version


@functools.lru_cache(maxsize=1)
def _probe() -> tuple[str, str, str]:
    """Run the compiler driver once (-E -v on an empty file): its path, its version line and
    the internal command line, where -march=native appears resolved."""
    cc = _options.options.cc
    parts = shlex.split(cc)
    path = shutil.which(parts[0]) if parts else None
    if path is None:
        raise CompileError(
            f"no C compiler found (looked for {cc!r}; set CC or install gcc). "
            "Run `ccgrad doctor` for a diagnosis, or use function(..., mode='py') to run without C."
        )
    march = [f for f in _flag_words() if f.startswith("-m")]
    try:
        out = subprocess.run([path, *parts[1:], *march, "-E", "-v", "-x", "c", os.devnull],
                             capture_output=True, text=True, timeout=30, check=False).stderr
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CompileError(f"cannot run the C compiler {path}: {exc}") from exc
    lines = out.splitlines()
    version = next((ln.strip() for ln in lines if " version " in ln and not ln.startswith(" ")), "unknown")
    internal = next((ln for ln in lines if " -march=" in ln or "cc1" in ln), "")
    return path, version, internal


def _default_flags() -> list[str]:
    # Test builds compile ~10x faster at -O0; tests/test_c_optimized.py covers -O3 separately.
    opt = "-O0" if _options.options.test_build else "-O3"
    flags = [opt, "-std=c99", "-fPIC", "-fno-math-errno", "-fopenmp-simd", "-fno-strict-aliasing"]
    if platform.machine() in ("x86_64", "AMD64", "aarch64", "arm64"):
        flags.append("-march=native")
    return flags


def _flag_words() -> list[str]:
    return shlex.split(_options.options.cflags) if _options.options.cflags else _default_flags()


@functools.lru_cache(maxsize=1)
def cflags() -> tuple[str, ...]:
    """Compile flags: CCGRAD_CFLAGS when set, else -O3 -march=native (-O1 for test builds),
    plus the vector-math declarations the C library supports."""
    flags = _flag_words()
    if "-ffast-math" in flags or "-Ofast" in flags:
        raise CompileError("-ffast-math/-Ofast change results and process-wide FPU flags; "
                           "remove them from CCGRAD_CFLAGS")
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
    """The CPU target the flags resolve to (e.g. 'x86_64/march=znver3/isa=<hash of the -m
    options the compiler enables>'), so an entry never loads on a CPU it was not built for."""
    internal = _probe()[2]
    march = re.search(r" -march=(\S+)", internal)
    isa = sorted(set(re.findall(r" (-m[\w.=-]+)", internal)))
    digest = hashlib.sha256(" ".join(isa).encode()).hexdigest()[:16]
    return f"{platform.machine()}/march={march.group(1) if march else 'default'}/isa={digest}"


def reset_caches() -> None:
    """Forget probed toolchain facts (after the environment changed, in tests)."""
    for fn in (compiler, _probe, cflags, target, blas_library):
        fn.cache_clear()


def python_abi() -> str:
    return f"{sys.implementation.cache_tag}{sysconfig.get_config_var('EXT_SUFFIX') or ''}"


def cffi_version() -> str:
    import cffi

    return cffi.__version__


@functools.lru_cache(maxsize=1)
def blas_library() -> tuple[str, str] | None:
    """(library dir, link name) of scipy-openblas32, or None (matrix products then use C loops)."""
    if not _options.options.blas:
        return None
    # Located without importing the package (its import costs ~25 ms of importlib.metadata).
    import importlib.util

    spec = importlib.util.find_spec("scipy_openblas32")
    if spec is None or not spec.submodule_search_locations:
        return None
    libdir = os.path.join(next(iter(spec.submodule_search_locations)), "lib")
    try:
        names = sorted(f for f in os.listdir(libdir) if f.startswith("libscipy_openblas") and ".so" in f)
    except OSError:
        return None
    if not names:
        return None
    return libdir, names[0][3:].split(".so")[0]


def blas_version() -> str:
    """scipy-openblas32's version, from its dist-info directory name (no import)."""
    lib = blas_library()
    if lib is None:
        return "none"
    site = os.path.dirname(os.path.dirname(lib[0]))
    for name in sorted(os.listdir(site)):
        if name.startswith("scipy_openblas32-") and name.endswith(".dist-info"):
            return name[len("scipy_openblas32-"):-len(".dist-info")]
    return "?"


def blas_enabled() -> bool:
    return blas_library() is not None


def libraries(features: tuple[str, ...]) -> list[str]:
    libs = ["-lm"]
    if libmvec_level() and "-DCCG_MVEC=0" not in cflags():
        libs.append("-lmvec")
    if "blas" in features:
        lib = blas_library()
        if lib is not None:
            libs += [f"-L{lib[0]}", f"-l{lib[1]}", f"-Wl,-rpath,{lib[0]}"]
    return libs


# ---------------------------------------------------------------------------------------------


def build(source: str, module_name: str, build_dir: str, features: tuple[str, ...] = ()) -> str:
    """Compile `source` into the extension module `module_name` inside `build_dir`.

    Two translation units, compiled concurrently and linked into one file: the kernel
    (`src.c`: our source, no Python headers, at the optimisation flags) and cffi's module
    wrapper (`<module>.c`, generated with make_c_source from the ABI declarations, at -O1: it
    only converts arguments).  Returns the path of the built file; on failure writes
    `compile.log` and raises CompileError naming the sources.
    """
    from ccgrad.lower import abi_cdef

    path, _ = compiler()
    cc_extra = shlex.split(_options.options.cc)[1:]
    kernel_c = os.path.join(build_dir, "src.c")
    if not os.path.exists(kernel_c):
        with open(kernel_c, "w", encoding="utf-8") as fh:
            fh.write(source)
    wrapper_c = os.path.join(build_dir, module_name + ".c")
    wrapper_text = wrapper_source(module_name)
    if wrapper_text is not None:
        with open(wrapper_c, "w", encoding="utf-8") as fh:
            fh.write(wrapper_text)
    else:
        from cffi.recompiler import make_c_source

        from ccgrad._cffi_template import PREAMBLE

        with _FFI_LOCK:
            make_c_source(_ffi(), module_name, PREAMBLE + abi_cdef(), wrapper_c)
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    out_path = os.path.join(build_dir, module_name + suffix)
    inc = sysconfig.get_paths()["include"]
    flags = list(cflags())
    wrapper_flags = [f for f in flags if not f.startswith("-O")] + ["-O1"]
    steps = [
        [path, *cc_extra, *flags, "-c", kernel_c, "-o", kernel_c[:-2] + ".o"],
        [path, *cc_extra, *wrapper_flags, f"-I{inc}", "-c", wrapper_c, "-o", wrapper_c[:-2] + ".o"],
    ]
    link = [path, *cc_extra, *[f for f in flags if f.startswith(("-m", "-f"))], "-shared",
            kernel_c[:-2] + ".o", wrapper_c[:-2] + ".o", "-o", out_path, *libraries(features)]
    log: list[str] = []
    ok = _run_parallel(steps, log) and _run_parallel([link], log)
    log_path = os.path.join(build_dir, "compile.log")
    with open(log_path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(log))
    if not ok or not os.path.exists(out_path):
        first = _first_error("\n".join(log))
        raise CompileError(
            f"C compilation failed: {first}\n  generated source: {kernel_c}\n  full compiler output: {log_path}",
            kernel_c, log_path,
        )
    for obj in (kernel_c[:-2] + ".o", wrapper_c[:-2] + ".o"):
        with contextlib.suppress(OSError):
            os.unlink(obj)
    return out_path


def _run_parallel(cmds: list[list[str]], log: list[str]) -> bool:
    """Run compiler commands concurrently; append each command and its output to `log`."""
    procs = []
    try:
        for cmd in cmds:
            procs.append((cmd, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)))
    except OSError as exc:
        for _, p in procs:
            p.kill()
        raise CompileError(f"cannot run the C compiler: {exc}") from exc
    ok = True
    for cmd, p in procs:
        try:
            out, _ = p.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
            out += "\n(the compiler timed out after 600 s)"
            ok = False
        log.append(" ".join(shlex.quote(c) for c in cmd) + "\n" + out)
        ok = ok and p.returncode == 0
    return ok


_FFI_LOCK = threading.Lock()
@functools.lru_cache(maxsize=1)
def _template() -> str | None:
    from ccgrad import _cffi_template
    from ccgrad.lower import abi_cdef

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), _cffi_template.TEMPLATE_NAME)
    return _cffi_template.load(path, abi_cdef())


def wrapper_source(module_name: str) -> str | None:
    """The cffi wrapper C for `module_name` from the installed template (None when there is
    none for this cffi version and ABI: cffi then generates it, parsing the declarations)."""
    from ccgrad._cffi_template import PLACEHOLDER

    text = _template()
    return None if text is None else text.replace(PLACEHOLDER, module_name)


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
