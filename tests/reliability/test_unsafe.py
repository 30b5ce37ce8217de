"""Issue I.4 — unsafe cache locations (DESIGN §6): a root or entry that others can write, that
another user owns, that is a symlink, or that sits below a directory others can write without
the sticky bit is refused with one clear warning and no file operation below it, and the function
still works (private build); a 0700 root under /tmp is accepted.  A full disk and a read-only
cache never break a computation (real tiny tmpfs mounts when running as root, else simulated).
One driver run (unsafe_driver.py) per matrix serves the parametrized tests."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from tests.reliability._support import child_env, record, run_module, shared_once

IS_ROOT = os.geteuid() == 0


def _run(cases: list[dict]) -> dict[str, dict]:
    r = run_module("tests.reliability.unsafe_driver", [json.dumps(cases)], child_env(None), timeout=1800)
    assert r.returncode == 0, r.stderr[-3000:]
    return {c["name"]: c for c in json.loads(r.stdout.strip().splitlines()[-1])}


def _dir(path: str, mode: int) -> str:
    os.makedirs(path, exist_ok=True)
    os.chmod(path, mode)
    return path


def _summary(topic: str, results: dict[str, dict]) -> None:
    failing = sorted(n for n, r in results.items() if r["failures"])
    record(topic, cases=len(results), behaved=len(results) - len(failing), failing=failing)


# (name, expect, setup): the root of each case is made by _roots() below.
ROOT_CASES = [
    ("root-mode-0777", "refused", None), ("root-mode-0770", "refused", None), ("root-mode-0703", "refused", None),
    ("root-owned-by-another-user", "refused", "other-uid-root"), ("root-is-a-symlink", "refused", None),
    ("root-below-world-writable-dir", "refused", None), ("root-two-below-world-writable-dir", "refused", None),
    ("root-is-a-file", "refused", None), ("tmp-dir-precreated-by-another-user", "refused", "other-uid-root"),
    ("root-0700-under-tmp", "used", None), ("root-below-sticky-world-writable-dir", "used", None),
    ("root-created-on-demand", "used", None),
    ("entry-mode-0777", "entry", "entry-mode-777"), ("extension-mode-0666", "entry", "so-mode-666"),
    ("meta-mode-0666", "entry", "meta-mode-666"),
]
if IS_ROOT:
    ROOT_CASES += [("entry-owned-by-another-user", "entry", "entry-other-uid"),
                   ("extension-owned-by-another-user", "entry", "so-other-uid"),
                   ("meta-owned-by-another-user", "entry", "meta-other-uid")]


def _roots(t: str) -> dict[str, str]:
    link_target = _dir(os.path.join(t, "real"), 0o700)
    if not os.path.lexists(os.path.join(t, "link")):
        os.symlink(link_target, os.path.join(t, "link"))
    _dir(os.path.join(t, "ww"), 0o777)
    _dir(os.path.join(t, "ww2"), 0o777)
    _dir(os.path.join(t, "ww2", "mid"), 0o755)
    _dir(os.path.join(t, "sticky"), 0o1777)
    with open(os.path.join(t, "afile"), "w") as fh:
        fh.write("x")
    shared = tempfile.mkdtemp(prefix="ccgrad-shared-")  # to be "pre-created by another user"
    os.chmod(shared, 0o755)
    return {
        "root-mode-0777": _dir(os.path.join(t, "r777"), 0o777),
        "root-mode-0770": _dir(os.path.join(t, "r770"), 0o770),
        "root-mode-0703": _dir(os.path.join(t, "r703"), 0o703),
        "root-owned-by-another-user": _dir(os.path.join(t, "rother"), 0o700),
        "root-is-a-symlink": os.path.join(t, "link"),
        "root-below-world-writable-dir": _dir(os.path.join(t, "ww", "cache"), 0o700),
        "root-two-below-world-writable-dir": _dir(os.path.join(t, "ww2", "mid", "cache"), 0o700),
        "root-is-a-file": os.path.join(t, "afile"),
        "tmp-dir-precreated-by-another-user": shared,
        "root-0700-under-tmp": tempfile.mkdtemp(prefix="ccgrad-own-"),
        "root-below-sticky-world-writable-dir": _dir(os.path.join(t, "sticky", "cache"), 0o700),
        "root-created-on-demand": os.path.join(t, "new", "cache"),
    }


@pytest.fixture
def unsafe_matrix(tmp_path_factory) -> dict[str, dict]:
    def compute(scratch: str) -> dict:
        roots = _roots(scratch)
        cases = []
        for i, (name, expect, setup) in enumerate(ROOT_CASES):
            root = roots.get(name) or os.path.join(scratch, f"entry{i}")
            cases.append(dict(name=name, root=root, expect=expect, setup=setup, k=7000 + i))
        try:
            results = _run(cases)
        finally:
            for n in ("tmp-dir-precreated-by-another-user", "root-0700-under-tmp"):
                shutil.rmtree(roots[n], ignore_errors=True)
        created = roots["root-created-on-demand"]
        results["root-created-on-demand"]["mode"] = oct(os.stat(created).st_mode & 0o777)
        _summary("unsafe-locations", results)
        return results

    return shared_once(tmp_path_factory, "unsafe", compute)


@pytest.mark.parametrize("case", [c[0] for c in ROOT_CASES])
def test_unsafe_location_is_refused_and_the_function_still_works(unsafe_matrix, case):
    res = unsafe_matrix[case]
    assert not res["failures"], "; ".join(res["failures"])
    if case == "root-created-on-demand":
        assert res["mode"] == "0o700"


# ---------------------------------------------------------------------------------------------
# full disk, read-only cache

DISK_CASES = ["disk-full-24k", "disk-full-48k", "disk-full-72k", "disk-full-96k", "disk-full-128k",
              "read-only-empty", "read-only-hit", "read-only-miss"]


def _can_mount(path: str) -> bool:
    if not IS_ROOT:
        return False
    os.makedirs(path, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", path], capture_output=True)
    if r.returncode != 0:
        return False
    subprocess.run(["umount", path], check=False)
    return True


@contextlib.contextmanager
def _tmpfs(path: str, size: str):
    os.makedirs(path, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", path], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", path], check=False)


@pytest.fixture
def disk_matrix(tmp_path_factory) -> dict[str, dict] | None:
    def compute(scratch: str) -> dict:
        if not _can_mount(os.path.join(scratch, "probe")):
            return {}
        cases = []
        with contextlib.ExitStack() as stack:
            for i, name in enumerate(DISK_CASES):
                size = name.split("-")[-1] if name.startswith("disk-full") else "4m"
                root = stack.enter_context(_tmpfs(os.path.join(scratch, name), size))
                case = dict(name=name, root=root, expect="fallback", k=7100 + i)
                if name == "read-only-empty":
                    subprocess.run(["mount", "-o", "remount,ro", root], check=True)
                elif name == "read-only-hit":
                    case.update(expect="hit", remount_ro=root)
                elif name == "read-only-miss":
                    case.update(setup="prebuild", remount_ro=root)
                cases.append(case)
            results = _run(cases)
        _summary("disk-full-read-only", results)
        return results

    return shared_once(tmp_path_factory, "disk", compute)


@pytest.mark.parametrize("case", DISK_CASES)
def test_full_disk_and_read_only_cache_still_compute(disk_matrix, case):
    if not disk_matrix:
        pytest.skip("needs root to mount a tiny tmpfs; the simulated variant covers this machine")
    res = disk_matrix[case]
    assert not res["failures"], "; ".join(res["failures"])


@pytest.mark.parametrize("errno_name", ["ENOSPC", "EROFS", "EACCES"])
def test_simulated_write_failures_still_compute(tmp_path, errno_name):
    """Every write below the root fails with the errno (monkeypatched in the child)."""
    (res,) = _run([dict(name=errno_name, root=str(tmp_path / "cache"), expect="fallback", k=7200,
                        simulate=errno_name)]).values()
    record("write-failures-simulated", errno=errno_name, ok=not res["failures"])
    assert not res["failures"], "; ".join(res["failures"])


def test_private_builds_leave_no_temp_dirs(tmp_path):
    """A function built privately (here: the root is refused) must not leave its build directory
    (sources and extension file) in the temp dir: every uncached build leaked one
    `ccgrad-private-*` directory."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    root = _dir(str(tmp_path / "r777"), 0o777)
    code = ("import numpy as np, ccgrad, ccgrad.tensor as T\n"
            "x = T.dvector('x')\n"
            "f = ccgrad.function([x], T.exp(x) * 3.25, mode='c')\n"
            "assert np.allclose(f(np.ones(3)), np.exp(1) * 3.25)\n")
    r = subprocess.run([sys.executable, "-c", code], env=child_env(root, TMPDIR=str(tmpdir)),
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    left = [p.name for p in tmpdir.iterdir() if p.name.startswith("ccgrad-private-")]
    assert not left, f"private build directories left behind: {left}"
