"""OpenInference, OTel GenAI and MLflow span attributes → our kind, inputs, outputs and ``gen_ai.*`` attributes.

One function, :func:`map_attributes`, used by every way an OTel span reaches us (the in-process
bridge, the OTLP receiver, file import), so a LangChain span looks the same whichever road it took.

What it does with each convention (keys not named here are kept as they are):

- **kind**: ``mlflow.spanType`` wins (a span MLflow produced), then ``openinference.span.kind``
  (``LLM`` becomes ``CHAT_MODEL`` when it carries messages, ``PROMPT`` becomes ``CHAIN``), then
  ``gen_ai.operation.name`` (``chat`` → ``CHAT_MODEL``, ``execute_tool`` → ``TOOL`` …).
- **inputs/outputs**: ``mlflow.spanInputs``/``spanOutputs``, else OpenInference ``input.value``/
  ``output.value`` (parsed when their mime type says JSON), else nothing. The keys are removed:
  the payload lives in the ``inputs``/``outputs`` columns, not twice.
- **messages**: OpenInference's flattened ``llm.input_messages.N.message.*`` (role, content,
  contents, tool calls, tool call id) become the GenAI ``gen_ai.input.messages`` /
  ``gen_ai.output.messages`` lists (``{"role", "parts"}``), which the explorer renders.
- **tokens, model, provider**: ``llm.token_count.*`` → ``gen_ai.usage.*``; ``llm.model_name`` →
  ``gen_ai.response.model``; the request model from ``llm.invocation_parameters``;
  ``llm.provider``/``llm.system``/``gen_ai.system`` → ``gen_ai.provider.name``; cost from our price
  table (``llmops_nb.cost_usd``) unless the span brought one (``llm.cost.total``).
- **other flattened lists** (``llm.tools``, ``retrieval.documents``, ``reranker.*_documents``,
  ``embedding.embeddings``) fold into one list attribute each, so 10k documents are one key, not 40k.
"""

from __future__ import annotations

import json
from typing import Any

from .. import _pricing

_OI_KINDS = {
    "LLM": "LLM", "CHAIN": "CHAIN", "TOOL": "TOOL", "AGENT": "AGENT", "RETRIEVER": "RETRIEVER",
    "EMBEDDING": "EMBEDDING", "RERANKER": "RERANKER", "GUARDRAIL": "GUARDRAIL", "EVALUATOR": "EVALUATOR",
    "PROMPT": "CHAIN", "UNKNOWN": "UNKNOWN",
}
_GENAI_OPERATIONS = {
    "chat": "CHAT_MODEL", "text_completion": "LLM", "generate_content": "LLM", "embeddings": "EMBEDDING",
    "execute_tool": "TOOL", "invoke_agent": "AGENT", "create_agent": "AGENT", "retrieval": "RETRIEVER",
}
_OUR_KINDS = frozenset({"LLM", "CHAT_MODEL", "CHAIN", "AGENT", "TOOL", "RETRIEVER", "EMBEDDING", "RERANKER",
                        "PARSER", "MEMORY", "WORKFLOW", "TASK", "GUARDRAIL", "EVALUATOR", "UNKNOWN"})
# llm.input_messages.3.message.tool_calls.0.tool_call.function.name → family "llm.input_messages", item 3,
# field "message.tool_calls.0.tool_call.function.name". Every family name has exactly one dot, so
# ``key.split(".", 3)`` finds the parts (a regex per key cost more than the rest of the mapping).
_FAMILIES = frozenset({"llm.input_messages", "llm.output_messages", "llm.tools", "retrieval.documents",
                       "reranker.input_documents", "reranker.output_documents", "embedding.embeddings"})
_FAMILY_HEADS = ("llm.input_messages.", "llm.output_messages.", "llm.tools.", "retrieval.documents.",
                 "reranker.input_documents.", "reranker.output_documents.", "embedding.embeddings.")
_TOKENS = (
    ("llm.token_count.prompt", "gen_ai.usage.input_tokens"),
    ("llm.token_count.completion", "gen_ai.usage.output_tokens"),
    ("llm.token_count.prompt_details.cache_read", "gen_ai.usage.cache_read.input_tokens"),
    ("llm.token_count.prompt_details.cache_write", "gen_ai.usage.cache_creation.input_tokens"),
    ("llm.token_count.completion_details.reasoning", "gen_ai.usage.reasoning.output_tokens"),
)
_REQUEST_PARAMS = (("temperature", "gen_ai.request.temperature"), ("top_p", "gen_ai.request.top_p"),
                   ("max_tokens", "gen_ai.request.max_tokens"), ("max_completion_tokens", "gen_ai.request.max_tokens"),
                   ("max_output_tokens", "gen_ai.request.max_tokens"))
