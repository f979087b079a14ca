"""Merging helm values the way helm does."""

from __future__ import annotations

from typing import Any


def merge_values(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge ``override`` into ``base`` as helm merges values files.

    Maps merge key by key, anything else (lists included) is replaced, and a ``null`` in
    the override deletes the key.
    """
    merged = dict(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_values(merged[key], value)
        else:
            merged[key] = value
    return merged
