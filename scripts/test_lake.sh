#!/usr/bin/env bash
# The DuckLake store's tests, on a real PostgreSQL: tests/test_lake*.py (and the encrypted file store's,
# which needs the httpfs wheel only this overlay can have), then the shared suite
# (store, prompts, evals, feedback, datasets, replay, %llm_sql, the widgets' data, audit and erasure)
# again, every test on its own lake
# (LLMOPS_NB_TEST_STORE=lake; tests marked file_store are skipped there).
#
# The lake needs duckdb 1.5.5 (its extension wheels are built for exactly that version) while the
# venv keeps the current DuckDB for the file store, so the lake's packages go to an overlay
# directory put first on PYTHONPATH. PostgreSQL comes from apt (Debian's postgresql); the tests
# start a throwaway cluster themselves (tests/postgres.py). CI=1: a missing piece fails, never skips.
# Run from scripts/test.sh, or alone: bash scripts/test_lake.sh [pytest args].
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
python=${PYTHON:-.venv/bin/python}
overlay=${LAKE_OVERLAY:-.venv/lake-overlay}  # LAKE_OVERLAY: an overlay made elsewhere (pip install --target)
# httpfs: DuckDB writes encrypted files only with its OpenSSL (tests/test_encrypted_store.py)
lake_packages=("duckdb==1.5.5" "duckdb-extension-ducklake==1.5.5" "duckdb-extension-postgres==1.5.5"
               "duckdb-extension-httpfs==1.5.5" "psycopg[binary]>=3.1")

if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 && ! command -v pg_ctl >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        echo "== installing postgresql (apt)"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql
    else
        echo "PostgreSQL is missing: sudo apt-get install postgresql" >&2
    fi
fi
if ! PYTHONPATH=$overlay "$python" -c 'import duckdb, duckdb_extension_ducklake, duckdb_extension_postgres, psycopg
import duckdb_extension_httpfs
assert duckdb.__version__ == "1.5.5"' 2>/dev/null; then
    echo "== installing the lake's packages into $overlay"
    "$python" -m pip install -q --upgrade --target "$overlay" "${lake_packages[@]}"
fi

export CI=${CI:-1} PYTHONPATH="$PWD:$(cd "$overlay" && pwd)"
status=0  # both runs, whatever the first one's result
"$python" -m pytest -p no:cacheprovider tests/test_lake*.py tests/test_encrypted_store.py "$@" || status=$?
LLMOPS_NB_TEST_STORE=lake "$python" -m pytest -p no:cacheprovider \
    tests/test_store.py tests/test_prompts.py tests/test_evals.py tests/test_evals_feedback.py \
    tests/test_evals_datasets.py tests/test_replay.py tests/test_sql_magic_params.py \
    tests/test_widget_explorer.py tests/test_widget_trace_list.py tests/test_widget_eval_table.py \
    tests/test_widget_eval_table_usage.py tests/test_widget_rpc.py tests/test_widget_prompt_diff.py \
    tests/test_widget_messages.py tests/test_widget_params.py tests/test_audit.py tests/test_erase.py \
    tests/test_gateway.py tests/test_gateway_routing.py tests/test_gateway_governance.py tests/test_gateway_usage.py \
    tests/test_monitor_online.py tests/test_monitor_metrics.py tests/test_monitor_alerts.py tests/test_monitor_compare.py \
    tests/test_agents_sessions.py tests/test_agents_hotspots.py tests/test_agents_graph.py \
    tests/test_evals_stored_conversations.py \
    "$@" || status=$?
exit $status
