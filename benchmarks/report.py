"""Turning results into what people read: one markdown table per workload (ccgrad, each peer, the
ratios ccgrad/best-peer and ccgrad/numpy), a detail table of every entry, the JSON history file and a
PNG plot of the ratios."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable

from benchmarks.dialects import PEER_LABELS
from benchmarks.measure import Result, fmt_time

PEER_ORDER = ("numpy", "handc", "pytensor_c", "pytensor", "jax")
LIBRARY_PEERS = ("pytensor_c", "pytensor", "jax")  # "best peer" = the best of these
STAT = {"name": "median"}  # which statistic the summary tables and ratios use (--stat)


def set_stat(name: str) -> None:
    """Summaries and ratios from per-call medians (default) or minima (steadier on a loaded machine)."""
    if name not in ("median", "min"):
        raise ValueError(f"stat must be 'median' or 'min', got {name!r}")
    STAT["name"] = name


def _t(r: Result) -> float | None:
    return getattr(r, STAT["name"])


def _best(results: Iterable[Result]) -> Result | None:
    ok = [r for r in results if r.status == "ok" and _t(r) is not None]
    return min(ok, key=_t) if ok else None


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b <= 0:
        return None
    return a / b


def _fmt_ratio(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.2f}x" if x >= 0.1 else f"{x:.2g}x"


def summary_rows(results: list[Result], workload: str) -> list[dict]:
    """One row per (case, ccgrad variant): ccgrad's figure, each peer's best, and the ratios."""
    mine = [r for r in results if r.workload == workload]
    rows = []
    cases = list(dict.fromkeys(r.case for r in mine))
    for case in cases:
        in_case = [r for r in mine if r.case == case]
        peers = {p: _best(r for r in in_case if r.peer == p) for p in PEER_ORDER}
        status = {p: [r.status for r in in_case if r.peer == p] for p in PEER_ORDER}
        best_lib = _best(peers[p] for p in LIBRARY_PEERS if peers[p])
        for cg in [r for r in in_case if r.peer == "ccgrad"]:
            row = {"workload": workload, "case": case, "variant": cg.variant, "ccgrad": cg, "peers": peers,
                   "peer_status": status, "best_peer": best_lib}
            c = _t(cg) if cg.status == "ok" else None
            row["vs_best"] = _ratio(c, _t(best_lib) if best_lib else None)
            row["vs_numpy"] = _ratio(c, _t(peers["numpy"]) if peers["numpy"] else None)
            row["vs_handc"] = _ratio(c, _t(peers["handc"]) if peers["handc"] else None)
            rows.append(row)
    return rows


def _both(r: Result) -> str:
    """'median / min' of one entry."""
    return f"{fmt_time(r.median)} / {fmt_time(r.min)}" if r.min is not None and r.samples > 1 else fmt_time(r.median)


def _cell(r: Result | None, statuses: list[str]) -> str:
    if r is not None:
        return _both(r)
    if not statuses:
        return ""
    return "/".join(sorted(set(statuses)))


def _ccgrad_cell(r: Result, both: bool = False) -> str:
    if r.status == "ok":
        return f"**{_both(r) if both else fmt_time(_t(r))}**"
    return r.status


def workload_table(results: list[Result], workload: str, title: str, load: float | None = None,
                   heading: bool = True) -> str:
    rows = summary_rows(results, workload)
    if not rows:
        return ""
    present = [p for p in PEER_ORDER if any(row["peer_status"][p] for row in rows)]
    has_handc = "handc" in present
    head = ["size", "ccgrad variant", "ccgrad"] + [PEER_LABELS[p] for p in present]
    head += ["ccgrad / best peer", "ccgrad / numpy"] + (["ccgrad / hand C"] if has_handc else [])
    when = f"1-min load average after this workload: {load:.1f}" if load is not None else ""
    if heading:
        top = [f"### {workload}: {title}", ""] + ([f"_{when}_", ""] if when else [])
    else:
        top = [f"_{title}" + (f"; {when}" if when else "") + "_", ""]
    top += [f"Times are per call, median / min; ratios use the {STAT['name']}.", ""]
    lines = [*top, "| " + " | ".join(head) + " |",
             "|" + "|".join(["---"] * 2 + ["---:"] * (len(head) - 2)) + "|"]
    for row in rows:
        best = row["best_peer"]
        vs_best = _fmt_ratio(row["vs_best"]) + (f" ({best.peer})" if best and row["vs_best"] is not None else "")
        cells = [row["case"], row["variant"], _ccgrad_cell(row["ccgrad"], both=True)]
        cells += [_cell(row["peers"][p], row["peer_status"][p]) for p in present]
        cells += [vs_best, _fmt_ratio(row["vs_numpy"])] + ([_fmt_ratio(row["vs_handc"])] if has_handc else [])
        lines.append("| " + " | ".join(cells) + " |")
    notes = [r for r in results if r.workload == workload and r.status not in ("ok",)]
    if notes:
        lines.append("")
        lines += [f"- {r.case} / {r.peer} / {r.variant}: **{r.status}** {r.message}".rstrip() for r in notes]
    return "\n".join(lines) + "\n"


def overview_table(results: list[Result], workloads: Iterable[str]) -> str:
    """Every workload's rows in one table: ccgrad, the best of PyTensor/JAX, numpy, the ratios."""
    lines = ["| workload | size | ccgrad variant | ccgrad | best peer | numpy (hand) | ccgrad / best peer "
             "| ccgrad / numpy |", "|---|---|---|---:|---:|---:|---:|---:|"]
    for w in workloads:
        for row in summary_rows(results, w):
            best, npy = row["best_peer"], row["peers"]["numpy"]
            best_s = f"{fmt_time(_t(best))} ({best.peer})" if best else "-"
            lines.append(f"| {w} | {row['case']} | {row['variant']} | {_ccgrad_cell(row['ccgrad'])} | {best_s} | "
                         f"{fmt_time(_t(npy)) if npy else '-'} | {_fmt_ratio(row['vs_best'])} | "
                         f"{_fmt_ratio(row['vs_numpy'])} |")
    return "\n".join(lines) + "\n"