#: provider names as instrumentors write them → the names our price table uses
_PROVIDERS = {"openai": "openai", "azure": "openai", "azure.ai.openai": "openai", "anthropic": "anthropic"}
#: the part of the message keys after "message."
_MSG = "message."


class Mapped:
    """What a span's attributes say, in our terms."""

    __slots__ = ("attributes", "cost", "input_tokens", "inputs", "kind", "model", "output_tokens", "outputs", "session",
                 "stored_inputs", "stored_outputs")

    def __init__(self) -> None:
        self.kind = "UNKNOWN"
        self.inputs: Any = None  # a Python value to serialize …
        self.outputs: Any = None
        self.stored_inputs: str | None = None  # … or JSON text already (MLflow's keys, OpenInference JSON values)
        self.stored_outputs: str | None = None
        self.attributes: dict[str, Any] = {}
        self.model: str | None = None
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.cost: float | None = None
        self.session: str | None = None


_PAYLOAD_KEYS = frozenset({"mlflow.spanInputs", "mlflow.spanOutputs", "input.value", "input.mime_type",
                           "output.value", "output.mime_type"})
#: keys that say something about a model call (the rest of _llm_facts reads only these)
_FACT_KEYS = frozenset({"llm.invocation_parameters", "llm.provider", "llm.system", "gen_ai.system",
                        "gen_ai.response.model", "gen_ai.request.model", "gen_ai.usage.input_tokens",
                        "gen_ai.usage.output_tokens", "llmops_nb.cost_usd", "llm.cost.total"})
#: keys the mapping takes out of the attributes: their values go to columns or to ``gen_ai.*`` names
_TAKEN = _PAYLOAD_KEYS | {"mlflow.chat.tokenUsage", "llm.token_count.total", "llm.model_name",
                          *(oi_key for oi_key, _ in _TOKENS)}


def map_attributes(attributes: dict[str, Any]) -> Mapped:
    """Map one span's OTel attributes (plain values: str, bool, int, float, lists of them)."""
    out = Mapped()
    attrs: dict[str, Any] = {}
    taken: dict[str, Any] = {}
    lists: dict[str, dict[int, dict[str, Any]]] = {}
    # One pass sorts every key: taken out, part of a flattened list, or kept as it is. (The receiver
    # maps every span it takes; a lookup per key beats a dozen pops of keys most spans lack.)
    for key, value in attributes.items():
        if key in _TAKEN:
            taken[key] = value
            continue
        if key.startswith(_FAMILY_HEADS):
            parts = key.split(".", 3)
            # isdecimal: exactly the digits int() reads (isdigit also takes "²", which int() refuses)
            if len(parts) == 4 and parts[2].isdecimal() and parts[3]:
                lists.setdefault(parts[0] + "." + parts[1], {}).setdefault(int(parts[2]), {})[parts[3]] = value
                continue
        attrs[key] = value

    out.kind = _kind(attrs, bool(lists.get("llm.input_messages") or lists.get("llm.output_messages")))
    if taken:
        _payloads(taken, out)
    for prefix, items in lists.items():
        ordered = [items[i] for i in sorted(items)]
        if prefix == "llm.input_messages":
            attrs.setdefault("gen_ai.input.messages", [_message(m) for m in ordered])
        elif prefix == "llm.output_messages":
            attrs.setdefault("gen_ai.output.messages", [_message(m) for m in ordered])
        elif prefix == "llm.tools":
            attrs["gen_ai.tool.definitions"] = [_json_or_text(t.get("tool.json_schema", t)) for t in ordered]
        else:  # documents, embeddings: keep them, one list per family, with short keys
            attrs[prefix] = [{_short(k): v for k, v in item.items()} for item in ordered]
    if out.kind == "RETRIEVER" and out.stored_outputs is None and out.outputs is None:
        out.outputs = attrs.get("retrieval.documents")  # a retriever's output is its documents
    _llm_facts(attrs, taken, out)
    if "tool.name" in attrs or "tool.description" in attrs or "tool_call.id" in attrs:
        _names(attrs)
    session = attrs.get("session.id")
    out.session = session if isinstance(session, str) else None
    out.attributes = attrs
    return out


