"""The documentation site builds without a warning, and its user-facing text carries no internal labels.

``mkdocs build --strict`` turns every warning into a failure: a broken link or anchor, a page missing from the
navigation, a module of the API reference that cannot be imported or whose docstring cannot be parsed.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"

needs_mkdocs = pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("mkdocstrings") is None,
    reason="mkdocs/mkdocstrings not installed: install the docs extra (pip install -e '.[docs]')",
)


def _build(config: Path, site: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config), "--site-dir", str(site)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )


@pytest.mark.slow
@needs_mkdocs
def test_docs_build_strict(tmp_path):
    result = _build(REPO / "mkdocs.yml", tmp_path / "site")
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{log}"
    assert "WARNING" not in log, log
    for page in ("index.html", "getting-started/index.html", "results/index.html", "glossary/index.html",
                 "reference/selection/index.html"):
        assert (tmp_path / "site" / page).is_file(), page
    # The API reference really rendered docstrings (a parameter table of a documented function).
    selection = (tmp_path / "site" / "reference/selection/index.html").read_text(encoding="utf-8")
    assert "parkinson" in selection.lower()
    assert "Parameters" in selection


@needs_mkdocs
def test_docs_build_fails_on_a_broken_link(tmp_path):
    """The strict build is not a formality: a page linking to a missing page fails it."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# Home\n\nSee [a missing page](missing.md).\n", encoding="utf-8")
    config = tmp_path / "mkdocs.yml"
    config.write_text("site_name: broken\ndocs_dir: docs\n", encoding="utf-8")
    result = _build(config, tmp_path / "site")
    assert result.returncode != 0
    assert "missing.md" in result.stdout + result.stderr


def test_docs_name_features_not_internal_labels():
    """User-facing pages name features and papers, never issue numbers or internal seed labels."""
    pattern = re.compile(r"\bissue[ -]?\d+|\bseeds? 0\d\d\b|\bseed-0\d\d\b", re.IGNORECASE)
    found = [f"{p.relative_to(REPO)}: {m.group(0)}" for p in sorted(DOCS.rglob("*.md"))
             for m in pattern.finditer(p.read_text(encoding="utf-8"))]
    assert not found, found
