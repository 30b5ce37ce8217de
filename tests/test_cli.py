"""The `ccgrad` command: --help of every subcommand, one-line errors, cache info/list/show,
export -> import into an empty root (zero compiles), hostile archives refused, prune (LRU, dead
builders' temp dirs, never a live one's), clear --older-than, the size cap, doctor.

Entries come from the session's warmed cache (tests/test_warm.py), copied by export/import, so
this file compiles nothing besides doctor's test module.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import stat
import sys
import tarfile
import time

import pytest

from tests.test_warm import N_FUNCTIONS, ccgrad_cmd, use30, warmed

SUBCOMMANDS = [[], ["demo"], ["doctor"], ["cache"], ["cache", "warm"], ["cache", "info"], ["cache", "list"],
               ["cache", "show"], ["cache", "clear"], ["cache", "prune"], ["cache", "export"], ["cache", "import"]]


@pytest.fixture(scope="module")
def export_tar(tmp_path_factory) -> str:
    """The warmed cache exported to a tar file (once per module)."""
    w = warmed()
    assert w["returncode"] == 0, w["stdout"] + w["stderr"]
    path = str(tmp_path_factory.mktemp("export") / "warm.tar")
    proc = ccgrad_cmd(["cache", "export", path], w["root"])
    assert proc.returncode == 0, proc.stderr
    assert f"exported {N_FUNCTIONS} entries" in proc.stdout
    return path


def _entries(root: str) -> list[str]:
    out = []
    for shard in os.listdir(root):
        if len(shard) == 2:
            out += [os.path.join(root, shard, k) for k in os.listdir(os.path.join(root, shard))]
    return out


def _imported_root(tmp_path, export_tar: str) -> str:
    root = str(tmp_path / "cache")
    proc = ccgrad_cmd(["cache", "import", export_tar], root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root


# ---------------------------------------------------------------------------------------------
# help and errors


@pytest.mark.parametrize("argv", SUBCOMMANDS, ids=lambda a: " ".join(a) or "ccgrad")
def test_every_subcommand_has_help(argv, capsys):
    from ccgrad import cli

    with pytest.raises(SystemExit) as info:
        cli.main([*argv, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: ccgrad")
    assert len(out.splitlines()) >= 4  # a description and options, not just a usage line
    if argv[-1:] == ["warm"]:
        assert "TARGET is one of" in out and "-j N" in out and "@ccgrad.warmup" in out


def test_console_script_runs():
    script = os.path.join(os.path.dirname(sys.executable), "ccgrad")
    if not os.path.exists(script):
        pytest.skip("the console script is not installed in this environment")
    import subprocess

    proc = subprocess.run([script, "cache", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "warm" in proc.stdout and "export" in proc.stdout


@pytest.mark.parametrize("argv, needle", [
    (["cache", "warm"], "the following arguments are required: TARGET"),
    (["cache", "prune", "--bogus"], "unrecognized arguments: --bogus"),
    (["cache", "frobnicate"], "invalid choice: 'frobnicate'"),
    (["cache", "clear", "--older-than", "soon"], "invalid float value: 'soon'"),
])
def test_usage_errors_are_one_line(argv, needle, capsys):
    from ccgrad import cli

    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert needle in err and "--help" in err


@pytest.mark.parametrize("argv, needle", [
    (["cache", "show", "zz"], "is not a key"),
    (["cache", "show", "0123abcd"], "no cache entry has a key starting with 0123abcd"),
    (["cache", "prune", "--max-size", "lots"], "cannot read size 'lots'"),
    (["cache", "import", "/nonexistent/x.tar"], "cannot read /nonexistent/x.tar"),
    (["cache", "warm", "-j", "0", "x.py"], "-j must be at least 1"),
])
def test_runtime_errors_are_one_line(argv, needle, tmp_path):
    proc = ccgrad_cmd(argv, str(tmp_path / "cache"), cwd=str(tmp_path))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert needle in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"ccgrad {' '.join(argv[:2])}: error: ")


# ---------------------------------------------------------------------------------------------
# info, list, show


def test_info_list_show_on_the_warmed_cache():
    w = warmed()
    root = w["root"]
    info = ccgrad_cmd(["cache", "info"], root)
    assert info.returncode == 0, info.stderr
    assert f"entries         {N_FUNCTIONS} (" in info.stdout
    assert f"builds logged   {N_FUNCTIONS} " in info.stdout
    for part in ("compiler", "flags", "target", "python", "cffi", "blas", "format"):
        assert f"\n  {part}" in info.stdout
    data = json.loads(ccgrad_cmd(["cache", "info", "--json"], root).stdout)
    assert data["entries"] == N_FUNCTIONS and data["root"] == root and data["key_parts"]["flags"]

    listing = ccgrad_cmd(["cache", "list"], root)
    assert listing.returncode == 0
    rows = listing.stdout.splitlines()
    assert rows[0].split() == ["KEY", "SIZE", "BUILT", "LAST", "USED", "NAME"]
    names = {row.split()[-1] for row in rows[1:-1]}
    assert names == {f"g{k}" for k in range(25)} | {f"w{k}" for k in range(5)}
    assert rows[-1].startswith(f"{N_FUNCTIONS} entries, ")
    entries = json.loads(ccgrad_cmd(["cache", "list", "--json"], root).stdout)
    created = [e["created"] for e in entries]
    assert created == sorted(created, reverse=True)  # newest first

    key = entries[0]["key"]
    show = ccgrad_cmd(["cache", "show", key[:8]], root)
    assert show.returncode == 0, show.stderr
    assert f"key          {key}" in show.stdout
    assert "sha256 ok" in show.stdout and "key parts:" in show.stdout and "build log:" in show.stdout
    assert "differs here" not in show.stdout
    assert os.path.join(root, key[:2], key, "src.c") in show.stdout
    src = ccgrad_cmd(["cache", "show", key, "--source"], root)
    assert "ccg_run" in src.stdout


# ---------------------------------------------------------------------------------------------
# export / import


def test_export_import_into_an_empty_root_compiles_nothing(tmp_path, export_tar):
    w = warmed()
    root = str(tmp_path / "fresh")
    proc = ccgrad_cmd(["cache", "import", export_tar], root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"imported {N_FUNCTIONS} entries" in proc.stdout and "0 refused" in proc.stdout
    entries = _entries(root)
    assert len(entries) == N_FUNCTIONS
    for d in entries:
        assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
        for fn in os.listdir(d):
            assert stat.S_IMODE(os.stat(os.path.join(d, fn)).st_mode) == 0o600
    used = use30(root, w["src"])
    assert used["before"] == used["after"] == 0
    again = ccgrad_cmd(["cache", "import", export_tar], root)
    assert again.returncode == 0 and f"imported 0 entries into {root} ({N_FUNCTIONS} already present" in again.stdout


def _tar_with(members: list[tuple[tarfile.TarInfo, bytes | None]], path: str) -> str:
    with tarfile.open(path, "w") as tar:
        for ti, data in members:
            tar.addfile(ti, io.BytesIO(data) if data is not None else None)
    return path


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    return ti, data


def _special(name: str, kind: bytes, target: str = "") -> tuple[tarfile.TarInfo, None]:
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.linkname = target
    return ti, None


KEY = "ab" * 32
HOSTILE = {
    "dotdot": ([_file("ccgrad-export.json", b"{}"), _file(f"entries/{KEY}/../../../escaped.txt")], "contains '..'"),
    "symlink": ([_file("ccgrad-export.json", b"{}"), _special(f"entries/{KEY}/meta.json", tarfile.SYMTYPE,
                                                              "/etc/passwd")], "is a link"),
    "hardlink": ([_file("ccgrad-export.json", b"{}"), _special(f"entries/{KEY}/src.c", tarfile.LNKTYPE,
                                                               "ccgrad-export.json")], "is a link"),
    "absolute": ([_file("/tmp/ccgrad-escaped.txt")], "absolute path"),
    "device": ([_special(f"entries/{KEY}/meta.json", tarfile.CHRTYPE)], "device"),
    "stranger": ([_file("ccgrad-export.json", b"{}"), _file("README")], "unexpected member"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_archives_are_refused_whole(case, tmp_path):
    members, needle = HOSTILE[case]
    # the first members are harmless, so a refusal must come before anything is extracted
    path = _tar_with([_file("ccgrad-export.json", b'{"format": 1}')] + members, str(tmp_path / "evil.tar"))
    root = str(tmp_path / "root" / "cache")
    proc = ccgrad_cmd(["cache", "import", path], root)
    assert proc.returncode == 1
    assert needle in proc.stderr and "refusing the archive" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert not os.path.exists(tmp_path / "escaped.txt") and not os.path.exists("/tmp/ccgrad-escaped.txt")
    assert _entries(root) == []
    assert os.listdir(os.path.join(root, "tmp")) == [] or all(
        not n.startswith("build-") for n in os.listdir(os.path.join(root, "tmp")))


def test_dotdot_and_symlink_in_one_crafted_export_are_refused(tmp_path, export_tar):
    """A real export with a '../' member and a symlink appended."""
    path = str(tmp_path / "crafted.tar")
    with tarfile.open(export_tar) as src, tarfile.open(path, "w") as out:
        for m in src.getmembers():
            out.addfile(m, src.extractfile(m))
        ti, body = _file("entries/../../outside.txt", b"gotcha")
        out.addfile(ti, io.BytesIO(body))
        out.addfile(_special(f"entries/{KEY}/src.c", tarfile.SYMTYPE, "/etc/shadow")[0])
    root = str(tmp_path / "cache")
    proc = ccgrad_cmd(["cache", "import", path], root)
    assert proc.returncode == 1 and "refusing the archive" in proc.stderr
    assert _entries(root) == [] and not os.path.exists(tmp_path / "outside.txt")


def test_tampered_and_foreign_entries_are_refused_alone(tmp_path, export_tar):
    from ccgrad import cache

    path = str(tmp_path / "mixed.tar")
    with tarfile.open(export_tar) as src:
        members = src.getmembers()
        data = {m.name: src.extractfile(m).read() for m in members if m.isfile()}
    keys = sorted({m.name.split("/")[1] for m in members if m.name.startswith("entries/")})
    tampered, foreign = keys[0], keys[1]
    # 1. flip one byte of an extension file
    so = next(n for n in data if n.startswith(f"entries/{tampered}/") and n.endswith(".so"))
    blob = bytearray(data[so])
    blob[len(blob) // 2] ^= 0xFF
    data[so] = bytes(blob)
    # 2. a self-consistent entry built for another compiler: parts changed, key recomputed
    meta = json.loads(data[f"entries/{foreign}/meta.json"])
    meta["parts"]["compiler"] = "/usr/bin/othercc | othercc version 99"
    new_key = cache.make_key(meta["parts"])
    meta["key"] = new_key
    for name in [n for n in data if n.startswith(f"entries/{foreign}/")]:
        body = json.dumps(meta).encode() if name.endswith("meta.json") else data[name]
        data[name.replace(foreign, new_key)] = body
        del data[name]
    with tarfile.open(path, "w") as out:
        for name, body in data.items():
            out.addfile(_file(name, body)[0], io.BytesIO(body))
    root = str(tmp_path / "cache")
    proc = ccgrad_cmd(["cache", "import", path], root)
    assert proc.returncode == 1
    assert f"imported {N_FUNCTIONS - 2} entries" in proc.stdout and "2 refused" in proc.stdout
    assert "extension file does not match its recorded sha256" in proc.stdout
    assert "built for another toolchain: compiler is '/usr/bin/othercc" in proc.stdout
    present = {os.path.basename(d) for d in _entries(root)}
    assert tampered not in present and new_key not in present and len(present) == N_FUNCTIONS - 2


# ---------------------------------------------------------------------------------------------
# prune, clear, size cap


def _set_used(entries: list[str], start: float) -> None:
    for k, d in enumerate(entries):
        os.utime(d, (start + k, start + k))


def test_prune_evicts_lru_empties_trash_and_reaps_only_dead_builders(tmp_path, export_tar):
    root = _imported_root(tmp_path, export_tar)
    entries = sorted(_entries(root))
    _set_used(entries, time.time() - 10000)  # entries[-1] is the most recently used
    sizes = {d: sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d)) for d in entries}
    keep = entries[-10:]
    cap = sum(sizes[d] for d in keep)
    tmp = os.path.join(root, "tmp")
    old = time.time() - 7200
    dead = os.path.join(tmp, "build-dead")
    os.mkdir(dead)
    open(dead + ".lock", "w").close()  # nobody holds it: the builder died
    live = os.path.join(tmp, "build-live")
    os.mkdir(live)
    holder = open(live + ".lock", "w")
    fcntl.flock(holder, fcntl.LOCK_EX)  # a live builder
    young = os.path.join(tmp, "build-young")
    os.mkdir(young)  # no lock yet: just created, must be kept
    orphan = os.path.join(tmp, "build-orphan")
    os.mkdir(orphan)
    os.utime(orphan, (old, old))  # no lock and old: dead
    for d in (dead, live):
        os.utime(d, (old, old))
    trash = os.path.join(root, "trash", "junk")
    os.mkdir(trash)
    open(os.path.join(trash, "x.so"), "w").close()
    try:
        proc = ccgrad_cmd(["cache", "prune", "--max-size", str(cap)], root)
    finally:
        holder.close()
    assert proc.returncode == 0, proc.stderr
    assert f"evicted {N_FUNCTIONS - 10} least recently used entries" in proc.stdout
    assert "removed 2 dead builders' temp dirs (kept 1 live)" in proc.stdout
    left = sorted(_entries(root))
    assert left == keep
    assert os.path.isdir(live) and os.path.isdir(young)
    assert not os.path.exists(dead) and not os.path.exists(orphan) and not os.path.exists(dead + ".lock")
    assert os.listdir(os.path.join(root, "trash")) == []
    # index records of evicted entries are gone too
    idx = [f for _, _, fs in os.walk(os.path.join(root, "index")) for f in fs if f.endswith(".json")]
    assert len(idx) == 10


def test_clear_older_than_then_everything(tmp_path, export_tar):
    root = _imported_root(tmp_path, export_tar)
    entries = sorted(_entries(root))
    ten_days_ago = time.time() - 10 * 86400
    for d in entries[:5]:
        os.utime(d, (ten_days_ago, ten_days_ago))
    proc = ccgrad_cmd(["cache", "clear", "--older-than", "5"], root)
    assert proc.returncode == 0 and "removed 5 entries unused for 5 days" in proc.stdout
    assert sorted(_entries(root)) == entries[5:]
    proc = ccgrad_cmd(["cache", "clear"], root)
    assert proc.returncode == 0 and f"removed {N_FUNCTIONS - 5} entries" in proc.stdout
    assert _entries(root) == [] and os.listdir(os.path.join(root, "index")) == []


def test_size_cap_evicts_least_recently_used(tmp_path, export_tar, monkeypatch):
    import dataclasses

    from ccgrad import cache_admin, options

    root = _imported_root(tmp_path, export_tar)
    entries = sorted(_entries(root))
    _set_used(entries, time.time() - 10000)
    one = max(sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d)) for d in entries)
    monkeypatch.setattr(options, "options", dataclasses.replace(options.options, cache_max_bytes=3 * one))
    monkeypatch.setattr(cache_admin, "_PUBLISHED_HERE", 0)
    cache_admin.maybe_enforce_size_cap(root)  # 1st publish of this process: checks
    left = sorted(_entries(root))
    assert 1 <= len(left) <= 3 and left == entries[-len(left):]
    # the next 15 publishes do not even look; nor does a check within a minute of the last one
    os.utime(left[0], (1, 1))
    monkeypatch.setattr(options, "options", dataclasses.replace(options.options, cache_max_bytes=0))
    for _ in range(15):
        cache_admin.maybe_enforce_size_cap(root)
    assert sorted(_entries(root)) == left
    cache_admin.maybe_enforce_size_cap(root)  # 17th: due, but another check ran < 60 s ago
    assert sorted(_entries(root)) == left


def test_parse_and_format_sizes():
    from ccgrad.cache_admin import CacheAdminError, format_size, parse_size

    assert parse_size("4096") == 4096
    assert parse_size("500M") == 500 << 20
    assert parse_size("2G") == parse_size("2GiB") == parse_size("2gb") == 2 << 30
    assert parse_size("1.5k") == 1536
    with pytest.raises(CacheAdminError):
        parse_size("-1G")
    assert format_size(512) == "512 B" and format_size(3 << 20) == "3.0 MiB"


# ---------------------------------------------------------------------------------------------
# doctor


def test_doctor_passes_here(tmp_path):
    proc = ccgrad_cmd(["doctor"], str(tmp_path / "cache"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    for name in ("C compiler", "cffi", "Python headers", "call dispatcher", "compile test", "BLAS",
                 "cache directory"):
        assert any(ln.startswith("ok") and name in ln for ln in lines), (name, proc.stdout)
    assert any(ln.startswith(("ok", "warn")) and "free space" in ln for ln in lines)  # the disk is not ours


def test_doctor_names_problems_and_fixes(tmp_path):
    unsafe = tmp_path / "shared"
    unsafe.mkdir()
    os.chmod(unsafe, 0o777)
    proc = ccgrad_cmd(["doctor"], str(unsafe), CC="no-such-compiler-xyz")
    assert proc.returncode == 1
    out = proc.stdout
    assert "FAIL  C compiler" in out and "no C compiler found" in out and "apt-get install gcc" in out
    assert "compile test" in out and "skipped: fix the problems above first" in out
    assert "FAIL  cache directory" in out and f"chmod 700 {unsafe}" in out
    assert "problem(s) found" in out and "Traceback" not in out + proc.stderr
