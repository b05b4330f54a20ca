"""Errors that reach the user: one clear message naming the input and what to do."""

from __future__ import annotations


class LangvadError(Exception):
    """Base class; ``hint`` says what the user can do about it."""

    exit_code = 2

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}. {self.hint}" if self.hint else self.message


class VideoError(LangvadError):
    """The video (or frame folder) cannot be read."""


class InputError(LangvadError):
    """A user-supplied file (captions, config, annotation) is missing or malformed."""


class ModelError(LangvadError):
    """A model cannot be found, loaded or verified."""


class LLMError(LangvadError):
    """The LLM backend failed or its replies could not be used."""


class OutputError(LangvadError):
    """An output (file or folder) cannot be written."""