def detail_table(results: list[Result]) -> str:
    head = ("| workload | size | peer | variant | median | min | samples x calls | cpu/wall, busy threads | build "
            "| max rel err | status |")
    lines = [head, "|---|---|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in results:
        err = "-" if r.max_rel_err is None else f"{r.max_rel_err:.1e}"
        status = r.status if r.status == "ok" else f"{r.status}: {r.message}"
        build = "-" if r.build is None else f"{r.build:.2f} s"
        cpu = r.extra.get("cpu_per_wall")
        cpu = None if cpu is None else f"{cpu}, {r.extra.get('busy_threads') or '?'}"
        lines.append(f"| {r.workload} | {r.case} | {r.peer} | {r.variant} | {fmt_time(r.median)} | "
                     f"{fmt_time(r.min)} | {r.samples} x {r.number} | {'-' if cpu is None else cpu} | {build} | "
                     f"{err} | {status.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def header(meta: dict) -> str:
    v = meta["versions"]
    ver = ", ".join(f"{k} {x}" for k, x in v.items() if x)
    thr = meta.get("threads", {})
    load = meta.get("loadavg_start"), meta.get("loadavg_end")
    fmt_load = " -> ".join("/".join(f"{x:.2f}" for x in lv) for lv in load if lv)
    lines = [
        f"- date: {meta['date']}; wall time {meta.get('wall_s', 0):.0f} s",
        f"- command: `{meta['command']}`",
        f"- machine: {meta['cpu']}, {meta['cores']} cores ({meta['cpu_flags']}), {meta['caches']}, "
        f"{meta['mem_gib']} GiB, {meta['os']}, {meta['libc']}, {meta['cc']}",
        f"- load average (1/5/15 min) at start -> end: {fmt_load}",
        f"- threads: {thr.get('expected')} per library (verified: {thr.get('verified')}); BLAS: {thr.get('blas', '?')}",
        f"- versions: {ver}",
        f"- method: {meta.get('method', '')}",
        f"- summary tables and ratios use the per-call **{STAT['name']}** (the detail table has both)",
    ]
    return "\n".join(lines) + "\n"


def over_threaded(results: list[Result], threads: int) -> list[Result]:
    """Entries that ran in parallel beyond the allowed threads: CPU time per wall time above it."""
    return [r for r in results if (r.extra.get("cpu_per_wall") or 0) > threads * 1.15]


def preamble(meta: dict, results: list[Result]) -> str:
    """The run description plus the thread check over every timed entry."""
    expected = meta.get("threads", {}).get("expected", 1)
    over = over_threaded(results, expected)
    if over:
        check = (f"**Thread check:** CPU time per wall time above {expected} while timing: "
                 + "; ".join(f"{r.workload}/{r.case}/{r.peer} ({r.extra['cpu_per_wall']})" for r in over))
    else:
        check = (f"Thread check: no timed entry used more than {expected} CPU(s) at once (CPU time per wall "
                 "time while sampling).")
    several = [r for r in results if (r.extra.get("busy_threads") or 0) > expected]
    if several:
        peers = sorted({r.peer for r in several})
        why = ("JAX computes on an XLA worker thread while the calling thread waits" if peers == ["jax"]
               else "in turn or in parallel: see CPU/wall in the detail table")
        check += (f" Entries of {', '.join(peers)} kept up to {max(r.extra['busy_threads'] for r in several)} "
                  f"threads busy (per-thread CPU ticks): {why}.")
    return header(meta) + "\n" + check + "\n"


def markdown(meta: dict, results: list[Result], titles: dict[str, str], scripts: list[dict] | None = None,
             details: bool = True) -> str:
    parts = [preamble(meta, results), "", "### Overview", "", overview_table(results, titles), ""]
    for name, title in titles.items():
        load = meta.get("workload_load", {}).get(name)
        table = workload_table(results, name, title, load[0] if load else None)
        if table:
            parts += [table, ""]
    for s in scripts or []:
        parts += [f"### {s['name']} (ccgrad only: `{s['command']}`)", "", "```", s["output"].rstrip(), "```", ""]
    if details:
        parts += ["<details><summary>Every entry (median, min, build time, error vs numpy)</summary>", "",
                  detail_table(results), "</details>", ""]
    return "\n".join(parts)


def update_doc(path: str, meta: dict, results: list[Result], titles: dict[str, str],
               scripts: list[dict] | None = None) -> list[str]:
    """Refresh the generated blocks of a curated document (BENCHMARKS.md) in place.

    Blocks sit between `<!-- bench:KEY -->` and `<!-- /bench:KEY -->`; KEY is `header`, a
    workload name, `scripts` or `details`.  Only blocks whose data this run produced are replaced,
    so the hand-written paragraphs between them survive.  Returns the keys replaced.
    """
    import re

    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    blocks = {"header": preamble(meta, results), "details": detail_table(results),
              "overview": overview_table(results, titles)}
    for name, title in titles.items():
        load = meta.get("workload_load", {}).get(name)
        table = workload_table(results, name, title, load[0] if load else None, heading=False)
        if table:
            blocks[name] = table
    if scripts:
        blocks["scripts"] = "\n".join(f"#### {s['name']} (`{s['command']}`)\n\n```\n{s['output'].rstrip()}\n```\n"
                                      for s in scripts)
    done = []
    for key, body in blocks.items():
        pattern = re.compile(rf"(<!-- bench:{re.escape(key)} -->\n).*?(<!-- /bench:{re.escape(key)} -->)", re.S)
        text, n = pattern.subn(lambda m, body=body: m.group(1) + body.rstrip() + "\n" + m.group(2), text)
        if n:
            done.append(key)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return done


def save_json(path: str, meta: dict, results: list[Result], scripts: list[dict] | None = None) -> None:
    def clean(x):
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, list | tuple):
            return [clean(v) for v in x]
        return x

    with open(path, "w", encoding="utf-8") as fh:
        json.dump(clean({"meta": meta, "results": [r.to_json() for r in results], "scripts": scripts or []}),
                  fh, indent=1)


def plot(path: str, results: list[Result], workloads: list[str], meta: dict) -> str:
    """Horizontal bars of ccgrad/best-peer and ccgrad/numpy per row (log scale); returns a note."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib not installed: no plot (pip install -e .[bench])"
    rows = [r for w in workloads for r in summary_rows(results, w)]
    if not rows:
        return "no ccgrad rows to plot"
    labels = [f"{r['workload']} {r['case']} [{r['variant']}]" for r in rows]
    fig, ax = plt.subplots(figsize=(11, 0.34 * len(rows) + 1.6))
    ys = range(len(rows))
    for off, key, label, color in ((-0.2, "vs_best", "ccgrad / best of PyTensor, JAX", "tab:blue"),
                                   (0.2, "vs_numpy", "ccgrad / hand-written numpy", "tab:orange")):
        vals = [r[key] if r[key] else math.nan for r in rows]
        ax.barh([y + off for y in ys], vals, height=0.38, label=label, color=color)
        for y, v in zip(ys, vals):
            if math.isfinite(v):
                ax.text(v, y + off, f" {v:.2g}", va="center", fontsize=6)
    for y, r in zip(ys, rows):
        if r["ccgrad"].status != "ok":
            ax.text(1.0, y, f"  ccgrad: {r['ccgrad'].status}", va="center", fontsize=7, color="tab:red")
    ax.axvline(1.0, color="black", lw=0.8)
    ax.set_xscale("log")
    ax.set_yticks(list(ys))
    ax.set_yticklabels(labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("time ratio (< 1: ccgrad faster)")
    n_thr = meta.get("threads", {}).get("expected", "?")
    load = meta.get("loadavg_start")
    ax.set_title(f"ccgrad time ratios (per-call {STAT['name']}), {meta['date']}, {n_thr} thread(s)"
                 + (f", load {load[0]:.1f}" if load else ""), fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return f"plot written to {path}"
