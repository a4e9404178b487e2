"""The base of every model read from a task or suite file, and the field checks they share."""
from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """A model whose unknown fields are errors: a typo'd field is never silently ignored."""

    model_config = ConfigDict(extra="forbid")


def check_regex(value: str) -> str:
    """value when it compiles as a regular expression; ValueError naming the problem otherwise."""
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression ({exc})") from None
    return value
