"""`make asan`: the bad-input fuzzer with generated code and the dispatcher built under
AddressSanitizer + UBSan, run by stock CPython with the sanitizer runtimes preloaded
(`python -m tests.reliability.asan_run --calls N`; scripts/asan.sh calls it).

Steps: rebuild csrc/ccgrad_dispatch.c with the sanitizer flags into a temp dir; check on two
canaries (a heap overflow, a signed overflow) that findings are reported in this setup; run the
bad-input fuzzer, differential batches of random graphs and their derivatives, and the cases
the fuzzers found (REGRESSIONS), with
CCGRAD_CFLAGS carrying the same flags (every generated module is then instrumented) and a fresh
cache.  Every sanitizer report ends its process (halt_on_error), so findings are crashes; a run
resumes after the call or batch that died.  Prints the figures and exits 1 on any finding or
failure.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import sysconfig
import tempfile
import textwrap

SAN = "-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
# -march=native as in production: the vector code of csrc/ccgrad_vmath.h is in only for targets
# with AVX-512, and it must run under the sanitizers too.
_MARCH = "-march=native" if platform.machine() in ("x86_64", "AMD64", "aarch64", "arm64") else ""
CFLAGS = f"-O1 -g -std=c99 -fPIC -fno-math-errno -fopenmp-simd -fno-strict-aliasing {_MARCH} {SAN}"
MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer", "SUMMARY: AddressSanitizer",
           "SUMMARY: UndefinedBehaviorSanitizer")


def excerpt(stderr: str, size: int = 3000) -> str:
    """The sanitizer report (from its first line) or else the tail of stderr."""
    starts = [stderr.find(m) for m in MARKERS if m in stderr]
    if starts:
        k = stderr.rfind("\n", 0, min(starts)) + 1
        return stderr[k:k + size]
    return stderr[-size:]


def _runtime(name: str) -> str:
    path = subprocess.run(["gcc", f"-print-file-name={name}"], capture_output=True, text=True,
                          check=True).stdout.strip()
    if not os.path.isabs(path) or not os.path.exists(path):
        raise SystemExit(f"asan: the compiler has no {name} (install gcc's sanitizer runtimes)")
    return os.path.realpath(path)


def build_dispatch(out_dir: str, repo: str) -> str:
    import numpy

    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    out = os.path.join(out_dir, "_dispatch" + suffix)
    cmd = ["gcc", "-shared", *SAN.split(), "-O1", "-g", "-std=c99", "-fPIC", f"-I{os.path.join(repo, 'csrc')}",
           f"-I{sysconfig.get_paths()['include']}", f"-I{numpy.get_include()}",
           os.path.join(repo, "csrc", "ccgrad_dispatch.c"), "-o", out]
    subprocess.run(cmd, check=True)
    return out


def sanitizer_env(base: dict, work: str, dispatch: str) -> dict:
    env = dict(base)
    env.update(
        LD_PRELOAD=f"{_runtime('libasan.so')}:{_runtime('libubsan.so')}",
        ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:halt_on_error=1:abort_on_error=0:"
                     "max_allocation_size_mb=8192:handle_segv=1",
        UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1",
        PYTHONMALLOC="malloc",
        CCGRAD_CFLAGS=CFLAGS,
        CCGRAD_CACHE_DIR=os.path.join(work, "cache"),
        CCGRAD_ASAN_DISPATCH=dispatch,
        CCGRAD_BLAS="0",
    )
    return env


_CANARY = r"""
#include <stdlib.h>
#include <limits.h>
int heap_overflow(int n) { int *p = malloc(sizeof(int) * n); int v = p[n]; free(p); return v; }
int signed_overflow(int a) { return a + 1; }
"""


def canaries(work: str, env: dict) -> dict[str, bool]:
    """Does this setup report a heap overflow and a signed overflow in sanitized code?"""
    src = os.path.join(work, "canary.c")
    lib = os.path.join(work, "libcanary.so")
    with open(src, "w") as fh:
        fh.write(_CANARY)
    subprocess.run(["gcc", "-shared", *CFLAGS.split(), src, "-o", lib], check=True)
    got = {}
    for fn, arg in (("heap_overflow", "4"), ("signed_overflow", "2147483647")):
        code = f"import ctypes; ctypes.CDLL({lib!r}).{fn}({arg})"
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
        got[fn] = r.returncode != 0 and any(m in r.stderr for m in MARKERS)
    return got


def run_differential(batches: int, graphs: int, env: dict) -> dict:
    """Random graphs and derivatives (diff_driver) under the sanitizers, resuming after a
    batch that dies; returns totals and the crashes with their reports."""
    from tests.reliability._support import last_json, run_module

    total = {"graphs": 0, "checks": 0, "mismatches": [], "crashes": []}
    seed, stop = 0, batches
    while seed < stop:
        r = run_module("tests.reliability.diff_driver", ["--seeds", f"{seed}:{stop}", "--graphs", str(graphs)], env,
                       timeout=7200)
        if r.returncode == 0:
            s = last_json(r.stdout)
            total["graphs"] += s["graphs"]
            total["checks"] += s["checks"]
            total["mismatches"] += s["mismatches"]
            break
        started = [int(ln.split()[1]) for ln in r.stderr.splitlines() if ln.startswith("batch ")]
        bad = started[-1] if started else seed
        total["crashes"].append(f"differential batch {bad} (exit {r.returncode}):\n{excerpt(r.stderr)}")
        if bad > seed:  # replay the batches before it for their counts
            again = run_module("tests.reliability.diff_driver", ["--seeds", f"{seed}:{bad}", "--graphs", str(graphs)],
                               env, timeout=7200)
            if again.returncode == 0:
                s = last_json(again.stdout)
                total["graphs"] += s["graphs"]
                total["checks"] += s["checks"]
                total["mismatches"] += s["mismatches"]
        seed = bad + 1
    return total


# Cases the fuzzers found, replayed under the sanitizers (each in its own process).
REGRESSIONS = {
    "matmul-broadcast-constant": """
