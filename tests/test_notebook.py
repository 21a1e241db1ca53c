"""notebooks/reproduce_paper.ipynb is executed against the reference data, so it never rots."""

from __future__ import annotations

import os

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import REPO


@pytest.mark.slow
def test_reproduce_paper_notebook_runs(ref_data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("VOLTS_DATA_DIR", str(ref_data_dir))
    monkeypatch.setenv("VOLTS_NOTEBOOK_FIGURES", str(tmp_path))
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    nb = nbformat.read(REPO / "notebooks" / "reproduce_paper.ipynb", as_version=4)
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(REPO / "notebooks")}}
    ).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    images = [
        o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if "image/png" in o.get("data", {})
    ]
    assert len(images) >= 5  # anomalies, regimes, Granger curves, PCMCI graph, equity (figures inline)
    assert (tmp_path / "anomalies.png").is_file()
