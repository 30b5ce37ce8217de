"""What a benchmark run ran on: date, command, CPU, cores, memory, load average, compiler and
package versions (read from metadata, without importing the packages)."""

from __future__ import annotations

import datetime
import os
import platform
import re
import shutil
import subprocess
import sys
from importlib import metadata

PACKAGES = ("ccgrad", "numpy", "cffi", "scipy-openblas32", "scipy", "pytensor", "numba", "jax", "jaxlib",
            "threadpoolctl", "matplotlib")


def _cpuinfo() -> dict:
    info: dict = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                key, _, val = line.partition(":")
                key, val = key.strip(), val.strip()
                if key in ("model name", "cpu family", "model", "stepping") and key not in info:
                    info[key] = val
                if key == "flags" and "flags" not in info:
                    flags = set(val.split())
                    info["flags"] = " ".join(f for f in ("avx2", "fma", "avx512f", "avx512dq", "avx512vl")
                                             if f in flags)
    except OSError:
        pass
    return info


def _lscpu_cache() -> str:
    if not shutil.which("lscpu"):
        return ""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    parts = [f"{m.group(1)} {m.group(2).strip()}" for m in re.finditer(r"^(L[123]\w?) cache:\s+(.*)$", out, re.M)]
    return ", ".join(parts)


def _mem_gib() -> float | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _cc_version() -> str:
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if not cc:
        return "none"
    try:
        return subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=10).stdout.splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return cc


def versions() -> dict:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def describe(argv: list[str]) -> dict:
    """Everything worth recording about this machine and run."""
    cpu = _cpuinfo()
    model = cpu.get("model name", platform.processor() or platform.machine())
    if cpu.get("cpu family"):
        model += f" (family {cpu['cpu family']} model {cpu.get('model')})"
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python -m benchmarks " + " ".join(argv),
        "cpu": model,
        "cpu_flags": cpu.get("flags", ""),
        "caches": _lscpu_cache(),
        "cores": os.cpu_count(),
        "mem_gib": _mem_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "libc": " ".join(platform.libc_ver()),
        "cc": _cc_version(),
        "versions": versions(),
        "loadavg_start": os.getloadavg(),
        "executable": sys.executable,
    }
