#!/usr/bin/env bash
# `make stress`: the reliability suite (tests/reliability, issue I) with its heavy parameters
# (CCGRAD_STRESS=1): 16 processes x 50 functions, 200 kill -9 injections, every corruption mode
# x 10 rounds + 1,000 bit flips, 8,000 bad-input calls, 10,000 random graphs with derivatives,
# 10^6 calls for RSS, 100 modules for the FPU flags.  Runs serially so that the concurrency
# figures are not disturbed, then prints the figures every test recorded.
# Environment: PY (python, default .venv/bin/python), CCGRAD_FIGURES (where figures go; default
# a temp file), CCGRAD_TEST_BUILD=0 to build at the production flags (slower), PYTEST_ARGS.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
figures=${CCGRAD_FIGURES:-$(mktemp -t ccgrad-stress-figures-XXXXXX.jsonl)}
: > "$figures"
echo "stress: $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores ($(uname -m)), load $(cut -d' ' -f1-3 /proc/loadavg)," \
     "$(gcc --version | head -1)"
start=$(date +%s)
CCGRAD_STRESS=1 CCGRAD_FIGURES="$figures" "$PY" -m pytest -p no:cacheprovider -q -rfE --durations=20 \
    -o addopts="" ${PYTEST_ARGS:-} tests/reliability
status=$?
echo
echo "stress: finished in $(( $(date +%s) - start )) s, load now $(cut -d' ' -f1-3 /proc/loadavg); figures ($figures):"
"$PY" -m tests.reliability.figures "$figures"
exit $status
