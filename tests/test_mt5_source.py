"""MetaTrader 5 source against the stand-in terminal, served over RPyC and reached through ``mt5linux``.

What must hold: the MT5 path gives the same MarketData (same sha256) as the CSV path on the same bars; bar times
on the server clock map to exchange dates; the session still trading is dropped; every injected fault is
retried and ends in a one-line BrokerError carrying MT5's error code; credentials never leak; a missing bridge
package gives a message saying what to install.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys

import numpy as np
import pandas as pd
import pytest

from volts.core.config import DataSettings, Mt5Settings
from volts.data.csv import load_csv_market
from volts.data.mt5 import (
    Credentials,
    Mt5Terminal,
    Secret,
    load_credentials,
    load_mt5_market,
    rates_to_frame,
    trading_dates,
)
from volts.core.errors import BrokerError, ConfigError, DataError
from volts.testing.mt5_standin import RATES_DTYPE, Faults, StandInTerminal
from volts.testing.mt5_server import serve_standin

SYMBOLS = ["MU", "QCOM", "META", "TSLA"]
START, END = "2023-01-03", "2023-08-11"
LATER = dt.datetime(2024, 6, 1, tzinfo=dt.timezone.utc)  # a "now" long after the window


class Sleeps(list):
    """Records the backoff waits instead of sleeping."""

    def __call__(self, seconds):
        self.append(seconds)


def data_settings(host, port, **mt5) -> DataSettings:
    mt5.setdefault("bridge", "mt5linux")
    mt5.setdefault("backoff_seconds", 0.0)
    return DataSettings(source="mt5", universe=tuple(SYMBOLS), mt5=Mt5Settings(host=host, port=port, **mt5))


@pytest.fixture(autouse=True)
def _no_credentials(monkeypatch):
    for var in ("VOLTS_MT5_LOGIN", "VOLTS_MT5_PASSWORD", "VOLTS_MT5_SERVER"):
        monkeypatch.delenv(var, raising=False)


# ----------------------------------------------------------------------------------------------- parity
@pytest.mark.parametrize("offset", [0.0, 2.0, 3.0])
def test_rpyc_stand_in_gives_the_csv_market(ref_data_dir, offset):
    csv = load_csv_market(ref_data_dir, symbols=SYMBOLS, start=START, end=END)
    with serve_standin(ref_data_dir, symbol_format="{symbol}.US") as (host, port, standin):
        ds = data_settings(host, port, symbol_suffix=".US", server_utc_offset_hours=offset)
        mt5 = load_mt5_market(ds, symbols=SYMBOLS, start=START, end=END, now=LATER)
    assert mt5.sha256() == csv.sha256()
    assert mt5.symbols == SYMBOLS and len(mt5) == len(csv) > 100
    # it really went through the socket: one copy_rates_range per symbol reached the stand-in
    assert standin.calls["copy_rates_range"] == len(SYMBOLS)
    assert standin.calls["symbol_select"] == len(SYMBOLS)


def test_volume_is_real_volume_else_tick_volume():
    rates = np.zeros(3, dtype=RATES_DTYPE)
    rates["time"] = [1_700_000_000 // 86400 * 86400 + k * 86400 for k in range(3)]
    rates["open"] = rates["high"] = rates["low"] = rates["close"] = 10.0
    rates["tick_volume"] = [5, 6, 7]
    rates["real_volume"] = [0, 100, 0]
    frame, used = rates_to_frame(rates)
    assert used == "real_volume" and frame["volume"].tolist() == [0.0, 100.0, 0.0]  # one field per series
    rates["real_volume"] = 0
    frame, used = rates_to_frame(rates)
    assert used == "tick_volume" and frame["volume"].tolist() == [5.0, 6.0, 7.0]


@pytest.mark.parametrize("offset", [-5.0, 0.0, 2.0, 3.0, 7.0])
def test_server_midnight_maps_to_the_exchange_date_across_dst(offset):
    days = pd.date_range("2023-03-01", "2023-11-30", freq="B")  # spans both US DST switches
    server_midnight = ((days - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1)).to_numpy()
    got = trading_dates(server_midnight, server_utc_offset_hours=offset, exchange_timezone="America/New_York")
    assert (got == days).all()


# ----------------------------------------------------------------------------------------------- forming bar
@pytest.mark.parametrize("local_time, last", [("15:59", "2023-08-10"), ("16:00", "2023-08-11")])
def test_bar_of_the_session_in_progress_is_dropped(ref_data_dir, local_time, last):
    faults = Faults(forming_bar=True)
    now = pd.Timestamp(f"2023-08-11 {local_time}", tz="America/New_York")
    with serve_standin(ref_data_dir, faults=faults, until="2023-08-11") as (host, port, _):
        mt5 = load_mt5_market(
            data_settings(host, port), symbols=["MU", "QCOM"], start="2023-07-03", end=None, now=now.to_pydatetime()
        )
    assert str(mt5.dates[-1].date()) == last
    csv = load_csv_market(ref_data_dir, symbols=["MU", "QCOM"], start="2023-07-03", end=last)
    if last == "2023-08-10":  # the forming bar never got in
        assert mt5.sha256() == csv.sha256()
    else:  # after the close the bar counts (the stand-in's half-way values, which differ from the final bar)
        assert mt5.close.iloc[-1]["MU"] != csv.close.iloc[-1]["MU"]
        assert mt5.close.iloc[:-1].equals(csv.close.iloc[:-1])


# ----------------------------------------------------------------------------------------------- faults
FAULTS = {
    "initialize fails": lambda f, n: f.initialize_fails(n),
    "connection drops": lambda f, n: f.fail_next(n, function="copy_rates_range", kind="drop"),
    "eof": lambda f, n: f.fail_next(n, function="symbol_info", kind="eof"),
    "None with an error code": lambda f, n: f.fail_next(
        n, function="copy_rates_range", kind="none", error=(-10005, "IPC timeout")
    ),
    "symbol_select refuses": lambda f, n: f.fail_next(
        n, function="symbol_select", kind="false", error=(-10001, "IPC send failed")
    ),
}


@pytest.mark.parametrize("name", list(FAULTS))
def test_transient_fault_is_retried_then_succeeds(ref_data_dir, name):
    faults = Faults()
    FAULTS[name](faults, 2)  # two failures, three retries allowed
    sleeps = Sleeps()
    with serve_standin(ref_data_dir, faults=faults) as (host, port, _):
        ds = data_settings(host, port, retries=3, backoff_seconds=0.01)
        mt5 = load_mt5_market(ds, symbols=["MU", "QCOM"], start=START, end=END, now=LATER, sleep=sleeps)
    assert mt5.sha256() == load_csv_market(ref_data_dir, symbols=["MU", "QCOM"], start=START, end=END).sha256()
    assert sleeps == [0.01, 0.02]  # exponential backoff


@pytest.mark.parametrize("name", list(FAULTS))
def test_persistent_fault_ends_in_a_one_line_broker_error(ref_data_dir, name):
    faults = Faults()
    FAULTS[name](faults, 100)
    sleeps = Sleeps()
    with serve_standin(ref_data_dir, faults=faults) as (host, port, standin):
        ds = data_settings(host, port, retries=2, backoff_seconds=0.01)
        with pytest.raises(BrokerError) as err:
            load_mt5_market(ds, symbols=["MU", "QCOM"], start=START, end=END, now=LATER, sleep=sleeps)
    msg = str(err.value)
    assert "\n" not in msg and "after 3 attempt(s)" in msg
    assert sleeps == [0.01, 0.02]
    if name in ("initialize fails", "None with an error code", "symbol_select refuses"):
        code = {"initialize fails": "-10003", "None with an error code": "-10005", "symbol_select refuses": "-10001"}[
            name
        ]
        assert f"MT5 error {code}" in msg
    else:
        assert "connection lost" in msg


def test_unreachable_server_is_a_broker_error(ref_data_dir):
    with serve_standin(ref_data_dir) as (host, port, _):
        pass  # the server is gone: nothing listens on the port any more
    ds = data_settings(host, port, retries=1)
    with pytest.raises(BrokerError, match=rf"cannot reach the mt5linux server {host}:{port}"):
        load_mt5_market(ds, symbols=["MU"], start=START, end=END, now=LATER, sleep=Sleeps())


def test_missing_symbol_names_it_and_close_candidates(ref_data_dir):
    with serve_standin(ref_data_dir, symbol_format="{symbol}.US") as (host, port, _):
        with pytest.raises(BrokerError) as err:  # the config forgot the suffix
            load_mt5_market(data_settings(host, port), symbols=["MU", "TSLA"], start=START, end=END, now=LATER)
    msg = str(err.value)
    assert msg.startswith("MU: the broker has no symbol 'MU'") and "MU.US" in msg and "symbol_map" in msg


def test_symbol_hidden_by_the_broker(ref_data_dir):
    faults = Faults().hide_symbol("TSLA")
    with serve_standin(ref_data_dir, faults=faults) as (host, port, _):
        with pytest.raises(BrokerError, match=r"^TSLA: the broker has no symbol 'TSLA'"):
            load_mt5_market(data_settings(host, port), symbols=["MU", "TSLA"], start=START, end=END, now=LATER)


def test_symbol_map_and_prefix(ref_data_dir):
    with serve_standin(ref_data_dir, symbol_format="#{symbol}") as (host, port, standin):
        ds = data_settings(host, port, symbol_prefix="#")
        mt5 = load_mt5_market(ds, symbols=["MU", "QCOM"], start=START, end=END, now=LATER)
    assert mt5.symbols == ["MU", "QCOM"]
    with serve_standin(ref_data_dir, symbol_format="{symbol}.NAS") as (host, port, standin):
        ds = data_settings(host, port, symbol_map={"MU": "MU.NAS", "QCOM": "QCOM.NAS"})
        assert load_mt5_market(ds, symbols=["MU", "QCOM"], start=START, end=END, now=LATER).sha256() == mt5.sha256()


def test_partial_history_is_an_error_not_a_short_frame(ref_data_dir):
    faults = Faults().hide_bars("QCOM", end="2023-04-28")  # the terminal has only recent QCOM bars
    sleeps = Sleeps()
    with serve_standin(ref_data_dir, faults=faults) as (host, port, standin):
        with pytest.raises(BrokerError) as err:
            load_mt5_market(
                data_settings(host, port, retries=2),
                symbols=["MU", "QCOM"],
                start=START,
                end=END,
                now=LATER,
                sleep=sleeps,
            )
    msg = str(err.value)
    assert msg.startswith("QCOM (QCOM): partial history") and "2023-05-01" in msg and "\n" not in msg
    assert standin.calls["copy_rates_range"] == 2 + 2  # one each, then QCOM fetched again twice


def test_hole_in_the_history_is_an_error(ref_data_dir):
    faults = Faults().hide_bars("MU", start="2023-05-01", end="2023-05-12")  # 10 trading days
    with serve_standin(ref_data_dir, faults=faults) as (host, port, _):
        with pytest.raises(
            BrokerError,
            match=r"^MU \(MU\): partial history.*10 consecutive bars missing from "
            r"2023-05-01",
        ):
            load_mt5_market(
                data_settings(host, port, retries=0), symbols=["MU", "QCOM"], start=START, end=END, now=LATER
            )


def test_short_hole_goes_to_the_missing_policy(ref_data_dir):
    faults = Faults().hide_bars("MU", start="2023-05-02", end="2023-05-03")
    with serve_standin(ref_data_dir, faults=faults) as (host, port, _):
        ds = data_settings(host, port)
        with pytest.raises(DataError, match=r"MU.*2023-05-02"):
            load_mt5_market(ds, symbols=["MU", "QCOM"], start=START, end=END, now=LATER)
        dropped = load_mt5_market(
            ds.model_copy(update={"missing": "drop_dates"}), symbols=["MU", "QCOM"], start=START, end=END, now=LATER
        )
    csv = load_csv_market(ref_data_dir, symbols=["MU", "QCOM"], start=START, end=END)
    assert len(dropped) == len(csv) - 2
    assert pd.Timestamp("2023-05-02") not in dropped.dates


def test_empty_result_is_an_error(ref_data_dir):
    with serve_standin(ref_data_dir, until="2022-12-30") as (host, port, _):
        with pytest.raises(BrokerError, match=r"returned no bars"):
            load_mt5_market(
                data_settings(host, port, retries=1), symbols=["MU"], start=START, end=END, now=LATER, sleep=Sleeps()
            )


# ----------------------------------------------------------------------------------------------- credentials
PASSWORD = "pA55-w0rd!xyz"


def test_credentials_from_environment_never_leak(ref_data_dir, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("VOLTS_MT5_LOGIN", "5551234")
    monkeypatch.setenv("VOLTS_MT5_PASSWORD", PASSWORD)
    monkeypatch.setenv("VOLTS_MT5_SERVER", "Demo-Server")
    creds = load_credentials(Mt5Settings())
    assert creds.login == 5551234 and creds.password.reveal() == PASSWORD
    for text in (repr(creds), str(creds), repr(creds.password), f"{creds.password}"):
        assert PASSWORD not in text and "5551234" not in text
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(creds.password)

    # right account: the terminal gets the credentials and the load works
    with serve_standin(ref_data_dir, login=5551234, password=PASSWORD, server="Demo-Server") as (host, port, _):
        load_mt5_market(data_settings(host, port), symbols=["MU"], start=START, end=END, now=LATER)
    # wrong password on the terminal side: authorization failure, not retried, nothing leaks
    with serve_standin(ref_data_dir, login=5551234, password="other", server="Demo-Server") as (host, port, st):
        with pytest.raises(BrokerError) as err:
            load_mt5_market(
                data_settings(host, port, retries=3), symbols=["MU"], start=START, end=END, now=LATER, sleep=Sleeps()
            )
    assert "authorization failed" in str(err.value) and st.calls["initialize"] == 1
    assert PASSWORD not in str(err.value)
    assert PASSWORD not in caplog.text and caplog.text  # something was logged, and not the password


def test_terminal_scrubs_credentials_from_error_messages():
    class Leaky:
        def initialize(self, **kw):
            return True

        def version(self):
            return (1, 2, "x")

        def copy_rates_range(self, *a):
            raise RuntimeError(f"remote failure while using {PASSWORD}")  # a terminal echoing its input

    creds = Credentials(login=5551234, password=Secret(PASSWORD))
    term = Mt5Terminal(lambda: Leaky(), credentials=creds, sleep=lambda s: None)
    with pytest.raises(BrokerError) as err:
        term.call("copy_rates_range", "MU", 16408, 0, 1)
    assert PASSWORD not in str(err.value) and "***" in str(err.value)


def test_credentials_file_toml_or_key_value(tmp_path, monkeypatch):
    outside = tmp_path / "home"
    outside.mkdir()
    toml = outside / "mt5.toml"
    toml.write_text(f'login = 42\npassword = "{PASSWORD}"\nserver = "Broker-Live"\n')
    toml.chmod(0o600)
    creds = load_credentials(Mt5Settings(credentials_file=str(toml)), environ={})
    assert (creds.login, creds.password.reveal(), creds.server.reveal()) == (42, PASSWORD, "Broker-Live")
    kv = outside / "mt5.env"
    kv.write_text(f"# MT5 account\nlogin=43\npassword='{PASSWORD}'\n")
    kv.chmod(0o600)
    creds = load_credentials(Mt5Settings(credentials_file=str(kv)), environ={"VOLTS_MT5_LOGIN": "44"})
    assert creds.login == 44 and creds.password.reveal() == PASSWORD and creds.server is None  # env wins
    assert load_credentials(Mt5Settings(), environ={}) is None  # nothing: the terminal's saved account


def test_credentials_file_inside_a_repository_is_refused(tmp_path):
    repo = tmp_path / "project"
    (repo / ".git").mkdir(parents=True)
    (repo / "conf").mkdir()
    secret = repo / "conf" / "mt5.toml"
    secret.write_text(f'login = 42\npassword = "{PASSWORD}"\n')
    with pytest.raises(ConfigError, match="inside the git work tree") as err:
        load_credentials(Mt5Settings(credentials_file=str(secret)), environ={})
    assert PASSWORD not in str(err.value)


def test_bad_login_is_a_config_error_without_the_value():
    with pytest.raises(ConfigError, match="must be an integer") as err:
        load_credentials(Mt5Settings(), environ={"VOLTS_MT5_LOGIN": "abc" + PASSWORD})
    assert PASSWORD not in str(err.value)
    with pytest.raises(ConfigError, match="without a login"):
        load_credentials(Mt5Settings(), environ={"VOLTS_MT5_PASSWORD": PASSWORD})


# ----------------------------------------------------------------------------------------------- packages
@pytest.mark.parametrize(
    "bridge, package, hint",
    [("mt5linux", "mt5linux", "pip install mt5linux==1.0.11"), ("native", "MetaTrader5", "pip install MetaTrader5")],
)
def test_missing_bridge_package_says_what_to_install(monkeypatch, bridge, package, hint):
    monkeypatch.setitem(sys.modules, package, None)  # import now raises ImportError
    from volts.data.sources import load_market

    ds = DataSettings(source="mt5", universe=("MU",), mt5=Mt5Settings(bridge=bridge))
    with pytest.raises(ConfigError) as err:
        load_market(ds, symbols=["MU"], start=START, end=END)
    assert hint in str(err.value) and not isinstance(err.value, ImportError)


# ----------------------------------------------------------------------------------------------- CLI
@pytest.mark.slow
def test_cli_data_check_source_mt5(ref_data_dir, tmp_path, monkeypatch, capsys):
    from volts.cli import main

    monkeypatch.chdir(tmp_path)
    with serve_standin(ref_data_dir, symbol_format="{symbol}.US") as (host, port, standin):
        cfg = tmp_path / "config.toml"
        cfg.write_text(
            f'[data]\nsource = "mt5"\nuniverse = ["MU", "QCOM", "TSLA"]\n'
            f'[data.mt5]\nbridge = "mt5linux"\nhost = "{host}"\nport = {port}\n'
            f'symbol_suffix = ".US"\nbackoff_seconds = 0.0\n'
        )
        rc = main(["data", "check", "--config", str(cfg), "--start", "2023-01-03", "--end", "2023-08-11"])
        out = capsys.readouterr()
    assert rc == 0, out.err
    assert "3 symbols, 0 problems" in out.out
    assert standin.calls["copy_rates_range"] == 3

    with serve_standin(ref_data_dir, faults=Faults().fail_next(100, function="copy_rates_range")) as (h, p, _):
        cfg.write_text(
            f'[data]\nsource = "mt5"\nuniverse = ["MU"]\n'
            f'[data.mt5]\nbridge = "mt5linux"\nhost = "{h}"\nport = {p}\nbackoff_seconds = 0.0\n'
            f"retries = 1\n"
        )
        rc = main(["data", "check", "--config", str(cfg), "--start", "2023-01-03"])
        err = capsys.readouterr().err
    assert rc == 4
    assert [ln for ln in err.splitlines() if ln.strip()][0].startswith("error: mt5linux server")
