"""Write a `Mapping` as Python code (`columns=` and a pandera model) or TOML."""

from __future__ import annotations

import dataclasses
import json
import keyword
import math
import re
import tomllib
from collections.abc import Mapping as AbcMapping
from typing import Any

import numpy as np
import pandas as pd

from extapi_pandas.dtypes import DType, parse_dtype
from extapi_pandas.errors import ConfigurationError
from extapi_pandas.mapping import Column, Mapping

__all__ = [
    "column_source",
    "mapping_from_dict",
    "mapping_from_toml",
    "mapping_to_dict",
    "mapping_to_python",
    "mapping_to_toml",
]

_FIELDS = [f for f in dataclasses.fields(Column)]
_FIELD_NAMES = [f.name for f in _FIELDS]
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INDENT = "    "


def _changed_fields(column: Column) -> dict[str, Any]:
    """Return the fields of `column` that differ from their defaults, path first."""
    changed: dict[str, Any] = {"path": column.path}
    for spec in _FIELDS[1:]:
        value = getattr(column, spec.name)
        if value != spec.default:
            changed[spec.name] = list(value) if isinstance(value, tuple) else value
    return changed


def mapping_to_dict(mapping: Mapping) -> dict[str, Any]:
    """Return `{"records": ..., "columns": {name: {field: value}}}` without defaults."""
    data: dict[str, Any] = {}
    if mapping.records is not None:
        data["records"] = mapping.records
    data["columns"] = {
        name: _changed_fields(column) for name, column in mapping.items()
    }
    return data


def mapping_from_dict(data: AbcMapping[str, Any]) -> Mapping:
    """Build a `Mapping` from the layout of `mapping_to_dict`.

    Raises:
        ConfigurationError: A key is unknown or a column is invalid.
    """
    if not isinstance(data, AbcMapping):
        raise ConfigurationError(f"a mapping must be a table, got {data!r}")
    unknown = sorted(set(data) - {"records", "columns"})
    if unknown:
        raise ConfigurationError(
            f"unknown mapping key(s) {unknown}; valid keys are 'records' and 'columns'"
        )
    columns = data.get("columns", {})
    if not isinstance(columns, AbcMapping):
        raise ConfigurationError(f"'columns' must be a table, got {columns!r}")
    mapping = Mapping(records=data.get("records"))
    for name, spec in columns.items():
        mapping[name] = _column_from(name, spec)
    return mapping


def _column_from(name: str, spec: Any) -> Column | str:
    if isinstance(spec, str):
        return spec
    if not isinstance(spec, AbcMapping):
        raise ConfigurationError(
            f"column {name!r} must be a JSONPath or a table, got {spec!r}"
        )
    unknown = sorted(set(spec) - set(_FIELD_NAMES))
    if unknown:
        raise ConfigurationError(
            f"column {name!r} has unknown field(s) {unknown}; "
            f"valid fields are {', '.join(_FIELD_NAMES)}"
        )
    if "path" not in spec:
        raise ConfigurationError(f"column {name!r} has no path")
    return Column(**spec)


