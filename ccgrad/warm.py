"""Warming the cache ahead of time: collect the functions a program builds, then build them in
parallel worker processes, so later processes start with zero compiles.

Where the graphs come from:
- collect mode: while `ccgrad cache warm` imports a target, function() (through the hook at its
  top, which calls `intercept`) records its arguments and returns a `Collected` placeholder at
  once, so a module that builds its functions at import time imports quickly;
- `@warmup` builders: zero-argument functions returning (inputs, outputs) or
  (inputs, outputs, kwargs for function());
- record files: with CCGRAD_RECORD=path.jsonl every function() built in C appends its
  unoptimized graph (through ccgrad.serialize) to path.jsonl; warming the file rebuilds them.
Each job is built by calling the real function() (for a record, with the options it was built
with) in a forked worker, so keys and the warm-start index are exactly those the program uses.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import importlib
import importlib.util
import json
import os
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from ccgrad import options as _options

_STATE = threading.local()  # .inside: function() calls made by ccgrad.warm itself
_COLLECTED: list[Job] = []
_WARMUPS: list[Callable[[], Any]] = []


@dataclasses.dataclass
class Job:
    """One function to build: `payload` is function()'s arguments ("call") or a record ("record")."""

    label: str
    kind: str
    payload: dict
    mode: str


@dataclasses.dataclass
class Result:
    index: int
    status: str  # "built" | "cached" | "failed"
    seconds: float
    message: str = ""
    source_path: str | None = None
    log_path: str | None = None


class Collected:
    """What function() returns in collect mode: a stand-in that refuses to be used."""

    def __init__(self, label: str):
        self._label = label

    def _refuse(self):
        raise RuntimeError(
            f"ccgrad: {self._label} was only collected for `ccgrad cache warm` (collect mode) and cannot "
            "be used while warming; call compiled functions outside import time (e.g. under "
            "`if __name__ == '__main__':`) or declare builders with @ccgrad.warmup")

    def __call__(self, *args, **kwargs):
        self._refuse()

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        self._refuse()

    def __repr__(self) -> str:
        return f"<ccgrad collected function {self._label}>"


def warmup(builder: Callable[[], Any]) -> Callable[[], Any]:
    """Declare a zero-argument builder of a function for `ccgrad cache warm`: it returns
    (inputs, outputs) or (inputs, outputs, kwargs for function()).  The builder is returned
    unchanged; importing its module compiles nothing."""
    if not callable(builder):
        raise TypeError("@ccgrad.warmup decorates a zero-argument function returning (inputs, outputs[, kwargs])")
    builder.__ccgrad_warmup__ = True
    _WARMUPS.append(builder)
    return builder


@contextlib.contextmanager
def _inside() -> Iterator[None]:
    prev = getattr(_STATE, "inside", False)
    _STATE.inside = True
    try:
        yield
    finally:
        _STATE.inside = prev


def intercept(args: dict) -> Any:
    """Called first thing by function() when collect or record mode is on, with its arguments.
    Collect mode: remember them and return a placeholder.  Record mode: build the function
    normally, append its graph to the record file, return it.  None: proceed as usual."""
    if getattr(_STATE, "inside", False):
        return None
    args = {k: v for k, v in args.items() if not k.startswith("_")}
    if _options.options.collect:
        from ccgrad.function import DEFAULT_MODE

        label = _call_label(args.get("name"), sys._getframe(2))
        _COLLECTED.append(Job(label, "call", args, args.get("mode") or DEFAULT_MODE))
        return Collected(label)
    if _options.options.record:
        from ccgrad.function import function

        with _inside():
            f = function(**args)
        record(f, _options.options.record, _where(sys._getframe(2)))
        return f
    return None


def _where(frame) -> str:
    return f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}" if frame else "?"


def _call_label(name: str | None, frame) -> str:
    where = _where(frame)
    return f"{name} ({where})" if name else where


# ---------------------------------------------------------------------------------------------
# record


_RECORD_LOCK = threading.Lock()


