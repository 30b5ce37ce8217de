"""Issue I.3 — corrupt cache entries: every damage mode (truncated, bit-flipped, zero-length or
foreign extension files; missing, garbled or lying metadata; an entry or file replaced by a file,
directory or link; a missing source) is detected before loading, moved aside to trash/, rebuilt
once, with one warning, and the result is right.  Random bit flips and truncations (100 light,
1,000 stress) are all caught by the verifier.  One driver run (corrupt_driver.py) serves every
test here."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from tests.reliability._support import child_env, entries, last_json, pick, record, run_module, shared_once
from tests.reliability.corrupt_driver import MODES, tiny_foreign_elf


@pytest.fixture
def corruption_run(tmp_path_factory) -> dict:
    def compute(scratch: str) -> dict:
        rounds, flips = pick(1, 10), pick(100, 1000)
        r = run_module("tests.reliability.corrupt_driver",
                       ["--rounds", str(rounds), "--flips", str(flips), "--seed", "3"],
                       child_env(os.path.join(scratch, "cache")), timeout=3600)
        assert r.returncode == 0, r.stderr[-3000:]
        s = last_json(r.stdout)
        res = s["results"]
        cases = sum(v["cases"] for v in res.values())
        detected = sum(v["detected"] for v in res.values())
        record("corruption", modes=len(res), cases=cases, detected_before_load=detected,
               detected_pct=round(100.0 * detected / max(1, cases), 1),
               failing_modes=sorted(m for m, v in res.items() if v["failures"]),
               random_flips_and_truncations=flips, flips_missed=s["flips_missed"],
               corrupt_loads=len(s["bad_loads"]), junk_tolerated=s["junk_ok"])
        return s

    return shared_once(tmp_path_factory, "corruption", compute)


@pytest.mark.parametrize("mode", MODES)
def test_damaged_entry_is_detected_moved_aside_and_rebuilt(corruption_run, mode):
    res = corruption_run["results"][mode]
    assert res["cases"] > 0
    assert not res["failures"], "\n".join(res["failures"][:3])


def test_no_damaged_entry_is_ever_loaded_and_random_flips_are_caught(corruption_run):
    assert not corruption_run["bad_loads"], corruption_run["bad_loads"][:5]
    assert corruption_run["flips_missed"] == 0


def test_junk_in_the_cache_layout_does_not_stop_builds(corruption_run):
    assert corruption_run["junk_ok"]


def test_foreign_extension_with_consistent_metadata_is_set_aside_not_fatal(tmp_path):
    """An entry whose meta.json matches a file the loader cannot load (an ELF for another
    machine, e.g. copied from another host with its metadata rewritten) must not break the
    computation: the import error counts as corruption — moved aside, rebuilt, one warning."""
    root = str(tmp_path / "cache")
    env = child_env(root)
    first = run_module("tests.reliability._workers", ["build", "--first", "6100", "--count", "1"], env)
    assert first.returncode == 0, first.stderr[-2000:]
    (entry,) = entries(root)
    meta_path = os.path.join(entry, "meta.json")
    meta = json.load(open(meta_path))
    foreign = tiny_foreign_elf()
    with open(os.path.join(entry, meta["file"]), "wb") as fh:
        fh.write(foreign)
    meta["sha256"] = hashlib.sha256(foreign).hexdigest()
    with open(meta_path, "w") as fh:
        json.dump(meta, fh)
    second = run_module("tests.reliability._workers", ["build", "--first", "6100", "--count", "1"], env)
    assert second.returncode == 0, second.stderr[-2000:]
    s = last_json(second.stdout)
    record("corruption-foreign-consistent", errors=len(s["errors"]), ok=s["ok"], compiles=s["compiles"],
           warnings=len(s["warnings"]))
    assert not s["errors"], s["errors"][0]
    assert s["ok"] == 1 and s["compiles"] == 1
    assert len(os.listdir(os.path.join(root, "trash"))) == 1
    assert len([w for w in s["warnings"] if "corrupt" in w or "cannot" in w]) == 1, s["warnings"]
