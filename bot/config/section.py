"""The base of every config section: frozen, unknown keys rejected, runtime-safe fields declared."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict

__all__ = ["Section"]


class Section(BaseModel):
    """A frozen config block. `runtime_safe` names the fields hot reload may change live."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, str_strip_whitespace=True)

    runtime_safe: ClassVar[frozenset[str]] = frozenset()