def record(f, path: str, where: str = "?") -> bool:
    """Append f's unoptimized graph to the record file `path` (one JSON line), if f runs C.
    Never breaks the program: trouble gives one warning."""
    maker = getattr(f, "maker", None)
    if maker is None or maker.mode not in ("c", "debug"):
        return False
    try:
        import ccgrad
        from ccgrad.serialize import dumps_function

        rec = {"format": 1, "ccgrad": ccgrad.__version__, "name": getattr(f, "name", None), "where": where,
               "mode": maker.mode, "graph": dumps_function(f, shared_values=False)}
        line = (json.dumps(rec, sort_keys=True) + "\n").encode()
        with _RECORD_LOCK:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                os.write(fd, line)
            finally:
                os.close(fd)
        return True
    except Exception as exc:  # recording is best effort
        from ccgrad import cache

        cache.warn_once("record:" + path, f"ccgrad: cannot record to {path} ({type(exc).__name__}: {exc})")
        return False


def read_records(path: str) -> tuple[list[Job], list[str]]:
    """Jobs from a record file (duplicates dropped) and one-line problems with its lines."""
    jobs: list[Job] = []
    problems: list[str] = []
    seen: set[str] = set()
    try:
        fh = open(path, encoding="utf-8")
    except OSError as exc:
        return [], [f"cannot read {path}: {exc.strerror}"]
    with fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                if not isinstance(rec, dict) or "graph" not in rec:
                    raise ValueError("not a ccgrad record")
                if not isinstance(rec["graph"], str):
                    raise ValueError("its graph is not serialized text")
                ident = hashlib.sha256(rec["graph"].encode()).hexdigest()
            except (ValueError, TypeError) as exc:
                problems.append(f"{path}:{lineno}: {exc}")
                continue
            if ident in seen:
                continue
            seen.add(ident)
            name = rec.get("name")
            where = f"{os.path.basename(path)}:{lineno}"
            label = f"{name} ({where})" if name else f"{rec.get('where', '?')} ({where})"
            jobs.append(Job(label, "record", rec, rec.get("mode") or "c"))
    return jobs, problems


def _replay(rec: dict) -> None:
    """Build a recorded graph: through function(), with the options it was built with."""
    from ccgrad.serialize import loads_graph

    loads_graph(rec["graph"]).function()


# ---------------------------------------------------------------------------------------------
# collect


@contextlib.contextmanager
def collecting() -> Iterator[list[Job]]:
    """Within the block, function() records its arguments and returns placeholders; the list
    yielded receives one Job per call."""
    global _COLLECTED
    prev_opts, prev_list = _options.options, _COLLECTED
    jobs: list[Job] = []
    _COLLECTED = jobs
    _options.options = dataclasses.replace(prev_opts, collect=True)
    try:
        yield jobs
    finally:
        _options.options = dataclasses.replace(_options.options, collect=prev_opts.collect)
        _COLLECTED = prev_list


def _error_line(exc: BaseException, path_hint: str | None = None) -> str:
    """'TypeError: message (at file.py:12)', locating the error in the user's code (the target
    file when given, else the deepest frame outside ccgrad and importlib)."""
    where = ""
    pkg = os.path.dirname(os.path.abspath(__file__))
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not os.path.abspath(f.filename).startswith(pkg + os.sep) and "importlib" not in f.filename]
    mine = [f for f in frames if path_hint and os.path.abspath(f.filename) == path_hint] or frames
    if mine:
        where = f" (at {os.path.basename(mine[-1].filename)}:{mine[-1].lineno})"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}{where}"


def _import_target(target: str) -> tuple[Any, str | None]:
    """Import a module name or a .py path; returns (module, path of its file or None)."""
    if target.endswith(".py") or os.path.isfile(target):
        path = os.path.abspath(target)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no such file: {target}")
        stem = os.path.splitext(os.path.basename(path))[0]
        name = stem if stem.isidentifier() and stem not in sys.modules else f"_ccgrad_warm_{abs(hash(path))}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {target}")
        module = importlib.util.module_from_spec(spec)
        if os.path.dirname(path) not in sys.path:
            sys.path.insert(0, os.path.dirname(path))  # as `python file.py` does
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module, path
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `python -m` does
    try:
        return importlib.import_module(target), None
    except ModuleNotFoundError as exc:
        if exc.name and target.split(".")[0] == exc.name.split(".")[0] and target.startswith(exc.name):
            raise ModuleNotFoundError(
                f"no module named {target!r} (give an importable module, a .py file or a recorded .jsonl)"
            ) from None
        raise