def mapping_to_toml(mapping: Mapping) -> str:
    """Return the mapping as TOML: `records`, then one `[columns.<name>]` table each."""
    lines = ["# Column mapping for extapi_pandas: Mapping.from_toml(text) reads it."]
    if mapping.records is not None:
        lines.append(f"records = {_toml_value(mapping.records)}")
    for name, column in mapping.items():
        lines.append("")
        note = mapping.notes.get(name)
        if note:
            lines.append(f"# {_one_line(note)}")
        lines.append(f"[columns.{_toml_key(name)}]")
        for key, value in _changed_fields(column).items():
            lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def mapping_from_toml(text: str) -> Mapping:
    """Read a mapping written by `mapping_to_toml`.

    Raises:
        ConfigurationError: The text is not valid TOML, or not a mapping.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"invalid TOML mapping: {exc}") from exc
    return mapping_from_dict(data)


def _toml_key(name: str) -> str:
    return name if _BARE_KEY.fullmatch(name) else _toml_string(name)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise ConfigurationError(f"{value!r} cannot be written as TOML")


def _toml_string(text: str) -> str:
    out = []
    for char in text:
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _one_line(text: str) -> str:
    return " ".join(text.split())


def column_source(column: Column) -> str:
    """Return the Python code of `column`, such as `Column("$.a", dtype="Int64")`."""
    fields = _changed_fields(column)
    if list(fields) == ["path"]:
        return _python_literal(column.path)
    arguments = [_python_literal(fields.pop("path"))]
    arguments += [f"{key}={_python_literal(value)}" for key, value in fields.items()]
    return f"Column({', '.join(arguments)})"


def _python_literal(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_python_literal(item) for item in value) + "]"
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"
    return repr(value)


def mapping_to_python(mapping: Mapping, *, model: str = "ResponseModel") -> str:
    """Return runnable Python code: `records`, `columns` and a pandera model class.

    The model checks each column's dtype and nullability; pass it as `schema=`.
    Columns without a dtype are left out of the model, with a comment.
    """
    if not _IDENTIFIER.fullmatch(model) or keyword.iskeyword(model):
        raise ConfigurationError(f"model must be a Python class name, got {model!r}")
    body = _columns_code(mapping)
    fields, needs = _model_fields(mapping)
    imports = ["import pandas as pd", "import pandera.pandas as pa"]
    if "pyarrow" in needs:
        imports.append("import pyarrow")
    imports.append("from pandera.typing import Series")
    if "Annotated" in needs:
        imports.insert(0, "from typing import Annotated\n")
    imports += ["", "from extapi_pandas import Column"]
    records = (
        f"records = {_python_literal(mapping.records)}"
        if mapping.records
        else ("records = None")
    )
    model_lines = [
        f"class {model}(pa.DataFrameModel):",
        f'{_INDENT}"""Dtype and nullability of each column; pass it as schema=."""',
        "",
        *fields,
    ]
    if not fields:
        model_lines.append(f"{_INDENT}pass")
    return "\n".join([*imports, "", records, body, "", "", *model_lines]) + "\n"


def _columns_code(mapping: Mapping) -> str:
    lines = ["columns = {"]
    for name, column in mapping.items():
        note = mapping.notes.get(name)
        if note:
            lines.append(f"{_INDENT}# {_one_line(note)}")
        lines.append(f"{_INDENT}{_python_literal(name)}: {column_source(column)},")
    lines.append("}")
    return "\n".join(lines)


def _model_fields(mapping: Mapping) -> tuple[list[str], set[str]]:
    lines: list[str] = []
    needs: set[str] = set()
    used: set[str] = set()
    for name, column in mapping.items():
        if column.dtype is None:
            lines.append(f"{_INDENT}# {name}: no dtype declared, so it is not checked")
            continue
        annotation = _annotation(parse_dtype(column.dtype), needs)
        attribute, alias = _attribute_name(name, used)
        options = []
        if alias:
            options.append(f"alias={_python_literal(name)}")
        if column.nullable:
            options.append("nullable=True")
        default = f" = pa.Field({', '.join(options)})" if options else ""
        lines.append(f"{_INDENT}{attribute}: Series[{annotation}]{default}")
    return lines, needs


def _attribute_name(name: str, used: set[str]) -> tuple[str, bool]:
    if _IDENTIFIER.fullmatch(name) and not keyword.iskeyword(name) and name not in used:
        used.add(name)
        return name, False
    base = re.sub(r"\W+", "_", name).strip("_") or "column"
    if not _IDENTIFIER.fullmatch(base) or keyword.iskeyword(base):
        base = f"column_{base}"
    candidate, number = base, 2
    while candidate in used:
        candidate, number = f"{base}_{number}", number + 1
    used.add(candidate)
    return candidate, True


def _annotation(dtype: DType, needs: set[str]) -> str:
    if dtype.kind in ("object", "other"):
        return "object"
    if dtype.kind == "string":
        return "str" if dtype.pandas.na_value is not pd.NA else "pd.StringDtype"
    if dtype.kind == "category":
        return "pd.CategoricalDtype"
    if dtype.kind in ("integer", "float", "boolean"):
        if isinstance(dtype.pandas, pd.api.extensions.ExtensionDtype):
            return f"pd.{type(dtype.pandas).__name__}"
        return {"integer": "int", "float": "float", "boolean": "bool"}[dtype.kind]
    if dtype.kind == "datetime":
        tz = getattr(dtype.pandas, "tz", None)
        if tz is None:
            return "pd.Timestamp"
        needs.add("Annotated")
        return (
            f"Annotated[pd.DatetimeTZDtype, {_python_literal(dtype.pandas.unit)}, "
            f"{_python_literal(str(tz))}]"
        )
    needs.update(("Annotated", "pyarrow"))
    return f"Annotated[pd.ArrowDtype, {_arrow_code(dtype)}]"


def _arrow_code(dtype: DType) -> str:
    if dtype.kind == "list":
        assert dtype.element is not None
        return f"pyarrow.list_({_arrow_code(dtype.element)})"
    if dtype.kind == "date":
        return "pyarrow.date32()"
    if dtype.kind == "string":
        return "pyarrow.large_string()"
    if dtype.kind == "boolean":
        return "pyarrow.bool_()"
    if dtype.kind == "datetime":
        tz = getattr(dtype.pandas, "tz", None)
        unit = getattr(dtype.pandas, "unit", "ns")
        zone = "" if tz is None else f", tz={_python_literal(str(tz))}"
        return f"pyarrow.timestamp({_python_literal(unit)}{zone})"
    return f"pyarrow.{np.dtype(dtype.pandas.type).name}()"
