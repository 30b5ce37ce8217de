"""The ccgrad-only timing scripts other parts of the project keep in benchmarks/ (graph build,
optimizer phases, Jacobian/Hessian internals), run as child processes so their text output lands
in the report unchanged and their failures stay theirs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ("graph_build", "optimize_time", "jacobian_hessian")
TIMEOUT = 600


def run_script(name: str, quick: bool) -> dict | None:
    """Run benchmarks/<name>.py (with --quick in quick mode); None when the script does not exist."""
    path = HERE / f"{name}.py"
    if not path.exists():
        return None
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    attempts = [["--quick"], []] if quick else [[]]
    for extra in attempts:
        cmd = [sys.executable, str(path), *extra]
        try:
            proc = subprocess.run(cmd, cwd=str(HERE.parent), env=env, capture_output=True, text=True,
                                  timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            return {"name": name, "command": _show(cmd), "returncode": None, "output": f"timeout after {TIMEOUT} s"}
        if proc.returncode == 2 and extra and "usage:" in proc.stderr:
            continue  # the script takes no --quick
        out = proc.stdout
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
            out += f"\n[exit code {proc.returncode}]\n{tail}"
        return {"name": name, "command": _show(cmd), "returncode": proc.returncode, "output": out}
    return None


def _show(cmd: list[str]) -> str:
    return "python " + " ".join(os.path.relpath(c, HERE.parent) if c.endswith(".py") else c for c in cmd[1:])