def collect(targets: list[str]) -> tuple[list[Job], list[str]]:
    """Every function the targets build or declare, and one-line problems (import errors,
    bad builders, bad record lines).  What was collected before a problem is kept."""
    jobs: list[Job] = []
    problems: list[str] = []
    for target in targets:
        if target.endswith(".jsonl"):
            got, bad = read_records(target)
            jobs += got
            problems += bad
            continue
        n_before = len(_WARMUPS)
        module = None
        with collecting() as calls:
            try:
                module, _ = _import_target(target)
            except (Exception, SystemExit) as exc:  # a module may sys.exit() at import
                problems.append(f"importing {target} failed: {_error_line(exc, os.path.abspath(target))}")
            builders = list(_WARMUPS[n_before:])
            if module is not None:
                builders += [b for b in _WARMUPS[:n_before] if b.__module__ == module.__name__]
            for b in builders:
                label = f"{b.__module__}.{b.__qualname__}"
                try:
                    got = b()
                    if not isinstance(got, tuple | list) or len(got) not in (2, 3):
                        raise TypeError("a @warmup builder must return (inputs, outputs) or (inputs, outputs, kwargs)")
                    kwargs = dict(got[2]) if len(got) == 3 else {}
                except Exception as exc:
                    problems.append(f"warmup builder {label} failed: {_error_line(exc)}")
                    continue
                kwargs.setdefault("name", b.__qualname__)
                from ccgrad.function import DEFAULT_MODE

                calls.append(Job(label, "call", {"inputs": got[0], "outputs": got[1], **kwargs},
                                 kwargs.get("mode") or DEFAULT_MODE))
        jobs += calls
    return jobs, problems


# ---------------------------------------------------------------------------------------------
# build


_JOBS: list[Job] = []  # read by forked workers (inherited memory: nothing is pickled)


def _build_log_size(r: str | None) -> int:
    try:
        return os.stat(os.path.join(r, "builds.log")).st_size if r else 0
    except OSError:
        return 0


def _built_here_since(r: str | None, offset: int) -> int:
    """Lines this process appended to builds.log after `offset` (one per published build)."""
    if not r:
        return 0
    try:
        with open(os.path.join(r, "builds.log"), "rb") as fh:
            fh.seek(offset)
            data = fh.read()
    except OSError:
        return 0
    pid = os.getpid()
    n = 0
    for line in data.split(b"\n"):
        with contextlib.suppress(ValueError, AttributeError):
            n += json.loads(line).get("pid") == pid
    return n


def _run_job(i: int) -> Result:
    """Build job i (in a worker, or in-process for -j 1)."""
    from ccgrad import cache
    from ccgrad import compile as cc

    job = _JOBS[i]
    r = cache.root()
    offset = _build_log_size(r)
    t0 = time.perf_counter()
    try:
        with _inside(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if job.kind == "record":
                _replay(job.payload)
            else:
                from ccgrad.function import function

                function(**job.payload)
    except cc.CompileError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "C compilation failed"
        return Result(i, "failed", time.perf_counter() - t0, first, exc.source_path, exc.log_path)
    except Exception as exc:
        return Result(i, "failed", time.perf_counter() - t0, _error_line(exc))
    status = "built" if _built_here_since(r, offset) else "cached"
    return Result(i, status, time.perf_counter() - t0)


class Progress:
    """One status line redrawn in place on a terminal (nothing when not a terminal, or quiet)."""

    def __init__(self, total: int, stream: TextIO, enabled: bool):
        self.total = total
        self.stream = stream
        self.enabled = enabled and stream.isatty()
        self.counts = {"built": 0, "cached": 0, "failed": 0}
        self.t0 = time.perf_counter()

    def line(self) -> str:
        c = self.counts
        done = sum(c.values())
        return (f"[{done:>{len(str(self.total))}}/{self.total}] built {c['built']}, already cached "
                f"{c['cached']}, failed {c['failed']} ({time.perf_counter() - self.t0:.1f} s)")

    def update(self, status: str) -> None:
        self.counts[status] += 1
        if self.enabled:
            self.stream.write("\r\x1b[2K" + self.line())
            self.stream.flush()

    def message(self, text: str) -> None:
        if self.enabled:
            self.stream.write("\r\x1b[2K")
        self.stream.write(text + "\n")
        if self.enabled:
            self.stream.write(self.line())
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()


@dataclasses.dataclass
class Summary:
    jobs: list[Job]
    results: list[Result]
    problems: list[str]
    skipped: int
    seconds: float
    workers: int

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def exit_status(self) -> int:
        return 1 if self.problems or self.count("failed") else 0


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def build_jobs(jobs: list[Job], workers: int, progress: Progress, verbose: bool = False) -> list[Result]:
    """Build every job, `workers` at a time in forked processes (in this process for 1).
    A failure never stops the others."""
    global _JOBS
    _JOBS = jobs
    results: list[Result] = []

    def done(res: Result) -> None:
        results.append(res)
        progress.update(res.status)
        if verbose or res.status == "failed":
            tag = {"built": "built ", "cached": "cached", "failed": "FAILED"}[res.status]
            extra = f": {res.message}" if res.message else ""
            progress.message(f"{tag} {jobs[res.index].label} ({res.seconds:.2f} s){extra}")

    if workers <= 1 or len(jobs) <= 1:
        for i in range(len(jobs)):
            done(_run_job(i))
        return results
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    _prepare_for_fork()
    ctx = multiprocessing.get_context("fork")
    finished: set[int] = set()
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=ctx) as ex:
        futures = {ex.submit(_run_job, i): i for i in range(len(jobs))}
        try:
            for fut in as_completed(futures):
                i = futures[fut]
                try:
                    res = fut.result()
                except BrokenProcessPool:
                    res = Result(i, "failed", 0.0, "a worker process died (crashed or was killed); "
                                 "rerun with -j 1 -v to see which function")
                except Exception as exc:
                    res = Result(i, "failed", 0.0, _error_line(exc))
                finished.add(i)
                done(res)
        except KeyboardInterrupt:
            ex.shutdown(wait=False, cancel_futures=True)
            raise
    return sorted(results, key=lambda r: r.index)


