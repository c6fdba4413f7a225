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
import re
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
# llm.input_messages.3.message.tool_calls.0.tool_call.function.name → ("llm.input_messages", 3, "message.tool…")
_INDEXED = re.compile(r"^(llm\.input_messages|llm\.output_messages|llm\.tools|retrieval\.documents|"
                      r"reranker\.input_documents|reranker\.output_documents|embedding\.embeddings)\.(\d+)\.(.+)$")
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
        self.stored_inputs: str | None = None  # … or JSON text already (MLflow's keys)
        self.stored_outputs: str | None = None
        self.attributes: dict[str, Any] = {}
        self.model: str | None = None
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.cost: float | None = None
        self.session: str | None = None


def map_attributes(attributes: dict[str, Any]) -> Mapped:
    """Map one span's OTel attributes (plain values: str, bool, int, float, lists of them)."""
    out = Mapped()
    attrs = dict(attributes)
    lists: dict[str, dict[int, dict[str, Any]]] = {}
    for key in [k for k in attrs if k[:4] in ("llm.", "retr", "rera", "embe") and _INDEXED.match(k)]:
        prefix, index, rest = _INDEXED.match(key).groups()  # type: ignore[union-attr]
        lists.setdefault(prefix, {}).setdefault(int(index), {})[rest] = attrs.pop(key)

    out.kind = _kind(attrs, bool(lists.get("llm.input_messages") or lists.get("llm.output_messages")))
    _payloads(attrs, out)
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
    if out.kind == "RETRIEVER" and out.inputs is None and out.stored_outputs is None and out.outputs is None:
        out.outputs = attrs.get("retrieval.documents")
    _llm_facts(attrs, out)
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


def _payloads(attrs: dict[str, Any], out: Mapped) -> None:
    for side, mlflow_key, oi_key in (("inputs", "mlflow.spanInputs", "input"), ("outputs", "mlflow.spanOutputs",
                                                                                "output")):
        stored = attrs.pop(mlflow_key, None)
        value = attrs.pop(f"{oi_key}.value", None)
        mime = attrs.pop(f"{oi_key}.mime_type", None)
        if isinstance(stored, str):
            setattr(out, f"stored_{side}", stored)
        elif value is not None:
            setattr(out, side, _json_or_text(value) if mime == "application/json" else value)


def _message(flat: dict[str, Any]) -> dict[str, Any]:
    """One OpenInference message (its keys after ``message.``) as a GenAI message: ``{"role", "parts"}``."""
    fields = {k[len(_MSG):] if k.startswith(_MSG) else k: v for k, v in flat.items()}
    role = str(fields.get("role") or "user")
    parts: list[dict[str, Any]] = []
    content = fields.get("content")
    call_id = fields.get("tool_call_id")
    if role == "tool" and call_id is not None:
        parts.append({"type": "tool_call_response", "id": str(call_id), "response": content})
    elif content is not None:
        parts.append({"type": "text", "content": content})
    contents: dict[int, dict[str, Any]] = {}
    calls: dict[int, dict[str, Any]] = {}
    for key, value in fields.items():
        head, _, rest = key.partition(".")
        if head in ("contents", "tool_calls") and "." in rest:
            index, _, name = rest.partition(".")
            if index.isdigit():
                (contents if head == "contents" else calls).setdefault(int(index), {})[name] = value
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
    if fields.get("name"):
        message["name"] = fields["name"]
    return message


def _llm_facts(attrs: dict[str, Any], out: Mapped) -> None:
    usage = _json_or_text(attrs.pop("mlflow.chat.tokenUsage", None))  # a span MLflow recorded
    if isinstance(usage, dict):
        for name in ("input_tokens", "output_tokens"):
            if usage.get(name) is not None:
                attrs.setdefault(f"gen_ai.usage.{name}", usage[name])
    for oi_key, genai_key in _TOKENS:
        value = attrs.pop(oi_key, None)
        if value is not None:
            attrs.setdefault(genai_key, value)
    attrs.pop("llm.token_count.total", None)  # derivable: input + output
    model = attrs.pop("llm.model_name", None)
    if model is not None:
        attrs.setdefault("gen_ai.response.model", model)
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


def _json_or_text(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("{", "[", '"'):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _short(key: str) -> str:
    # "document.content" → "content", "embedding.vector" → "vector"
    return key.split(".", 1)[1] if key.count(".") == 1 else key


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = int(value)
    return number if 0 <= number < 2**63 else None
