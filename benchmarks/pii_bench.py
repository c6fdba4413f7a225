"""PII detection (issue 14): precision and recall per entity, cost per KB, hostile inputs — side by side.

    python -m benchmarks --only pii_bench            # ~2 minutes; writes docs/pii-benchmarks.md
    python -m benchmarks --only pii_bench --quick    # about 30 s; prints only

Contenders, on the same texts in the same run:

- **llmops_nb** — ``llmops_nb.find_pii`` (validators, context, normalization);
- **bare regex** — one plain pattern per entity, what a hand-rolled mask function does (the
  baseline the validators must beat on precision);
- **Presidio** — ``presidio-analyzer``'s pattern recognizers (email, phone, card, IBAN, SSN, IP),
  called directly without its spaCy model (which is not on PyPI and cannot be downloaded here),
  every result kept as its ``AnalyzerEngine`` does by default; only when the package is installed
  (``pip install presidio-analyzer``, in the ``bench`` extra), else marked missing.

1. **Precision and recall** on ``tests/pii_corpus.py``'s labelled corpus (840 positives, a fifth
   disguised — zero-width characters, full-width digits, line breaks, base64 — and ~1,000 hard
   negatives). A finding is right when it overlaps a labelled span of the same entity.
2. **Cost per KB** of a typical chat payload (~1.7 KB of prose) without PII and with two findings;
   median of rounds, µs per KB. Target: ≤ 20 µs/KB.
3. **Hostile inputs**: 50 MB of prose, 50 MB of digits and separators, 1 MB of labelled phone
   numbers; seconds each (linear, bounded: never minutes).
"""

from __future__ import annotations

import random
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks._harness import ROOT
from benchmarks._report import Context, Section, Target, machine, num, table

DOC = ROOT / "docs" / "pii-benchmarks.md"
TARGET_US_PER_KB = 20.0
_PROSE = ("the customer asked about a refund for the order and our agent replied that the policy allows returns "
          "within thirty days please confirm the details so we can process it today thanks")
_WORDS = _PROSE.split()

_BARE = {  # the patterns a mask function written in an afternoon uses
    "EMAIL": r"\S+@\S+\.\w+",
    "PHONE": r"\+?\(?\d{3}\)?[ .-]?\d{3}[ .-]?\d{4}",
    "CREDIT_CARD": r"\b(?:\d[ -]?){13,19}\b",
    "IBAN": r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b",
    "US_SSN": r"\b\d{3}-\d{2}-\d{4}\b",
    "IP_ADDRESS": r"\b(?:\d{1,3}\.){3}\d{1,3}\b",
    "API_KEY": r"\b(?:sk-|ghp_|AKIA)[A-Za-z0-9_-]{16,}",
}
_PRESIDIO_ENTITIES = {"EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE", "CREDIT_CARD": "CREDIT_CARD",
                      "IBAN_CODE": "IBAN", "US_SSN": "US_SSN", "IP_ADDRESS": "IP_ADDRESS"}


def _ours() -> Any:
    from llmops_nb.pii import find_pii

    return lambda text: [(m.entity, m.start, m.end) for m in find_pii(text)]


def _bare() -> Any:
    compiled = [(entity, re.compile(pattern)) for entity, pattern in _BARE.items()]
    return lambda text: [(entity, m.start(), m.end()) for entity, p in compiled for m in p.finditer(text)]


def _presidio() -> Any | None:
    try:
        from presidio_analyzer import predefined_recognizers as pr
    except ImportError:
        return None
    recognizers = [pr.EmailRecognizer(), pr.PhoneRecognizer(), pr.CreditCardRecognizer(), pr.IbanRecognizer(),
                   pr.UsSsnRecognizer(), pr.IpRecognizer()]

    def detect(text: str) -> list[tuple[str, int, int]]:
        found = []
        for recognizer in recognizers:
            for result in recognizer.analyze(text, recognizer.supported_entities, None):
                # every result, as Presidio's AnalyzerEngine returns by default (score_threshold=0): its
                # phone recognizer scores 0.4 and raises it only with a spaCy model's context
                if result.entity_type in _PRESIDIO_ENTITIES:
                    found.append((_PRESIDIO_ENTITIES[result.entity_type], result.start, result.end))
        return found
    return detect


