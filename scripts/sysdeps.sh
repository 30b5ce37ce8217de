#!/usr/bin/env bash
# Installs the system packages ccgrad needs (a C compiler, Python headers, venv) when missing.
# Runs as part of `make demo` / `make test`; does nothing when everything is present.
set -euo pipefail
need=()
command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)
command -v make >/dev/null 2>&1 || need+=(make)
py=${PYTHON:-python3}
inc=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])' 2>/dev/null || echo /nonexistent)
[[ -f "$inc/Python.h" ]] || need+=(python3-dev)
"$py" -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
if ((${#need[@]})); then
  echo "ccgrad: installing system packages: ${need[*]}"
  if [[ $(id -u) -eq 0 ]]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
  else
    echo "ccgrad: please install: ${need[*]}" >&2
    exit 1
  fi
fi
