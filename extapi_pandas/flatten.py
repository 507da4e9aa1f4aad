"""Flatten sample JSON into leaf columns: snake_case names, JSONPaths, values seen."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "Leaf",
    "RecordArray",
    "column_name",
    "find_record_arrays",
    "flatten_records",
    "is_columnar",
    "json_path",
    "scalar_count",
    "snake_case",
]

Shape = Literal["scalar", "list", "object"]
Step = str | int

_SHORTHAND_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LOWER_THEN_UPPER = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_ACRONYM_END = re.compile(r"(?<=[A-Z])(?=[A-Z][a-z])")
_NOT_WORD = re.compile(r"\W+")


@dataclass
class Leaf:
    """One column found by flattening: where it is and what values it had.

    Attributes:
        steps: Keys and indices from the record root to the value.
        shape: `"scalar"`, `"list"` (an array kept whole) or `"object"` (an object
            kept whole, such as a map with dynamic keys).
        values: The value in each record that has the leaf.
        present: Number of records that have the leaf.
        note: What the flattener decided about this leaf, for the user.
    """

    steps: tuple[Step, ...]
    shape: Shape
    values: list[Any] = field(default_factory=list)
    present: int = 0
    note: str | None = None


@dataclass(frozen=True)
class RecordArray:
    """An array of objects that could be the records of a response.

    Attributes:
        steps: Keys from the document root to the array.
        size: Number of elements.
        values: Number of scalar values inside it.
    """

    steps: tuple[Step, ...]
    size: int
    values: int

    @property
    def path(self) -> str:
        """The `records=` JSONPath that selects each element."""
        return json_path(self.steps) + "[*]"


def snake_case(key: str) -> str:
    """Return a key in snake_case: `"homeTeam"` gives `home_team`, `pm2_5` stays."""
    text = _LOWER_THEN_UPPER.sub("_", key)
    text = _ACRONYM_END.sub("_", text)
    return _NOT_WORD.sub("_", text).strip("_").lower() or "field"


def column_name(steps: Sequence[Step], sep: str = "_") -> str:
    """Return the column name of a leaf: its snake_case keys and indices joined."""
    parts = [snake_case(step) if isinstance(step, str) else str(step) for step in steps]
    return sep.join(parts) or "value"


def json_path(steps: Sequence[Step]) -> str:
    """Return the RFC 9535 JSONPath of `steps`, in dot notation where it allows."""
    parts = ["$"]
    for step in steps:
        if isinstance(step, int):
            parts.append(f"[{step}]")
        elif _SHORTHAND_NAME.fullmatch(step):
            parts.append(f".{step}")
        else:
            parts.append(f"[{_quoted(step)}]")
    return "".join(parts)


def _quoted(name: str) -> str:
    out = []
    for char in name:
        if char == "\\":
            out.append("\\\\")
        elif char == "'":
            out.append("\\'")
        elif ord(char) < 0x20:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return "'" + "".join(out) + "'"


def flatten_records(
    records: Sequence[Any], *, index_limit: int
) -> tuple[list[Leaf], list[str]]:
    """Flatten every record and merge their leaves, in order of first appearance.

    Nested objects give one leaf per key, and arrays of scalars stay whole.
    Arrays of objects give indexed leaves for their first `index_limit` elements,
    or stay whole when `index_limit` is 0. Objects whose keys all start with a
    digit (dates, ids) are maps and stay whole. A null parent or an empty array in
    one record and children in another give the children, nullable.

    Returns:
        The leaves, and notes about arrays cut at `index_limit`.
    """
    leaves: dict[tuple[Step, ...], Leaf] = {}
    notes: dict[str, None] = {}
    for record in records:
        _walk(record, (), leaves, index_limit, notes)
    return _prune(leaves), list(notes)


def _walk(
    value: Any,
    steps: tuple[Step, ...],
    leaves: dict[tuple[Step, ...], Leaf],
    index_limit: int,
    notes: dict[str, None],
) -> None:
    if isinstance(value, dict) and value and not _is_map(value):
        for key, child in value.items():
            _walk(child, (*steps, str(key)), leaves, index_limit, notes)
        return
    if _indexable(value, index_limit):
        for i, item in enumerate(value[:index_limit]):
            _walk(item, (*steps, i), leaves, index_limit, notes)
        if len(value) > index_limit:
            note = (
                f"{json_path(steps)}: an array of {len(value)} objects; columns "
                f"come from the first {index_limit} (index_limit={index_limit})"
            )
            notes[note] = None
        return
    shape: Shape = (
        "list"
        if isinstance(value, list)
        else ("object" if isinstance(value, dict) else "scalar")
    )
    leaf = _add(leaves, steps, shape, value)
    if shape == "object" and value:
        leaf.note = "an object whose keys look like data (dates or ids), kept whole"


def _indexable(value: Any, index_limit: int) -> bool:
    return (
        index_limit > 0
        and isinstance(value, list)
        and any(isinstance(item, dict) and item for item in value)
        and all(isinstance(item, dict) or item is None for item in value)
    )


def _is_map(value: dict[str, Any]) -> bool:
    return all(key[:1].isdigit() for key in value)


def _add(
    leaves: dict[tuple[Step, ...], Leaf],
    steps: tuple[Step, ...],
    shape: Shape,
    value: Any,
) -> Leaf:
    leaf = leaves.get(steps)
    if leaf is None:
        leaf = leaves[steps] = Leaf(steps, shape)
    elif value is not None and leaf.shape != shape:
        if all(seen is None for seen in leaf.values):
            leaf.shape = shape
        else:
            leaf.shape = "object"
            leaf.note = "values of different kinds across records, kept whole"
    leaf.values.append(value)
    leaf.present += 1
    return leaf


def _prune(leaves: dict[tuple[Step, ...], Leaf]) -> list[Leaf]:
    """Drop leaves that are only the null or empty parent of other leaves."""
    kept: list[Leaf] = []
    parents = {
        leaf.steps[:depth]
        for leaf in leaves.values()
        for depth in range(len(leaf.steps))
    }
    absorbed: list[tuple[Step, ...]] = []
    for leaf in leaves.values():
        if any(leaf.steps[: len(parent)] == parent for parent in absorbed):
            continue
        if leaf.steps in parents:
            if all(_is_empty(value) for value in leaf.values):
                continue
            leaf.shape = "object"
            leaf.note = "an object in some records and a value in others, kept whole"
            absorbed.append(leaf.steps)
        kept.append(leaf)
    return kept


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, list | dict) and not value)


def scalar_count(value: Any) -> int:
    """Return the number of scalar values (nulls included) inside a JSON value."""
    if isinstance(value, dict):
        return sum(scalar_count(item) for item in value.values())
    if isinstance(value, list):
        return sum(scalar_count(item) for item in value)
    return 1


def find_record_arrays(document: Any) -> list[RecordArray]:
    """Return the outermost arrays of objects in `document`, the largest first."""
    found: list[RecordArray] = []
    _find_arrays(document, (), found)
    return sorted(found, key=lambda array: (-array.values, len(array.steps)))


def _find_arrays(value: Any, steps: tuple[Step, ...], found: list[RecordArray]) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _find_arrays(child, (*steps, str(key)), found)
    elif isinstance(value, list) and _indexable(value, 1):
        found.append(RecordArray(steps, len(value), scalar_count(value)))


def is_columnar(value: Any) -> bool:
    """Return True for an object of two or more arrays of one length (parallel
    arrays, such as Open-Meteo's `daily`)."""
    if not isinstance(value, dict) or len(value) < 2:
        return False
    lengths = {len(item) if isinstance(item, list) else -1 for item in value.values()}
    return len(lengths) == 1 and lengths != {-1}
