"""Schema of evaluation (datasets, runs, results, assessments, feedback): append-only migrations.

Collected into the store's migration list by ``_migrations.py``; each function runs
once per file, recorded by name. Never edit or reorder one that has been released.
Times are UTC; payload columns (inputs, outputs, expectations, values) hold JSON text.
"""

from __future__ import annotations

from typing import Any

from ._migration_list import Migrations

MIGRATIONS = Migrations()
_migration = MIGRATIONS.add


@_migration
def e001_eval_datasets(con: Any) -> None:
    """Evaluation datasets: immutable versions, each a list of rows (inputs, expectations, outputs)."""
    con.execute(
        """
        CREATE TABLE eval_datasets (
            name            VARCHAR NOT NULL,
            version         INTEGER NOT NULL,  -- 1, 2, ... per name; a version never changes
            created_at      TIMESTAMP NOT NULL,  -- UTC
            row_count       BIGINT NOT NULL,
            source          VARCHAR,           -- dataframe, records, jsonl:PATH, csv:PATH, traces, eval_run:RUN_ID
            description     VARCHAR,
            parent_version  INTEGER,           -- the version this one was derived from
            author          VARCHAR,
            PRIMARY KEY (name, version)
        )
        """
    )
    con.execute(
        """
        CREATE TABLE eval_dataset_rows (
            name             VARCHAR NOT NULL,
            version          INTEGER NOT NULL,
            row_index        INTEGER NOT NULL,  -- 0-based position in the version
            record_id        VARCHAR NOT NULL,  -- stable across versions derived from one another
            inputs           VARCHAR NOT NULL,  -- JSON object (MLflow's `inputs`)
            expectations     VARCHAR,           -- JSON (MLflow's `expectations`), e.g. {"expected_response": ...}
            outputs          VARCHAR,           -- JSON: a stored answer to score without a predict_fn
            source_trace_id  VARCHAR            -- the trace the row was taken from
        )
        """
    )


@_migration
def e002_eval_runs(con: Any) -> None:
    """Evaluation runs and their per-example results (scores live in `assessments`)."""
    con.execute(
        """
        CREATE TABLE eval_runs (
            run_id           VARCHAR PRIMARY KEY,  -- 32 hex chars
            name             VARCHAR NOT NULL,
            status           VARCHAR NOT NULL,  -- RUNNING, FINISHED, INTERRUPTED, FAILED
            started_at       TIMESTAMP NOT NULL,  -- UTC
            ended_at         TIMESTAMP,
            dataset_name     VARCHAR,
            dataset_version  INTEGER,
            row_count        BIGINT NOT NULL,   -- examples in the data
            rows_done        BIGINT NOT NULL,   -- examples finished (predicted and scored)
            predict_fn       VARCHAR,           -- qualified name of the predict_fn, if any
            scorers          VARCHAR,           -- JSON list of {name, source, model}
            summary          VARCHAR,           -- JSON {scorer: {mean, pass_rate, count, errors}}
            params           VARCHAR,           -- JSON {max_concurrency, ...}
            wall_s           DOUBLE,
            error_message    VARCHAR
        )
        """
    )
    con.execute(
        """
        CREATE TABLE eval_results (
            run_id         VARCHAR NOT NULL,
            row_index      INTEGER NOT NULL,  -- position in the evaluated data
            record_id      VARCHAR,           -- the dataset row's record_id
            trace_id       VARCHAR,           -- the row's trace (root span kind CHAIN, named after the run)
            inputs         VARCHAR,           -- JSON
            outputs        VARCHAR,           -- JSON
            expectations   VARCHAR,           -- JSON
            latency_ms     DOUBLE,            -- predict_fn's wall time
            input_tokens   BIGINT,            -- LLM tokens of the app's spans (judges' excluded)
            output_tokens  BIGINT,
            cost_usd       DOUBLE,            -- NULL when no LLM call was priced
            error          VARCHAR            -- predict_fn's exception, if it raised
        )
        """
    )