import numpy as np, ccgrad, ccgrad.tensor as T
x3 = T.tensor3("x3")
f = ccgrad.function([x3], T.matmul(x3, T.constant(np.array([[[0.7, 1.1]]]))), mode="c")
f(np.ones((64, 2, 1)))
""",
    "hessian-strided-dot": """
import numpy as np, ccgrad, ccgrad.tensor as T
v = T.dvector("v")
e = T.dot(v[::2].dimshuffle("x", 0), T.reshape(v, (2, 2)))
ccgrad.function([v], T.hessian(T.sum(e * np.array([[0.7, 1.1]])), v), mode="c")(np.ones(4))
""",
}


def run_regressions(env: dict) -> dict[str, str]:
    """name -> sanitizer report (or '' when clean) for each replayed case."""
    from tests.reliability._support import REPO

    boot = ("import os\nfrom tests.reliability import asan_boot\n"
            "asan_boot.preload_dispatch(os.environ['CCGRAD_ASAN_DISPATCH'])\n")
    out = {}
    for name, code in REGRESSIONS.items():
        r = subprocess.run([sys.executable, "-c", boot + code], env=env, cwd=REPO, capture_output=True, text=True,
                           timeout=600)
        out[name] = "" if r.returncode == 0 else f"exit {r.returncode}\n{excerpt(r.stderr)}"
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--calls", type=int, default=8000)
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--batches", type=int, default=16, help="differential batches (random graphs) to run too")
    p.add_argument("--graphs", type=int, default=25, help="random graphs per batch")
    args = p.parse_args(argv)
    from tests.reliability._support import REPO, child_env, record
    from tests.reliability.test_bad_input import run_fuzzer

    work = tempfile.mkdtemp(prefix="ccgrad-asan-")
    os.chmod(work, 0o700)
    dispatch = build_dispatch(work, REPO)
    env = sanitizer_env(child_env(None), work, dispatch)
    canary = canaries(work, env)
    probe = subprocess.run(
        [sys.executable, "-c", textwrap.dedent("""
            import os
            from tests.reliability import asan_boot
            asan_boot.preload_dispatch(os.environ['CCGRAD_ASAN_DISPATCH'])
            import ccgrad, ccgrad._dispatch as d
            from ccgrad import compile as cc
            print(d.__file__); print(' '.join(cc.cflags()))
        """)], env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    summary, crashes = run_fuzzer(args.calls, args.seed, env, os.path.join(work, "fuzz.log"),
                                  ["--max-memory", "0", "--call-timeout", "120"])
    diff = run_differential(args.batches, args.graphs, env)
    crashes += diff["crashes"]
    regressions = run_regressions(env)
    crashes += [f"regression {name}:\n{text}" for name, text in regressions.items() if text]
    findings = [c for c in crashes if any(m in c for m in MARKERS)]
    record("asan-ubsan", calls=summary["calls"], results=summary["results"], clear_errors=summary["clear_errors"],
           sanitizer_findings=len(findings), other_crashes=len(crashes) - len(findings),
           failures=summary["failures"], graphs=diff["graphs"], graph_checks=diff["checks"],
           graph_mismatches=len(diff["mismatches"]), regressions=len(regressions),
           regression_findings=sorted(n for n, t in regressions.items() if t),
           canaries_caught=canary, dispatcher=probe.stdout.split("\n")[0],
           generated_cflags=probe.stdout.split("\n")[1] if probe.returncode == 0 else probe.stderr[-300:])
    for c in crashes:
        print("CRASH:", c[:3000], file=sys.stderr)
    for f in summary["first_failures"][:10]:
        print("FAILURE:", f[:1000], file=sys.stderr)
    for m in diff["mismatches"][:10]:
        print("MISMATCH:", m[:1000], file=sys.stderr)
    ok = (all(canary.values()) and probe.returncode == 0 and dispatch in probe.stdout and not crashes
          and summary["failures"] == 0 and summary["calls"] >= args.calls and not diff["mismatches"])
    print(f"asan: {summary['calls']} bad-input calls and {diff['graphs']} random graphs: {len(findings)} sanitizer "
          f"findings, {len(crashes)} crashes/hangs, {summary['failures'] + len(diff['mismatches'])} wrong results; "
          f"canaries {canary} -> {'PASS' if ok else 'FAIL'}")
    if ok:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"asan: builds, logs and the fuzz log are kept in {work}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
