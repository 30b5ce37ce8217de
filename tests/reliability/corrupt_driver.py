"""Damage a published cache entry in every way we know, then use the function again
(`python -m tests.reliability.corrupt_driver --rounds R --flips F --seed S`).

One process, one function: it is built once, its entry saved; for each damage mode and round the
entry is restored, damaged, the in-process memo forgotten, and the function compiled again.  A
wrapper around cache._import audits every load: the file loaded must verify at that moment
("detected before loading").  Per case the driver expects: the right result, exactly one
CacheWarning naming the corruption, the damaged entry moved to trash/, one rebuild, a verifying
entry afterwards.  Then `--flips` random bit flips and truncations are checked against the
verifier alone (no rebuild needed), and junk left in the cache layout must not stop new builds.

Prints a JSON summary with per-mode results.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import struct
import sys
import traceback
import warnings

FIRST = 6000

MODES = [
    "truncate-half", "truncate-minus-1", "zero-length", "bitflip", "wrong-arch", "foreign-elf",
    "meta-missing", "meta-empty", "meta-garbled", "meta-not-object", "meta-wrong-hash", "meta-wrong-key",
    "meta-file-escape", "meta-file-is-source", "entry-is-file", "entry-is-symlink", "so-is-dir",
    "so-missing", "so-symlink", "so-hardlink", "so-swapped", "src-missing",
]


def tiny_foreign_elf() -> bytes:
    """A 64-byte ELF64 header for an AArch64 shared object (no sections): 'another machine'."""
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    return ident + struct.pack("<HHIQQQIHHHHHH", 3, 183, 1, 0, 0, 0, 0, 64, 56, 0, 64, 0, 0)


def _meta(entry: str) -> dict:
    with open(os.path.join(entry, "meta.json"), encoding="utf-8") as fh:
        return json.load(fh)


def _write(path: str, data: bytes | str) -> None:
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(path, mode) as fh:
        fh.write(data)


def damage(entry: str, mode: str, rng: random.Random, other_so: str, scratch: str) -> None:
    """Apply one damage mode to the entry directory `entry`."""
    meta = _meta(entry)
    so = os.path.join(entry, meta["file"])
    data = open(so, "rb").read()
    if mode == "truncate-half":
        _write(so, data[: len(data) // 2])
    elif mode == "truncate-minus-1":
        _write(so, data[:-1])
    elif mode == "zero-length":
        _write(so, b"")
    elif mode == "bitflip":
        b = bytearray(data)
        pos = rng.randrange(len(b))
        b[pos] ^= 1 << rng.randrange(8)
        _write(so, bytes(b))
    elif mode == "wrong-arch":
        b = bytearray(data)
        b[18:20] = struct.pack("<H", 183)  # e_machine = AArch64
        _write(so, bytes(b))
    elif mode == "foreign-elf":
        _write(so, tiny_foreign_elf())
    elif mode == "meta-missing":
        os.unlink(os.path.join(entry, "meta.json"))
    elif mode == "meta-empty":
        _write(os.path.join(entry, "meta.json"), "")
    elif mode == "meta-garbled":
        text = json.dumps(meta)
        _write(os.path.join(entry, "meta.json"), text[: rng.randrange(1, len(text) - 1)])
    elif mode == "meta-not-object":
        _write(os.path.join(entry, "meta.json"), json.dumps([meta]))
    elif mode == "meta-wrong-hash":
        _write(os.path.join(entry, "meta.json"), json.dumps(dict(meta, sha256="0" * 64)))
    elif mode == "meta-wrong-key":
        _write(os.path.join(entry, "meta.json"), json.dumps(dict(meta, key="f" * 64)))
    elif mode == "meta-file-escape":
        shutil.copyfile(so, os.path.join(scratch, "escaped.so"))
        rel = os.path.relpath(os.path.join(scratch, "escaped.so"), entry)
        _write(os.path.join(entry, "meta.json"), json.dumps(dict(meta, file=rel)))
    elif mode == "meta-file-is-source":
        _write(os.path.join(entry, "meta.json"), json.dumps(dict(meta, file="src.c")))
    elif mode == "entry-is-file":
        shutil.rmtree(entry)
        _write(entry, b"junk")
    elif mode == "entry-is-symlink":
        target = os.path.join(scratch, "elsewhere")
        shutil.rmtree(target, ignore_errors=True)
        shutil.move(entry, target)
        os.symlink(target, entry)
    elif mode == "so-is-dir":
        os.unlink(so)
        os.mkdir(so)
    elif mode == "so-missing":
        os.unlink(so)
    elif mode == "so-symlink":
        shutil.copyfile(so, os.path.join(scratch, "real.so"))
        os.unlink(so)
        os.symlink(os.path.join(scratch, "real.so"), so)
    elif mode == "so-hardlink":
        link = os.path.join(scratch, f"hardlink-{rng.randrange(1 << 30)}.so")
        os.link(so, link)
    elif mode == "so-swapped":
        shutil.copyfile(other_so, so)
    elif mode == "src-missing":
        os.unlink(os.path.join(entry, "src.c"))
    else:
        raise ValueError(mode)


def _restore(pristine: str, entry: str) -> None:
    if os.path.islink(entry) or os.path.isfile(entry):
        os.unlink(entry)
    elif os.path.isdir(entry):
        shutil.rmtree(entry)
    shutil.copytree(pristine, entry, symlinks=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--flips", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--modes", default=",".join(MODES))
    args = p.parse_args(argv)
    rng = random.Random(args.seed)

    import ccgrad  # noqa: F401
    from ccgrad import backend, cache
    from tests.reliability import family
    from tests.reliability._support import audit_loads, entries

    root = cache.root()
    assert root is not None
    audit = {"loads": 0, "bad_loads": []}
    audit_loads(audit)
    scratch = os.path.join(os.path.dirname(root), "scratch")
    os.makedirs(scratch, exist_ok=True)

    f, ref, vals = family.build(FIRST + 1)  # the donor of a foreign .so (so-swapped)
    (other,) = entries(root)
    other_so = os.path.join(other, _meta(other)["file"])
    f, ref, vals = family.build(FIRST)
    assert family.check(f, ref, vals)
    (entry,) = [d for d in entries(root) if d != other]
    key = os.path.basename(entry)
    pristine = os.path.join(scratch, "pristine")
    shutil.copytree(entry, pristine, symlinks=True)
    trash = os.path.join(root, "trash")

    results: dict[str, dict] = {}
    for mode in args.modes.split(","):
        res = results.setdefault(mode, {"cases": 0, "detected": 0, "failures": []})
        for r in range(args.rounds):
            res["cases"] += 1
            _restore(pristine, entry)
            damage(entry, mode, rng, other_so, scratch)
            detected_before = cache._verify(entry, key) is not None
            trash_before = len(os.listdir(trash))
            builds_before = cache.stats(root)["builds"]
            cache.reset()
            backend._MEMO.clear()
            bad_before = len(audit["bad_loads"])
            fails = []
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    g, ref, vals = family.build(FIRST)
                    ok = family.check(g, ref, vals)
            except Exception:
                fails.append("raised: " + traceback.format_exc(limit=4)[-600:])
                ok, caught = False, []
            corrupt_w = [w for w in caught if issubclass(w.category, cache.CacheWarning)]
            if not ok and not fails:
                fails.append("wrong result")
            if not detected_before:
                fails.append("not detected by the verifier")
            if len(audit["bad_loads"]) > bad_before:
                fails.append("a damaged entry was loaded: " + "; ".join(audit["bad_loads"][bad_before:]))
            if len(corrupt_w) != 1:
                fails.append(f"{len(corrupt_w)} cache warnings: {[str(w.message) for w in corrupt_w]}")
            if len(os.listdir(trash)) != trash_before + 1:
                fails.append("not moved to trash/")
            if cache.stats(root)["builds"] != builds_before + 1:
                fails.append("not rebuilt exactly once")
            if not os.path.isdir(entry) or cache._verify(entry, key) is not None:
                fails.append("no good entry afterwards")
            if detected_before:
                res["detected"] += 1
            if fails:
                res["failures"].append(f"round {r}: " + "; ".join(fails))

    # Random bit flips and truncations against the verifier alone (no rebuild needed).
    _restore(pristine, entry)
    so = os.path.join(entry, _meta(entry)["file"])
    original = open(so, "rb").read()
    missed = 0
    for _ in range(args.flips):
        b = bytearray(original)
        if rng.random() < 0.8:
            pos = rng.randrange(len(b))
            b[pos] ^= 1 << rng.randrange(8)
        else:
            b = b[: rng.randrange(len(b))]
        _write(so, bytes(b))
        if cache._verify(entry, key) is None:
            missed += 1
    _write(so, original)

    # Junk in the layout (orphans, stray files) must not stop new builds (jax#39880).
    junk_ok = True
    try:
        _write(os.path.join(root, "tmp", "stray.json.123.tmp"), "{")
        os.makedirs(os.path.join(root, "zz-not-a-shard"), exist_ok=True)
        _write(os.path.join(root, key[:2], "0" * 64), "orphan file where an entry would be")
        os.makedirs(os.path.join(root, "index", "ab"), exist_ok=True)
        _write(os.path.join(root, "index", "ab", "ab" + "0" * 62 + ".json"), "[")
        cache.reset()
        backend._MEMO.clear()
        g, ref, vals = family.build(FIRST + 2)
        junk_ok = family.check(g, ref, vals)
    except Exception:
        traceback.print_exc()
        junk_ok = False

    print(json.dumps({"results": results, "flips": args.flips, "flips_missed": missed,
                      "loads": audit["loads"], "bad_loads": audit["bad_loads"], "junk_ok": junk_ok}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
