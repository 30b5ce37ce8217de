"""`python -m benchmarks`: run the workloads against the peers, print one markdown table per workload,
write the JSON history file and the ratio plot.

    python -m benchmarks                      full run (all workloads, all installed peers)
    python -m benchmarks --quick              every workload at its smallest size, timed once (CI)
    python -m benchmarks --only logistic_grad,hessian --peers numpy,jax --threads 2
    python -m benchmarks --list               workload names

Thread pools are set from --threads (default 1) through the environment before anything numeric
is imported, and verified with threadpoolctl in every worker.  Each workload runs in its own child
process (--in-process to debug), so a crash or a hang loses one workload, never the run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def _parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description="ccgrad benchmark suite")
    ap.add_argument("--quick", action="store_true", help="each workload at its smallest size, timed once")
    ap.add_argument("--threads", type=int, default=1, help="threads for every library and thread pool (1)")
    ap.add_argument("--only", action="append", default=[], metavar="WORKLOAD",
                    help="comma-separated workloads (repeatable); see --list")
    ap.add_argument("--peers", default=None,
                    help="comma-separated peers among numpy,handc,pytensor,jax (default: all installed)")
    ap.add_argument("--json", default=None, metavar="PATH", help="results file (default benchmarks/results/)")
    ap.add_argument("--plot", default=None, metavar="PATH", help="ratio plot PNG (default next to the JSON)")
    ap.add_argument("--markdown", default=None, metavar="PATH", help="also write the markdown report here")
    ap.add_argument("--update-doc", default=None, metavar="PATH",
                    help="refresh the <!-- bench:KEY --> blocks of a curated document, e.g. BENCHMARKS.md")
    ap.add_argument("--stat", choices=("median", "min"), default="median",
                    help="statistic for the summary tables and ratios (min is steadier on a loaded machine)")
    ap.add_argument("--no-scripts", action="store_true", help="skip the ccgrad-only scripts (graph_build, ...)")
    ap.add_argument("--in-process", action="store_true", help="run workloads in this process (debugging)")
    ap.add_argument("--strict", action="store_true", help="exit 1 on any mismatch or crashed workload")
    ap.add_argument("--keep-openblas-coretype", action="store_true",
                    help="keep OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE (dropped by default: they pin a slow kernel)")
    ap.add_argument("--timeout", type=float, default=None, help="seconds per workload (default 900, quick 300)")
    ap.add_argument("--list", action="store_true", help="list the workloads and exit")
    ap.add_argument("--_child", help=argparse.SUPPRESS)
    ap.add_argument("--_out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.threads < 1:
        ap.error("--threads must be >= 1")
    return args


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parse(argv)
    # Thread pools first: nothing numeric may be imported before this line.
    from benchmarks import threads as thr

    thr.configure_env(args.threads, keep_openblas_pins=args.keep_openblas_coretype)
    from benchmarks.dialects import BENCH_DIR, PEER_GROUPS, available_groups

    if "CCGRAD_CACHE_DIR" not in os.environ:
        os.environ["CCGRAD_CACHE_DIR"] = str(BENCH_DIR / "ccgrad-cache")
    groups = available_groups()
    if args.peers is not None:
        wanted = [p.strip() for p in args.peers.split(",") if p.strip()]
        unknown = [p for p in wanted if p not in PEER_GROUPS]
        if unknown:
            _log(f"unknown peer(s) {unknown}; choose from {sorted(PEER_GROUPS)}")
            return 2
        missing = [p for p in wanted if p not in groups]
        if missing and not args._child:
            _log(f"peer(s) not installed, skipped: {', '.join(missing)} (pip install -e .[bench])")
        groups = ["numpy"] + [p for p in wanted if p in groups and p != "numpy"]

    if args._child:
        from benchmarks.run import child_main

        return child_main(args._child, args._out, args.quick, groups, args.threads)

    from benchmarks.scripts import SCRIPTS
    from benchmarks.workloads import registry

    workloads = registry()
    if args.list:
        for name, wl in workloads.items():
            print(f"{name:<18} {wl.title}")
        for name in SCRIPTS:
            print(f"{name:<18} ccgrad-only script benchmarks/{name}.py")
        return 0
    selected = [n.strip() for chunk in args.only for n in chunk.split(",") if n.strip()]
    bad = [n for n in selected if n not in workloads and n not in SCRIPTS]
    if bad:
        _log(f"unknown workload(s) {bad}; see --list")
        return 2
    run_wls = [n for n in workloads if not selected or n in selected]
    run_scripts = [] if args.no_scripts else [n for n in SCRIPTS if (not selected or n in selected)]
    return _run(args, argv, workloads, run_wls, run_scripts, groups)


def _run(args, argv, workloads, run_wls, run_scripts, groups) -> int:
    from benchmarks import machine, report
    from benchmarks import threads as thr
    from benchmarks.measure import RTOL
    from benchmarks.run import run_isolated, run_workload
    from benchmarks.scripts import run_script

    t_start = time.perf_counter()
    report.set_stat(args.stat)
    meta = machine.describe(argv)
    meta["peers"] = groups
    meta["quick"] = args.quick
    meta["method"] = ("each result checked against hand-written numpy (max|got-want|/max|want| <= "
                      f"{RTOL:g}) before timing; " + ("one timed call after the check call" if args.quick else
                      "warm-up >= 0.1 s, then samples for ~0.5 s (>= 5), calls < 0.2 ms batched; median and min")
                      + "; one child process per workload; compile timings in fresh processes")
    tinfo = thr.verify(args.threads)
    _log(f"threads={args.threads}  BLAS: {thr.blas_summary(tinfo)}  peers: {', '.join(groups)}  "
         f"load: {os.getloadavg()[0]:.2f}")
    timeout = args.timeout or (300.0 if args.quick else 900.0)
    results, verified = [], [tinfo["ok"]]
    for i, name in enumerate(run_wls, 1):
        t = time.perf_counter()
        _log(f"[{i}/{len(run_wls)}] {name} ...")
        if args.in_process:
            res = run_workload(workloads[name], args.quick, groups)
        else:
            res, child_meta = run_isolated(name, args.quick, groups, args.threads, timeout, _log)
            for key in ("threads", "threads_after"):
                if key in child_meta:
                    verified.append(child_meta[key]["report"]["ok"])
        results += res
        meta.setdefault("workload_load", {})[name] = os.getloadavg()
        bad = [r for r in res if r.status not in ("ok",)]
        _log(f"      {len(res)} entries, {len(bad)} not timed, {time.perf_counter() - t:.1f} s, "
             f"load {os.getloadavg()[0]:.2f}")
    scripts = []
    for name in run_scripts:
        _log(f"[script] {name} ...")
        out = run_script(name, args.quick)
        if out is not None:
            scripts.append(out)
    meta["loadavg_end"] = os.getloadavg()
    meta["wall_s"] = time.perf_counter() - t_start
    meta["threads"] = {"expected": args.threads, "verified": all(v is not False for v in verified),
                       "blas": thr.blas_summary(tinfo), "report": tinfo}
    titles = {n: workloads[n].title for n in run_wls}
    text = report.markdown(meta, results, titles, scripts, details=False)
    print(text)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    results_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    json_path = args.json or os.path.join(results_dir, f"bench-{stamp}{'-quick' if args.quick else ''}.json")
    os.makedirs(os.path.dirname(os.path.abspath(json_path)), exist_ok=True)
    report.save_json(json_path, meta, results, scripts)
    _log(f"results written to {json_path}")
    plot_path = args.plot or os.path.splitext(json_path)[0] + ".png"
    _log(report.plot(plot_path, results, run_wls, meta))
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as fh:
            fh.write(report.markdown(meta, results, titles, scripts, details=True))
        _log(f"markdown written to {args.markdown}")
    if args.update_doc:
        keys = report.update_doc(args.update_doc, meta, results, titles, scripts)
        _log(f"{args.update_doc}: refreshed {', '.join(keys) or 'nothing (no bench markers)'}")
    failed = [r for r in results if r.status in ("mismatch", "crashed", "reference-failed")]
    if failed:
        _log(f"{len(failed)} entries mismatched or crashed: "
             + "; ".join(f"{r.workload}/{r.case}/{r.peer}/{r.variant}: {r.status}" for r in failed[:10]))
    return 1 if (args.strict and failed) else 0


if __name__ == "__main__":
    sys.exit(main())
