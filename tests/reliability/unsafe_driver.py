"""Point ccgrad at unsafe, full or read-only cache locations and check it refuses or degrades
(`python -m tests.reliability.unsafe_driver CASES_JSON`).

CASES_JSON is a list of {"name", "root", "expect", "k", "setup"}:
  expect "refused"   the root must not be used: one warning naming the reason, a correct result
                     from a private build, and no file operation at all below the root (an audit
                     hook watches open/mkdir/rename/chmod/remove/utime/listdir events);
  expect "used"      no warning, the function is published there;
  expect "entry"     the entry (built first, then made unsafe by `setup`) is refused: one
                     warning, moved aside, rebuilt, correct result;
  expect "fallback"  cache trouble (disk full, read-only): one warning, a correct result (no
                     warning if the build fitted and was published after all);
  expect "hit"       a read-only cache that holds the entry: 0 compiles, no warning.
setup (done by this driver before the call): "other-uid-root" (chown the root to another user, or
pretend to be another user when not root), "entry-mode-777", "entry-other-uid", "so-other-uid",
"so-mode-666", "meta-mode-666", "meta-other-uid", "prebuild".
Prints a JSON list of per-case results.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
import warnings

OTHER_UID = 65534  # nobody
_WATCH: list[str] = []
_EVENTS: list[str] = []
_FS_EVENTS = ("open", "os.mkdir", "os.rename", "os.replace", "os.chmod", "os.remove", "os.rmdir", "os.utime",
              "os.listdir", "os.scandir", "os.symlink", "os.link", "os.truncate", "shutil.rmtree", "os.chown")


def _hook(event: str, args: tuple) -> None:
    if not _WATCH or event not in _FS_EVENTS:
        return
    for a in args[:2]:
        if isinstance(a, str | bytes):
            p = os.path.abspath(os.fsdecode(a))
            if any(p == w or p.startswith(w + os.sep) for w in _WATCH):
                _EVENTS.append(f"{event} {p}")


def _tree(path: str) -> list[str]:
    out = []
    for base, dirs, files in os.walk(path):
        out.extend(os.path.join(base, n) for n in dirs + files)
    return sorted(out)


def _entry_of(root: str) -> str:
    from tests.reliability._support import entries

    (e,) = entries(root)
    return e


def _setup(case: dict, saved_getuid) -> None:
    from ccgrad import cache

    root, setup = case["root"], case.get("setup")
    if setup == "other-uid-root":
        if os.geteuid() == 0:
            os.chown(root, OTHER_UID, OTHER_UID)
        else:
            os.getuid = lambda: saved_getuid() + 1  # the owner check compares with getuid()
        return
    if setup in (None, "prebuild"):
        return
    entry = _entry_of(root)
    meta = json.load(open(os.path.join(entry, "meta.json")))
    so = os.path.join(entry, meta["file"])
    if setup in ("so-mode-666", "meta-mode-666"):
        os.chmod(root, 0o755)  # a root and entry others can read but not write: "safe"
        os.chmod(entry, 0o755)
    target = {"entry": entry, "so": so, "meta": os.path.join(entry, "meta.json")}[setup.split("-")[0]]
    if setup.endswith("mode-777"):
        os.chmod(target, 0o777)
    elif setup.endswith("mode-666"):
        os.chmod(target, 0o666)
    elif setup.endswith("other-uid"):
        if os.geteuid() == 0:
            os.chown(target, OTHER_UID, OTHER_UID)
        else:
            raise SystemExit(f"{setup} needs root")
    cache.reset()


def _simulate(root: str, err: str):
    """Make every write below `root` fail with errno `err`; returns the undo function."""
    import builtins
    import errno

    code = getattr(errno, err)
    real_open, real_osopen, real_mkdir = builtins.open, os.open, os.mkdir

    def under(p) -> bool:
        try:
            return os.path.abspath(os.fsdecode(p)).startswith(root + os.sep)
        except TypeError:
            return False

    def fail(p):
        raise OSError(code, os.strerror(code), os.fsdecode(p))

    def osopen(p, flags, *a, **kw):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and under(p):
            fail(p)
        return real_osopen(p, flags, *a, **kw)

    def bopen(p, mode="r", *a, **kw):
        if not isinstance(p, int) and any(c in mode for c in "wax+") and under(p):
            fail(p)
        return real_open(p, mode, *a, **kw)

    def mkdir(p, *a, **kw):
        if under(p):
            fail(p)
        return real_mkdir(p, *a, **kw)

    builtins.open, os.open, os.mkdir = bopen, osopen, mkdir

    def undo() -> None:
        builtins.open, os.open, os.mkdir = real_open, real_osopen, real_mkdir

    return undo


def run_case(case: dict) -> dict:
    import ccgrad  # noqa: F401
    from ccgrad import backend, cache
    from tests.reliability import family
    from tests.reliability._support import entries, using_root

    saved_getuid = os.getuid
    res = {"name": case["name"], "expect": case["expect"], "failures": []}
    fails = res["failures"]
    root = case["root"]
    k = case["k"]
    try:
        with using_root(root):
            if case["expect"] in ("entry", "hit") or case.get("setup") == "prebuild":
                # publish the entry first ("prebuild": another function's, so the call misses)
                f, ref, vals = family.build(k + 1000 if case.get("setup") == "prebuild" else k)
                assert family.check(f, ref, vals)
            if case.get("simulate"):
                cache.root()  # the layout exists; from now on every write below the root fails
            if case.get("remount_ro"):
                import subprocess

                subprocess.run(["mount", "-o", "remount,ro", case["remount_ro"]], check=True)
            _setup(case, saved_getuid)
            cache.reset()
            backend._MEMO.clear()
            before = _tree(root) if os.path.isdir(root) else None
            n_entries = len(entries(root)) if os.path.isdir(root) else 0
            builds_before = cache.stats(root)["builds"] if case["expect"] != "refused" else 0
            compiles = [0]
            orig = cache._build_into

            def counting(*a, **kw):
                compiles[0] += 1
                return orig(*a, **kw)

            cache._build_into = counting
            undo = _simulate(os.path.abspath(root), case["simulate"]) if case.get("simulate") else None
            if case["expect"] == "refused":
                _WATCH[:] = [os.path.abspath(root)]
            _EVENTS.clear()
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    f, ref, vals = family.build(k)
                    ok = family.check(f, ref, vals)
            finally:
                _WATCH.clear()
                cache._build_into = orig
                if undo:
                    undo()
                os.getuid = saved_getuid
            msgs = [str(w.message) for w in caught if issubclass(w.category, cache.CacheWarning)]
            res.update(warnings=msgs, compiles=compiles[0])
            if not ok:
                fails.append("wrong result")
            exp = case["expect"]
            if exp == "refused":
                if len(msgs) != 1 or "not using the cache" not in msgs[0]:
                    fails.append(f"expected one refusal warning, got {msgs}")
                if _EVENTS:
                    fails.append(f"{len(_EVENTS)} file operations below the refused root: {_EVENTS[:3]}")
                if before is not None and _tree(root) != before:
                    fails.append("the refused root was modified")
                if compiles[0] != 1:
                    fails.append(f"{compiles[0]} compiles (expected one private build)")
            elif exp == "used":
                if msgs:
                    fails.append(f"unexpected warnings {msgs}")
                if len(entries(root)) != 1:
                    fails.append(f"{len(entries(root))} entries published (expected 1)")
            elif exp == "entry":
                if len(msgs) != 1:
                    fails.append(f"expected one warning about the entry, got {msgs}")
                if len(os.listdir(os.path.join(root, "trash"))) != 1:
                    fails.append("the unsafe entry was not moved aside")
                if cache.stats(root)["builds"] != builds_before + 1:
                    fails.append("not rebuilt")
            elif exp == "fallback":
                published = os.path.isdir(root) and len(entries(root)) > n_entries
                if len(msgs) != (0 if published else 1):  # the build fitted after all: no trouble
                    fails.append(f"expected {0 if published else 1} warning(s), got {msgs}")
                res["published"] = bool(published)
            elif exp == "hit":
                if msgs or compiles[0]:
                    fails.append(f"read-only hit: {compiles[0]} compiles, warnings {msgs}")
    except Exception:
        fails.append("raised: " + traceback.format_exc(limit=6)[-1500:])
    finally:
        os.getuid = saved_getuid
    return res


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    cases = json.loads(argv[0])
    sys.addaudithook(_hook)
    out = [run_case(c) for c in cases]
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
