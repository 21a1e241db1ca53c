"""The issue-12 comparison variants for the walk-forward (volts.screens.comparison)."""

from __future__ import annotations

from volts.config import Settings
from volts.screens import SCREENS
from volts.screens.comparison import comparison_variants


def test_comparison_variants_cover_the_funnel_every_screen_hermitian_and_the_portfolio():
    variants = comparison_variants(top_k=4)
    names = [v.name for v in variants]
    assert names == ["vol-ts"] + [f"top4-{s}" for s in SCREENS] + ["hermitian", "lead-lag-portfolio"]
    settings = Settings()
    for v in variants[1:len(SCREENS) + 1]:
        s = v.settings_for(settings)                 # valid overrides: one screen, top-K rule, K = 4
        assert len(s.selection.screens) == 1 and s.selection.rule == "top_k" and s.selection.top_k == 4
        assert s.clustering == settings.clustering and s.costs == settings.costs   # nothing else changes
    assert variants[-2].settings_for(settings).clustering.method == "hermitian"
    assert variants[-1].strategy == "lead_lag_portfolio" and not variants[-1].overrides
    assert variants[0].settings_for(settings) == settings
