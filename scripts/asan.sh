#!/usr/bin/env bash
# `make asan`: generated C and the dispatcher built with -fsanitize=address,undefined, run under
# stock CPython with the sanitizer runtimes preloaded (LD_PRELOAD): the bad-input fuzzer
# (ASAN_CALLS calls, default 8,000), random graphs with their derivatives (ASAN_BATCHES
# batches of 25 graphs, default 16) and the cases the fuzzers found.  Two canaries prove the
# setup reports findings.  Exits 1 on any sanitizer finding, crash or wrong result.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
figures=${CCGRAD_FIGURES:-$(mktemp -t ccgrad-asan-figures-XXXXXX.jsonl)}
echo "asan: $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)," \
     "$(gcc --version | head -1)"
CCGRAD_STRESS=1 CCGRAD_FIGURES="$figures" "$PY" -m tests.reliability.asan_run --calls "${ASAN_CALLS:-8000}" \
    --batches "${ASAN_BATCHES:-16}" --graphs 25
status=$?
"$PY" -m tests.reliability.figures "$figures"
exit $status
