"""Model backends behind small protocols, resolved from spec strings."""

from langvad.models.base import LLM, ChatReply, TextEncoder, Usage
from langvad.models.registry import load_encoder, load_llm, resolve_gguf

__all__ = ["LLM", "ChatReply", "TextEncoder", "Usage", "load_encoder", "load_llm", "resolve_gguf"]
