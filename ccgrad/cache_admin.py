"""Looking after the on-disk cache: list and inspect entries, clear, prune, cap its size (LRU),
and ship entries between machines (export/import).

cache.py builds, publishes and loads entries; this module only reads its layout
(`<root>/<key[:2]>/<key>/` with meta.json, `index/`, `tmp/`, `trash/`, builds.log) and removes or
adds whole entries the same way a build does: an entry leaves by one rename into trash/ (then
rmtree), and arrives by one rename of a complete private directory.  Running processes never see
half an entry, and an extension file already loaded somewhere stays valid after it is unlinked.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import re
import shutil
import stat
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from ccgrad import cache
from ccgrad import options as _options

_HEX64 = re.compile(r"[0-9a-f]{64}")
_FILE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,200}")
# A builder creates tmp/<name>/ a moment before it creates and locks tmp/<name>.lock.  A temp dir
# whose lock file exists and is free is dead once older than LOCKED_GRACE_SECONDS; one without a
# lock file (or a stale lock/temp file) only after TMP_GRACE_SECONDS.
LOCKED_GRACE_SECONDS = 10.0
TMP_GRACE_SECONDS = 3600.0


class CacheAdminError(Exception):
    """A cache command cannot do what was asked (message is one line, for the CLI)."""


# ---------------------------------------------------------------------------------------------
# sizes


_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str) -> int:
    """'500M', '2G', '1.5GiB', '4096' -> bytes.  K/M/G/T are powers of 1024."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([kmgt]?)(?:i?b)?\s*", text.lower())
    if not m:
        raise CacheAdminError(f"cannot read size {text!r} (use e.g. 500M, 2G, 1.5GiB or bytes)")
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def format_size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


# ---------------------------------------------------------------------------------------------
# entries


@dataclass
class Entry:
    key: str
    path: str
    size: int  # bytes of the files in the entry
    used: float  # entry dir mtime: the loader touches it on every first use in a process
    created: float
    name: str | None
    meta: dict = field(default_factory=dict)


def require_root() -> str:
    """The cache root, or CacheAdminError saying why it cannot be used."""
    r = cache.root()
    if r is None:
        path = cache.default_root()
        reason = cache.unsafe_reason(path) if os.path.lexists(path) else "it cannot be created"
        raise CacheAdminError(f"the cache at {path} is not usable: {reason}")
    return r


def _dir_size(d: str) -> int:
    total = 0
    with contextlib.suppress(OSError):
        for fn in os.listdir(d):
            with contextlib.suppress(OSError):
                st = os.lstat(os.path.join(d, fn))
                total += st.st_size if stat.S_ISREG(st.st_mode) else 0
    return total


def _tree_size(d: str) -> int:
    total = 0
    for base, _dirs, files in os.walk(d):
        for fn in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(base, fn)).st_size
    return total


def iter_entries(r: str, with_meta: bool = True) -> Iterator[Entry]:
    """Every published entry under root r (unreadable meta.json gives name None)."""
    try:
        shards = os.listdir(r)
    except OSError:
        return
    for shard in shards:
        if len(shard) != 2 or not all(c in "0123456789abcdef" for c in shard):
            continue
        sdir = os.path.join(r, shard)
        try:
            keys = os.listdir(sdir)
        except OSError:
            continue
        for key in keys:
            d = os.path.join(sdir, key)
            try:
                st = os.lstat(d)
            except OSError:
                continue
            if not stat.S_ISDIR(st.st_mode) or not _HEX64.fullmatch(key):
                continue
            meta: dict = {}
            if with_meta:
                with contextlib.suppress(OSError, ValueError):
                    with open(os.path.join(d, "meta.json"), encoding="utf-8") as fh:
                        got = json.load(fh)
                    meta = got if isinstance(got, dict) else {}
            created = meta.get("created")
            yield Entry(key, d, _dir_size(d), st.st_mtime,
                        float(created) if isinstance(created, int | float) else st.st_mtime,
                        meta.get("name") if isinstance(meta.get("name"), str) else None, meta)


