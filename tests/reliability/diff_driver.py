"""Run differential batches in a child process (`python -m tests.reliability.diff_driver --seeds A:B
--graphs G`): used by `make asan` to run random graphs and their derivatives through sanitized
generated code.  Prints a JSON summary (graphs, checks, mismatches)."""

from __future__ import annotations

import argparse
import json
import os
import sys


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", default="0:4", help="first:stop batch seeds")
    p.add_argument("--graphs", type=int, default=25)
    args = p.parse_args(argv)
    if os.environ.get("CCGRAD_ASAN_DISPATCH"):
        from tests.reliability import asan_boot

        asan_boot.preload_dispatch(os.environ["CCGRAD_ASAN_DISPATCH"])
    from tests.reliability.diffcheck import check_batch
    from tests.reliability.randgraph import make_batch

    first, stop = (int(x) for x in args.seeds.split(":"))
    total = {"batches": 0, "graphs": 0, "checks": 0, "mismatches": []}
    for seed in range(first, stop):
        print(f"batch {seed}", file=sys.stderr, flush=True)
        r = check_batch(make_batch(seed, args.graphs, "float32" if seed % 4 == 3 else "float64"))
        total["batches"] += 1
        total["graphs"] += r["graphs"]
        total["checks"] += r["checks"]
        total["mismatches"] += [f"seed {seed}: {m}" for m in r["mismatches"]]
    print(json.dumps(total))
    return 0


if __name__ == "__main__":
    sys.exit(main())
