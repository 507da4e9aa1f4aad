"""The ipywidgets builder: a form over `preview`, `enrich` and the code writer.

Importing this package needs the `ui` extra (ipywidgets 8); without it, the import
raises `ConfigurationError` naming the install command.
"""

from __future__ import annotations

from extapi_pandas.errors import ConfigurationError
from extapi_pandas.progress import UI_EXTRA

try:
    import ipywidgets as _ipywidgets
except ImportError as _exc:
    raise ConfigurationError(
        f"the builder needs ipywidgets 8, which is not installed; run {UI_EXTRA} "
        "and restart the kernel"
    ) from _exc

if not str(getattr(_ipywidgets, "__version__", "0")).startswith("8."):
    raise ConfigurationError(
        f"the builder needs ipywidgets 8, but {_ipywidgets.__version__} is "
        f"installed; run {UI_EXTRA} and restart the kernel"
    )

from extapi_pandas.widgets.builder import Builder
from extapi_pandas.widgets.editors import AuthForm, KeyValueEditor, MappingGrid

__all__ = ["AuthForm", "Builder", "KeyValueEditor", "MappingGrid"]
