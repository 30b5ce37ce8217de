"""Print the figures the reliability tests recorded (`python -m tests.reliability.figures FILE
[--markdown]`): the latest record of each topic, with the differential batches summed."""

from __future__ import annotations

import argparse
import json
import sys

ORDER = ["concurrency-processes", "concurrency-threads-call", "concurrency-threads-build", "crash-kill9",
         "corruption", "corruption-foreign-consistent", "unsafe-locations", "disk-full-read-only",
         "write-failures-simulated", "bad-input", "asan-ubsan", "differential", "resources-rss", "resources-fpu"]


def load(path: str) -> list[dict]:
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue
    return out


def summarize(records: list[dict]) -> list[tuple[str, dict]]:
    """(topic label, figures) rows; several records of one topic keep the last, except the
    differential batches (summed) and per-case topics (one row per distinguishing key)."""
    rows: dict[str, dict] = {}
    diff = {"batches": 0, "graphs": 0, "outputs": 0, "checks": 0, "mismatches": 0, "batches_with_mismatches": 0,
            "float32_batches": 0}
    for rec in records:
        topic = rec.get("topic", "?")
        figs = {k: v for k, v in rec.items() if k not in ("topic", "t")}
        if topic == "differential-batch":
            diff["batches"] += 1
            diff["graphs"] += rec.get("graphs", 0)
            diff["outputs"] += rec.get("outputs", 0)
            diff["checks"] += rec.get("checks", 0)
            diff["mismatches"] += rec.get("mismatches", 0)
            diff["batches_with_mismatches"] += rec.get("mismatches", 0) > 0
            diff["float32_batches"] += rec.get("dtype") == "float32"
            diff["tier"] = rec.get("tier")
            continue
        label = topic
        if topic == "concurrency-processes":
            label = f"{topic} (lock {'on' if rec.get('lock') else 'off'})"
        elif topic == "write-failures-simulated":
            label = f"{topic} ({rec.get('errno')})"
        rows[label] = figs
    if diff["batches"]:
        rows["differential"] = diff

    def rank(label: str) -> int:
        base = label.split(" (")[0]
        return ORDER.index(base) if base in ORDER else len(ORDER)

    return sorted(rows.items(), key=lambda kv: (rank(kv[0]), kv[0]))


def _fmt(v) -> str:
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_fmt(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return str(v)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("file")
    p.add_argument("--markdown", action="store_true")
    args = p.parse_args(argv)
    rows = summarize(load(args.file))
    if args.markdown:
        print("| test | figures |")
        print("|---|---|")
        for label, figs in rows:
            print(f"| {label} | {'; '.join(f'{k} {_fmt(v)}' for k, v in figs.items()).replace('|', '/')} |")
    else:
        for label, figs in rows:
            print(f"{label}:")
            for k, v in figs.items():
                print(f"    {k:32s} {_fmt(v)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
