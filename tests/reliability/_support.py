"""Helpers shared by the reliability tests: light/stress scale, the figures log, private cache
roots, published-entry listing and child processes."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STRESS = os.environ.get("CCGRAD_STRESS", "") not in ("", "0")


def pick(light, stress):
    """The light parameter in `make test`, the heavy one under CCGRAD_STRESS=1 (`make stress`)."""
    return stress if STRESS else light


def record(topic: str, **figures) -> None:
    """Append one line of figures to $CCGRAD_FIGURES (scripts/stress.sh prints them as a table)."""
    rec = {"topic": topic, "tier": "stress" if STRESS else "light", "t": round(time.time(), 1), **figures}
    line = json.dumps(rec, sort_keys=False, default=str)
    print(f"[figures] {line}")
    path = os.environ.get("CCGRAD_FIGURES")
    if path:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)


def entries(root: str) -> list[str]:
    """Paths of the published entries <root>/<key[:2]>/<key> (whatever they are: dir or file)."""
    out = []
    with contextlib.suppress(OSError):
        for d in sorted(os.listdir(root)):
            p = os.path.join(root, d)
            if len(d) == 2 and os.path.isdir(p) and not os.path.islink(p):
                out.extend(os.path.join(p, k) for k in sorted(os.listdir(p)))
    return out


def child_env(root: str | None, **extra: str) -> dict[str, str]:
    """Environment of a child process: the repo importable, one BLAS thread, the given root."""
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("CCGRAD_TEST_BUILD", "1")
    env["OPENBLAS_NUM_THREADS"] = "1"
    env["PYTHONWARNINGS"] = "always::UserWarning"
    if root is not None:
        env["CCGRAD_CACHE_DIR"] = root
    env.update(extra)
    return env


def run_module(module: str, args: list[str], env: dict[str, str], timeout: float = 900) -> subprocess.CompletedProcess:
    """Run `python -m module args` from the repo root; returns the completed process."""
    return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


def spawn_module(module: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", module, *args], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def last_json(stdout: str) -> dict:
    """The last line of a child's stdout that is a JSON object (its summary)."""
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise AssertionError(f"no JSON summary in output:\n{stdout[-2000:]}")


@contextlib.contextmanager
def using_root(path: str, **env: str) -> Iterator[str]:
    """Point this process's ccgrad at cache root `path` (plus CCGRAD_* settings) for a block."""
    from ccgrad import backend, cache, options

    saved = {k: os.environ.get(k) for k in ["CCGRAD_CACHE_DIR", *env]}
    os.environ["CCGRAD_CACHE_DIR"] = path
    os.environ.update(env)
    options.reload_options()
    cache.reset()
    backend._MEMO.clear()
    try:
        yield path
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        options.reload_options()
        cache.reset()
        backend._MEMO.clear()


def shared_once(tmp_path_factory, name: str, compute) -> dict:
    """compute(scratch_dir) once per test session, even across xdist workers (a file lock and a
    JSON result in a directory the workers share); parametrized tests then check their part."""
    import fcntl

    uid = os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"pid{os.getpid()}"
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    d = base / f"ccgrad-reliability-{uid}"
    d.mkdir(exist_ok=True)
    with open(d / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        out = d / f"{name}.json"
        if out.exists():
            return json.loads(out.read_text())
        scratch = d / name
        scratch.mkdir(exist_ok=True)
        result = compute(str(scratch))
        out.write_text(json.dumps(result))
        return result


def audit_loads(stats: dict) -> None:
    """In a child process: re-verify every published cache entry just before ccgrad loads it.
    Counts loads in stats["loads"] and appends to stats["bad_loads"] each entry that was loaded
    although it did not verify (the "no corrupt entry is ever loaded" audit)."""
    from ccgrad import cache

    orig_import = cache._import

    def audited_import(key, path):
        d = os.path.dirname(path)
        r = cache.root()
        if r is not None and os.path.dirname(os.path.dirname(d)) == r:  # a published entry
            problem = cache._verify(d, key)
            if problem is not None:
                stats["bad_loads"].append(f"{key[:16]} loaded although {problem}")
        stats["loads"] += 1
        return orig_import(key, path)

    cache._import = audited_import
