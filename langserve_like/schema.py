"""Input, output and config schemas of a runnable, named per route."""

from __future__ import annotations

from pydantic import BaseModel

__all__ = ["CustomUserType"]


class CustomUserType(BaseModel):
    """Subclass this for an input type that the runnable receives as the model
    itself, not as a plain dict (as in LangServe)."""
