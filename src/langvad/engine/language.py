"""What both language paths (``ItemJudge``, ``LLMScorer``) stand on: the run's context, its
models, the LLM gateway, the reader of descriptions and the text embeddings."""

from __future__ import annotations

from dataclasses import dataclass

from langvad.engine.context import RunContext
from langvad.engine.embed import TextEmbeddings
from langvad.engine.gateway import LLMGateway
from langvad.engine.models import Models
from langvad.engine.read import Reader


@dataclass(frozen=True)
class LanguageServices:
    ctx: RunContext
    models: Models
    gateway: LLMGateway
    reader: Reader
    texts: TextEmbeddings


class LanguagePath:
    """Base of a ``WindowScorer``: the services as attributes."""

    def __init__(self, services: LanguageServices) -> None:
        self.ctx = services.ctx
        self.models = services.models
        self.gateway = services.gateway
        self.reader = services.reader
        self.texts = services.texts
