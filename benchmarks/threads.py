"""Thread pools: set every library's thread count through the environment (before numeric imports)
and verify afterwards with threadpoolctl what the loaded BLAS libraries really use.

Covered: OpenMP, OpenBLAS (numpy's scipy-openblas64_ and ccgrad's scipy-openblas32), MKL, numba
(PyTensor's default backend) and XLA (JAX).  XLA has no query API; its flags are recorded instead.
"""

from __future__ import annotations

import os

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
# Set on some machines for old OpenBLAS builds; they pin a slower kernel on a current numpy, so the
# benchmark drops both (the resulting kernel is recorded from threadpoolctl).
OPENBLAS_PINS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
XLA_ONE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def configure_env(threads: int, env: dict | None = None, keep_openblas_pins: bool = False) -> dict:
    """Write the thread settings into `env` (default: os.environ) and return what was changed.

    Must run before numpy/OpenBLAS/XLA are loaded in this process; child processes inherit it.
    """
    env = os.environ if env is None else env
    changed: dict[str, str | None] = {"BENCH_THREADS": str(threads)}
    env["BENCH_THREADS"] = str(threads)
    for var in THREAD_VARS:
        changed[var] = env[var] = str(threads)
    if threads == 1:
        flags = env.get("XLA_FLAGS", "")
        extra = [f for f in XLA_ONE_THREAD.split() if f.split("=")[0] not in flags]
        changed["XLA_FLAGS"] = env["XLA_FLAGS"] = " ".join([flags, *extra]).strip()
    if not keep_openblas_pins:
        for var in OPENBLAS_PINS:
            if var in env:
                changed[var] = None
                del env[var]
    return changed


def verify(threads: int) -> dict:
    """Load both OpenBLAS builds, read their thread counts and kernels with threadpoolctl, and
    force the expected count where a library disagrees (recorded as `forced`)."""
    report: dict = {"expected": threads, "libraries": [], "ok": True, "forced": [],
                    "env": {v: os.environ.get(v) for v in (*THREAD_VARS, "XLA_FLAGS", *OPENBLAS_PINS)}}
    import numpy  # noqa: F401  (loads numpy's OpenBLAS)

    try:
        import scipy_openblas32  # noqa: F401  (ccgrad's BLAS)
    except ImportError:
        report["scipy_openblas32"] = "not installed"
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        report["ok"] = None
        report["note"] = "threadpoolctl not installed: thread counts not verified"
        return report
    for info in threadpool_info():
        report["libraries"].append({k: info.get(k) for k in ("user_api", "internal_api", "prefix", "filepath",
                                                              "version", "num_threads", "architecture",
                                                              "threading_layer")})
    wrong = [lib for lib in report["libraries"] if lib["num_threads"] != threads]
    if wrong:
        report["ok"] = False
        report["forced"] = [lib["filepath"] for lib in wrong]
        threadpool_limits(threads)
        report["after_force"] = [{"filepath": i["filepath"], "num_threads": i["num_threads"]}
                                 for i in threadpool_info()]
    return report


def limit_affinity_during(init, threads: int | None = None):
    """Run init() (e.g. JAX's backend start) with this thread's CPU affinity cut to `threads`
    CPUs, then restore it.  XLA sizes its CPU thread pools from the schedulable CPUs at start-up
    and has no flag for it, so this is how its pools get `threads` workers; they keep the
    reduced mask, the calling thread gets its full mask back."""
    threads = threads or int(os.environ.get("BENCH_THREADS", "0") or 0)
    if not threads or not hasattr(os, "sched_setaffinity"):
        return init()
    cpus = os.sched_getaffinity(0)
    if threads >= len(cpus):
        return init()
    os.sched_setaffinity(0, set(sorted(cpus)[:threads]))
    try:
        return init()
    finally:
        os.sched_setaffinity(0, cpus)


def thread_ticks() -> dict[str, int]:
    """CPU ticks (user+system) of every thread of this process (Linux; {} elsewhere)."""
    out: dict[str, int] = {}
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/self/task/{tid}/stat", encoding="ascii") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            out[tid] = int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return out


def busy_threads(before: dict[str, int], after: dict[str, int]) -> int | None:
    """How many threads did real work between two thread_ticks() snapshots: threads with at least
    a fifth of the busiest thread's ticks (None when too few ticks to tell)."""
    used = sorted((after[t] - before.get(t, 0) for t in after), reverse=True)
    if not used or used[0] < 10:
        return None
    return sum(1 for u in used if u >= 0.2 * used[0])


def blas_summary(report: dict) -> str:
    """One line per BLAS library: which file, version, kernel and thread count."""
    parts = []
    for lib in report.get("libraries", []):
        name = os.path.basename(lib.get("filepath") or "?")
        parts.append(f"{name} {lib.get('version')} kernel={lib.get('architecture')} "
                     f"threads={lib.get('num_threads')}")
    return "; ".join(parts) or report.get("note", "unknown")