@_migration
def e003_assessments(con: Any) -> None:
    """Assessments of traces: scores from code and LLM judges, and human feedback."""
    con.execute(
        """
        CREATE TABLE assessments (
            assessment_id  VARCHAR NOT NULL,  -- 32 hex chars
            trace_id       VARCHAR NOT NULL,  -- the assessed trace
            name           VARCHAR NOT NULL,  -- scorer name, or the feedback's name
            source_type    VARCHAR NOT NULL,  -- HUMAN, LLM_JUDGE or CODE (MLflow's names)
            source_id      VARCHAR,           -- author, judge model URI, or scorer name
            value          VARCHAR,           -- JSON: true/false, a number, a string; NULL when missing
            value_number   DOUBLE,            -- the value as a number (booleans 1/0) for averages
            label          VARCHAR,           -- a human's category label
            rationale      VARCHAR,           -- a judge's reasoning, or a human's comment
            error          VARCHAR,           -- why there is no value (with the judge's raw reply)
            run_id         VARCHAR,           -- the evaluation run that produced it
            row_index      INTEGER,
            span_id        VARCHAR,           -- the EVALUATOR span that produced it
            created_at     TIMESTAMP NOT NULL  -- UTC
        )
        """
    )


@_migration
def e004_assessments_passed(con: Any) -> None:
    """`assessments.passed`: pass/fail decided once, when an assessment is stored; older rows filled in."""
    # Booleans pass by themselves, numbers against the scorer's threshold, pass/fail words by the word
    # (llmops_nb.evals._scorer.verdict decides for new assessments); every view reads the stored value.
    con.execute(
        """
        ALTER TABLE assessments ADD COLUMN passed BOOLEAN  -- the value as pass/fail; NULL: no verdict
        """
    )
    # The backfill is this migration's own copy of the rule, frozen as it was when it ran: later
    # changes to the rule apply to new assessments (llmops_nb.evals._scorer.verdict), not to history.
    pass_words = "'yes', 'pass', 'passed', 'true', 'correct', 'safe', 'relevant', 'grounded'"
    fail_words = "'no', 'fail', 'failed', 'false', 'incorrect', 'unsafe', 'irrelevant', 'ungrounded'"
    word = "lower(trim(json_extract_string(a.value, '$'), ' \t\n\r'))"
    con.execute(
        f"""
        WITH thresholds AS (
            SELECT r.run_id, s->>'name' AS name, TRY_CAST(s->>'threshold' AS DOUBLE) AS threshold,
                   coalesce(TRY_CAST(s->>'lower_is_better' AS BOOLEAN), FALSE) AS lower_is_better
            FROM eval_runs r, unnest(CASE WHEN json_valid(r.scorers) THEN json_extract(r.scorers, '$[*]') END) AS u(s)),
        verdicts AS (
            SELECT a.rowid AS rid, CASE
                WHEN a.value = 'true' THEN TRUE
                WHEN a.value = 'false' THEN FALSE
                WHEN a.value_number IS NOT NULL THEN CASE
                    WHEN isnan(a.value_number) OR t.threshold IS NULL THEN NULL
                    WHEN t.lower_is_better THEN a.value_number <= t.threshold
                    ELSE a.value_number >= t.threshold END
                WHEN a.value LIKE '"%' THEN CASE
                    WHEN {word} IN ({pass_words}) THEN TRUE
                    WHEN {word} IN ({fail_words}) THEN FALSE END
                END AS passed
            FROM assessments a LEFT JOIN thresholds t
              ON t.run_id = a.run_id AND t.name = a.name AND a.source_type <> 'HUMAN')
        UPDATE assessments SET passed = verdicts.passed FROM verdicts WHERE assessments.rowid = verdicts.rid
        """
    )


@_migration
def e005_assessments_target(con: Any) -> None:
    """`assessments.target_span_id`: the span an online scorer judged (one LLM call, one retrieval); NULL: the trace."""
    con.execute("ALTER TABLE assessments ADD COLUMN target_span_id VARCHAR")
