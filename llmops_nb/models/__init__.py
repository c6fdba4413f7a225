"""Model access by URI, for judges and for apps: one small client layer over the official SDKs.

>>> import llmops_nb
>>> model = llmops_nb.get_model("local:/smollm2")           # doctest: +SKIP
>>> model.chat("What is the capital of France?", max_tokens=16).text  # doctest: +SKIP

URIs: ``openai:/gpt-4.1-mini``, ``anthropic:/claude-haiku-4-5``, any
OpenAI-compatible server (Ollama, vLLM, llama.cpp) as
``openai:/NAME?base_url=http://HOST:PORT/v1`` (``ollama:/NAME`` for Ollama's
default port), and ``local:/smollm2`` for the offline model. Options in the
query string or as keywords: ``timeout`` (s per attempt, 60), ``max_retries``
(5), ``max_concurrency`` (64 calls in flight per model), ``max_wait`` (60 s,
the longest Retry-After honoured), ``api_key_env``.

Every attempt is a CHAT_MODEL span (the SDKs are auto-captured); retries on
429/5xx/timeouts back off exponentially with jitter and honour Retry-After;
the SDKs' own retries are off so ours are the only ones.
"""

from ._limiter import Limiter
from ._model import Model, ModelCallError, ModelStats, forget_models, get_model
from ._providers import ChatResult
from ._retry import RetryPolicy
from ._uri import ModelSpec, parse_model_uri

__all__ = ["ChatResult", "Limiter", "Model", "ModelCallError", "ModelSpec", "ModelStats", "RetryPolicy",
           "forget_models", "get_model", "parse_model_uri"]