def find_entry(r: str, prefix: str) -> Entry:
    """The entry whose key starts with `prefix` (at least 4 hex digits, unique)."""
    prefix = prefix.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{4,64}", prefix):
        raise CacheAdminError(f"{prefix!r} is not a key (give at least 4 hex digits of it)")
    hits = [e for e in iter_entries(r) if e.key.startswith(prefix)]
    if not hits:
        raise CacheAdminError(f"no cache entry has a key starting with {prefix}")
    if len(hits) > 1:
        raise CacheAdminError(f"{len(hits)} entries have keys starting with {prefix}; give more digits")
    return hits[0]


def verify_entry(e: Entry) -> str | None:
    """Why the entry would be refused by the loader (moved to trash/), or None."""
    return cache._verify(e.path, e.key)


def info(r: str) -> dict:
    """Summary of the cache at r: entries, sizes, build counts, where things are."""
    entries = list(iter_entries(r, with_meta=False))
    st = cache.stats(r)
    return {
        "root": r,
        "entries": len(entries),
        "entries_bytes": sum(e.size for e in entries),
        "total_bytes": _tree_size(r),
        "trash_bytes": _tree_size(os.path.join(r, "trash")),
        "builds": st["builds"],
        "distinct_keys_built": len(st["keys"]),
        "max_bytes": _options.options.cache_max_bytes,
    }


# ---------------------------------------------------------------------------------------------
# removing entries


def remove_entry(r: str, path: str) -> bool:
    """Take one entry out of the cache: rename into trash/ (atomic for readers), then delete."""
    dest = os.path.join(r, "trash", f"{os.path.basename(path)}-evict-{os.getpid()}-{time.time_ns()}")
    try:
        os.rename(path, dest)
    except FileNotFoundError:
        return False  # someone else removed it
    except OSError:
        return False
    shutil.rmtree(dest, ignore_errors=True)
    return True


def clear(r: str, older_than_days: float | None = None) -> tuple[int, int]:
    """Remove every entry (or those unused for `older_than_days`); returns (count, bytes).
    Clearing everything also empties the warm-start index, trash/ and failed/."""
    cutoff = None if older_than_days is None else time.time() - older_than_days * 86400.0
    n = size = 0
    for e in iter_entries(r, with_meta=False):
        if cutoff is not None and e.used >= cutoff:
            continue
        if remove_entry(r, e.path):
            n += 1
            size += e.size
    if cutoff is None:
        for sub in ("index", "trash", "failed"):
            _empty_dir(os.path.join(r, sub))
    else:
        drop_dangling_index(r)
    return n, size


def _empty_dir(d: str) -> None:
    with contextlib.suppress(OSError):
        for fn in os.listdir(d):
            p = os.path.join(d, fn)
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(p)


def drop_dangling_index(r: str) -> int:
    """Remove warm-start index records whose entry is gone (they would only cost a lookup)."""
    idx = os.path.join(r, "index")
    removed = 0
    for base, _dirs, files in os.walk(idx):
        for fn in files:
            if not fn.endswith(".json") or not _HEX64.fullmatch(fn[:-5]):
                continue
            p = os.path.join(base, fn)
            try:
                with open(p, encoding="utf-8") as fh:
                    key = json.load(fh).get("key")
            except (OSError, ValueError, AttributeError):
                key = None
            if isinstance(key, str) and _HEX64.fullmatch(key) and os.path.isdir(cache.entry_dir(r, key)):
                continue
            with contextlib.suppress(OSError):
                os.unlink(p)
                removed += 1
            for other in files:
                if other.startswith(fn[:-5] + ".") and other.endswith(".npy"):
                    with contextlib.suppress(OSError):
                        os.unlink(os.path.join(base, other))
    return removed


def evict_lru(r: str, max_bytes: int, keep_recent_seconds: float = 0.0) -> tuple[int, int]:
    """Remove least-recently-used entries until the entries take at most max_bytes.
    Entries used within keep_recent_seconds are kept (the cap is then exceeded for a while).
    Returns (count, bytes) removed."""
    entries = sorted(iter_entries(r, with_meta=False), key=lambda e: e.used)
    total = sum(e.size for e in entries)
    now = time.time()
    n = freed = 0
    for e in entries:
        if total <= max_bytes:
            break
        if now - e.used < keep_recent_seconds:
            break
        if remove_entry(r, e.path):
            n += 1
            freed += e.size
        total -= e.size
    if n:
        drop_dangling_index(r)
    return n, freed


