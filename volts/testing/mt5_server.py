"""Serving the stand-in terminal over RPyC, exactly as the Windows-side mt5linux server serves the real one.

:func:`serve_standin` starts a threaded RPyC server whose service exposes a
:class:`volts.testing.mt5_standin.StandInTerminal` under the names mt5linux's client calls, so the live path can
be tried end to end on Linux without a broker (``python -m volts.testing.mt5_standin DIR --port 18812``).
"""

from __future__ import annotations

import atexit
import builtins
import contextlib
import logging
import socket
import threading
import types
from typing import Iterator

from volts.testing.mt5_standin import Faults, StandInTerminal
from volts.testing.mt5_trading import StandInConnectionDropped


# ------------------------------------------------------------------------------------------------ RPyC server
def _make_service(standin: StandInTerminal):
    """An RPyC classic (slave) service whose namespace imports the stand-in as ``MetaTrader5``."""
    from rpyc.core.service import SlaveService

    real_import = builtins.__import__
    fake_sys = types.SimpleNamespace(path=[], platform="win32")

    def _import(name, globals=None, locals=None, fromlist=(), level=0):
        if name == "MetaTrader5":
            return standin
        if name == "sys":
            return fake_sys
        return real_import(name, globals, locals, fromlist, level)

    class StandInService(SlaveService):
        """Classic RPyC service in which ``import MetaTrader5`` yields the stand-in terminal."""

        def __init__(self):
            super().__init__()
            ns_builtins = dict(vars(builtins))
            ns_builtins["__import__"] = _import
            self.namespace = {"__builtins__": ns_builtins}

        def _sever(self):
            with contextlib.suppress(Exception):
                self._conn._channel.stream.sock.shutdown(socket.SHUT_RDWR)

        def execute(self, text):
            try:
                return super().execute(text)
            except StandInConnectionDropped:
                self._sever()
                raise

        def eval(self, text):
            try:
                return super().eval(text)
            except StandInConnectionDropped:
                self._sever()
                raise

    return StandInService


def _quiet_server_class():
    from rpyc.utils.server import ThreadedServer

    class QuietThreadedServer(ThreadedServer):
        """A ThreadedServer that treats a vanished client (dropped socket, server shutting down) as the normal
        end of a connection instead of logging a traceback."""

        def _serve_client(self, sock, credentials):
            try:
                super()._serve_client(sock, credentials)
            except (EOFError, OSError, ValueError) as exc:
                self.logger.debug("client connection ended: %s", type(exc).__name__)

    return QuietThreadedServer


class _Server:
    def __init__(self, standin: StandInTerminal, port: int = 0) -> None:
        self.standin = standin
        self.server = _quiet_server_class()(
            _make_service(standin),
            hostname="127.0.0.1",
            port=port,
            auto_register=False,
            listener_timeout=0.05,
            logger=logging.getLogger("volts.testing.mt5_standin.server"),
            protocol_config={"allow_pickle": True, "sync_request_timeout": 30},
        )
        self.host, self.port = "127.0.0.1", self.server.port
        self.thread = threading.Thread(target=self._run, name=f"mt5-standin:{self.port}", daemon=True)

    def _run(self) -> None:
        with contextlib.suppress(Exception):
            self.server.start()

    def start(self) -> "_Server":
        self.server._listen()  # listening before the thread starts, so a client can connect at once
        self.thread.start()
        atexit.register(self.close)
        return self

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.server.close()
        if self.thread.is_alive() and threading.current_thread() is not self.thread:
            self.thread.join(timeout=2.0)
        with contextlib.suppress(Exception):
            atexit.unregister(self.close)


@contextlib.contextmanager
def serve_standin(
    csv_dir, faults: Faults | None = None, *, port: int = 0, **terminal_options
) -> Iterator[tuple[str, int, StandInTerminal]]:
    """Serve a :class:`StandInTerminal` over RPyC on 127.0.0.1 for the duration of a ``with`` block.

    Parameters
    ----------
    csv_dir : path
        Folder of Yahoo-layout CSV files.
    faults : Faults, optional
        Failures to inject (they can also be added later through ``standin.faults``).
    port : int
        TCP port; 0 (default) picks a free one.
    **terminal_options
        Passed to :class:`StandInTerminal` (``symbol_format``, ``until``, ``login``, ``password``, ...).

    Yields
    ------
    (host, port, standin)
        Where ``mt5linux.MetaTrader5(host, port)`` reaches the stand-in, and the stand-in itself (to inspect
        ``orders_received``, ``fills``, ``calls`` or add faults).
    """
    standin = StandInTerminal(csv_dir, faults=faults, **terminal_options)
    server = _Server(standin, port=port).start()
    try:
        yield server.host, server.port, standin
    finally:
        server.close()


def main(argv: list[str] | None = None) -> int:
    """``python -m volts.testing.mt5_standin DIR [--port P] [--symbol-format F] [--until DATE] [--fill-price
    next_open] [--balance B] [--commission-fixed F] [--commission-rate R] [--volume-min/-max/-step V]``: serve a
    stand-in terminal on 127.0.0.1 until interrupted (for dry runs with ``bridge = "mt5linux"``; ``--port 0``
    picks a free port, printed on the first line)."""
    import argparse
    import time

    parser = argparse.ArgumentParser(prog="python -m volts.testing.mt5_standin", description=main.__doc__)
    parser.add_argument("csv_dir")
    parser.add_argument("--port", type=int, default=18812)
    parser.add_argument("--symbol-format", default="{symbol}")
    parser.add_argument("--until", default=None)
    parser.add_argument("--fill-price", choices=("close", "next_open"), default="close")
    parser.add_argument("--balance", type=float, default=100000.0)
    parser.add_argument("--commission-fixed", type=float, default=0.0)
    parser.add_argument("--commission-rate", type=float, default=0.0)
    parser.add_argument("--volume-min", type=float, default=1.0)
    parser.add_argument("--volume-max", type=float, default=10000.0)
    parser.add_argument("--volume-step", type=float, default=1.0)
    parser.add_argument("--intraday-timeframe", default=None, help="serve intraday bars of this size (H1, M15 ...)")
    parser.add_argument("--now", default=None, help="intraday: the terminal's clock (UTC), moved by set_now")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    standin = StandInTerminal(
        args.csv_dir,
        symbol_format=args.symbol_format,
        until=args.until,
        fill_price=args.fill_price,
        balance=args.balance,
        commission_fixed=args.commission_fixed,
        commission_rate=args.commission_rate,
        volume_min=args.volume_min,
        volume_max=args.volume_max,
        volume_step=args.volume_step,
        intraday_timeframe=args.intraday_timeframe,
        now=args.now,
    )
    server = _Server(standin, port=args.port).start()
    print(f"stand-in MT5 terminal on {server.host}:{server.port} (Ctrl-C to stop)", flush=True)
    try:
        while server.thread.is_alive():
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0
