"""The trading half of the stand-in MetaTrader5 terminal: positions, orders, deals and the account.

:class:`StandInTrading` is a mixin of :class:`volts.testing.mt5_standin.StandInTerminal`; it fills market orders
at the quote, keeps hedging-mode positions and the deal history, and applies the faults the test asked for
(:class:`volts.testing.mt5_standin.Faults`). It relies on the terminal's bookkeeping methods (``_enter``,
``_fail``, ``_ok``, ``_quote``, ``_info``).
"""

from __future__ import annotations

import calendar
import datetime as dt
import fnmatch

import math
import time

import pandas as pd

from volts.testing.mt5_constants import (
    _NEEDS_INIT,
    ACCOUNT_MARGIN_MODE_RETAIL_HEDGING,
    DEAL_ENTRY_IN,
    DEAL_ENTRY_OUT,
    ORDER_FILLING_FOK,
    ORDER_FILLING_IOC,
    ORDER_TIME_GTC,
    ORDER_TYPE_BUY,
    ORDER_TYPE_SELL,
    POSITION_TYPE_BUY,
    POSITION_TYPE_SELL,
    RES_E_INVALID_PARAMS,
    SYMBOL_FILLING_FOK,
    SYMBOL_FILLING_IOC,
    TRADE_ACTION_DEAL,
    TRADE_RETCODE_CANCEL,
    TRADE_RETCODE_DONE,
    TRADE_RETCODE_DONE_PARTIAL,
    TRADE_RETCODE_INVALID,
    TRADE_RETCODE_INVALID_FILL,
    TRADE_RETCODE_INVALID_VOLUME,
    TRADE_RETCODE_POSITION_CLOSED,
    AccountInfo,
    OrderSendResult,
    TradeDeal,
    TradeOrder,
    TradePosition,
    TradeRequest,
)


class StandInConnectionDropped(ConnectionError):
    """Raised by a call whose connection is made to drop; over RPyC the server also severs the socket."""


# ------------------------------------------------------------------------------------------------ terminal
def _to_epoch(value) -> int:
    """Seconds since the epoch of a ``datetime`` (aware: its instant; naive: read as UTC, like MT5) or a number."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            return int(math.floor(value.timestamp()))
        return calendar.timegm(value.timetuple())
    if isinstance(value, dt.date):
        return calendar.timegm(value.timetuple())
    return int(value)


def _group_match(name: str, group: str) -> bool:
    """MT5's ``group`` filter: comma-separated patterns with ``*``; a leading ``!`` excludes."""
    ok = False
    for pattern in (p.strip() for p in group.split(",") if p.strip()):
        if pattern.startswith("!"):
            if fnmatch.fnmatchcase(name, pattern[1:]):
                return False
        elif fnmatch.fnmatchcase(name, pattern):
            ok = True
    return ok


