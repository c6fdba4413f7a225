#!/usr/bin/env bash
# Set up .venv, then lint, run every test and execute every notebook. Each step runs even when an
# earlier one failed, so one run shows every problem; the exit code is non-zero if any failed.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k local_model`.
set -euo pipefail
# shellcheck source=scripts/_setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/_setup.sh"

# Browser tests drive Debian's chromium (Playwright cannot download its own browser here).
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ]; then
    echo "== installing chromium (apt)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
fi

failed=()
step() {
    local name=$1 start=$SECONDS
    shift
    echo "== $name: $*"
    if "$@"; then
        echo "== $name: ok ($((SECONDS - start)) s)"
    else
        echo "== $name: FAILED ($((SECONDS - start)) s)"
        failed+=("$name")
    fi
}

step lint ruff check
step typecheck mypy
step js-lint npm --prefix js run lint
step js-types npm --prefix js run typecheck
step js-tests npm --prefix js test
# Browser tests run in their own pytest process: Playwright's sync API leaves an event loop
# running in the main thread, which breaks every later test that calls asyncio.run().
step tests python -m pytest -p no:cacheprovider -m "not browser and not lake" "$@"
step browser-tests python -m pytest -p no:cacheprovider -m browser tests/browser "$@"
step lake-tests bash scripts/test_lake.sh "$@"
step notebooks python scripts/run_notebooks.py

if [ ${#failed[@]} -gt 0 ]; then
    echo "== FAILED: ${failed[*]}"
    exit 1
fi
echo "== all passed"
