#!/usr/bin/env bash
# Set up .venv (first run: several minutes, it compiles llama.cpp) and open the quickstart notebook
# in JupyterLab. Extra arguments go to `jupyter lab`, e.g. `bash scripts/quickstart.sh --port 9999`.
set -euo pipefail
# shellcheck source=scripts/_setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/_setup.sh"

args=(--ServerApp.ip=127.0.0.1 --ServerApp.root_dir="$PWD")
if [ "$(id -u)" = 0 ]; then
    args+=(--allow-root)
fi
exec python -m jupyter lab "${args[@]}" "$@" notebooks/quickstart.ipynb
