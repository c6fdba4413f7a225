"""Versioned evaluation datasets in the DuckDB file: ``llmops_nb.datasets``.

A version never changes once written; creating a dataset under an existing
name adds the next version. Rows keep a ``record_id`` across the versions
derived from one another, so runs on two versions can be compared row by row.
"""

from __future__ import annotations

from typing import Any

from .._config import current_author
from ..store._connection import get_store
from ._records import Record, assign_record_ids, load_records
from ._util import from_json, insert_rows, object_series, to_json, utc_now


class Dataset:
    """One stored version of a dataset; ``df`` shows its rows, ``evaluate(dataset, ...)`` runs it.

    >>> import llmops_nb
    >>> ds = llmops_nb.datasets.create("capitals", [{"inputs": {"country": "France"},
    ...                                              "expectations": {"expected_response": "Paris"}}])  # doctest: +SKIP
    >>> ds.version, len(ds)  # doctest: +SKIP
    (1, 1)
    """

    def __init__(self, name: str, version: int, records: list[Record], info: dict[str, Any] | None = None) -> None:
        self.name, self.version, self.records, self.info = name, version, records, info or {}

    @property
    def df(self) -> Any:
        """The rows as a pandas DataFrame: record_id, inputs, expectations, outputs, source_trace_id."""
        import pandas as pd

        records = self.records
        frame = pd.DataFrame({"record_id": [r.record_id for r in records]})
        frame["inputs"] = object_series([r.inputs for r in records])
        frame["expectations"] = object_series([r.expectations for r in records])
        frame["outputs"] = object_series([r.outputs if r.has_outputs else None for r in records])
        frame["source_trace_id"] = object_series([r.source_trace_id for r in records])
        return frame

    def to_df(self) -> Any:
        return self.df

    def __len__(self) -> int:
        return len(self.records)

    def __repr__(self) -> str:
        return f"<Dataset {self.name!r} v{self.version}: {len(self)} rows>"

    def _repr_html_(self) -> str:
        from .._html import escape

        return f"<p><b>Dataset {escape(self.name)}</b> v{self.version} · {len(self)} rows</p>" + \
            self.df.head(20).to_html(escape=True)


