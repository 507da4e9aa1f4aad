"""Execute every notebook on a real kernel; check the Jupyter-style event-loop case."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import extapi_pandas  # noqa: F401  (registers df.extapi)
from extapi_pandas.demo import DemoAPI, make_audience

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT_S = 120


def _error_outputs(notebook: Any) -> list[str]:
    found = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                found.append(f"{output.get('ename')}: {output.get('evalue')}")
            elif output.get("name") == "stderr" and "Traceback" in output.get(
                "text", ""
            ):
                found.append(output["text"])
    return found


def test_notebooks_exist() -> None:
    names = [path.name for path in NOTEBOOKS]
    assert "01_quickstart.ipynb" in names
    assert "02_builder.ipynb" in names
    assert "03_per_profile_to_file.ipynb" in names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_saved_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.outputs == [] for cell in code_cells)
    assert all(cell.execution_count is None for cell in code_cells)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_runs_without_errors(path: Path, tmp_path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    assert _error_outputs(notebook) == []


def test_enrich_inside_running_loop(demo_api: DemoAPI) -> None:
    audience = make_audience(300, campaigns=3)
    options: dict[str, Any] = {
        "params": {"market": "{market}"},
        "campaign": "campaign_id",
        "columns": {"offer": "$.offers[0].name", "pct": "$.offers[0].discount_pct"},
    }

    async def cell() -> pd.DataFrame:
        # A Jupyter cell runs while the kernel's event loop is running.
        asyncio.get_running_loop()
        return audience.extapi.enrich(demo_api.url("/offers"), **options)

    inside = asyncio.run(cell())
    outside = audience.extapi.enrich(demo_api.url("/offers"), **options)
    pd.testing.assert_frame_equal(inside, outside)
