"""Pandera schemas in activity files: an import path, or inline column checks."""

from __future__ import annotations

import copy
import importlib
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from extapi_pandas.errors import ConfigurationError

if TYPE_CHECKING:
    from extapi_pandas.config import ConfigSource

__all__ = ["CHECKS", "COLUMN_KEYS", "schema_from_config", "schema_to_config"]

CHECKS = {
    "ge": ("greater_than_or_equal_to", "min_value"),
    "le": ("less_than_or_equal_to", "max_value"),
    "gt": ("greater_than", "min_value"),
    "lt": ("less_than", "max_value"),
    "isin": ("isin", "allowed_values"),
    "str_matches": ("str_matches", "pattern"),
}
"""Inline checks: key in the file, then pandera's check name and statistic."""

COLUMN_KEYS = ["dtype", "nullable", "unique", *CHECKS]
"""Keys of an inline `[schema.columns.<name>]` table."""

# Keys in DataFrameSchema.metadata that remember how a schema was written, so that
# saving it again writes the same thing.
_INLINE = "extapi_pandas.inline"
_IMPORTED = "extapi_pandas.import"
_IMPORT_PATH = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")


def schema_from_config(value: Any, keys: tuple[str, ...], source: ConfigSource) -> Any:
    """Return the pandera schema that an activity file describes.

    Args:
        value: `"package.module:Model"` (a `DataFrameModel` class or a
            `DataFrameSchema` object), or a table `{"columns": {name: checks}}`.
        keys: The dotted key of the value in the file, for errors.
        source: The file, for line numbers.

    Raises:
        ConfigurationError: The import fails, or the inline table is invalid.
    """
    if isinstance(value, str):
        return _imported(value, keys, source)
    if not isinstance(value, Mapping):
        if hasattr(value, "validate"):
            return value  # a schema object passed to from_dict
        raise source.error(
            keys,
            f"must be an import path such as 'package.module:Model' or a table of "
            f"column checks, got {value!r}",
        )
    return _inline(value, keys, source)


def _imported(path: str, keys: tuple[str, ...], source: ConfigSource) -> Any:
    if not _IMPORT_PATH.fullmatch(path):
        raise source.error(
            keys, f"invalid import path {path!r}; write it as 'package.module:Model'"
        )
    module_name, _, qualname = path.partition(":")
    try:
        found: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError) as exc:
        raise source.error(
            keys,
            f"schema {path!r} cannot be imported ({exc}); check the path and that "
            "its package is installed or on PYTHONPATH",
        ) from None
    if isinstance(found, type) and callable(getattr(found, "to_schema", None)):
        return found
    if hasattr(found, "validate") and hasattr(found, "columns"):
        schema = copy.deepcopy(found)
        schema.metadata = {**(schema.metadata or {}), _IMPORTED: path}
        return schema
    raise source.error(
        keys,
        f"schema {path!r} is a {type(found).__name__}, not a pandera "
        "DataFrameModel class or DataFrameSchema",
    )


def _inline(
    table: Mapping[str, Any], keys: tuple[str, ...], source: ConfigSource
) -> Any:
    import pandera.pandas as pa

    source.check_keys(table, ["columns"], keys)
    columns = table.get("columns", {})
    if not isinstance(columns, Mapping) or not columns:
        raise source.error(
            (*keys, "columns"), "must be a table with one table of checks per column"
        )
    built: dict[str, Any] = {}
    spec: dict[str, dict[str, Any]] = {}
    for name, checks in columns.items():
        where = (*keys, "columns", name)
        if not isinstance(checks, Mapping):
            raise source.error(where, f"must be a table of checks, got {checks!r}")
        source.check_keys(checks, COLUMN_KEYS, where)
        built[name] = _column(pa, dict(checks), where, source)
        spec[name] = copy.deepcopy(dict(checks))
    return pa.DataFrameSchema(built, metadata={_INLINE: spec})


