"""The issue-12 comparison variants for the walk-forward (volts.evaluation.screen_comparison)."""

from __future__ import annotations

from volts.core.config import Settings
from volts.selection.screens import SCREENS
from volts.evaluation.screen_comparison import comparison_variants


def test_comparison_variants_cover_the_funnel_every_screen_hermitian_and_the_portfolio():
    variants = comparison_variants(top_k=4)
    names = [v.name for v in variants]
    assert names == ["vol-ts"] + [f"top4-{s}" for s in SCREENS] + ["hermitian", "lead-lag-portfolio"]
    settings = Settings()
    for v in variants[1 : len(SCREENS) + 1]:
        s = v.settings_for(settings)  # valid overrides: one screen, top-K rule, K = 4
        assert len(s.selection.screens) == 1 and s.selection.rule == "top_k" and s.selection.top_k == 4
        assert s.clustering == settings.clustering and s.costs == settings.costs  # nothing else changes
    assert variants[-2].settings_for(settings).clustering.method == "hermitian"
    assert variants[-1].strategy == "lead_lag_portfolio" and not variants[-1].overrides
    assert variants[0].settings_for(settings) == settings


def test_cli_compare_screens_runs_the_comparison_with_the_command_line_settings(tmp_path, monkeypatch, capsys):
    import datetime as dt

    import pandas as pd

    import volts.evaluation.screen_comparison as comparison
    from volts.cli import main

    calls = []

    def fake(settings, **kw):
        calls.append((settings, kw))
        return pd.DataFrame(
            [
                {"variant": "vol-ts", "sharpe": 0.1},
                {"variant": "lead-lag-portfolio", "sharpe": 0.2, "note": "flat on 3 sessions"},
            ]
        )

    monkeypatch.setattr(comparison, "run_screen_comparison", fake)
    rc = main(
        [
            "walkforward",
            "--compare-screens",
            "--top-k",
            "3",
            "--source",
            "synthetic",
            "--start",
            "2023-07-03",
            "--end",
            "2023-08-29",
            "--every",
            "2W",
            "--out",
            str(tmp_path),
            "--no-progress",
        ]
    )
    out = capsys.readouterr()
    assert rc == 0, out.err
    settings, kw = calls[0]
    assert kw["top_k"] == 3 and kw["every"] == "2W" and kw["start"] == dt.date(2023, 7, 3)
    assert kw["end"] == dt.date(2023, 8, 29) and str(kw["out"]) == str(tmp_path) and kw["engine"] == "vectorised"
    assert settings.data.source == "synthetic" and settings.data.return_jump == "flag"
    assert "lead-lag-portfolio: flat on 3 sessions" in out.out and "comparison.csv" in out.out
    assert (
        main(
            [
                "walkforward",
                "--compare-screens",
                "--strategy",
                "lead_lag_portfolio",
                "--source",
                "synthetic",
                "--out",
                str(tmp_path / "x"),
            ]
        )
        == 2
    )
    assert len(calls) == 1
