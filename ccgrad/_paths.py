"""Where the C runtime sources (csrc/) are: inside the installed package, or the source tree."""

from __future__ import annotations

import os

_HERE = os.path.dirname(os.path.abspath(__file__))


def csrc_dir() -> str:
    """ccgrad/csrc when installed (package data), else <repo>/csrc for an editable checkout."""
    packaged = os.path.join(_HERE, "csrc")
    if os.path.isfile(os.path.join(packaged, "ccgrad_rt.h")):
        return packaged
    return os.path.join(os.path.dirname(_HERE), "csrc")


def read_csrc(name: str) -> str:
    with open(os.path.join(csrc_dir(), name), encoding="utf-8") as fh:
        return fh.read()