def _column(
    pa: Any, checks: dict[str, Any], where: tuple[str, ...], source: ConfigSource
) -> Any:
    for flag in ("nullable", "unique"):
        if not isinstance(checks.get(flag, False), bool):
            raise source.error((*where, flag), "must be true or false")
    if not isinstance(checks.get("isin", []), list):
        raise source.error((*where, "isin"), "must be a list of allowed values")
    pattern = checks.get("str_matches", "")
    try:
        re.compile(pattern) if isinstance(pattern, str) else None
    except re.error as exc:
        raise source.error((*where, "str_matches"), f"invalid pattern: {exc}") from None
    if not isinstance(pattern, str):
        raise source.error((*where, "str_matches"), "must be a regular expression")
    for bound in ("ge", "le", "gt", "lt"):
        if bound in checks and isinstance(checks[bound], bool | list | dict):
            raise source.error((*where, bound), "must be a number, a date or a string")
    try:
        return pa.Column(
            checks.get("dtype"),
            checks=[
                getattr(pa.Check, key)(checks[key]) for key in CHECKS if key in checks
            ],
            nullable=checks.get("nullable", True),
            unique=checks.get("unique", False),
        )
    except (TypeError, ValueError) as exc:
        raise source.error(where, str(exc)) from None


def schema_to_config(schema: Any) -> str | dict[str, Any]:
    """Return the saved form of a schema: its import path, or inline column checks.

    Raises:
        ConfigurationError: The schema cannot be imported by path (a class
            defined in `__main__` or in a function) and uses more than the inline
            subset.
    """
    if isinstance(schema, type):
        return _class_path(schema)
    metadata = getattr(schema, "metadata", None) or {}
    if _IMPORTED in metadata:
        return str(metadata[_IMPORTED])
    if _INLINE in metadata:
        return {"columns": copy.deepcopy(metadata[_INLINE])}
    return {"columns": _columns_inline(schema)}


def _class_path(model: type) -> str:
    path = f"{model.__module__}:{model.__qualname__}"
    reason = None
    if model.__module__ == "__main__":
        reason = "it is defined in __main__ (a script or notebook)"
    elif "<locals>" in model.__qualname__:
        reason = "it is defined inside a function"
    else:
        try:
            found: Any = importlib.import_module(model.__module__)
            for part in model.__qualname__.split("."):
                found = getattr(found, part)
        except (ImportError, AttributeError):
            found = None
        if found is not model:
            reason = f"{path!r} does not import it back"
    if reason is not None:
        raise ConfigurationError(
            f"schema {model.__qualname__} cannot be saved by import path, because "
            f"{reason}; move it to a module, or write the checks inline under "
            "[schema.columns.<name>]"
        )
    return path


def _columns_inline(schema: Any) -> dict[str, dict[str, Any]]:
    unsupported = _unsupported_schema_parts(schema)
    if unsupported:
        raise ConfigurationError(
            f"schema= uses {unsupported}, which the inline form cannot write (it "
            f"holds {', '.join(COLUMN_KEYS)} per column); define the schema as a "
            "DataFrameModel class in a module, saved as 'package.module:Model'"
        )
    names = {name: key for key, (name, _) in CHECKS.items()}
    out: dict[str, dict[str, Any]] = {}
    for name, column in schema.columns.items():
        checks: dict[str, Any] = {}
        if column.dtype is not None:
            checks["dtype"] = str(column.dtype)
        if not column.nullable:
            checks["nullable"] = False
        if column.unique:
            checks["unique"] = True
        for check in column.checks:
            key = names[check.name]
            value = check.statistics[CHECKS[key][1]]
            checks[key] = list(value) if key == "isin" else value
        out[str(name)] = checks
    return out


def _unsupported_schema_parts(schema: Any) -> str | None:
    if not hasattr(schema, "columns"):
        return f"a {type(schema).__name__}"
    if schema.checks:
        return "frame-wide checks"
    if schema.index is not None or schema.strict or schema.ordered:
        return "an index, strict or ordered"
    names = {name for name, _ in CHECKS.values()}
    for column_name, column in schema.columns.items():
        if column.regex or not column.required:
            return f"column {column_name!r} with regex=True or required=False"
        for check in column.checks:
            if check.name not in names:
                return f"the check {check.name!r} on column {column_name!r}"
    return None
