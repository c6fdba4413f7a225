"""``store copy`` of the prompt registry: versions, aliases and the aliases' history, in one transaction.

A version DST holds with other content stops the copy (``_copy_tables.refuse_conflicts``); an alias
DST points elsewhere is left where it is and reported, and SRC's moves of that alias are not added
to DST's history, so ``prompts.rollback`` on DST keeps following DST's own moves.
"""

from __future__ import annotations

from typing import Any

from ._copy_tables import CopyReport, Target, conflicts, insert_missing, read_chunk, refuse_conflicts, rows

PROMPT_TABLES = ("prompt_versions", "prompt_aliases", "prompt_alias_history")
# DST aliases that SRC points elsewhere (or deleted): DST's stays, and so does its history
_DISPUTED = """
SELECT d.name, d.alias, d.version, s.version FROM prompt_aliases d
LEFT JOIN _copy_prompt_aliases s ON s.name = d.name AND s.alias = d.alias
WHERE s.version IS DISTINCT FROM d.version AND (s.version IS NOT NULL OR EXISTS (
    SELECT 1 FROM _copy_prompt_alias_history h WHERE h.name = d.name AND h.alias = d.alias))
ORDER BY d.name, d.alias"""
_HISTORY = ("name", "alias", "action", "from_version", "to_version", "author", "changed_ns")
# A move DST lacks is appended after DST's own, numbered on from DST's last seq in SRC's order
_ADD_HISTORY = f"""
INSERT INTO prompt_alias_history (seq, {', '.join(_HISTORY)})
SELECT (SELECT COALESCE(max(seq), 0) FROM prompt_alias_history) + row_number() OVER (ORDER BY s.seq),
       {', '.join(f's.{c}' for c in _HISTORY)}
FROM _copy_prompt_alias_history s
WHERE NOT EXISTS (SELECT 1 FROM prompt_alias_history d WHERE {' AND '.join(f'd.{c} IS NOT DISTINCT FROM s.{c}'
                                                                         for c in _HISTORY)})
  AND NOT EXISTS (SELECT 1 FROM (SELECT unnest(?::VARCHAR[]) AS name, unnest(?::VARCHAR[]) AS alias) x
                  WHERE x.name = s.name AND x.alias = s.alias)"""


def copy_prompts(source: Any, target: Target, report: CopyReport) -> None:
    """Versions, aliases and alias history in one transaction, under the prompt writers' lock."""
    chunk = read_chunk(source, PROMPT_TABLES, "name", None, None)

    def work(con: Any) -> tuple[int, int, int, list[tuple[Any, ...]]]:
        refuse_conflicts({"prompt_versions": conflicts(con, "prompt_versions")})  # registered meanwhile?
        versions = insert_missing(con, target, "prompt_versions", ("name", "version"), chunk["_copy_prompt_versions"])
        disputed = rows(con, _DISPUTED)
        aliases = insert_missing(con, target, "prompt_aliases", ("name", "alias"), chunk["_copy_prompt_aliases"])
        history = rows(con, _ADD_HISTORY, [[d[0] for d in disputed], [d[1] for d in disputed]])
        return versions, aliases, int(history[0][0]) if history else 0, disputed

    with target.lock("prompts"):
        versions, aliases, history, disputed = target.apply(chunk, work)
    for table, copied in zip(PROMPT_TABLES, (versions, aliases, history), strict=True):
        report.table(table).add(copied, chunk[f"_copy_{table}"].num_rows)
    for name, alias, dst_version, src_version in disputed:
        if src_version is None:
            report.notes.append(f"prompt alias {name}@{alias}: deleted in SRC, kept in DST at v{dst_version} "
                                f"(prompts.delete_alias({name!r}, {alias!r}) on DST to follow SRC)")
        else:
            report.notes.append(f"prompt alias {name}@{alias}: DST points at v{dst_version}, SRC at v{src_version}; "
                                f"DST's was left as is (prompts.set_alias({name!r}, {alias!r}, {src_version}) on DST "
                                "to follow SRC)")