class _Datasets:
    """``llmops_nb.datasets()`` lists datasets; its methods create, load and derive versions."""

    def __call__(self, name: str | None = None) -> Any:
        """Every dataset version (newest first) as a DataFrame; ``name`` keeps one dataset's.

        >>> import llmops_nb
        >>> llmops_nb.datasets()  # doctest: +SKIP
        """
        query = ("SELECT name, version, created_at, row_count, source, description, parent_version, author "
                 "FROM eval_datasets")
        params: list[Any] = []
        if name is not None:
            query += " WHERE name = ?"
            params.append(name)
        with get_store().connect() as con:
            return con.execute(query + " ORDER BY created_at DESC, name, version DESC", params).df()

    def create(self, name: str, data: Any, *, description: str | None = None, inputs: Any = None,
               expectations: Any = None, outputs: Any = None) -> Dataset:
        """Store ``data`` as the next version of ``name`` (version 1 if new).

        ``data``: a DataFrame, a list of dicts, a ``.jsonl``/``.csv`` path, a
        traces DataFrame, or a Dataset. ``inputs=[cols]``/``expectations=[cols]``
        group flat columns.

        >>> import llmops_nb
        >>> llmops_nb.datasets.create("qa", "qa.jsonl", description="first cut")  # doctest: +SKIP
        <Dataset 'qa' v1: 40 rows>
        """
        _check_name(name)
        records = load_records(data, inputs=inputs, expectations=expectations, outputs=outputs)
        return save(name, records, source=_source(data), description=description)

    def load(self, name: str, version: int | None = None) -> Dataset:
        """A stored version of ``name`` (the latest by default).

        >>> import llmops_nb
        >>> llmops_nb.datasets.load("qa", version=2)  # doctest: +SKIP
        """
        with get_store().connect() as con:
            if version is None:
                row = con.execute("SELECT max(version) FROM eval_datasets WHERE name = ?", [name]).fetchone()
                version = row[0] if row else None
            info = con.execute("SELECT * FROM eval_datasets WHERE name = ? AND version = ?",
                               [name, version]).df() if version is not None else None
            rows = con.execute(
                "SELECT record_id, inputs, expectations, outputs, source_trace_id FROM eval_dataset_rows "
                "WHERE name = ? AND version = ? ORDER BY row_index", [name, version]).fetchall() \
                if version is not None else []
        if info is None or info.empty:
            known = self().name.unique().tolist()
            hint = f" Stored datasets: {', '.join(map(repr, known[:10]))}." if known else " None is stored yet."
            what = f"{name!r}" if version is None else f"{name!r} version {version}"
            raise LookupError(f"No dataset {what} in the store.{hint} Create one with "
                              "llmops_nb.datasets.create(name, data).")
        records = [Record(inputs=from_json(i), expectations=from_json(e), outputs=from_json(o),
                          has_outputs=o is not None, record_id=r, source_trace_id=t) for r, i, e, o, t in rows]
        return Dataset(name, int(version or 0), records, info.iloc[0].to_dict())

    def from_traces(self, name: str, /, traces: Any = None, *, description: str | None = None,
                    **filters: Any) -> Dataset:
        """A dataset named ``name`` of stored traces' root inputs and outputs (one row per trace).

        ``traces``: trace ids, or a ``llmops_nb.traces()`` DataFrame; or give
        ``traces()`` filters instead (``name=`` a trace name, ``tag=``, ``since=``, ``limit=`` …).

        >>> import llmops_nb
        >>> llmops_nb.datasets.from_traces("prod-sample", tag="env=prod", limit=50)  # doctest: +SKIP
        """
        _check_name(name)
        if traces is None:
            from ..store._queries import traces as query_traces
            from ..tracing import flush

            flush()  # traces that just ended are still on their way to the file
            traces = query_traces(**filters)
        elif filters:
            raise TypeError("Give either traces or traces() filters, not both.")
        ids = list(traces["trace_id"]) if hasattr(traces, "columns") else (
            [traces] if isinstance(traces, str) else [getattr(t, "trace_id", t) for t in traces])
        if not ids:
            raise ValueError("No traces to make a dataset from: the selection is empty.")
        records = load_records([{"trace_id": t} for t in ids])
        return save(name, records, source="traces", description=description)

    def from_eval_rows(self, results: Any, rows: Any, *, name: str | None = None, append: bool = True,
                       expectations_from_outputs: bool = False, description: str | None = None) -> Dataset:
        """A new dataset version from selected rows of an evaluation result.

        ``results``: the DataFrame ``evaluate()`` returned, or a run id. ``rows``:
        row positions (the DataFrame's index). The version goes to ``name``
        (default: the run's dataset, or the run's name); with ``append`` it
        holds the previous version's rows plus the selected ones (a selected
        row replaces the row with its record_id). ``expectations_from_outputs``
        turns the selected outputs into ``{"expected_response": output}``.

        >>> import llmops_nb
        >>> df = llmops_nb.evaluate(data, predict_fn=app, scorers=[...])  # doctest: +SKIP
        >>> llmops_nb.datasets.from_eval_rows(df, [0, 3], expectations_from_outputs=True)  # doctest: +SKIP
        """
        from ._results import run_rows

        run_id, picked, run = run_rows(results, rows)
        target = str(name or run.get("dataset_name") or run.get("name"))
        _check_name(target)
        selected = []
        for row in picked:
            expectations = row["expectations"]
            if expectations_from_outputs:
                expectations = {**(expectations if isinstance(expectations, dict) else {}),
                                "expected_response": row["outputs"]}
            selected.append(Record(inputs=row["inputs"], expectations=expectations, record_id=row["record_id"] or "",
                                   source_trace_id=row["trace_id"]))
        parent = None
        records = selected
        if append and self._exists(target):
            previous = self.load(target)
            parent = previous.version
            replaced = {r.record_id for r in selected if r.record_id}
            records = [r for r in previous.records if r.record_id not in replaced] + selected
        return save(target, records, source=f"eval_run:{run_id}", description=description, parent=parent)

    def _exists(self, name: str) -> bool:
        with get_store().connect() as con:
            return bool(con.execute("SELECT count(*) FROM eval_datasets WHERE name = ?", [name]).fetchone()[0])

    def __repr__(self) -> str:
        return "llmops_nb.datasets: call it for the list; .create, .load, .from_traces, .from_eval_rows"


datasets = _Datasets()


def save(name: str, records: list[Record], *, source: str, description: str | None = None,
         parent: int | None = None) -> Dataset:
    """Write ``records`` as the next version of ``name`` in one transaction."""
    if not records:
        raise ValueError(f"Dataset {name!r} would have no rows; select at least one.")
    assign_record_ids(records)
    store = get_store()
    with store.exclusive("eval_datasets"), store.connect() as con:  # the next version number, gap-free
        con.execute("BEGIN TRANSACTION")
        try:
            current = con.execute("SELECT max(version) FROM eval_datasets WHERE name = ?", [name]).fetchone()[0]
            version = (current or 0) + 1
            if parent is None and current is not None:
                parent = current
            con.execute("INSERT INTO eval_datasets VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [name, version, utc_now(), len(records), source, description, parent, current_author()])
            insert_rows(con, "eval_dataset_rows", {
                "name": [name] * len(records), "version": [version] * len(records),
                "row_index": list(range(len(records))), "record_id": [r.record_id for r in records],
                "inputs": [to_json(r.inputs) or "null" for r in records],
                "expectations": [to_json(r.expectations) for r in records],
                "outputs": [to_json(r.outputs) if r.has_outputs else None for r in records],
                "source_trace_id": [r.source_trace_id for r in records],
            }, {"version": "int", "row_index": "int"})
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return Dataset(name, version, records, {"name": name, "version": version, "source": source,
                                            "description": description, "parent_version": parent})


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"A dataset needs a non-empty name string, got {name!r}.")


def _source(data: Any) -> str:
    if isinstance(data, Dataset):
        return f"dataset:{data.name}@{data.version}"
    if hasattr(data, "columns"):
        return "traces" if "request_preview" in data.columns else "dataframe"
    if isinstance(data, (list, tuple)):
        return "records"
    suffix = str(data).rsplit(".", 1)[-1].lower()
    return f"{'csv' if suffix == 'csv' else 'jsonl'}:{data}"