def _kind(attrs: dict[str, Any], has_messages: bool) -> str:
    mlflow_type = attrs.get("mlflow.spanType")
    if isinstance(mlflow_type, str):
        value = _json_or_text(mlflow_type)
        if isinstance(value, str) and value.upper() in _OUR_KINDS:
            return value.upper()
    oi = attrs.get("openinference.span.kind")
    if isinstance(oi, str) and oi.upper() in _OI_KINDS:
        kind = _OI_KINDS[oi.upper()]
        return "CHAT_MODEL" if kind == "LLM" and has_messages else kind
    operation = attrs.get("gen_ai.operation.name")
    if isinstance(operation, str) and operation in _GENAI_OPERATIONS:
        return _GENAI_OPERATIONS[operation]
    return "UNKNOWN"


_SIDES = (("inputs", "stored_inputs", "mlflow.spanInputs", "input.value", "input.mime_type"),
          ("outputs", "stored_outputs", "mlflow.spanOutputs", "output.value", "output.mime_type"))


def _payloads(taken: dict[str, Any], out: Mapped) -> None:
    for side, stored_side, mlflow_key, value_key, mime_key in _SIDES:
        stored = taken.get(mlflow_key)
        value = taken.get(value_key)
        mime = taken.get(mime_key)
        if isinstance(stored, str):
            setattr(out, stored_side, stored)
        elif value is None:
            continue
        elif mime == "application/json" and type(value) is str:
            # Already JSON: validated (strictly: NaN is not JSON) and kept as the sender wrote it,
            # rather than parsed and written out again — the most expensive step of a span's mapping.
            if strict_json(value) is NOT_JSON:
                setattr(out, side, _lenient_json(value))  # NaN, lone surrogates: parsed, written as JSON
            else:
                setattr(out, stored_side, value)
        else:
            setattr(out, side, value)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


NOT_JSON = object()
try:  # orjson: 2-3x faster than json at reading (strict: NaN is refused), the receiver's hottest step
    import orjson

    _strict_loads: Any = orjson.loads
    _LOAD_ERRORS: tuple[type[Exception], ...] = (orjson.JSONDecodeError, RecursionError)
except ImportError:  # pragma: no cover - an optional accelerator (the otel extra installs it)
    _strict_loads = json.JSONDecoder(parse_constant=_refuse_constant).decode
    _LOAD_ERRORS = (ValueError, RecursionError)


def strict_json(text: str) -> Any:
    """``text`` parsed as strict JSON (no NaN/Infinity), or ``NOT_JSON``."""
    try:
        return _strict_loads(text)
    except _LOAD_ERRORS:
        return NOT_JSON


def _message(flat: dict[str, Any]) -> dict[str, Any]:
    """One OpenInference message (its keys after ``message.``) as a GenAI message: ``{"role", "parts"}``."""
    role = content = call_id = name = None
    contents: dict[int, dict[str, Any]] = {}
    calls: dict[int, dict[str, Any]] = {}
    for flat_key, value in flat.items():  # one pass: a long chat has thousands of these keys
        key = flat_key[len(_MSG):] if flat_key.startswith(_MSG) else flat_key
        if key == "role":
            role = value
        elif key == "content":
            content = value
        elif key == "tool_call_id":
            call_id = value
        elif key == "name":
            name = value
        elif key.startswith(("tool_calls.", "contents.")):
            head, _, rest = key.partition(".")
            index, dot, field = rest.partition(".")
            if dot and index.isdecimal():
                (contents if head == "contents" else calls).setdefault(int(index), {})[field] = value
    role = str(role or "user")
    parts: list[dict[str, Any]] = []
    if role == "tool" and call_id is not None:
        parts.append({"type": "tool_call_response", "id": str(call_id), "response": content})
    elif content is not None:
        parts.append({"type": "text", "content": content})
    for _, item in sorted(contents.items()):
        kind = item.get("message_content.type")
        if kind == "text" or "message_content.text" in item:
            parts.append({"type": "text", "content": item.get("message_content.text")})
        else:
            parts.append({"type": str(kind or "media"), "content": "[image]" if kind == "image" else None})
    for _, call in sorted(calls.items()):
        parts.append({"type": "tool_call", "id": call.get("tool_call.id"), "name": call.get("tool_call.function.name"),
                      "arguments": _json_or_text(call.get("tool_call.function.arguments"))})
    message: dict[str, Any] = {"role": role, "parts": parts}
    if name:
        message["name"] = name
    return message


