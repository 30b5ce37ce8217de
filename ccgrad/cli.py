"""The `ccgrad` command (also `python -m ccgrad`): warm, inspect and ship the compile cache,
diagnose the toolchain, run the seed tutorial.

Built on argparse (stdlib): the command has a dozen flags, needs no completion or colours, and a
third-party CLI library would be one more dependency to install everywhere ccgrad runs (CI,
containers, login nodes) for no gain.  Errors are one line on stderr (`--traceback` shows the
Python traceback); exit status 0 success, 1 failure, 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

EPILOG_WARM = """\
TARGET is one of:
  an importable module   ccgrad cache warm mypkg.models
  a Python file          ccgrad cache warm train.py
  a record file          ccgrad cache warm graphs.jsonl   (written by CCGRAD_RECORD=graphs.jsonl)

While a module or file is imported, function() only collects each graph and returns a
placeholder (calling it raises), so importing is quick; the graphs are then built in parallel.
Functions declared with @ccgrad.warmup (zero-argument builders returning (inputs, outputs) or
(inputs, outputs, kwargs)) are built too.  Functions with mode='py' build no C and are skipped.
Exit status 1 if any build failed; each failure names the function and its saved C source.
"""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: 'ccgrad cache warm: error: ... (see --help)'."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t))


# ---------------------------------------------------------------------------------------------
# commands


def _cmd_demo(args: argparse.Namespace) -> int:
    from ccgrad.demo import main as demo_main

    return demo_main(strict=args.strict, verbose=args.verbose)


def _cmd_doctor(args: argparse.Namespace) -> int:
    from ccgrad import doctor

    return doctor.run()


def _cmd_info(args: argparse.Namespace) -> int:
    from ccgrad import cache, cache_admin
    from ccgrad.cache_admin import format_size as fs

    r = cache_admin.require_root()
    d = cache_admin.info(r)
    parts = cache.toolchain_parts()
    if args.json:
        print(json.dumps(dict(d, key_parts=parts), indent=1, sort_keys=True))
        return 0
    print(f"cache root      {r}")
    print(f"entries         {d['entries']} ({fs(d['entries_bytes'])}; whole directory {fs(d['total_bytes'])}, "
          f"trash {fs(d['trash_bytes'])})")
    print(f"size cap        {fs(d['max_bytes'])} (CCGRAD_CACHE_MAX_SIZE; least recently used entries go first)")
    print(f"builds logged   {d['builds']} ({d['distinct_keys_built']} distinct keys; {os.path.join(r, 'builds.log')})")
    print("key parts of this environment (an entry loads only where all of them match):")
    width = max(len(k) for k in parts)
    for k in sorted(parts):
        print(f"  {k:<{width}}  {parts[k]}")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from ccgrad import cache_admin
    from ccgrad.cache_admin import format_size as fs

    r = cache_admin.require_root()
    entries = sorted(cache_admin.iter_entries(r), key=lambda e: e.created, reverse=True)
    shown = entries[: args.limit] if args.limit else entries
    if args.json:
        print(json.dumps([{"key": e.key, "size": e.size, "created": e.created, "used": e.used, "name": e.name,
                           "path": e.path} for e in shown], indent=1))
        return 0
    if not entries:
        print(f"no entries in {r}")
        return 0
    print(f"{'KEY':<16}  {'SIZE':>9}  {'BUILT':<16}  {'LAST USED':<16}  NAME")
    for e in shown:
        print(f"{e.key[:16]}  {fs(e.size):>9}  {_when(e.created):<16}  {_when(e.used):<16}  {e.name or '-'}")
    more = f" (showing {len(shown)})" if len(shown) < len(entries) else ""
    print(f"{len(entries)} entries, {fs(sum(e.size for e in entries))}{more}")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from ccgrad import cache, cache_admin
    from ccgrad.cache_admin import format_size as fs

    r = cache_admin.require_root()
    e = cache_admin.find_entry(r, args.key)
    meta = e.meta
    if args.source:
        with open(os.path.join(e.path, "src.c"), encoding="utf-8", errors="replace") as fh:
            sys.stdout.write(fh.read())
        return 0
    problem = cache_admin.verify_entry(e)
    ext = os.path.join(e.path, str(meta.get("file", "?")))
    print(f"key          {e.key}")
    print(f"name         {e.name or '-'}")
    print(f"entry        {e.path}")
    print(f"source       {os.path.join(e.path, 'src.c')}")
    ext_size = fs(os.path.getsize(ext)) if os.path.isfile(ext) else "missing"
    print(f"extension    {ext} ({ext_size}; {'sha256 ok' if problem is None else 'BAD: ' + problem})")
    secs = meta.get("build_seconds")
    print(f"built        {_when(e.created)}" + (f" in {secs:.2f} s" if isinstance(secs, int | float) else ""))
    print(f"last used    {_when(e.used)}")
    print(f"size         {fs(e.size)}")
    parts = meta.get("parts") if isinstance(meta.get("parts"), dict) else {}
    mine = cache.toolchain_parts()
    print("key parts:")
    width = max([len(k) for k in parts] or [1])
    for k in sorted(parts):
        mark = "" if k == "source" or parts[k] == mine.get(k) else "   <- differs here: " + str(mine.get(k))
        print(f"  {k:<{width}}  {parts[k]}{mark}")
    log = meta.get("compiler_output") or ""
    print("build log:" + ("" if log.strip() else " (empty)"))
    for line in log.rstrip().splitlines():
        print(f"  {line}")
    return 0


def _cmd_clear(args: argparse.Namespace) -> int:
    from ccgrad import cache_admin
    from ccgrad.cache_admin import format_size as fs

    if args.older_than is not None and args.older_than < 0:
        raise ValueError("--older-than must be a number of days >= 0")
    r = cache_admin.require_root()
    n, size = cache_admin.clear(r, args.older_than)
    which = f" unused for {args.older_than:g} days" if args.older_than is not None else ""
    print(f"removed {n} entries{which} ({fs(size)}) from {r}")
    return 0


def _cmd_prune(args: argparse.Namespace) -> int:
    from ccgrad import cache_admin
    from ccgrad.cache_admin import format_size as fs

    r = cache_admin.require_root()
    cap = cache_admin.parse_size(args.max_size) if args.max_size else None
    rep = cache_admin.prune(r, cap)
    left = cache_admin.info(r)
    print(f"evicted {rep.evicted} least recently used entries ({fs(rep.evicted_bytes)}); emptied trash "
          f"({fs(rep.trash_bytes)}); removed {rep.dead_builds} dead builders' temp dirs (kept {rep.live_builds} "
          f"live), {rep.stale_files} stale files, {rep.index_records} stale index records")
    print(f"{left['entries']} entries left, {fs(left['entries_bytes'])} "
          f"(cap {fs(cap if cap is not None else left['max_bytes'])})")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from ccgrad import cache_admin
    from ccgrad.cache_admin import format_size as fs

    r = cache_admin.require_root()
    n, skipped = cache_admin.export(r, args.file)
    print(f"exported {n} entries to {args.file} ({fs(os.path.getsize(args.file))})")
    for key in skipped:
        print(f"skipped corrupt entry {key[:16]} (run `ccgrad cache prune`)")
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from ccgrad import cache_admin

    r = cache_admin.require_root()
    rep = cache_admin.import_(r, args.file)
    print(f"imported {rep.imported} entries into {r} ({rep.present} already present, {len(rep.refused)} refused, "
          f"{rep.index_records} warm-start index records)")
    by_reason: dict[str, list[str]] = {}
    for key, why in rep.refused:
        by_reason.setdefault(why, []).append(key[:16])
    for why, keys in by_reason.items():
        listed = ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")
        print(f"refused {len(keys)} ({listed}): {why}")
    return 1 if rep.refused else 0


def _cmd_warm(args: argparse.Namespace) -> int:
    from ccgrad import warm

    if args.jobs is not None and args.jobs < 1:
        raise ValueError("-j must be at least 1")
    summary = warm.warm(args.targets, workers=args.jobs, verbose=args.verbose, quiet=args.quiet,
                        list_only=args.list)
    return summary.exit_status


# ---------------------------------------------------------------------------------------------
# the parser


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ccgrad", description="ccgrad command-line tools: warm and look after the compile "
                     "cache, diagnose the toolchain, run the tutorial.")
    parser.add_argument("--traceback", action="store_true", help="show the Python traceback of an error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("demo", help="run the seed tutorial's examples and print their results",
                       description="Run the seed tutorial's examples (Derivatives in Theano) and print each result.")
    p.add_argument("--strict", action="store_true", help="exit 1 if any example fails")
    p.add_argument("-v", "--verbose", action="store_true", help="show tracebacks of failures")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("doctor", help="check the compiler, cffi, headers, BLAS, cache directory and disk space",
                       description="Check everything ccgrad needs to compile and cache functions (compiler, and "
                       "that it builds and loads a module; cffi; Python headers; BLAS; cache directory safety; "
                       "free space).  Prints a fix for each problem; exit status 1 if anything is wrong.")
    p.set_defaults(func=_cmd_doctor)

    cache_p = sub.add_parser("cache", help="warm, inspect, clean and ship the compile cache",
                             description="The on-disk cache of compiled functions (CCGRAD_CACHE_DIR, else the "
                             "user cache dir).")
    csub = cache_p.add_subparsers(dest="cache_command", metavar="ACTION", parser_class=_Parser)
    cache_p.set_defaults(func=lambda a: _help(cache_p))

    p = csub.add_parser("warm", help="build every function a module, file or record defines, in parallel",
                        description="Build, ahead of time and in parallel, every function the targets define, "
                        "so later processes compile nothing.", epilog=EPILOG_WARM,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("targets", nargs="+", metavar="TARGET", help="module name, .py file or recorded .jsonl")
    p.add_argument("-j", "--jobs", type=int, metavar="N", help="build N functions at once (default: number of cores)")
    p.add_argument("-v", "--verbose", action="store_true", help="print a line per function")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    p.add_argument("--list", action="store_true", help="only list the functions the targets define")
    p.set_defaults(func=_cmd_warm)

    p = csub.add_parser("info", help="root, entries, size, build counts and this environment's key parts",
                        description="Where the cache is, how big, how many builds were logged, and the key "
                        "parts of this environment (compiler, flags, CPU target, Python ABI, cffi, BLAS).")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_info)

    p = csub.add_parser("list", help="entries, newest first, with size and function name",
                        description="List cache entries, newest first: key prefix, size, build time, last use, "
                        "the function's name.")
    p.add_argument("-n", "--limit", type=int, default=0, metavar="N", help="show only the N newest")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_list)

    p = csub.add_parser("show", help="one entry: key parts, source path, build log",
                        description="Show one entry: its key parts (marking any that differ from this "
                        "environment), its files, whether its extension's sha256 checks out, its build log.")
    p.add_argument("key", metavar="KEY", help="the key or a unique prefix of it (at least 4 hex digits)")
    p.add_argument("--source", action="store_true", help="print the generated C source instead")
    p.set_defaults(func=_cmd_show)

    p = csub.add_parser("clear", help="remove all entries (or those unused for DAYS)",
                        description="Remove cache entries: all of them (with the warm-start index and trash), or "
                        "with --older-than only those not used for DAYS days.  Safe while other processes run: "
                        "a loaded function keeps working.")
    p.add_argument("--older-than", type=float, metavar="DAYS", help="only entries not used for DAYS days")
    p.set_defaults(func=_cmd_clear)

    p = csub.add_parser("prune", help="evict least recently used entries down to a size; remove debris",
                        description="Evict least recently used entries until the cache fits SIZE (default "
                        "CCGRAD_CACHE_MAX_SIZE, 2 GiB), empty trash/ and failed/, remove temp dirs of dead "
                        "builders (never a live one's) and stale index records.")
    p.add_argument("--max-size", metavar="SIZE", help="e.g. 500M, 2G (powers of 1024)")
    p.set_defaults(func=_cmd_prune)

    p = csub.add_parser("export", help="write the cache's entries to a tar file",
                        description="Write every verified entry and its warm-start index records to FILE "
                        "(.tar, or .tar.gz/.tgz compressed) to import on machines of the same kind.")
    p.add_argument("file", metavar="FILE", help="the tar file to write")
    p.set_defaults(func=_cmd_export)

    p = csub.add_parser("import", help="add the entries of an exported tar file",
                        description="Add the entries of FILE to this cache.  Each entry's hashes are checked and "
                        "entries built for another compiler, flags, CPU target, Python ABI, cffi or BLAS are "
                        "refused; an archive with absolute paths, '..', links or devices is refused whole.  "
                        "Exit status 1 if any entry was refused.")
    p.add_argument("file", metavar="FILE", help="a file written by `ccgrad cache export`")
    p.set_defaults(func=_cmd_import)
    return parser


def _help(p: argparse.ArgumentParser) -> int:
    p.print_help()
    return 2


def _one_line(exc: BaseException) -> str:
    text = " ".join(ln.strip() for ln in str(exc).splitlines() if ln.strip())
    if isinstance(exc, OSError | ValueError | LookupError) or type(exc).__name__ in ("CacheAdminError",
                                                                                    "CompileError"):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:
        if args.traceback:
            raise
        name = "ccgrad " + " ".join(x for x in (args.command, getattr(args, "cache_command", None)) if x)
        print(f"{name}: error: {_one_line(exc)}", file=sys.stderr)
        return 1
