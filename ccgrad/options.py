"""Process-wide settings: the frozen Options read once from the environment, and Theano's `config`.

This is the only module that reads os.environ.
"""

from __future__ import annotations

import dataclasses
import os


@dataclasses.dataclass(frozen=True)
class Options:
    """Settings fixed at import from CCGRAD_* environment variables."""

    cache_dir: str | None  # CCGRAD_CACHE_DIR; None -> the user cache dir
    cflags: str | None  # CCGRAD_CFLAGS overrides the default optimisation flags
    cc: str  # CC, else "cc"
    debug: frozenset[str]  # CCGRAD_DEBUG=rewrite,codegen,...
    record: str | None  # CCGRAD_RECORD=path.jsonl appends every built graph
    collect: bool  # CCGRAD_COLLECT=1: function() records graphs instead of compiling
    lock: bool  # CCGRAD_LOCK=0 disables the per-key build lock (duplicate builds allowed)
    cache_max_bytes: int  # CCGRAD_CACHE_MAX_SIZE, bytes (default 2 GiB)
    test_build: bool  # CCGRAD_TEST_BUILD=1: build at -O0 (part of the key) for fast test runs
    blas: bool  # CCGRAD_BLAS=0: matrix products in plain C loops instead of scipy-openblas32


def _read_options() -> Options:
    env = os.environ
    debug = frozenset(p.strip() for p in env.get("CCGRAD_DEBUG", "").split(",") if p.strip())
    return Options(
        cache_dir=env.get("CCGRAD_CACHE_DIR") or None,
        cflags=env.get("CCGRAD_CFLAGS") or None,
        cc=env.get("CC") or "cc",
        debug=debug,
        record=env.get("CCGRAD_RECORD") or None,
        collect=env.get("CCGRAD_COLLECT", "") not in ("", "0"),
        lock=env.get("CCGRAD_LOCK", "1") not in ("0", "off", "false"),
        cache_max_bytes=int(env.get("CCGRAD_CACHE_MAX_SIZE", str(2 << 30))),
        test_build=env.get("CCGRAD_TEST_BUILD", "") not in ("", "0"),
        blas=env.get("CCGRAD_BLAS", "1") not in ("0", "off", "false"),
    )


options = _read_options()


def reload_options() -> Options:
    """Re-read the environment (tests use this after changing CCGRAD_* variables)."""
    global options
    options = _read_options()
    return options


class Config:
    """Theano's mutable `config` object; only the settings ccgrad honours."""

    def __init__(self) -> None:
        self._floatX = "float64"

    @property
    def floatX(self) -> str:
        return self._floatX

    @floatX.setter
    def floatX(self, value: str) -> None:
        if value not in ("float32", "float64"):
            raise ValueError(f"config.floatX must be 'float32' or 'float64', got {value!r}")
        self._floatX = value


config = Config()
