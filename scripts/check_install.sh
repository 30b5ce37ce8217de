#!/usr/bin/env bash
# Non-editable `pip install .` into a fresh venv, then import ccgrad and run a function there.
set -euo pipefail
py=${1:-python3}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$py" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install -q --disable-pip-version-check "$root"
cd "$tmp"
CCGRAD_CACHE_DIR="$tmp/cache" "$tmp/venv/bin/python" - <<'PY'
import os
import ccgrad, ccgrad.tensor as T
assert "site-packages" in ccgrad.__file__, ccgrad.__file__
from ccgrad import _paths
assert os.path.isfile(os.path.join(_paths.csrc_dir(), "ccgrad_rt.h")), _paths.csrc_dir()
x = T.dscalar("x")
f = ccgrad.function([x], T.grad(x ** 2, x), mode="py")
assert float(f(4)) == 8.0
print("check-install: non-editable install OK:", ccgrad.__file__)
PY
