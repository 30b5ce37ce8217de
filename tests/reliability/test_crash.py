"""Issue I.2 — crash safety: `kill -9` builders at every phase of a build and at random moments
(20 injections light, 200 stress), then a normal run.

Pass: no corrupt entry is ever published or loaded, no dead builder's lock stays held, a
companion building the same function meanwhile succeeds, the normal run rebuilds what is missing
and every result is right; `prune` removes the dead builders' temp dirs and never a live one's.
"""

from __future__ import annotations

import os
import time

from ccgrad import cache
from tests.reliability._support import child_env, entries, last_json, pick, record, run_module, using_root

FIRST = 5000


def _prune(root: str) -> str:
    """Run the cache prune step; returns how it was run."""
    env = child_env(root)
    r = run_module("ccgrad", ["cache", "prune"], env, timeout=300)
    if r.returncode == 0:
        return "cli"
    from ccgrad import cache_admin

    cache_admin.prune(root)
    return "cache_admin.prune"


def test_kill_9_at_every_phase_and_at_random_moments(tmp_path):
    root = str(tmp_path / "cache")
    kills, pool = pick(20, 200), pick(4, 10)
    r = run_module("tests.reliability.crash_driver",
                   ["--kills", str(kills), "--pool", str(pool), "--first", str(FIRST), "--seed", "7"],
                   child_env(root), timeout=3600)
    assert r.returncode == 0, r.stderr[-3000:]
    s = last_json(r.stdout)
    assert not s["corrupt"], s["corrupt"][:5]
    assert not s["held_locks"], s["held_locks"][:5]
    assert not s["companion_failures"], s["companion_failures"]
    assert not s["other_exits"], (s["other_exits"], r.stderr[-3000:])

    published_before = {os.path.basename(d) for d in entries(root)}
    n = run_module("tests.reliability._workers", ["build", "--first", str(FIRST), "--count", str(pool)],
                   child_env(root), timeout=1800)
    assert n.returncode == 0, n.stderr[-3000:]
    summary = last_json(n.stdout)
    assert not summary["errors"], summary["errors"][:3]
    assert not summary["wrong"] and summary["ok"] == pool
    assert not summary["bad_loads"], summary["bad_loads"]
    assert not [w for w in summary["warnings"] if "corrupt" in w], summary["warnings"]
    after = entries(root)
    assert len(after) == pool + 3  # the pool and the three calibration functions
    assert summary["compiles"] == len(after) - len(published_before)  # only what was missing
    for d in after:
        assert cache._verify(d, os.path.basename(d)) is None

    # prune: dead builders' temp dirs go, a live builder's stays.  prune spares temp dirs younger
    # than a grace period (a builder creates its dir just before taking its lock), so every temp
    # dir, the live one included, is aged by a minute first.
    tmp = os.path.join(root, "tmp")
    dead_before = sorted(f for f in os.listdir(tmp) if f.startswith("build-") and not f.endswith(".lock"))
    with using_root(root):
        live = cache._new_tmp(root)
        past = time.time() - 60
        for f in os.listdir(tmp):
            if f.startswith("build-"):
                os.utime(os.path.join(tmp, f), (past, past))
        try:
            how = _prune(root)
            left = sorted(f for f in os.listdir(tmp) if f.startswith("build-") and not f.endswith(".lock"))
            assert os.path.isdir(live), "prune removed a live builder's temp dir"
            stale = [f for f in left if os.path.join(tmp, f) != live and os.path.exists(os.path.join(tmp, f + ".lock"))]
            assert not stale, f"prune left dead builders' temp dirs (their locks are free): {stale}"
            # dirs whose builder died before taking its lock are kept only during a grace period
            lockless = [f for f in left if os.path.join(tmp, f) != live]
        finally:
            cache._release_tmp_lock(live)
            import shutil

            shutil.rmtree(live, ignore_errors=True)
    record("crash-kill9", injections=kills, phases=s["phases"], corrupt_published=len(s["corrupt"]),
           corrupt_loaded=len(summary["bad_loads"]), held_locks=len(s["held_locks"]), companions=s["companions"],
           companion_failures=len(s["companion_failures"]), rebuilt=summary["compiles"],
           build_seconds=s["build_seconds"],
           wrong_results=len(summary["wrong"]), dead_tmp_dirs=len(dead_before),
           dead_tmp_dirs_after_prune=len(lockless), prune=how)

