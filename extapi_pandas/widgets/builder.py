"""The builder form: describe a call, test it on one campaign, apply it to all."""

from __future__ import annotations

import html
import json
import logging
import threading
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

import ipywidgets as widgets
import pandas as pd

from extapi_pandas.codegen import enrich_code
from extapi_pandas.errors import ConfigurationError, ExtapiError
from extapi_pandas.preview import Preview
from extapi_pandas.progress import in_notebook
from extapi_pandas.widgets.editors import AuthForm, KeyValueEditor, MappingGrid

__all__ = ["Builder"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_CAMPAIGN_CHOICES = 200
_RESULT_ROWS = 5
# Dropdown choices that mean "none of the values". A Dropdown whose value is None
# shows an empty box in the browser, so None cannot mark them.
_WHOLE_FRAME = "(whole frame)"
_FIRST = "(first campaign)"
_NO_LOOKUP = "(no lookup)"


class Builder:
    """An ipywidgets form over `preview`, `enrich` and the code writer.

    Every button calls the public function a user would call. "Send test request"
    runs `df.extapi.preview` in a background thread, so the kernel stays free.
    "Apply" runs `df.extapi.enrich` with a progress bar. "Show code" writes the
    `enrich` call, with secrets read from environment variables. Status and errors
    go to the `output` widget, the progress bar to `progress_output`.

    The form can be driven from code: set the widgets' `value`, then call
    `send_test_request()`, `apply()` or `show_code()`, which raise on failure, or
    click the buttons with `send_button.click()`, which only show the failure.

    Args:
        frame: The audience.
        frame_name: The audience's variable name in the written code.

    Attributes:
        preview: The last successful `Preview`, or None.
        result: The enriched frame of the last successful "Apply", or None.
        error: The last failure, or None after a success.

    Example:
        >>> builder = audience.extapi.builder()  # doctest: +SKIP
        >>> builder.url.value = "https://api.example.com/offers"  # doctest: +SKIP
        >>> builder.send_test_request().status  # doctest: +SKIP
        200
    """

    def __init__(self, frame: pd.DataFrame, *, frame_name: str = "df") -> None:
        self._frame = frame
        self.frame_name = frame_name
        self.preview: Preview | None = None
        self.result: pd.DataFrame | None = None
        self.error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._sends = 0
        self._applies = 0
        self._filled_for: tuple[str, str] | None = None
        self._build_request_form()
        self._build_actions()
        self.widget = widgets.VBox(
            [
                widgets.HTML("<h3>extapi request builder</h3>"),
                widgets.HBox([self.method, self.url]),
                widgets.HBox([self.campaign, self.campaign_value]),
                self.details,
                self.help,
                widgets.HBox([self.send_button, self.apply_button, self.code_button]),
                self.output,
                self.progress_output,
                widgets.HTML("<b>Response</b>"),
                self.response_view,
                widgets.HTML("<b>Mapping</b> (edit, untick or add columns)"),
                self.mapping.widget,
                self.code_output,
                self.result_view,
            ],
            layout=widgets.Layout(width="100%"),
        )

    def _build_request_form(self) -> None:
        columns = [str(column) for column in self._frame.columns]
        self.url = widgets.Text(
            description="URL",
            placeholder="https://api.example.com/offers",
            layout=widgets.Layout(width="640px"),
        )
        self.method = widgets.Dropdown(
            options=["GET", "POST", "PUT"],
            value="GET",
            layout=widgets.Layout(width="90px"),
        )
        self.campaign = widgets.Dropdown(
            options=[_WHOLE_FRAME, *columns], value=_WHOLE_FRAME, description="campaign"
        )
        self.campaign_value = widgets.Dropdown(
            options=[(_FIRST, _FIRST)], value=_FIRST, description="test with"
        )
        self.campaign.observe(lambda _: self._list_campaigns(), names="value")
        self.params = KeyValueEditor("Query parameters")
        self.headers = KeyValueEditor("Headers")
        self.body = widgets.Textarea(
            description="JSON body",
            placeholder='{"campaign": "{campaign_id}", "count": "{count}"}',
            layout=widgets.Layout(width="640px"),
        )
        self.auth = AuthForm()
        self.records = widgets.Text(
            description="records", placeholder="$.regions[*] (optional)"
        )
        self.on_audience = widgets.Dropdown(
            options=[_NO_LOOKUP, *columns], value=_NO_LOOKUP, description="lookup on"
        )
        self.on_response = widgets.Text(placeholder="response field, e.g. region_code")
        self.details = widgets.Accordion(
            children=[
                widgets.VBox([self.params.widget, self.headers.widget]),
                self.auth.widget,
                widgets.VBox([self.body]),
                widgets.VBox(
                    [self.records, widgets.HBox([self.on_audience, self.on_response])]
                ),
            ],
            titles=(
                "Parameters and headers",
                "Auth",
                "Body (POST, PUT)",
                "Records and lookup",
            ),
        )
        self.help = widgets.HTML(_help_html(columns))

    def _build_actions(self) -> None:
        self.send_button = widgets.Button(
            description="Send test request",
            button_style="primary",
            icon="paper-plane",
            layout=widgets.Layout(width="180px"),
        )
        self.apply_button = widgets.Button(
            description="Apply", button_style="success", icon="check"
        )
        self.code_button = widgets.Button(description="Show code", icon="code")
        self.send_button.on_click(lambda _: self.send_test_request(wait=False))
        self.apply_button.on_click(lambda _: self._click(self.apply))
        self.code_button.on_click(lambda _: self._click(self.show_code))
        self.output = widgets.Output()
        self.progress_output = widgets.Output()
        self.response_view = widgets.HTML()
        self.mapping = MappingGrid()
        self.code_output = widgets.Output()
        self.result_view = widgets.HTML()

    def _list_campaigns(self) -> None:
        column = self.campaign.value
        choices: list[tuple[str, Any]] = [(_FIRST, _FIRST)]
        if column != _WHOLE_FRAME:
            values = pd.unique(self._frame[column].dropna())[:_CAMPAIGN_CHOICES]
            choices += [(str(value), value) for value in values]
        self.campaign_value.options = choices
        self.campaign_value.value = _FIRST

    @property
    def busy(self) -> bool:
        """True while a test request runs in the background."""
        return self._thread is not None and self._thread.is_alive()

    def wait(self) -> None:
        """Block until a test request started by the button has finished."""
        if self._thread is not None:
            self._thread.join()

    def options(self) -> tuple[str, dict[str, Any]]:
        """Return the URL and the `enrich` keywords that the form describes.

        Raises:
            ConfigurationError: The URL is empty, the body is not JSON, or the auth
                or mapping rows are incomplete.
        """
        url = self.url.value.strip()
        if not url:
            raise ConfigurationError("enter the endpoint URL in the URL field")
        options: dict[str, Any] = {"method": self.method.value}
        if self.campaign.value != _WHOLE_FRAME:
            options["campaign"] = self.campaign.value
        for name, editor in (("params", self.params), ("headers", self.headers)):
            if editor.value:
                options[name] = editor.value
        if self.body.value.strip():
            options["json"] = _parse_body(self.body.value)
        auth = self.auth.auth()
        if auth is not None:
            options["auth"] = auth
        if self.records.value.strip():
            options["records"] = self.records.value.strip()
        if self.on_audience.value != _NO_LOOKUP and self.on_response.value.strip():
            options["on"] = {self.on_audience.value: self.on_response.value.strip()}
        columns = self.mapping.columns()
        if columns:
            options["columns"] = columns
        return url, options

    def send_test_request(self, *, wait: bool = True) -> Preview | None:
        """Run `df.extapi.preview` for the chosen campaign and show the response.

        The inferred mapping fills the grid when the grid is empty or was filled
        for another URL or records path.

        Args:
            wait: Run in this thread and raise on failure (for code); False runs
                in a background thread and only shows a failure (for the button).

        Returns:
            The preview, or None when `wait` is False.

        Raises:
            ExtapiError: The request failed; the failure is also shown in `output`.
        """
        if not wait:
            if self.busy:
                self.output.append_stdout("A test request is still running.\n")
                return None
            self._thread = threading.Thread(
                target=self._click,
                args=(self.send_test_request,),
                daemon=True,
                name="extapi-builder-preview",
            )
            self._thread.start()
            return None
        return self._shown("Test request", self._send)

    def _send(self) -> Preview:
        self._sends += 1
        number = self._sends
        self.output.outputs = ()
        self.send_button.disabled = True
        try:
            url, options = self.options()
            options.pop("columns", None)
            chosen = self.campaign_value.value
            result: Preview = self._frame.extapi.preview(
                url, campaign_value=None if chosen == _FIRST else chosen, **options
            )
        finally:
            self.send_button.disabled = False
        self.preview = result
        self.error = None
        self.output.append_stdout(
            f"Test request {number}: HTTP {result.status} in "
            f"{result.elapsed_s * 1000:.0f} ms, {result.response_bytes:,} bytes "
            f"(campaign {result.campaign!r})\n"
        )
        self.response_view.value = result.summary_html() + result.tree_html()
        filled_for = (url, options.get("records") or "")
        if not self.mapping.rows or self._filled_for != filled_for:
            self.mapping.set_columns(result.inferred)
            self._filled_for = filled_for
        return result

    def apply(self) -> pd.DataFrame:
        """Run `df.extapi.enrich` on the whole frame with a progress bar.

        Returns:
            The enriched frame, also kept as `result`.

        Raises:
            ConfigurationError: The mapping is empty.
            ExtapiError: The enrichment failed; the failure is also shown in
                `output`.
        """
        return self._shown("Apply", self._apply)

    def _apply(self) -> pd.DataFrame:
        self._applies += 1
        number = self._applies
        url, options = self.options()
        if "columns" not in options:
            raise ConfigurationError(
                "the mapping is empty: send a test request to infer one, or add a "
                "column with a name and a JSONPath"
            )
        self.output.outputs = ()
        result = self._enrich_with_progress(url, options)
        self.result = result
        self.error = None
        added = [c for c in result.columns if c not in self._frame.columns]
        self.output.append_stdout(
            f"Apply {number}: enriched {len(result):,} rows, added "
            f"{', '.join(map(str, added))}; the frame is builder.result\n"
        )
        campaign = [options["campaign"]] if "campaign" in options else []
        shown = result[[*campaign, *added]].head(_RESULT_ROWS)
        self.result_view.value = (
            f"<b>Result</b> (first {_RESULT_ROWS} rows, new columns)"
            f"{shown.to_html(max_cols=20)}{result.extapi.report()._repr_html_()}"
        )
        return result

    def _enrich_with_progress(self, url: str, options: dict[str, Any]) -> pd.DataFrame:
        if in_notebook():
            self.progress_output.clear_output()
        else:
            self.progress_output.outputs = ()
        failure: Exception | None = None
        result: pd.DataFrame | None = None
        # In a notebook, the progress bar and warnings appear in progress_output.
        with self.progress_output:
            try:
                result = self._frame.extapi.enrich(url, progress=True, **options)
            except Exception as exc:  # leaving the Output context would hide it
                failure = exc
        if failure is not None:
            raise failure
        assert result is not None
        return result

    def code(self) -> str:
        """Return the `enrich` call the form describes, secrets as variables."""
        url, options = self.options()
        if "columns" not in options and self.preview is not None:
            options["columns"] = self.preview.columns
        return enrich_code({"url": url, **options}, frame=self.frame_name)

    def show_code(self) -> str:
        """Write the `enrich` call into `code_output` and return it.

        Raises:
            ConfigurationError: The form is incomplete; also shown in `output`.
        """
        code = self._shown("Show code", self.code)
        self.code_output.outputs = ()
        self.code_output.append_stdout(code + "\n")
        return code

    def _shown(self, what: str, action: Callable[[], T]) -> T:
        """Run `action`, and show a failure in `output` before re-raising it."""
        try:
            return action()
        except ExtapiError as exc:
            self.error = exc
            self.output.append_stderr(f"{what} failed: {exc}\n")
            raise
        except Exception as exc:  # a bug: show the whole traceback
            self.error = exc
            self.output.append_stderr(
                f"{what} failed unexpectedly:\n"
                + "".join(traceback.format_exception(exc))
            )
            raise

    def _click(self, action: Callable[[], object]) -> None:
        """Run a button's action; its failure is already shown in `output`."""
        try:
            action()
        except ExtapiError as exc:
            logger.info("builder action failed: %s", exc)
        except Exception:
            logger.exception("builder action failed")

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


def _parse_body(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"the JSON body is not valid JSON ({exc.msg} at line {exc.lineno}, "
            f"column {exc.colno}); placeholders go inside strings, such as "
            '"{count}"'
        ) from exc


def _help_html(columns: list[str]) -> str:
    shown = ", ".join(f"<code>{{{html.escape(c)}}}</code>" for c in columns[:30])
    return (
        "<details><summary>Placeholders</summary><div>Write <code>{column}</code> "
        "in the URL, parameters, headers or body to fill in the campaign's own value "
        "of that column (URL-encoded in URLs; a body string that is only a "
        "placeholder keeps the value's type). <code>{count}</code> is the "
        "campaign's profile count. A placeholder must have one value per campaign: "
        "per-profile data belongs in <code>df.extapi.enrich_from_file</code>. "
        f"Columns: {shown}</div></details>"
    )