class StandInTrading:
    """Positions, orders, deals and the account of the stand-in terminal (a mixin; see the module docstring)."""

    # -------------------------------------------------------------------------------------- trading
    def positions_total(self):
        """Number of open positions."""
        with self._lock:
            if self._enter("positions_total") is not None:
                return None
            return self._ok(len(self._positions))

    def positions_get(self, symbol: str | None = None, group: str | None = None, ticket: int | None = None):
        """Open positions as a tuple of ``TradePosition`` (an empty tuple when there are none); None on error."""
        with self._lock:
            if self._enter("positions_get") is not None:
                return None
            if not self._initialized:
                return self._fail(_NEEDS_INIT)
            out = []
            for pos in self._positions.values():
                if symbol is not None and pos.symbol != symbol:
                    continue
                if group is not None and not _group_match(pos.symbol, group):
                    continue
                if ticket is not None and pos.ticket != ticket:
                    continue
                out.append(pos._replace(price_current=self._last_close(pos.symbol)))
            return self._ok(tuple(out))

    def order_send(self, request: dict):
        """Fill a market order (``TRADE_ACTION_DEAL``) at the last close; an ``OrderSendResult`` (check
        ``retcode``), or None when the request cannot even be read."""
        delay = self.faults.order_delay_seconds
        if delay > 0:
            time.sleep(delay)  # outside the lock: other clients read positions meanwhile
        with self._lock:
            if self._enter("order_send") is not None:
                return None
            if not self._initialized:
                return self._fail(_NEEDS_INIT)
            if not isinstance(request, dict):
                return self._fail((RES_E_INVALID_PARAMS, "Invalid params"))
            req = dict(request)
            self.orders_received.append(req)
            result = self._execute(req)
            self._ok(None)
            if result.retcode == TRADE_RETCODE_DONE and self.faults._kill_on_order:
                self.faults._kill_on_order, self.faults.dead = False, True
                raise StandInConnectionDropped("stand-in: the terminal died during order_send (order filled)")
            if result.retcode == TRADE_RETCODE_DONE and self.faults._take_lost_reply():
                raise StandInConnectionDropped("stand-in: connection dropped after the order was filled")
            return result

    def _execute(self, req: dict) -> OrderSendResult:
        """
        Length: the stand-in's order matching in the order the real terminal checks a request (symbol,
        volume, filling mode, market hours, money, faults, fill); each check is a few lines.
        """
        self._next_ticket += 1
        request_id = self._next_ticket
        treq = TradeRequest(
            action=int(req.get("action", 0)),
            magic=int(req.get("magic", 0)),
            order=0,
            symbol=str(req.get("symbol", "")),
            volume=float(req.get("volume", 0.0)),
            price=float(req.get("price", 0.0)),
            stoplimit=0.0,
            sl=float(req.get("sl", 0.0)),
            tp=float(req.get("tp", 0.0)),
            deviation=int(req.get("deviation", 0)),
            type=int(req.get("type", -1)),
            type_filling=int(req.get("type_filling", ORDER_FILLING_FOK)),
            type_time=int(req.get("type_time", ORDER_TIME_GTC)),
            expiration=0,
            comment=str(req.get("comment", ""))[:31],
            position=int(req.get("position", 0)),
            position_by=0,
        )

        def reply(retcode, comment, deal=0, order=0, volume=0.0, price=0.0):
            return OrderSendResult(
                retcode=retcode,
                deal=deal,
                order=order,
                volume=volume,
                price=price,
                bid=price,
                ask=price,
                comment=comment,
                request_id=request_id,
                retcode_external=0,
                request=treq,
            )

        reject = self.faults._take_reject()
        if reject is not None:
            return reply(reject[0], reject[1])
        if treq.action != TRADE_ACTION_DEAL or treq.type not in (ORDER_TYPE_BUY, ORDER_TYPE_SELL):
            return reply(TRADE_RETCODE_INVALID, "Invalid request")
        if treq.symbol not in self._visible_symbols():
            return reply(TRADE_RETCODE_INVALID, "Invalid request: unknown symbol")
        steps = treq.volume / self.volume_step
        # a whole number of steps, up to float precision (1e-12 relative: 39306.353797 lots in steps of 1e-6)
        off_step = abs(steps - round(steps)) > max(1e-6, abs(steps) * 1e-12)
        if not (self.volume_min - 1e-12 <= treq.volume <= self.volume_max + 1e-12) or off_step:
            return reply(TRADE_RETCODE_INVALID_VOLUME, "Invalid volume")
        allowed = {ORDER_FILLING_FOK} if self.filling_mode & SYMBOL_FILLING_FOK else set()
        if self.filling_mode & SYMBOL_FILLING_IOC:
            allowed.add(ORDER_FILLING_IOC)
        if treq.type_filling not in allowed:
            return reply(TRADE_RETCODE_INVALID_FILL, "Unsupported filling mode")
        price = self._quote(treq.symbol)
        self._next_ticket += 1
        order = self._next_ticket
        self._next_ticket += 1
        deal = self._next_ticket
        now = self._server_time()
        if treq.position:
            pos = self._positions.get(treq.position)
            if pos is None or pos.symbol != treq.symbol:
                return reply(TRADE_RETCODE_POSITION_CLOSED, "Position doesn't exist")
            closes = ORDER_TYPE_SELL if pos.type == POSITION_TYPE_BUY else ORDER_TYPE_BUY
            if treq.type != closes or treq.volume > pos.volume + 1e-12:
                return reply(TRADE_RETCODE_INVALID, "Invalid close request")
            left = round(pos.volume - treq.volume, 8)
            sign = 1.0 if pos.type == POSITION_TYPE_BUY else -1.0
            profit = sign * (price - pos.price_open) * treq.volume * self.contract_size
            entry, position_id = DEAL_ENTRY_OUT, pos.ticket
            if left > 0:
                self._positions[pos.ticket] = pos._replace(volume=left, time_update=now)
            else:
                del self._positions[pos.ticket]
        else:
            fraction = self.faults._take_partial()
            if fraction is not None:
                filled = round(math.floor(treq.volume * fraction / self.volume_step + 1e-9) * self.volume_step, 8)
                if filled <= 0:
                    return reply(TRADE_RETCODE_CANCEL, "Request canceled: nothing filled")
                treq = treq._replace(volume=filled)
            ptype = POSITION_TYPE_BUY if treq.type == ORDER_TYPE_BUY else POSITION_TYPE_SELL
            profit, entry, position_id = 0.0, DEAL_ENTRY_IN, order
            self._positions[order] = TradePosition(
                ticket=order,
                time=now,
                time_msc=now * 1000,
                time_update=now,
                time_update_msc=now * 1000,
                type=ptype,
                magic=treq.magic,
                identifier=order,
                reason=3,
                volume=treq.volume,
                price_open=price,
                sl=0.0,
                tp=0.0,
                price_current=price,
                swap=0.0,
                profit=0.0,
                symbol=treq.symbol,
                comment=treq.comment,
                external_id="",
            )
        commission = self.commission_fixed + self.commission_rate * treq.volume * price * self.contract_size
        self._balance += profit - commission
        self._deals.append(
            TradeDeal(
                ticket=deal,
                order=order,
                time=now,
                time_msc=now * 1000,
                type=treq.type,
                entry=entry,
                magic=treq.magic,
                position_id=position_id,
                reason=3,
                volume=treq.volume,
                price=price,
                commission=-commission,
                swap=0.0,
                profit=profit,
                fee=0.0,
                symbol=treq.symbol,
                comment=treq.comment,
                external_id="",
            )
        )
        self.fills.append(
            {
                "deal": deal,
                "order": order,
                "symbol": treq.symbol,
                "type": treq.type,
                "volume": treq.volume,
                "price": price,
                "position": treq.position,
                "magic": treq.magic,
                "comment": treq.comment,
                "commission": commission,
            }
        )
        if not treq.position and treq.volume < float(req.get("volume", 0.0)) - 1e-12:
            return reply(
                TRADE_RETCODE_DONE_PARTIAL,
                "Request executed partially",
                deal=deal,
                order=order,
                volume=treq.volume,
                price=price,
            )
        return reply(TRADE_RETCODE_DONE, "Request executed", deal=deal, order=order, volume=treq.volume, price=price)

    def orders_get(self, symbol: str | None = None, group: str | None = None, ticket: int | None = None):
        """Pending orders as a tuple of ``TradeOrder`` (empty when there are none); None on error. Market orders
        fill at once here, so only orders planted with :meth:`place_pending` are pending."""
        with self._lock:
            if self._enter("orders_get") is not None:
                return None
            if not self._initialized:
                return self._fail(_NEEDS_INIT)
            out = [
                o
                for o in self._orders.values()
                if (symbol is None or o.symbol == symbol)
                and (group is None or _group_match(o.symbol, group))
                and (ticket is None or o.ticket == ticket)
            ]
            return self._ok(tuple(out))

    def history_deals_get(
        self,
        date_from=None,
        date_to=None,
        *,
        group: str | None = None,
        ticket: int | None = None,
        position: int | None = None,
    ):
        """Deals as a tuple of ``TradeDeal``: those with ``date_from <= time <= date_to`` (server clock), or all
        deals of order ``ticket`` or of position ``position``; None on error."""
        with self._lock:
            if self._enter("history_deals_get") is not None:
                return None
            if not self._initialized:
                return self._fail(_NEEDS_INIT)
            deals = list(self._deals)
            if ticket is not None:
                deals = [d for d in deals if d.order == int(ticket)]
            elif position is not None:
                deals = [d for d in deals if d.position_id == int(position)]
            else:
                if date_from is None or date_to is None:
                    return self._fail((RES_E_INVALID_PARAMS, "Invalid params: date_from and date_to needed"))
                lo, hi = _to_epoch(date_from), _to_epoch(date_to)
                deals = [d for d in deals if lo <= d.time <= hi]
            if group is not None:
                deals = [d for d in deals if _group_match(d.symbol, group)]
            return self._ok(tuple(deals))

    def account_info(self):
        """``AccountInfo`` of the (hedging) account: balance, and equity = balance + floating profit marked at the
        last close up to ``until``."""
        with self._lock:
            if self._enter("account_info") is not None:
                return None
            if not self._initialized:
                return self._fail(_NEEDS_INIT)
            floating = self._floating()
            login, server = self._account
            return self._ok(
                AccountInfo(
                    login=int(login or 0),
                    trade_mode=0,
                    leverage=1,
                    limit_orders=0,
                    margin_so_mode=0,
                    trade_allowed=True,
                    trade_expert=True,
                    margin_mode=ACCOUNT_MARGIN_MODE_RETAIL_HEDGING,
                    currency_digits=2,
                    fifo_close=False,
                    balance=self._balance,
                    credit=0.0,
                    profit=floating,
                    equity=self._balance + floating,
                    margin=0.0,
                    margin_free=self._balance + floating,
                    margin_level=0.0,
                    margin_so_call=0.0,
                    margin_so_so=0.0,
                    margin_initial=0.0,
                    margin_maintenance=0.0,
                    assets=0.0,
                    liabilities=0.0,
                    commission_blocked=0.0,
                    name="stand-in",
                    server=str(server or "StandIn-Demo"),
                    currency="USD",
                    company="volts stand-in",
                )
            )

    def _floating(self) -> float:
        total = 0.0
        for pos in self._positions.values():
            sign = 1.0 if pos.type == POSITION_TYPE_BUY else -1.0
            total += sign * (self._last_close(pos.symbol) - pos.price_open) * pos.volume * self.contract_size
        return total

    # -------------------------------------------------------------------------------------- helpers
    @property
    def deals(self) -> tuple:
        """Every deal (``TradeDeal``), whatever the connection state: for tests and reports."""
        with self._lock:
            return tuple(self._deals)

    def place_pending(self, symbol: str, *, type: int, volume: float, magic: int, comment: str = "") -> int:
        """Plant a pending order (accepted by the broker, not filled yet); returns its ticket. For tests."""
        with self._lock:
            self._next_ticket += 1
            now = self._server_time()
            price = self._quote(symbol)
            self._orders[self._next_ticket] = TradeOrder(
                ticket=self._next_ticket,
                time_setup=now,
                time_setup_msc=now * 1000,
                time_done=0,
                time_done_msc=0,
                time_expiration=0,
                type=type,
                type_time=ORDER_TIME_GTC,
                type_filling=ORDER_FILLING_FOK,
                state=1,
                magic=magic,
                position_id=0,
                position_by_id=0,
                reason=3,
                volume_initial=float(volume),
                volume_current=float(volume),
                price_open=price,
                sl=0.0,
                tp=0.0,
                price_current=price,
                price_stoplimit=0.0,
                symbol=symbol,
                comment=comment[:31],
                external_id="",
            )
            return self._next_ticket

    def close_position(self, ticket: int) -> None:
        """Close a position outside volts (a manual close in the terminal), booking its deal. For tests."""
        with self._lock:
            pos = self._positions[ticket]
            side = ORDER_TYPE_SELL if pos.type == POSITION_TYPE_BUY else ORDER_TYPE_BUY
            self._execute(
                {
                    "action": TRADE_ACTION_DEAL,
                    "symbol": pos.symbol,
                    "volume": pos.volume,
                    "type": side,
                    "position": ticket,
                    "magic": 0,
                    "comment": "manual close",
                    "type_filling": ORDER_FILLING_FOK,
                }
            )

    def set_until(self, until) -> None:
        """Move the terminal's "today" (paper trading: one session after another)."""
        with self._lock:
            self.until = None if until is None else pd.Timestamp(until).normalize()

    @property
    def positions(self) -> tuple:
        """Open positions (``TradePosition``), whatever the connection state: for tests and dry runs."""
        with self._lock:
            return tuple(self._positions.values())

    def open_position(self, symbol: str, *, type: int, volume: float, magic: int, comment: str = "") -> int:
        """Plant an open position (as if opened earlier); returns its ticket. For tests and dry runs."""
        with self._lock:
            self._next_ticket += 1
            ticket = self._next_ticket
            price = self._last_close(symbol)
            now = self._server_time()
            self._positions[ticket] = TradePosition(
                ticket=ticket,
                time=now,
                time_msc=now * 1000,
                time_update=now,
                time_update_msc=now * 1000,
                type=type,
                magic=magic,
                identifier=ticket,
                reason=0,
                volume=float(volume),
                price_open=price,
                sl=0.0,
                tp=0.0,
                price_current=price,
                swap=0.0,
                profit=0.0,
                symbol=symbol,
                comment=comment[:31],
                external_id="",
            )
            return ticket
