"""Form parts of the builder: name-value rows, the auth form and the mapping grid."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import ipywidgets as widgets

from extapi_pandas.errors import ConfigurationError
from extapi_pandas.http.auth import ApiKey, Auth, BasicAuth, BearerToken
from extapi_pandas.mapping import Column
from extapi_pandas.preview import InferredColumn
from extapi_pandas.redaction import Secret, is_sensitive_name

__all__ = ["AUTO_DTYPE", "DTYPES", "AuthForm", "KeyValueEditor", "MappingGrid"]

AUTO_DTYPE = "auto"
"""The dtype choice that lets the pipeline infer the dtype from the values."""

DTYPES = [
    AUTO_DTYPE,
    "string",
    "Int64",
    "Float64",
    "boolean",
    "datetime64[ns, UTC]",
    "object",
]
"""The dtypes offered in the mapping grid."""

_AUTH_KINDS = [
    ("none", "none"),
    ("bearer token", "bearer"),
    ("basic", "basic"),
    ("API key", "api_key"),
]


class _Row:
    """One name-value row, with a password field for a credential's value."""

    def __init__(self, editor: KeyValueEditor, name: str, value: str) -> None:
        self.name = widgets.Text(
            value=name, placeholder="name", layout=widgets.Layout(width="180px")
        )
        self.value = self._value_widget(name, value)
        self.remove = widgets.Button(
            icon="trash", tooltip="Remove this row", layout=widgets.Layout(width="36px")
        )
        self.box = widgets.HBox([self.name, self.value, self.remove])
        self.name.observe(self._name_changed, names="value")
        self.remove.on_click(lambda _: editor.remove(self))

    @staticmethod
    def _value_widget(name: str, value: str) -> Any:
        kind = widgets.Password if is_sensitive_name(name) else widgets.Text
        return kind(
            value=value,
            placeholder="value, may use {column}",
            layout=widgets.Layout(width="320px"),
        )

    def _name_changed(self, change: Mapping[str, Any]) -> None:
        secret = is_sensitive_name(str(change["new"]))
        if secret == isinstance(self.value, widgets.Password):
            return
        self.value = self._value_widget(str(change["new"]), self.value.value)
        self.box.children = (self.name, self.value, self.remove)


class KeyValueEditor:
    """Rows of names and values, for query parameters or headers.

    Values of credential names (`Authorization`, `api_key`, ...) are typed in
    password fields.

    Args:
        title: Label above the rows.
    """

    def __init__(self, title: str) -> None:
        self.rows: list[_Row] = []
        self.add_button = widgets.Button(
            description="add", icon="plus", layout=widgets.Layout(width="80px")
        )
        self.add_button.on_click(lambda _: self.add())
        self._rows_box = widgets.VBox([])
        self.widget = widgets.VBox(
            [widgets.HTML(f"<b>{title}</b>"), self._rows_box, self.add_button]
        )

    def add(self, name: str = "", value: str = "") -> None:
        """Append a row."""
        self.rows.append(_Row(self, name, value))
        self._rows_box.children = [row.box for row in self.rows]

    def remove(self, row: _Row) -> None:
        """Remove a row."""
        self.rows.remove(row)
        self._rows_box.children = [row.box for row in self.rows]

    def set(self, values: Mapping[str, str]) -> None:
        """Replace every row with `values`."""
        self.rows = []
        for name, value in values.items():
            self.add(name, value)
        self._rows_box.children = [row.box for row in self.rows]

    @property
    def value(self) -> dict[str, str]:
        """The rows with a name, as a dictionary."""
        return {
            row.name.value.strip(): row.value.value
            for row in self.rows
            if row.name.value.strip()
        }


