"""Presidio as an optional second engine (``engine="presidio"``), for what ours does not look for.

Our recognizers stay the first engine (they are measured more precise and ~50× faster than
Presidio's patterns, docs/pii-benchmarks.md). Presidio adds entities we do not have: with a spaCy
model installed (``python -m spacy download en_core_web_lg`` — a download, so not on an offline
machine) its NER finds ``PERSON``, ``LOCATION``, ``NRP``…; without one, its pattern recognizers
still add ``CRYPTO``, ``URL``, ``US_DRIVER_LICENSE``, ``US_PASSPORT``, ``UK_NHS``, ``MEDICAL_LICENSE``…
Its names for entities we also find are mapped to ours, so a policy reads the same either way.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from ._errors import PiiPolicyError

__all__ = ["presidio_findings"]

_OURS = {"EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE", "IBAN_CODE": "IBAN", "CREDIT_CARD": "CREDIT_CARD",
         "US_SSN": "US_SSN", "IP_ADDRESS": "IP_ADDRESS"}
_MODELS = ("en_core_web_lg", "en_core_web_md", "en_core_web_sm", "en_core_web_trf")


def presidio_findings(text: str) -> list[tuple[str, int, int, float]]:
    """Presidio's findings in ``text`` as (entity, start, end, score), our names where they exist."""
    return [(_OURS.get(r.entity_type, r.entity_type), r.start, r.end, float(r.score)) for r in _analyzer()(text)]


@functools.lru_cache(maxsize=1)
def _analyzer() -> Callable[[str], list[Any]]:
    try:
        import presidio_analyzer
    except ImportError:
        raise PiiPolicyError("engine 'presidio' needs the presidio-analyzer package: pip install presidio-analyzer "
                             "(and a spaCy model, e.g. en_core_web_lg, for names and places)") from None
    model = _installed_model()
    if model is not None:
        from presidio_analyzer.nlp_engine import NlpEngineProvider

        nlp = NlpEngineProvider(nlp_configuration={
            "nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": model}]}).create_engine()
        engine = presidio_analyzer.AnalyzerEngine(nlp_engine=nlp)
        return lambda text: engine.analyze(text, language="en")
    # No model: AnalyzerEngine would try to download one. Its recognizers that need no NLP run alone.
    registry = presidio_analyzer.RecognizerRegistry()
    quiet = logging.getLogger("presidio-analyzer")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # a warning per recognizer of another language, on every load
    try:
        registry.load_predefined_recognizers(languages=["en"])
    finally:
        quiet.setLevel(level)
    recognizers = [r for r in registry.recognizers if type(r).__name__ != "SpacyRecognizer"]

    def analyze(text: str) -> list[Any]:
        results: list[Any] = []
        for recognizer in recognizers:
            # Presidio's pattern recognizers take nlp_artifacts=None (its own tests call them so)
            results += recognizer.analyze(text, recognizer.supported_entities, None) or []  # type: ignore[arg-type]
        return results
    return analyze


def _installed_model() -> str | None:
    try:
        import spacy.util
    except ImportError:
        return None
    return next((name for name in _MODELS if spacy.util.is_package(name)), None)