def _prepare_for_fork() -> None:
    """Do once in the parent what every worker would otherwise repeat: probe the toolchain and
    import the optimizer and the lowering."""
    from ccgrad import backend, cache, lower, rewrite  # noqa: F401
    from ccgrad import compile as cc

    with contextlib.suppress(Exception):
        cache.toolchain_parts()
        cc._ffi()


def warm(targets: list[str], workers: int | None = None, verbose: bool = False, quiet: bool = False,
         list_only: bool = False, out: TextIO | None = None, err: TextIO | None = None) -> Summary:
    """Collect the targets' functions and build them; prints progress, failures and a summary."""
    out = out or sys.stdout
    err = err or sys.stderr
    t0 = time.perf_counter()
    workers = workers or default_jobs()
    jobs, problems = collect(targets)
    for p in problems:
        err.write(f"ccgrad cache warm: {p}\n")
    todo = [j for j in jobs if j.mode in ("c", "debug")]
    skipped = len(jobs) - len(todo)
    if list_only:
        for j in jobs:
            out.write(f"{j.label}{'' if j in todo else '  (skipped: mode=' + repr(j.mode) + ')'}\n")
        return Summary(jobs, [], problems, skipped, time.perf_counter() - t0, 0)
    from ccgrad.cache_admin import require_root

    r = require_root()  # warming into no cache would build nothing that lasts
    if not quiet:
        err.write(f"ccgrad cache warm: {len(todo)} function(s) to build with {min(workers, max(1, len(todo)))} "
                  f"process(es) into {r}\n")
    progress = Progress(len(todo), err, not quiet)
    try:
        results = build_jobs(todo, workers, progress, verbose)
    finally:
        progress.close()
    summary = Summary(todo, results, problems, skipped, time.perf_counter() - t0, workers)
    _print_summary(summary, out)
    return summary


def _print_summary(s: Summary, out: TextIO) -> None:
    line = (f"warmed {len(s.jobs)} function(s) in {s.seconds:.1f} s with {min(s.workers, max(1, len(s.jobs)))} "
            f"process(es): {s.count('built')} built, {s.count('cached')} already cached, "
            f"{s.count('failed')} failed")
    if s.skipped:
        line += f", {s.skipped} skipped (mode='py' builds no C)"
    out.write(line + "\n")
    failed = [r for r in s.results if r.status == "failed"]
    if failed:
        out.write(f"failed ({len(failed)}):\n")
        for res in failed:
            out.write(f"  {s.jobs[res.index].label}: {res.message}\n")
            if res.source_path:
                out.write(f"      saved source:    {res.source_path}\n")
            if res.log_path:
                out.write(f"      compiler output: {res.log_path}\n")
    if s.problems:
        out.write(f"problems ({len(s.problems)}):\n")
        for p in s.problems:
            out.write(f"  {p}\n")