class AuthForm:
    """The auth scheme and its credentials, from a password field or a variable.

    A secret read from an environment variable stays a reference in the code that
    "Show code" writes, so prefer the variable over typing the value.

    NOTE: a typed secret is part of the widget state, which Jupyter writes into
    the notebook file when the notebook is saved with widget state.
    """

    def __init__(self) -> None:
        self.kind = widgets.Dropdown(
            options=_AUTH_KINDS, value="none", description="auth"
        )
        self.secret = widgets.Password(
            description="secret", placeholder="token, password or key"
        )
        self.env = widgets.Text(
            description="or env var", placeholder="name of an environment variable"
        )
        self.username = widgets.Text(description="username")
        self.key_name = widgets.Text(value="X-API-Key", description="key name")
        self.location = widgets.Dropdown(
            options=["header", "query"], value="header", description="sent in"
        )
        self._details = widgets.VBox([])
        self.widget = widgets.VBox([self.kind, self._details])
        self.kind.observe(lambda _: self._show_fields(), names="value")
        self._show_fields()

    def _show_fields(self) -> None:
        fields = {
            "none": [],
            "bearer": [self.secret, self.env],
            "basic": [self.username, self.secret, self.env],
            "api_key": [self.secret, self.env, self.key_name, self.location],
        }[self.kind.value]
        self._details.children = fields

    def auth(self) -> Auth | None:
        """Return the auth scheme the form describes, or None.

        Raises:
            ConfigurationError: A scheme is chosen without a secret or a variable,
                or the variable is not set.
        """
        if self.kind.value == "none":
            return None
        secret = self._secret()
        if self.kind.value == "bearer":
            return BearerToken(secret)
        if self.kind.value == "basic":
            return BasicAuth(self.username.value, secret)
        return ApiKey(
            secret,
            name=self.key_name.value or "X-API-Key",
            location=self.location.value,
        )

    def _secret(self) -> Secret:
        env = self.env.value.strip()
        if env:
            return Secret.from_env(env)
        if not self.secret.value:
            raise ConfigurationError(
                f"auth {self.kind.label!r} needs a secret: type it in the secret "
                "field, or name the environment variable that holds it"
            )
        return Secret(self.secret.value)


class _MappingRow:
    def __init__(self, column: InferredColumn | None) -> None:
        dtype = column.dtype if column is not None else AUTO_DTYPE
        self.include = widgets.Checkbox(
            value=True, indent=False, layout=widgets.Layout(width="60px")
        )
        self.name = widgets.Text(
            value=column.name if column else "", placeholder="column name"
        )
        self.path = widgets.Text(
            value=column.path if column else "", placeholder="$.json.path"
        )
        # An inferred dtype outside the usual list (such as "list[string]") is
        # offered too, so that the grid keeps what inference found.
        choices = DTYPES if dtype in DTYPES else [*DTYPES, dtype]
        self.dtype = widgets.Dropdown(
            options=choices, value=dtype, layout=widgets.Layout(width="170px")
        )

    @property
    def cells(self) -> list[Any]:
        return [self.include, self.name, self.path, self.dtype]


class MappingGrid:
    """An editable grid of output columns: include, column name, path, dtype."""

    def __init__(self) -> None:
        self.rows: list[_MappingRow] = []
        self.add_button = widgets.Button(description="add column", icon="plus")
        self.add_button.on_click(lambda _: self.add())
        self._grid = widgets.GridBox(
            [], layout=widgets.Layout(grid_template_columns="60px 200px 320px 180px")
        )
        self._redraw()
        self.widget = widgets.VBox([self._grid, self.add_button])

    def set_columns(self, columns: Iterable[InferredColumn]) -> None:
        """Replace the rows with inferred columns, all included."""
        self.rows = [_MappingRow(column) for column in columns]
        self._redraw()

    def add(self, name: str = "", path: str = "", dtype: str = AUTO_DTYPE) -> None:
        """Append a row."""
        row = _MappingRow(InferredColumn(name, path, dtype))
        self.rows.append(row)
        self._redraw()

    def columns(self) -> dict[str, str | Column]:
        """Return the included rows as `enrich`'s `columns=`.

        Raises:
            ConfigurationError: An included row has a name but no path, or the
                other way round.
        """
        columns: dict[str, str | Column] = {}
        for row in self.rows:
            name, path = row.name.value.strip(), row.path.value.strip()
            if not row.include.value or not (name or path):
                continue
            if not name or not path:
                raise ConfigurationError(
                    f"mapping row {name or path!r} needs both a column name and a "
                    "JSONPath; fill the other field or untick include"
                )
            dtype = row.dtype.value
            columns[name] = path if dtype == AUTO_DTYPE else Column(path, dtype=dtype)
        return columns

    def _redraw(self) -> None:
        header = [
            widgets.HTML(f"<b>{label}</b>")
            for label in ("include", "column", "path", "dtype")
        ]
        self._grid.children = [
            *header,
            *(cell for row in self.rows for cell in row.cells),
        ]
