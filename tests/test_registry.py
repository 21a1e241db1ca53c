"""The plug-in registries (volts.core.registry): one per family, filled where each plug-in is defined."""

from __future__ import annotations

import sys

import pytest

from volts.core.registry import PAIR_PICKERS, SCREENS, STRATEGIES, Registry


def test_builtin_plugins_register_themselves_where_they_are_defined():
    assert list(SCREENS)[:3] == ["granger", "pcmci", "transfer_entropy"]
    assert SCREENS["levy_area"].__module__ == "volts.selection.screens.pairwise"
    assert STRATEGIES["lead_lag_trend"].__module__ == "volts.trading.simulate"
    assert STRATEGIES["lead_lag_portfolio"].__module__ == "volts.trading.strategies.lead_lag_portfolio"
    assert PAIR_PICKERS["random_pairs"].__name__ == "RandomPairs"


def test_a_registry_imports_its_providers_on_first_lookup(tmp_path, monkeypatch):
    # a provider module registers into the registry when imported; the registry imports it on the first look-up
    reg: Registry = Registry("widget", providers=("volts_test_widget_provider",))
    (tmp_path / "volts_test_widget_provider.py").write_text(
        "from tests.test_registry import PROVIDED\nPROVIDED.add('made_by_provider', 42)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys.modules[__name__], "PROVIDED", reg, raising=False)
    monkeypatch.delitem(sys.modules, "volts_test_widget_provider", raising=False)
    assert "volts_test_widget_provider" not in sys.modules  # nothing imported before the look-up
    assert reg["made_by_provider"] == 42 and "made_by_provider" in reg and len(reg) == 1
    assert "volts_test_widget_provider" in sys.modules


def test_names_are_unique_and_unknown_names_list_the_known_ones():
    reg: Registry = Registry("widget")

    @reg.register("a")
    def first():
        return 1

    assert reg["a"] is first and reg.add("a", first) is first  # the same object again: a no-op
    with pytest.raises(ValueError, match="widget name 'a' is taken"):
        reg.add("a", lambda: 2)
    with pytest.raises(ValueError, match="non-empty name"):
        reg.add("", first)
    with pytest.raises(KeyError, match="unknown widget 'b'; known: a"):
        reg["b"]


def test_a_missing_provider_is_an_import_error_not_an_empty_family():
    reg: Registry = Registry("widget", providers=("volts_no_such_module_xyz",))
    with pytest.raises(ModuleNotFoundError):
        list(reg)
