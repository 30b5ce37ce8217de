"""The `ccgrad` command: `ccgrad demo` (the seed tutorial), cache tools and diagnostics."""

from __future__ import annotations

import argparse
import sys


def _cmd_demo(args: argparse.Namespace) -> int:
    from ccgrad.demo import main as demo_main

    return demo_main(strict=args.strict, verbose=args.verbose)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ccgrad", description="ccgrad command-line tools")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("demo", help="run the seed tutorial's examples and print their results")
    p.add_argument("--strict", action="store_true", help="exit 1 if any example fails")
    p.add_argument("-v", "--verbose", action="store_true", help="show tracebacks of failures")
    p.set_defaults(func=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        print(f"ccgrad {args.command}: error: {exc}", file=sys.stderr)
        return 1
