"""Drive the builder in a real JupyterLab with headless Chromium (Playwright).

The test starts JupyterLab on 127.0.0.1 with a token and temporary directories,
opens notebooks/02_builder.ipynb, runs it, clicks "Send test request" and "Apply",
and saves a screenshot. Set EXTAPI_SCREENSHOT to a file path to keep the screenshot.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]
NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "02_builder.ipynb"
START_TIMEOUT_S = 60
UI_TIMEOUT_MS = 120_000

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not installed (apt-get install -y chromium)",
    ),
    pytest.mark.timeout(420),
]


@dataclass
class Lab:
    """A running JupyterLab server."""

    url: str
    token: str


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as response:  # loopback only
        status: int = response.status
        return status


def _server_info(runtime_dir: Path) -> dict[str, Any] | None:
    for path in runtime_dir.glob("jpserver-*.json"):
        try:
            info: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError):  # the server is still writing it
            continue
        return info
    return None


def _wait_for_lab(
    process: subprocess.Popen[bytes], runtime_dir: Path, log: Path
) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"JupyterLab exited with {process.returncode}:\n{log.read_text()}"
            )
        info = _server_info(runtime_dir)
        if info is not None:
            base = f"http://127.0.0.1:{info['port']}"
            try:
                if _get(f"{base}/api/status?token={info['token']}") == 200:
                    return base
            except (urllib.error.URLError, ConnectionError):
                pass
        time.sleep(0.25)
    pytest.fail(
        f"JupyterLab did not start within {START_TIMEOUT_S} s:\n{log.read_text()}"
    )


def _write_settings(settings_dir: Path) -> None:
    # No news feed and no update check: the server must not reach outside.
    notification = settings_dir / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    pytest.importorskip("jupyterlab")
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    dirs = {
        name: tmp_path / name
        for name in ("config", "data", "runtime", "settings", "workspaces")
    }
    for path in dirs.values():
        path.mkdir()
    _write_settings(dirs["settings"])
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(dirs["config"]),
        "JUPYTER_DATA_DIR": str(dirs["data"]),
        "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
        "JUPYTERLAB_SETTINGS_DIR": str(dirs["settings"]),
        "JUPYTERLAB_WORKSPACES_DIR": str(dirs["workspaces"]),
        "JUPYTER_PLATFORM_DIRS": "1",
    }
    token = secrets.token_hex(16)
    log = tmp_path / "lab.log"
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--allow-root",  # CI runs as root
        "--ServerApp.terminals_enabled=False",
        "--ServerApp.ip=127.0.0.1",
        "--ServerApp.port=0",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements."
        "NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            command, env=env, stdout=log_file, stderr=subprocess.STDOUT, cwd=root
        )
        try:
            base = _wait_for_lab(process, dirs["runtime"], log)
            yield Lab(base, token)
        finally:
            _stop_lab(process, locals().get("base"), token)


def _stop_lab(process: subprocess.Popen[bytes], base: str | None, token: str) -> None:
    if base is not None and process.poll() is None:
        request = urllib.request.Request(
            f"{base}/api/shutdown",
            method="POST",
            headers={"Authorization": f"token {token}"},
        )
        # A clean shutdown also stops the kernel, with its demo API thread.
        with contextlib.suppress(urllib.error.URLError, ConnectionError):
            urllib.request.urlopen(request, timeout=10).close()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.terminate()
        process.wait(timeout=10)


def _loopback_only(route: Any) -> None:
    host = urlsplit(route.request.url).hostname
    if host in ("127.0.0.1", "localhost", "::1") or route.request.url.startswith(
        ("data:", "blob:")
    ):
        route.continue_()
    else:
        route.abort()


def test_builder_in_jupyterlab(lab: Lab, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    screenshot = tmp_path / "builder.png"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.route("**/*", _loopback_only)
            page.set_default_timeout(UI_TIMEOUT_MS)
            try:
                _drive_builder(page, lab, screenshot)
            except Exception:
                page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
                raise
        finally:
            browser.close()
    assert screenshot.stat().st_size > 0
    keep = os.environ.get("EXTAPI_SCREENSHOT")
    if keep:
        shutil.copy(screenshot, keep)


def _drive_builder(page: Any, lab: Lab, screenshot: Path) -> None:
    page.goto(f"{lab.url}/lab/tree/{NOTEBOOK.name}?token={lab.token}")
    _run_all_cells(page)
    output = page.locator(".widget-output").first
    output.get_by_text("Apply 1: enriched 2,000 rows").wait_for()

    page.get_by_role("button", name="Send test request").click()
    output.get_by_text("Test request 2: HTTP 200").wait_for()
    tree = page.locator(".json-tree").first
    tree.get_by_text("offers").first.wait_for()

    # The accessible name starts with the icon's text, so match the word alone.
    page.get_by_role("button", name=re.compile(r"^\W*Apply$")).click()
    output.get_by_text("Apply 2: enriched 2,000 rows").wait_for()
    page.get_by_text("Result (first 5 rows, new columns)").wait_for()

    # A viewport taller than the builder, so that its screenshot is not cut off
    # by the notebook panel's scrolling.
    page.set_viewport_size({"width": 1280, "height": 3200})
    builder = page.locator(
        ".widget-vbox", has=page.get_by_text("extapi request builder")
    ).first
    builder.scroll_into_view_if_needed()
    builder.screenshot(path=str(screenshot))


def _run_all_cells(page: Any) -> None:
    page.locator(".jp-Notebook").first.wait_for()
    # The status bar reads "Python 3 (ipykernel) | Idle" once the kernel is up.
    page.get_by_text("| Idle").first.wait_for()
    _accept_kernel_dialog(page)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    _accept_kernel_dialog(page)


def _accept_kernel_dialog(page: Any) -> None:
    """Accept JupyterLab's "Select Kernel" dialog (Python 3) if it is open."""
    dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
    try:
        dialog.wait_for(timeout=3000)
    except Exception:  # playwright's TimeoutError: no dialog, nothing to accept
        return
    dialog.locator(".jp-mod-accept").click()
    dialog.wait_for(state="detached")