def _llm_facts(attrs: dict[str, Any], taken: dict[str, Any], out: Mapped) -> None:
    usage = _json_or_text(taken.get("mlflow.chat.tokenUsage"))  # a span MLflow recorded
    if isinstance(usage, dict):
        for name in ("input_tokens", "output_tokens"):
            if usage.get(name) is not None:
                attrs.setdefault(f"gen_ai.usage.{name}", usage[name])
    if not _PAYLOAD_KEYS.issuperset(taken):  # tokens or a model name, not only payloads
        for oi_key, genai_key in _TOKENS:
            value = taken.get(oi_key)
            if value is not None:
                attrs.setdefault(genai_key, value)
        model = taken.get("llm.model_name")
        if model is not None:
            attrs.setdefault("gen_ai.response.model", model)
    if _FACT_KEYS.isdisjoint(attrs):
        return  # no model, tokens, provider or cost: a chain, a tool, a retriever… (most spans)
    params = _json_or_text(attrs.get("llm.invocation_parameters"))
    if isinstance(params, dict):
        requested = params.get("model") or params.get("model_name")
        if isinstance(requested, str):
            attrs.setdefault("gen_ai.request.model", requested)
        for name, key in _REQUEST_PARAMS:
            if isinstance(params.get(name), (int, float)) and not isinstance(params.get(name), bool):
                attrs.setdefault(key, params[name])
    for key in ("llm.provider", "llm.system", "gen_ai.system"):
        provider = attrs.get(key)
        if isinstance(provider, str) and provider:
            attrs.setdefault("gen_ai.provider.name", provider)
    model = attrs.get("gen_ai.response.model") or attrs.get("gen_ai.request.model")
    out.model = model if isinstance(model, str) else None
    out.input_tokens = _count(attrs.get("gen_ai.usage.input_tokens"))
    out.output_tokens = _count(attrs.get("gen_ai.usage.output_tokens"))
    given = attrs.get("llmops_nb.cost_usd", attrs.get("llm.cost.total"))
    if isinstance(given, (int, float)) and not isinstance(given, bool):
        out.cost = float(given)
    elif out.kind in ("LLM", "CHAT_MODEL"):
        out.cost = _cost(attrs, out)
    if out.cost is not None:
        attrs["llmops_nb.cost_usd"] = out.cost


def _cost(attrs: dict[str, Any], out: Mapped) -> float | None:
    provider = _PROVIDERS.get(str(attrs.get("gen_ai.provider.name", "")).lower())
    if provider is None or out.input_tokens is None or out.output_tokens is None:
        return None
    read = _count(attrs.get("gen_ai.usage.cache_read.input_tokens")) or 0
    write = _count(attrs.get("gen_ai.usage.cache_creation.input_tokens")) or 0
    prompt = out.input_tokens
    if provider == "anthropic" and "openinference.span.kind" in attrs:
        # OpenInference counts cached tokens inside the prompt; the table bills Anthropic's three apart.
        prompt = max(0, prompt - read - write)
    for model in (attrs.get("gen_ai.response.model"), attrs.get("gen_ai.request.model")):
        if isinstance(model, str):
            cost = _pricing.cost_usd(provider, model, prompt, out.output_tokens, read, write)
            if cost is not None:
                return cost
    return None


def _names(attrs: dict[str, Any]) -> None:
    """Tool spans: OpenInference's names for what GenAI also names."""
    for oi_key, genai_key in (("tool.name", "gen_ai.tool.name"), ("tool.description", "gen_ai.tool.description"),
                              ("tool_call.id", "gen_ai.tool.call.id")):
        if oi_key in attrs:
            attrs.setdefault(genai_key, attrs[oi_key])


def _lenient_json(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text


def _json_or_text(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("{", "[", '"'):
        parsed = strict_json(value)
        return value if parsed is NOT_JSON else parsed
    return value


def _short(key: str) -> str:
    # "document.content" → "content", "embedding.vector" → "vector"
    return key.split(".", 1)[1] if key.count(".") == 1 else key


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = int(value)
    return number if 0 <= number < 2**63 else None