_PUBLISHED_HERE = 0
CAP_CHECK_EVERY = 16  # publishes per process between size checks
CAP_CHECK_MIN_INTERVAL = 60.0  # seconds between size checks across all processes


def maybe_enforce_size_cap(r: str) -> None:
    """Cheap hook for cache.py to call after each publish: on this process's 1st, 17th, 33rd...
    publish, and at most once a minute across processes (a stamp file), evict LRU entries down
    to CCGRAD_CACHE_MAX_SIZE.  Never raises."""
    global _PUBLISHED_HERE
    _PUBLISHED_HERE += 1
    if (_PUBLISHED_HERE - 1) % CAP_CHECK_EVERY:
        return
    stamp = os.path.join(r, "tmp", "size-check.stamp")
    try:
        if time.time() - os.stat(stamp).st_mtime < CAP_CHECK_MIN_INTERVAL:
            return
    except OSError:
        pass
    try:
        fd = os.open(stamp, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        os.close(fd)
        os.utime(stamp, None)
        evict_lru(r, _options.options.cache_max_bytes, keep_recent_seconds=60.0)
    except OSError:
        pass


# ---------------------------------------------------------------------------------------------
# prune


@dataclass
class PruneReport:
    evicted: int = 0
    evicted_bytes: int = 0
    trash_bytes: int = 0
    dead_builds: int = 0
    live_builds: int = 0
    stale_files: int = 0
    index_records: int = 0


def _lock_is_free(path: str) -> bool | None:
    """True if nobody holds the flock on path, False if someone does, None if it is missing."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


def prune(r: str, max_bytes: int | None = None) -> PruneReport:
    """Evict LRU entries down to max_bytes (default: CCGRAD_CACHE_MAX_SIZE), empty trash/ and
    failed/, remove temp dirs of dead builders (their tmp/<name>.lock is free; never a live one's)
    and stale lock/temp files, and drop index records whose entry is gone."""
    rep = PruneReport()
    cap = _options.options.cache_max_bytes if max_bytes is None else max_bytes
    rep.evicted, rep.evicted_bytes = evict_lru(r, cap)
    for sub in ("trash", "failed"):
        rep.trash_bytes += _tree_size(os.path.join(r, sub))
        _empty_dir(os.path.join(r, sub))
    tmp = os.path.join(r, "tmp")
    now = time.time()
    with contextlib.suppress(OSError):
        names = os.listdir(tmp)
        for fn in names:
            p = os.path.join(tmp, fn)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            age = now - st.st_mtime
            old = age > TMP_GRACE_SECONDS
            if stat.S_ISDIR(st.st_mode):
                free = _lock_is_free(p + ".lock")
                if free is False:
                    rep.live_builds += 1
                    continue
                if (free is None and not old) or age < LOCKED_GRACE_SECONDS:
                    continue  # just created: its builder takes the lock next
                shutil.rmtree(p, ignore_errors=True)
                with contextlib.suppress(OSError):
                    os.unlink(p + ".lock")
                rep.dead_builds += 1
            elif fn.endswith(".lock") and old and os.path.join(tmp, fn[:-5]) not in names:
                if _lock_is_free(p):  # per-key build locks nobody holds
                    with contextlib.suppress(OSError):
                        os.unlink(p)
                        rep.stale_files += 1
            elif ".tmp" in fn and old:
                with contextlib.suppress(OSError):
                    os.unlink(p)
                    rep.stale_files += 1
    rep.index_records = drop_dangling_index(r)
    return rep


# ---------------------------------------------------------------------------------------------
# export / import


MANIFEST = "ccgrad-export.json"
_MAX_MEMBER = 1 << 30


def export(r: str, path: str) -> tuple[int, list[str]]:
    """Write every verified entry (and its warm-start index records) to a tar file.
    Returns (entries written, keys skipped because they failed verification)."""
    import ccgrad

    entries = list(iter_entries(r))
    good, skipped = [], []
    for e in entries:
        (skipped if verify_entry(e) else good).append(e)
    keys = {e.key for e in good}
    mode = "w:gz" if path.endswith((".gz", ".tgz")) else "w"
    tmp_path = f"{path}.{os.getpid()}.tmp"
    try:
        with tarfile.open(tmp_path, mode, format=tarfile.PAX_FORMAT) as tar:
            manifest = {"format": 1, "ccgrad": ccgrad.__version__, "created": time.time(),
                        "toolchain": cache.toolchain_parts(), "entries": sorted(keys)}
            _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode(), time.time())
            for e in good:
                _add_dir(tar, f"entries/{e.key}", e.path)
            for base, _dirs, files in os.walk(os.path.join(r, "index")):
                for fn in sorted(files):
                    if not fn.endswith(".json") or not _HEX64.fullmatch(fn[:-5]):
                        continue
                    try:
                        with open(os.path.join(base, fn), encoding="utf-8") as fh:
                            rec = json.load(fh)
                    except (OSError, ValueError):
                        continue
                    if not isinstance(rec, dict) or rec.get("key") not in keys:
                        continue
                    fp = fn[:-5]
                    n_hidden = int(rec.get("n_hidden", 0))
                    files_needed = [fn] + [f"{fp}.{k}.npy" for k in range(n_hidden)]
                    if all(os.path.isfile(os.path.join(base, f)) for f in files_needed):
                        for f in files_needed:
                            _add_file(tar, f"index/{f}", os.path.join(base, f))
        os.replace(tmp_path, path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp_path)
    return len(good), [e.key for e in skipped]


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    ti = tarfile.TarInfo(name)
    ti.size, ti.mode, ti.mtime = len(data), 0o600, int(mtime)
    tar.addfile(ti, io.BytesIO(data))


def _add_file(tar: tarfile.TarFile, name: str, path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            return
        ti = tarfile.TarInfo(name)
        ti.size, ti.mode, ti.mtime = st.st_size, 0o600, int(st.st_mtime)
        tar.addfile(ti, fh)


def _add_dir(tar: tarfile.TarFile, name: str, d: str) -> None:
    for fn in sorted(os.listdir(d)):
        if _FILE.fullmatch(fn) and os.path.isfile(os.path.join(d, fn)):
            _add_file(tar, f"{name}/{fn}", os.path.join(d, fn))


@dataclass
class ImportReport:
    imported: int = 0
    present: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)  # (key, why)
    index_records: int = 0


def check_members(members: list[tarfile.TarInfo]) -> None:
    """Refuse the whole archive (CacheAdminError) if any member is not a plain file or directory
    at a path this format uses: absolute paths, '..', links and devices are never extracted."""
    for m in members:
        name = m.name
        if name.startswith("/") or re.match(r"[A-Za-z]:", name):
            raise CacheAdminError(f"refusing the archive: member {name!r} has an absolute path")
        if ".." in name.replace("\\", "/").split("/"):
            raise CacheAdminError(f"refusing the archive: member {name!r} contains '..'")
        if m.issym() or m.islnk():
            raise CacheAdminError(f"refusing the archive: member {name!r} is a link")
        if m.ischr() or m.isblk() or m.isfifo() or m.isdev():
            raise CacheAdminError(f"refusing the archive: member {name!r} is a device or fifo")
        if not (m.isfile() or m.isdir()):
            raise CacheAdminError(f"refusing the archive: member {name!r} is not a regular file")
        if m.isfile() and m.size > _MAX_MEMBER:
            raise CacheAdminError(f"refusing the archive: member {name!r} is larger than 1 GiB")
        if m.isdir():
            if name.rstrip("/") not in ("entries", "index") and not re.fullmatch(
                    r"entries/[0-9a-f]{64}/?", name):
                raise CacheAdminError(f"refusing the archive: unexpected directory {name!r}")
            continue
        if name == MANIFEST:
            continue
        parts = name.split("/")
        ok = (len(parts) == 3 and parts[0] == "entries" and _HEX64.fullmatch(parts[1])
              and _FILE.fullmatch(parts[2])) or (
              len(parts) == 2 and parts[0] == "index" and re.fullmatch(r"[0-9a-f]{64}(\.\d+\.npy|\.json)", parts[1]))
        if not ok:
            raise CacheAdminError(f"refusing the archive: unexpected member {name!r} (not a ccgrad export)")


def import_(r: str, path: str) -> ImportReport:
    """Add the entries of an exported tar to the cache at r.  Each entry is checked (its files'
    sha256 against meta.json, its key against its parts, its toolchain parts against this
    machine's) in a private temp dir, then published by one rename like a build; modes are
    0700/0600.  Entries built for another compiler, ABI or CPU target are refused."""
    try:
        tar = tarfile.open(path, "r:*")
    except (OSError, tarfile.TarError) as exc:
        raise CacheAdminError(f"cannot read {path}: {exc}") from None
    rep = ImportReport()
    with tar:
        members = tar.getmembers()
        check_members(members)
        files = {m.name: m for m in members if m.isfile()}
        if MANIFEST not in files:
            raise CacheAdminError(f"{path} is not a ccgrad cache export (no {MANIFEST})")
        mine = cache.toolchain_parts()
        by_key: dict[str, dict[str, tarfile.TarInfo]] = {}
        for name, m in files.items():
            parts = name.split("/")
            if parts[0] == "entries":
                by_key.setdefault(parts[1], {})[parts[2]] = m
        for key in sorted(by_key):
            existing = cache.entry_dir(r, key)
            if os.path.lexists(existing):
                if cache._verify(existing, key) is None:
                    rep.present += 1
                    continue
                remove_entry(r, existing)  # corrupt: the loader would discard it anyway
            why = _import_entry(r, tar, key, by_key[key], mine)
            if why is None:
                rep.imported += 1
            elif why == "present":
                rep.present += 1
            else:
                rep.refused.append((key, why))
        rep.index_records = _import_index(r, tar, files)
    return rep


def _import_entry(r: str, tar: tarfile.TarFile, key: str, members: dict[str, tarfile.TarInfo],
                  mine: dict[str, str]) -> str | None:
    tmp = cache._new_tmp(r)
    try:
        for fn, m in members.items():
            src = tar.extractfile(m)
            if src is None:
                return f"cannot read {fn}"
            fd = os.open(os.path.join(tmp, fn), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(os.path.join(tmp, fn), 0o600)
        why = _check_entry(tmp, key, mine)
        if why is not None:
            return why
        os.chmod(tmp, 0o700)
        return None if cache.publish(r, tmp, key) else "present"
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        cache._release_tmp_lock(tmp)


def _check_entry(d: str, key: str, mine: dict[str, str]) -> str | None:
    """Why an unpacked entry must not be imported, or None."""
    try:
        with open(os.path.join(d, "meta.json"), encoding="utf-8") as fh:
            meta = json.load(fh)
    except FileNotFoundError:
        return "no meta.json"
    except (OSError, ValueError) as exc:
        return f"unreadable meta.json ({exc})"
    if not isinstance(meta, dict) or meta.get("key") != key:
        return "meta.json describes another key"
    parts = meta.get("parts")
    if not isinstance(parts, dict) or not all(isinstance(v, str) for v in parts.values()):
        return "meta.json has no key parts"
    if cache.make_key(parts) != key:
        return "its key parts do not hash to its key"
    for label in sorted(set(parts) | set(mine)):
        if label == "source":
            continue
        if parts.get(label) != mine.get(label):
            return (f"built for another toolchain: {label} is {parts.get(label)!r} there, "
                    f"{mine.get(label)!r} here")
    try:
        with open(os.path.join(d, "src.c"), "rb") as fh:
            src_hash = hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        return "no src.c"
    if src_hash != parts.get("source"):
        return "src.c does not match the key's source hash"
    problem = cache._verify(d, key)  # extension file: regular, ours, sha256 as recorded
    return None if problem is None else problem


def _import_index(r: str, tar: tarfile.TarFile, files: dict[str, tarfile.TarInfo]) -> int:
    import numpy as np

    n = 0
    for name, m in sorted(files.items()):
        if not (name.startswith("index/") and name.endswith(".json")):
            continue
        fp = name[len("index/"):-len(".json")]
        try:
            rec = json.loads(tar.extractfile(m).read(1 << 20))
            key = rec["key"]
            n_hidden = int(rec.get("n_hidden", 0))
            if not (isinstance(key, str) and _HEX64.fullmatch(key) and os.path.isdir(cache.entry_dir(r, key))):
                continue
            hidden = []
            for k in range(n_hidden):
                data = tar.extractfile(files[f"index/{fp}.{k}.npy"]).read()
                hidden.append(np.load(io.BytesIO(data), allow_pickle=False))
        except (KeyError, ValueError, TypeError, AttributeError, OSError):
            continue
        rec = {k: v for k, v in rec.items() if k != "n_hidden"}
        cache.index_put(fp, rec, hidden)
        n += 1
    return n
