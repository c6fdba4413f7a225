"""Fakes at the boundary: a local server speaking the LLM providers' real wire protocols."""

from .llm_server import FakeLLMServer, RecordedRequest, Reply, ToolCall, Usage

__all__ = ["FakeLLMServer", "RecordedRequest", "Reply", "ToolCall", "Usage"]
