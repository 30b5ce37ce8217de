"""The on-disk cache of built modules: key, entry layout, atomic publish, integrity check, load.

Layout under the root (CCGRAD_CACHE_DIR, else the user cache dir), created 0700:
  <key[:2]>/<key>/   a published entry: src.c (kernel source), the extension file, meta.json
  index/<h[:2]>/<h>.json   unoptimized-graph hash -> key (+ hidden constants), for warm starts
  tmp/<random>/      private build dirs; tmp/<random>.lock is held (flock) by the live builder
  trash/             entries found corrupt, moved aside (never overwritten in place)
  builds.log         one JSON line per build, read by stats()

Publishing renames a complete directory into place, so readers never see half an entry and no
lock is needed for correctness; a per-key flock only avoids duplicate compiles.  A corrupt entry
(its extension file's sha256 differs from meta.json) is moved to trash/ and rebuilt.  Cache
trouble never breaks a computation: the module is then built privately, with one warning.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import importlib.machinery
import importlib.util
import json
import os
import shutil
import stat
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

from ccgrad import compile as cc
from ccgrad import options as _options

_LOCK = threading.Lock()
_MEMO: dict[str, LoadedModule] = {}
_WARNED: set[str] = set()


class CacheWarning(UserWarning):
    """The cache could not be used as intended (unsafe, read-only, full or corrupt)."""


@dataclass
class LoadedModule:
    key: str
    module: object
    address: int  # of ccg_run
    path: str


def warn_once(tag: str, message: str) -> None:
    if tag not in _WARNED:
        _WARNED.add(tag)
        warnings.warn(message, CacheWarning, stacklevel=3)


# ---------------------------------------------------------------------------------------------
# the root and its safety


def default_root() -> str:
    if _options.options.cache_dir:
        return os.path.abspath(os.path.expanduser(_options.options.cache_dir))
    import platformdirs

    return platformdirs.user_cache_dir("ccgrad")


def unsafe_reason(path: str) -> str | None:
    """Why a cache directory must not be trusted (it holds code we load), or None if safe.

    Unsafe: a symlink, owned by another user, writable by group or others, or inside a
    directory that others can write without the sticky bit.
    """
    try:
        st = os.lstat(path)
    except OSError as exc:
        return f"cannot stat {path}: {exc.strerror}"
    if stat.S_ISLNK(st.st_mode):
        return f"{path} is a symbolic link"
    if not stat.S_ISDIR(st.st_mode):
        return f"{path} is not a directory"
    if st.st_uid != os.getuid():
        return f"{path} is owned by uid {st.st_uid}, not by you (uid {os.getuid()})"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"{path} is writable by group or others (mode {stat.S_IMODE(st.st_mode):o})"
    parent = os.path.dirname(path)
    while parent and parent != os.path.dirname(parent):
        try:
            pst = os.stat(parent)
        except OSError:
            break
        if pst.st_mode & stat.S_IWOTH and not pst.st_mode & stat.S_ISVTX:
            return f"{path} is inside {parent}, which others can write (no sticky bit)"
        parent = os.path.dirname(parent)
    return None


_ROOT: tuple[str, str | None] | None = None


def root() -> str | None:
    """The usable cache root (created 0700), or None when it is unsafe or cannot be created
    (then builds are private and uncached; one warning)."""
    global _ROOT
    path = default_root()
    if _ROOT is not None and _ROOT[0] == path:
        return _ROOT[1]
    usable: str | None = path
    try:
        if not os.path.lexists(path):
            os.makedirs(path, mode=0o700, exist_ok=True)
            os.chmod(path, 0o700)
        reason = unsafe_reason(path)
        if reason is not None:
            warn_once("unsafe:" + path, f"ccgrad: not using the cache: {reason}. Functions are built "
                      "privately (uncached). Use a directory only you can write (CCGRAD_CACHE_DIR).")
            usable = None
        else:
            for sub in ("tmp", "trash", "index"):
                os.makedirs(os.path.join(path, sub), mode=0o700, exist_ok=True)
    except OSError as exc:
        warn_once("root:" + path, f"ccgrad: cannot use the cache at {path} ({exc}); building privately")
        usable = None
    _ROOT = (path, usable)
    return usable


def reset() -> None:
    """Forget the resolved root and the in-process memo (tests change CCGRAD_CACHE_DIR)."""
    global _ROOT, _TOOLCHAIN
    _ROOT = None
    _TOOLCHAIN = None
    cc.reset_caches()
    _MEMO.clear()
    _WARNED.clear()


# ---------------------------------------------------------------------------------------------
# keys


_TOOLCHAIN: dict[str, str] | None = None


def toolchain_parts() -> dict[str, str]:
    """Everything besides the source that changes what a build produces.  Probing the compiler
    costs tens of ms, so the result is remembered on disk, keyed by the compiler binary, the
    flags and the CPU."""
    global _TOOLCHAIN
    if _TOOLCHAIN is not None:
        return _TOOLCHAIN
    path, _ = _quick_compiler()
    probe_key = hashlib.sha256(
        json.dumps([path, _file_id(path), _options.options.cflags, _options.options.test_build, _cpu_signature(),
                    sys.version, cc.FORMAT_VERSION]).encode()
    ).hexdigest()[:32]
    r = root()
    memo_path = os.path.join(r, "tmp", f"toolchain-{probe_key}.json") if r else None
    if memo_path and os.path.exists(memo_path):
        try:
            with open(memo_path, encoding="utf-8") as fh:
                parts = json.load(fh)
            if isinstance(parts, dict) and parts.get("format") == cc.FORMAT_VERSION:
                _TOOLCHAIN = parts
                return parts
        except (OSError, ValueError):
            pass
    parts = {
        "compiler": f"{cc.compiler()[0]} | {cc.compiler()[1]}",
        "flags": " ".join(cc.cflags()),
        "target": cc.target(),
        "python": cc.python_abi(),
        "cffi": cc.cffi_version(),
        "blas": blas_identity(),
        "format": cc.FORMAT_VERSION,
    }
    if memo_path:
        with contextlib.suppress(OSError):
            _atomic_write(memo_path, json.dumps(parts, sort_keys=True))
    _TOOLCHAIN = parts
    return parts


def _quick_compiler() -> tuple[str, str]:
    import shlex

    name = shlex.split(_options.options.cc)[0] if _options.options.cc else "cc"
    found = shutil.which(name)
    return (found or name), ""


def _file_id(path: str) -> list:
    try:
        st = os.stat(path)
        return [st.st_size, int(st.st_mtime)]
    except OSError:
        return []


def _cpu_signature() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            text = fh.read(65536)
    except OSError:
        import platform

        return platform.processor() or platform.machine()
    keep = [ln for ln in text.splitlines() if ln.startswith(("model name", "flags", "Features"))]
    return hashlib.sha256("\n".join(sorted(set(keep))).encode()).hexdigest()[:24]


def blas_identity() -> str:
    """Which BLAS the generated code links (package, version, library path)."""
    lib = cc.blas_library()
    if lib is None:
        return "none (C loops)"
    return f"scipy-openblas32 {cc.blas_version()} {lib[0]}/lib{lib[1]}.so"


def key_parts(source: str) -> dict[str, str]:
    parts = dict(toolchain_parts())
    parts["source"] = hashlib.sha256(source.encode()).hexdigest()
    return parts


def make_key(parts: dict[str, str]) -> str:
    h = hashlib.sha256()
    for label in sorted(parts):
        h.update(f"{label}={parts[label]}\n".encode())
    return h.hexdigest()


def module_name(key: str) -> str:
    return f"_ccg_{key[:40]}"


# ---------------------------------------------------------------------------------------------
# build, publish, load


def entry_dir(r: str, key: str) -> str:
    return os.path.join(r, key[:2], key)


def get_or_build(source: str, features: tuple[str, ...] = (), name: str | None = None) -> LoadedModule:
    """The loaded module for `source`: from memory, from the cache, or built and published."""
    parts = key_parts(source)
    key = make_key(parts)
    with _LOCK:
        hit = _MEMO.get(key)
    if hit is not None:
        return hit
    r = root()
    loaded = None
    if r is not None:
        try:
            loaded = _load_or_build_cached(r, key, parts, source, features, name)
        except cc.CompileError as exc:
            if not _io_trouble(exc):
                raise
            # the compiler could not write into the cache (disk full, read-only): not the source's fault
            warn_once("io", f"ccgrad: the cache cannot hold this build ({str(exc).splitlines()[0]}); "
                      "building privately")
            loaded = None
        except OSError as exc:
            warn_once("io", f"ccgrad: cache trouble ({exc}); building privately")
            loaded = None
    if loaded is None:
        loaded = _build_private(key, parts, source, features)
    with _LOCK:
        _MEMO[key] = loaded
    return loaded


def load_key(key: str) -> LoadedModule | None:
    """Load a published entry by key (warm starts through the graph index), or None."""
    with _LOCK:
        hit = _MEMO.get(key)
    if hit is not None:
        return hit
    r = root()
    if r is None:
        return None
    loaded = _try_load(r, key)
    if loaded is not None:
        with _LOCK:
            _MEMO[key] = loaded
    return loaded


def _load_or_build_cached(r, key, parts, source, features, name) -> LoadedModule:
    loaded = _try_load(r, key)
    if loaded is not None:
        return loaded
    with _key_lock(r, key):
        loaded = _try_load(r, key)  # another process may have published it meanwhile
        if loaded is not None:
            return loaded
        tmp = _new_tmp(r)
        try:
            t0 = time.perf_counter()
            try:
                so_path = _build_into(tmp, key, parts, source, features, name)
            except cc.CompileError as exc:
                raise _keep_failed(r, tmp, key, exc) from None
            seconds = time.perf_counter() - t0
            _write_meta(tmp, key, parts, so_path, seconds, name)
            if publish(r, tmp, key):
                _log_build(r, key, seconds, name)
                from ccgrad import cache_admin

                cache_admin.maybe_enforce_size_cap(r)
        finally:
            if os.path.isdir(tmp):
                shutil.rmtree(tmp, ignore_errors=True)
            _release_tmp_lock(tmp)
        loaded = _try_load(r, key)
        if loaded is None:
            raise OSError(f"entry {key[:16]} vanished right after publishing")
        return loaded


def publish(r: str, tmp: str, key: str) -> bool:
    """Make the complete temp dir `tmp` the entry `key`: fsync it, then one atomic rename.
    False when another process published the entry first (theirs stays; `tmp` is left to the
    caller's cleanup)."""
    _fsync_dir(tmp)
    final = entry_dir(r, key)
    os.makedirs(os.path.dirname(final), mode=0o700, exist_ok=True)
    try:
        os.rename(tmp, final)
    except OSError as exc:
        if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
            raise
        return False
    _fsync_dir(os.path.dirname(final))
    return True


def _keep_failed(r: str, tmp: str, key: str, exc: cc.CompileError) -> cc.CompileError:
    """Move a failed build to <root>/failed/<key>/ (replacing an older one) so the saved source
    named in the error survives the temp dir's cleanup; return the error pointing there."""
    dest = os.path.join(r, "failed", key)
    try:
        os.makedirs(os.path.dirname(dest), mode=0o700, exist_ok=True)
        if os.path.isdir(dest):
            shutil.rmtree(dest, ignore_errors=True)
        os.rename(tmp, dest)
    except OSError:
        return exc
    src = os.path.join(dest, "src.c")
    log = os.path.join(dest, "compile.log")
    msg = str(exc).replace(os.path.join(tmp, "src.c"), src).replace(os.path.join(tmp, "compile.log"), log)
    msg = msg.replace(tmp, dest)
    return cc.CompileError(msg, src, log)


_IO_ERRORS = ("No space left on device", "Read-only file system", "Permission denied",
              "Disk quota exceeded", "cannot open output file", "Input/output error")


def _io_trouble(exc: cc.CompileError) -> bool:
    """Did the compiler fail for lack of a writable disk (rather than because of the source)?"""
    text = str(exc)
    if exc.log_path:
        with contextlib.suppress(OSError):
            with open(exc.log_path, encoding="utf-8", errors="replace") as fh:
                text += fh.read()
    return any(m in text for m in _IO_ERRORS)


def _build_private(key, parts, source, features) -> LoadedModule:
    """Build outside the cache (unsafe or unusable cache); the files go away once loaded."""
    tmp = tempfile.mkdtemp(prefix="ccgrad-private-")
    try:
        so_path = _build_into(tmp, key, parts, source, features, None)
        return _import(key, so_path)  # the mapping survives the file's removal
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _build_into(d: str, key: str, parts, source: str, features, name) -> str:
    return cc.build(source, module_name(key), d, features)


def _write_meta(d: str, key: str, parts, so_path: str, seconds: float, name) -> None:
    log = ""
    log_path = os.path.join(d, "compile.log")
    if os.path.exists(log_path):
        with open(log_path, encoding="utf-8", errors="replace") as fh:
            log = fh.read()[-20000:]
    meta = {
        "key": key,
        "parts": parts,
        "module": module_name(key),
        "file": os.path.basename(so_path),
        "sha256": _sha256_file(so_path),
        "build_seconds": round(seconds, 4),
        "created": time.time(),
        "name": name,
        "compiler_output": log,
    }
    _atomic_write(os.path.join(d, "meta.json"), json.dumps(meta, indent=1, sort_keys=True))
    for fn in os.listdir(d):
        p = os.path.join(d, fn)
        with open(p, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(p, 0o600)
    os.chmod(d, 0o700)


def _try_load(r: str, key: str) -> LoadedModule | None:
    """Load a published entry after verifying it; corrupt entries go to trash/."""
    d = entry_dir(r, key)
    if not os.path.lexists(d):
        return None
    problem = _verify(d, key)
    if problem is not None:
        _quarantine(r, d, key, problem)
        return None
    with open(os.path.join(d, "meta.json"), encoding="utf-8") as fh:
        meta = json.load(fh)
    path = os.path.join(d, meta["file"])
    _touch(d)
    try:
        return _import(key, path)
    except (ImportError, OSError, AttributeError) as exc:
        # verified but not loadable (e.g. built for another machine with consistent metadata)
        _quarantine(r, d, key, f"cannot be loaded: {exc}")
        return None


def _verify(d: str, key: str) -> str | None:
    """Why the entry must not be loaded, or None."""
    try:
        st = os.lstat(d)
        if not stat.S_ISDIR(st.st_mode):
            return "entry is not a directory"
        if st.st_uid != os.getuid() or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return "entry is owned by another user or writable by others"
        with open(os.path.join(d, "meta.json"), encoding="utf-8") as fh:
            meta = json.load(fh)
        if not isinstance(meta, dict) or meta.get("key") != key:
            return "meta.json does not describe this key"
        fname = meta.get("file")
        if not isinstance(fname, str) or os.sep in fname or fname.startswith("."):
            return "meta.json names no valid file"
        path = os.path.join(d, fname)
        for what, p in (("extension file", path), ("meta.json", os.path.join(d, "meta.json"))):
            fst = os.lstat(p)
            if not stat.S_ISREG(fst.st_mode) or fst.st_uid != os.getuid() or fst.st_nlink != 1:
                return f"{what} is not a regular file of yours"
            if fst.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                return f"{what} is writable by group or others"
        if _sha256_file(path) != meta.get("sha256"):
            return "extension file does not match its recorded sha256"
        parts = meta.get("parts")
        src = os.path.join(d, "src.c")
        if not isinstance(parts, dict) or _sha256_file(src) != parts.get("source"):
            return "src.c does not match the source recorded in the key"
    except FileNotFoundError as exc:
        return f"missing {os.path.basename(exc.filename or '?')}"
    except (OSError, ValueError, TypeError) as exc:
        return f"unreadable entry ({exc})"
    return None


def _quarantine(r: str, d: str, key: str, problem: str) -> None:
    warn_once("corrupt:" + key, f"ccgrad: cache entry {key[:16]} is corrupt ({problem}); moved to "
              "trash/ and rebuilt")
    dest = os.path.join(r, "trash", f"{key}-{os.getpid()}-{time.time_ns()}")
    try:
        os.rename(d, dest)
    except OSError:
        with contextlib.suppress(OSError):
            if os.path.isdir(d) and not os.path.islink(d):
                shutil.rmtree(d)
            else:
                os.unlink(d)


def _import(key: str, path: str) -> LoadedModule:
    name = module_name(key)
    existing = sys.modules.get(name)
    if existing is not None:
        mod = existing
    else:
        loader = importlib.machinery.ExtensionFileLoader(name, path)
        spec = importlib.util.spec_from_file_location(name, path, loader=loader)
        mod = importlib.util.module_from_spec(spec)
        loader.exec_module(mod)
        sys.modules[name] = mod
    ffi, lib = mod.ffi, mod.lib
    address = int(ffi.cast("uintptr_t", ffi.addressof(lib, "ccg_run")))
    return LoadedModule(key, mod, address, path)


# ---------------------------------------------------------------------------------------------
# locks, temp dirs, logs


@contextlib.contextmanager
def _key_lock(r: str, key: str) -> Iterator[None]:
    """A per-key lock released by the kernel if the holder dies.  Optional (CCGRAD_LOCK=0):
    without it duplicate builds may happen but exactly one entry is published."""
    if not _options.options.lock:
        yield
        return
    path = os.path.join(r, "tmp", f"{key}.lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


_TMP_LOCKS: dict[str, int] = {}


def _new_tmp(r: str) -> str:
    """A private build dir tmp/<random>/, marked live by holding tmp/<random>.lock."""
    d = tempfile.mkdtemp(prefix="build-", dir=os.path.join(r, "tmp"))
    fd = os.open(d + ".lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    _TMP_LOCKS[d] = fd
    return d


def _release_tmp_lock(d: str) -> None:
    fd = _TMP_LOCKS.pop(d, None)
    if fd is not None:
        with contextlib.suppress(OSError):
            os.unlink(d + ".lock")
        os.close(fd)


def _log_build(r: str, key: str, seconds: float, name) -> None:
    line = json.dumps({"key": key, "t": time.time(), "pid": os.getpid(), "seconds": round(seconds, 4),
                       "name": name}) + "\n"
    with contextlib.suppress(OSError):
        fd = os.open(os.path.join(r, "builds.log"), os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)


def stats(path: str | None = None) -> dict:
    """Build counts from builds.log (all processes): {'builds': n, 'keys': {key: count}}."""
    r = path or root()
    counts: dict[str, int] = {}
    total = 0
    if r:
        with contextlib.suppress(OSError):
            with open(os.path.join(r, "builds.log"), encoding="utf-8") as fh:
                for line in fh:
                    try:
                        rec = json.loads(line)
                    except ValueError:
                        continue
                    total += 1
                    counts[rec.get("key", "?")] = counts.get(rec.get("key", "?"), 0) + 1
    return {"builds": total, "keys": counts}


def _touch(d: str) -> None:
    """Record use (LRU eviction reads it); atime is unreliable under noatime."""
    with contextlib.suppress(OSError):
        os.utime(d, None)


def _sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _atomic_write(path: str, text: str) -> None:
    tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _fsync_dir(d: str) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# ---------------------------------------------------------------------------------------------
# the warm-start index: unoptimized-graph fingerprint -> key


def _index_path(r: str, fp: str) -> str:
    return os.path.join(r, "index", fp[:2], fp + ".json")


def index_get(fp: str) -> tuple[dict, list] | None:
    """(record, hidden arrays) stored for a graph fingerprint, or None."""
    r = root()
    if r is None:
        return None
    path = _index_path(r, fp)
    try:
        with open(path, encoding="utf-8") as fh:
            rec = json.load(fh)
        if not isinstance(rec, dict) or not isinstance(rec.get("key"), str):
            return None
        import numpy as np

        hidden = []
        for k in range(int(rec.get("n_hidden", 0))):
            hidden.append(np.load(f"{path[:-5]}.{k}.npy", allow_pickle=False))
        return rec, hidden
    except (OSError, ValueError, TypeError):
        return None


def index_put(fp: str, record: dict, hidden: list) -> None:
    """Remember which key a graph fingerprint compiled to (best effort)."""
    r = root()
    if r is None:
        return
    path = _index_path(r, fp)
    try:
        import numpy as np

        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        for k, arr in enumerate(hidden):
            tmp = f"{path[:-5]}.{k}.{os.getpid()}.tmp.npy"
            np.save(tmp, arr, allow_pickle=False)
            os.replace(tmp, f"{path[:-5]}.{k}.npy")
        _atomic_write(path, json.dumps(dict(record, n_hidden=len(hidden)), sort_keys=True))
    except OSError:
        pass


def toolchain_digest() -> str:
    return make_key(toolchain_parts())
