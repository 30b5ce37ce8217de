"""Kill builders with SIGKILL at chosen and at random moments of a build
(`python -m tests.reliability.crash_driver --kills N --pool P --first K --seed S`).

The driver imports ccgrad once, then for each injection forks a child that builds one function
of the family into the cache given by CCGRAD_CACHE_DIR.  The child reports each phase it enters
(lock, tmp dir, compile, meta, publish, log, load) through a pipe.  The first injections kill
the child *at* a phase (it kills itself there); the rest kill it after a random delay drawn
uniformly over a measured build time.  Sometimes a companion child builds the same function at
the same time and must succeed.  After each injection the driver checks that every published
entry verifies and that no lock of a dead builder is still held; it then removes the published
entry (if the pool key is reused) so that the next injection hits a build again.

Prints a JSON summary: kills by phase, corrupt published entries, held locks, companion
failures.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import random
import shutil
import signal
import sys
import time

# Phases at which a child kills itself (the first injections), in build order.
TARGETS = ["lock", "locked", "tmp", "compile", "compiled", "meta", "meta-written", "publish", "published",
           "log", "load"]


def _child(k: int, wfd: int, target: str | None) -> None:
    """Build function k, reporting phases on wfd; SIGKILL self on reaching `target`."""
    from ccgrad import cache
    from tests.reliability import family

    def phase(name: str) -> None:
        with contextlib.suppress(OSError):
            os.write(wfd, (name + "\n").encode())
        if name == target:
            os.kill(os.getpid(), signal.SIGKILL)

    def wrap(fn, before, after=None):
        def inner(*a, **kw):
            phase(before)
            out = fn(*a, **kw)
            if after:
                phase(after)
            return out
        return inner

    orig_lock = cache._key_lock

    @contextlib.contextmanager
    def key_lock(*a, **kw):
        phase("lock")
        with orig_lock(*a, **kw):
            phase("locked")
            yield

    cache._key_lock = key_lock
    cache._new_tmp = wrap(cache._new_tmp, "tmp")
    cache._build_into = wrap(cache._build_into, "compile", "compiled")
    cache._write_meta = wrap(cache._write_meta, "meta", "meta-written")
    cache._log_build = wrap(cache._log_build, "log")
    cache._import = wrap(cache._import, "load")
    real_rename = os.rename

    def rename(src, dst, *a, **kw):
        if os.path.basename(str(src)).startswith("build-"):
            phase("publish")
            real_rename(src, dst, *a, **kw)
            phase("published")
            return None
        return real_rename(src, dst, *a, **kw)

    os.rename = rename
    f, ref, args = family.build(k)
    phase("done")
    os._exit(0 if family.check(f, ref, args) else 3)


def _fork_child(k: int, target: str | None) -> tuple[int, int]:
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        try:
            _child(k, wfd, target)
        except BaseException:
            import traceback

            traceback.print_exc()
            os._exit(4)
        os._exit(5)
    os.close(wfd)
    return pid, rfd


def _read_phases(rfd: int) -> list[str]:
    chunks = []
    while True:
        b = os.read(rfd, 65536)
        if not b:
            break
        chunks.append(b)
    os.close(rfd)
    return [p for p in b"".join(chunks).decode().split("\n") if p]


def _held_locks(root: str, grace: float = 1.0) -> list[str]:
    """Lock files in tmp/ still held `grace` seconds after every builder here died.  (A builder
    killed while starting the compiler leaves a forked child that holds the lock file until it
    execs, which closes it: a waiter may see the lock held for a moment, never for long.)"""
    held = _held_now(root)
    deadline = time.monotonic() + grace
    while held and time.monotonic() < deadline:
        time.sleep(0.05)
        held = _held_now(root)
    return held


def _held_now(root: str) -> list[str]:
    held = []
    tmp = os.path.join(root, "tmp")
    for fn in os.listdir(tmp):
        if not fn.endswith(".lock"):
            continue
        try:
            fd = os.open(os.path.join(tmp, fn), os.O_RDWR | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError:
            held.append(fn)
        finally:
            os.close(fd)
    return held


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--kills", type=int, default=20)
    p.add_argument("--pool", type=int, default=4)
    p.add_argument("--first", type=int, default=5000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--companions", type=float, default=0.2, help="share of injections with a companion")
    args = p.parse_args(argv)

    from ccgrad import cache
    from tests.reliability._support import entries

    root = cache.root()
    assert root is not None, "the cache root is not usable"
    rng = random.Random(args.seed)

    # Calibrate: how long does one build take in a child (fork to exit)?
    durations = []
    for c in range(3):
        t0 = time.perf_counter()
        pid, rfd = _fork_child(args.first - 1 - c, None)
        _read_phases(rfd)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, "calibration build failed"
        durations.append(time.perf_counter() - t0)
    span = 1.1 * sorted(durations)[1]  # the median: the first build in a process is the slowest

    phases: dict[str, int] = {}
    corrupt: list[str] = []
    held: list[str] = []
    companion_fail: list[str] = []
    companions = 0
    exits: dict[str, int] = {}
    for i in range(args.kills):
        k = args.first + i % args.pool
        target = TARGETS[i] if i < len(TARGETS) else None
        before = set(entries(root))
        pid, rfd = _fork_child(k, target)
        comp = None
        if target is None and rng.random() < args.companions:
            comp = _fork_child(k, None)
            companions += 1
        if target is None:
            time.sleep(rng.uniform(0.0, span))
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        got = _read_phases(rfd)
        code = os.waitstatus_to_exitcode(status)
        last = got[-1] if got else "start"
        if code == 0 or last == "done":
            last = "after-done"
        elif code not in (-signal.SIGKILL,):
            exits[str(code)] = exits.get(str(code), 0) + 1
        phases[last] = phases.get(last, 0) + 1
        if comp is not None:
            cpid, crfd = comp
            _, cstatus = os.waitpid(cpid, 0)
            _read_phases(crfd)
            if os.waitstatus_to_exitcode(cstatus) != 0:
                companion_fail.append(f"injection {i}: companion exit {os.waitstatus_to_exitcode(cstatus)}")
        for d in entries(root):
            problem = cache._verify(d, os.path.basename(d))
            if problem is not None:
                corrupt.append(f"injection {i} ({last}): {problem}")
        held.extend(f"injection {i} ({last}): {h}" for h in _held_locks(root))
        # Make the next injection on this key hit a build again (keep the last round's entries).
        if i + args.pool < args.kills:
            for d in set(entries(root)) - before:
                shutil.rmtree(d, ignore_errors=True)
    tmp = os.path.join(root, "tmp")
    orphans = sorted(f for f in os.listdir(tmp) if f.startswith("build-") and not f.endswith(".lock"))
    print(json.dumps({"kills": args.kills, "phases": phases, "corrupt": corrupt, "held_locks": held,
                      "companions": companions, "companion_failures": companion_fail, "other_exits": exits,
                      "orphan_tmp_dirs": orphans, "build_seconds": round(sorted(durations)[1], 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
