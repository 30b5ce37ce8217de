"""Child-process entry points of the reliability suite (`python -m tests.reliability._workers CMD`).

build    build functions [first, first+count) of the family in a shuffled order after a barrier,
         check every result, and print a JSON summary: compiles done here, errors, warnings, and
         every module load with whether its entry verified at that moment (the "no corrupt entry
         is ever loaded" audit).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import traceback
import warnings


def _instrument(stats: dict) -> None:
    """Count compiles done by this process and audit every module load."""
    from ccgrad import cache
    from tests.reliability._support import audit_loads

    orig_build = cache._build_into

    def build_into(*a, **kw):
        stats["compiles"] += 1
        return orig_build(*a, **kw)

    cache._build_into = build_into
    audit_loads(stats)


def _barrier(directory: str | None, timeout: float = 300.0) -> None:
    """Say we are ready, then wait until the parent creates <directory>/go."""
    if not directory:
        return
    with open(os.path.join(directory, f"ready-{os.getpid()}"), "w") as fh:
        fh.write("ready")
    go = os.path.join(directory, "go")
    t0 = time.monotonic()
    while not os.path.exists(go):
        if time.monotonic() - t0 > timeout:
            raise SystemExit("barrier timeout")
        time.sleep(0.002)


def cmd_build(args: argparse.Namespace) -> dict:
    import ccgrad
    from tests.reliability import family

    stats = {"compiles": 0, "loads": 0, "bad_loads": []}
    _instrument(stats)
    order = list(range(args.first, args.first + args.count))
    random.Random(args.seed).shuffle(order)
    graphs = {k: family.graph(k) for k in order}
    _barrier(args.barrier)
    ok, wrong, errors = 0, [], []
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for k in order:
            ins, out, ref, vals = graphs[k]
            try:
                f = ccgrad.function(ins, out, mode="c")
                if family.check(f, ref, vals):
                    ok += 1
                else:
                    wrong.append(k)
            except Exception:
                errors.append(f"{k}: {traceback.format_exc(limit=3)}")
    return {"ok": ok, "wrong": wrong, "errors": errors, "seconds": round(time.perf_counter() - t0, 3),
            "warnings": [str(w.message) for w in caught], **stats}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--first", type=int, default=0)
    b.add_argument("--count", type=int, default=50)
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--barrier", default=None)
    b.set_defaults(run=cmd_build)
    args = p.parse_args(argv)
    summary = args.run(args)
    print(json.dumps(summary))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