def run(ctx: Context) -> Section:
    sys.path.insert(0, str(ROOT))
    from tests.pii_corpus import corpus, score

    contenders: dict[str, Any] = {"llmops_nb": _ours(), "bare regex": _bare()}
    presidio = _presidio()
    if presidio is not None:
        contenders["Presidio (patterns)"] = presidio
    results: dict[str, Any] = {"quick": ctx.quick, "presidio": presidio is not None}

    examples = corpus(per_entity=40 if ctx.quick else 120)
    quality: dict[str, dict[str, list[int]]] = {}
    for name, detect in contenders.items():
        counts: dict[str, list[int]] = {}
        for example in examples:
            score(detect(example.text), example.spans, counts)
        quality[name] = counts
        ctx.log(f"pii_bench: {name}: corpus scored")
    results["quality"] = quality

    rng = random.Random(3)
    prose = " ".join(rng.choice(_WORDS) for _ in range(300))
    with_pii = prose[:800] + " my email is ann.lee@example.com and my phone is (415) 555-2671. " + prose[800:]
    rounds = ctx.pick_rounds(7, 3)
    cost: dict[str, dict[str, float]] = {}
    for label, text in (("no PII", prose), ("two findings", with_pii)):
        cost[label] = {}
        for name, detect in contenders.items():
            cost[label][name] = _us_per_kb(detect, text, rounds)
    results["cost"] = cost

    hostile = {
        "50 MB of prose": (" ".join(rng.choice(_WORDS) for _ in range(900_000))[:5_000_000] + " ") * 10,
        "50 MB of digits and separators": ("1 2-3.4 " * 40_000 + "9" * 100_000 + " 4111 1111 1111 1111 ") * 120,
        "1 MB of labelled phone numbers": " ".join(f"phone: {4155550000 + i}" for i in range(60_000)),
    }
    if ctx.quick:
        hostile = {k: v[:500_000] for k, v in hostile.items()}
    results["hostile"] = {}
    for label, text in hostile.items():
        started = time.perf_counter()
        found = contenders["llmops_nb"](text)
        results["hostile"][label] = {"seconds": time.perf_counter() - started, "chars": len(text),
                                     "findings": len(found)}
        ctx.log(f"pii_bench: {label}: {results['hostile'][label]['seconds']:.1f} s")

    section = _section(results)
    if not ctx.quick:
        DOC.write_text(_document(section), encoding="utf-8")
        ctx.log(f"pii_bench: wrote {DOC.relative_to(ROOT)}")
    return section


def _us_per_kb(detect: Any, text: str, rounds: int) -> float:
    detect(text)  # warm: imports, compiled patterns
    samples = []
    for _ in range(rounds):
        n, started = 0, time.perf_counter()
        while time.perf_counter() - started < 0.3:
            detect(text)
            n += 1
        samples.append((time.perf_counter() - started) / n)
    return statistics.median(samples) * 1e6 / (len(text.encode()) / 1024)


def _ratio(tp: int, other: int) -> float | None:
    return tp / (tp + other) if tp + other else None


def _section(results: dict[str, Any]) -> Section:
    quality = results["quality"]
    names = list(quality)
    entities = sorted({e for counts in quality.values() for e in counts} | set(_BARE))
    rows = []
    for entity in entities:
        row: list[Any] = [entity]
        for name in names:
            tp, fp, fn = quality[name].get(entity, [0, 0, 0])
            if name.startswith("Presidio") and entity not in _PRESIDIO_ENTITIES.values():
                row += ["–", "–"]
                continue
            row += [num(_ratio(tp, fp)), num(_ratio(tp, fn))]
        rows.append(row)
    header = ["Entity"] + [f"{name} {kind}" for name in names for kind in ("precision", "recall")]
    cost = results["cost"]
    cost_rows = [[label] + [num(cost[label][name]) for name in names] for label in cost]
    hostile_rows = [[label, f"{v['chars']:,}", num(v["seconds"]), f"{v['findings']:,}"]
                    for label, v in results["hostile"].items()]
    ours = cost["no PII"]["llmops_nb"]
    presidio_note = "" if results["presidio"] else (
        "\n\nPresidio was not installed in this run (`pip install presidio-analyzer`), so its columns are missing.")
    body = "\n\n".join([
        "**Precision and recall** on the labelled corpus (`tests/pii_corpus.py`):\n\n" + table(header, rows),
        "**Cost per KB** of a ~1.7 KB chat payload, median µs/KB:\n\n"
        + table(["Payload", *names], cost_rows),
        "**Hostile inputs** (llmops_nb only), seconds:\n\n"
        + table(["Input", "Characters", "Seconds", "Findings"], hostile_rows),
    ]) + presidio_note
    worst = min(_ratio(*quality["llmops_nb"][e][:2]) or 0 for e in quality["llmops_nb"])
    targets = [
        Target("PII scan of a chat payload without PII", f"≤ {TARGET_US_PER_KB:.0f} µs/KB", f"{num(ours)} µs/KB",
               ours <= TARGET_US_PER_KB),
        Target("PII precision, worst entity", "≥ 0.95", num(worst), worst >= 0.95),
    ]
    return Section("PII detection: llmops_nb vs bare regex vs Presidio", body, targets, results)


def _document(section: Section) -> str:
    info = machine()
    return (f"# PII detection benchmarks\n\nWritten by `python -m benchmarks --only pii_bench` "
            f"({info.get('cpu', 'unknown CPU')}, {info.get('cores', '?')} cores, Python {sys.version.split()[0]}). "
            "The corpus was written alongside the recognizers, so its numbers are an upper bound: a held-out "
            "corpus of real traffic will score lower. What it shows reliably is the difference validation "
            "makes against bare patterns on the same hard negatives.\n\n"
            + section.body + "\n\n## Targets\n\n"
            + table(["What", "Goal", "Measured", "Met"],
                    [[t.what, t.goal, t.measured, "yes" if t.met else "no"] for t in section.targets]) + "\n")


if __name__ == "__main__":  # pragma: no cover - `python -m benchmarks --only pii_bench` is the entry point
    raise SystemExit(f"run it as: python -m benchmarks --only pii_bench (from {Path(__file__).parent.parent})")
