"""``evaluate``, ``predict``, ``gradcheck``, ``explain`` and ``datasets``."""

from __future__ import annotations

from typing import Any


def add_parsers(sub: Any) -> None:
    pass
