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
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
@needs_mkdocs
def test_docs_build_strict(tmp_path):
    result = _build(REPO / "mkdocs.yml", tmp_path / "site")
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{log}"
    assert "WARNING" not in log, log
    for page in (
        "index.html",
        "getting-started/index.html",
        "results/index.html",
        "glossary/index.html",
        "architecture/index.html",
        "guide/extending/index.html",
        "guide/runs/index.html",
        *(
            f"reference/{layer}/index.html"
            for layer in ("core", "data", "selection", "trading", "evaluation", "live", "reporting")
        ),
    ):
        assert (tmp_path / "site" / page).is_file(), page
    # The generated API reference is user-facing text too: no docstring rendered there carries an internal label.
    labelled = [
        f"{p.relative_to(tmp_path / 'site')}: {m.group(0)}"
        for p in sorted((tmp_path / "site").rglob("index.html"))
        for m in LABELS.finditer(p.read_text(encoding="utf-8"))
    ]
    assert not labelled, labelled
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


LABELS = re.compile(r"\bissue[ -]?\d+|\bseeds? 0\d\d\b|\bseed-0\d\d\b", re.IGNORECASE)
USER_PAGES = sorted(DOCS.rglob("*.md")) + [REPO / "README.md", REPO / "CONTRIBUTING.md"]


def test_docs_name_features_not_internal_labels():
    """User-facing pages (the site, the README, CONTRIBUTING) name features and papers, never issue numbers or
    internal seed labels."""
    found = [
        f"{p.relative_to(REPO)}: {m.group(0)}"
        for p in USER_PAGES
        for m in LABELS.finditer(p.read_text(encoding="utf-8"))
    ]
    assert not found, found


def test_label_pattern_catches_labels():
    """The label check is not vacuous: it finds the forms it is meant to find, and spares ordinary words."""
    assert [m.group(0) for m in LABELS.finditer("see issue 11, Issue-12, seed 003 and seeds 004")] == [
        "issue 11",
        "Issue-12",
        "seed 003",
        "seeds 004",
    ]
    assert not LABELS.search("a seeded market; the issue of costs; seed = 0")


def test_readme_is_short_and_points_to_the_docs():
    """The README stays a front page (at most 250 lines) and every docs page it names exists."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250, f"README.md has {len(text.splitlines())} lines; move detail to docs/"
    named = set(re.findall(r"`(docs/[\w/.-]+\.md)`", text))
    named |= {f"docs/guide/{n}" for n in re.findall(r"\(`(\w[\w-]*\.md)`\)", text)}
    assert "docs/results.md" in named and "docs/architecture.md" in named
    missing = sorted(n for n in named if not (REPO / n).is_file())
    assert not missing, missing
    for command in ("make demo", "make test", "make docs"):
        assert command in text


def test_contributing_and_docs_tell_how_to_add_a_screen_and_a_strategy():
    """The worked examples name the real API: the registry decorator, the plug-in key and the strategy registry."""
    for path in (REPO / "CONTRIBUTING.md", DOCS / "guide" / "extending.md"):
        text = path.read_text(encoding="utf-8")
        for needle in ("@register_screen", "PairScreen", "_evaluate", "plugins", "STRATEGIES", "[selection]"):
            assert needle in text, f"{path.relative_to(REPO)} does not mention {needle}"
