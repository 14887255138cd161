"""Where twins meet generative AI: ask the twin questions, get answers computed by the twin."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["AskResult", "TwinAsker"]  # the function: twinforge.copilot.ask.ask


def __getattr__(name: str) -> Any:  # lazy: the plan language is imported by twinforge.guard
    if name in __all__:
        return getattr(importlib.import_module("twinforge.copilot.ask"), name)
    raise AttributeError(name)
