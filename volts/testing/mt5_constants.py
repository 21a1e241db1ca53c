"""The MetaTrader5 package's constants and record types, as the stand-in terminal serves them.

Values follow the MetaTrader5 Python package (``TIMEFRAME_*``, ``ORDER_*``, ``TRADE_RETCODE_*``, the
``RES_*`` error codes) so that code written against the real terminal runs unchanged against the stand-in.
"""

from __future__ import annotations

__all__ = [
    "TIMEFRAME_D1",
    "ORDER_TYPE_BUY",
    "ORDER_TYPE_SELL",
    "TRADE_ACTION_DEAL",
    "ORDER_FILLING_FOK",
    "ORDER_FILLING_IOC",
    "ORDER_FILLING_RETURN",
    "ORDER_TIME_GTC",
    "POSITION_TYPE_BUY",
    "POSITION_TYPE_SELL",
    "SYMBOL_FILLING_FOK",
    "SYMBOL_FILLING_IOC",
    "TRADE_RETCODE_REQUOTE",
    "TRADE_RETCODE_REJECT",
    "TRADE_RETCODE_CANCEL",
    "TRADE_RETCODE_PLACED",
    "TRADE_RETCODE_DONE",
    "TRADE_RETCODE_DONE_PARTIAL",
    "TRADE_RETCODE_ERROR",
    "TRADE_RETCODE_TIMEOUT",
    "TRADE_RETCODE_INVALID",
    "TRADE_RETCODE_INVALID_VOLUME",
    "TRADE_RETCODE_INVALID_PRICE",
    "TRADE_RETCODE_TRADE_DISABLED",
    "TRADE_RETCODE_MARKET_CLOSED",
    "TRADE_RETCODE_NO_MONEY",
    "TRADE_RETCODE_PRICE_CHANGED",
    "TRADE_RETCODE_INVALID_FILL",
    "TRADE_RETCODE_CONNECTION",
    "TRADE_RETCODE_POSITION_CLOSED",
    "RES_S_OK",
    "RES_E_FAIL",
    "RES_E_INVALID_PARAMS",
    "RES_E_NOT_FOUND",
    "RES_E_AUTH_FAILED",
    "RES_E_INTERNAL_FAIL_SEND",
    "RES_E_INTERNAL_FAIL_INIT",
    "RES_E_INTERNAL_FAIL_CONNECT",
    "RES_E_INTERNAL_FAIL_TIMEOUT",
    "RATES_DTYPE",
    "SymbolInfo",
    "SymbolTick",
    "TradePosition",
    "TradeRequest",
    "OrderSendResult",
    "TradeDeal",
    "TradeOrder",
    "AccountInfo",
    "DEAL_ENTRY_IN",
    "DEAL_ENTRY_OUT",
    "ACCOUNT_MARGIN_MODE_RETAIL_HEDGING",
    "_NEEDS_INIT",
    "_TIMEOUT",
]  # noqa: RUF022

import collections

import numpy as np

# ------------------------------------------------------------------------------------------------ constants
TIMEFRAME_D1 = 16408


ORDER_TYPE_BUY = 0


ORDER_TYPE_SELL = 1


TRADE_ACTION_DEAL = 1


ORDER_FILLING_FOK = 0


ORDER_FILLING_IOC = 1


ORDER_FILLING_RETURN = 2


ORDER_TIME_GTC = 0


POSITION_TYPE_BUY = 0


POSITION_TYPE_SELL = 1


SYMBOL_FILLING_FOK = 1  # bit flags of SymbolInfo.filling_mode


SYMBOL_FILLING_IOC = 2


TRADE_RETCODE_REQUOTE = 10004


TRADE_RETCODE_REJECT = 10006


TRADE_RETCODE_CANCEL = 10007


TRADE_RETCODE_PLACED = 10008


TRADE_RETCODE_DONE = 10009


TRADE_RETCODE_DONE_PARTIAL = 10010


TRADE_RETCODE_ERROR = 10011


TRADE_RETCODE_TIMEOUT = 10012


TRADE_RETCODE_INVALID = 10013


TRADE_RETCODE_INVALID_VOLUME = 10014


TRADE_RETCODE_INVALID_PRICE = 10015


TRADE_RETCODE_TRADE_DISABLED = 10017


TRADE_RETCODE_MARKET_CLOSED = 10018


TRADE_RETCODE_NO_MONEY = 10019


TRADE_RETCODE_PRICE_CHANGED = 10020


TRADE_RETCODE_INVALID_FILL = 10030


TRADE_RETCODE_CONNECTION = 10031


TRADE_RETCODE_POSITION_CLOSED = 10036


RES_S_OK = 1


RES_E_FAIL = -1


RES_E_INVALID_PARAMS = -2


RES_E_NOT_FOUND = -4


RES_E_AUTH_FAILED = -6


RES_E_INTERNAL_FAIL_SEND = -10001


RES_E_INTERNAL_FAIL_INIT = -10003


RES_E_INTERNAL_FAIL_CONNECT = -10004


RES_E_INTERNAL_FAIL_TIMEOUT = -10005


RATES_DTYPE = np.dtype(
    [
        ("time", "<i8"),
        ("open", "<f8"),
        ("high", "<f8"),
        ("low", "<f8"),
        ("close", "<f8"),
        ("tick_volume", "<u8"),
        ("spread", "<i4"),
        ("real_volume", "<u8"),
    ]
)


SymbolInfo = collections.namedtuple(
    "SymbolInfo",
    [
        "custom",
        "select",
        "visible",
        "digits",
        "spread",
        "trade_mode",
        "trade_exemode",
        "filling_mode",
        "bid",
        "ask",
        "last",
        "point",
        "trade_contract_size",
        "volume_min",
        "volume_max",
        "volume_step",
        "currency_base",
        "currency_profit",
        "description",
        "path",
        "name",
    ],
)


SymbolTick = collections.namedtuple(
    "Tick", ["time", "bid", "ask", "last", "volume", "time_msc", "flags", "volume_real"]
)


TradePosition = collections.namedtuple(
    "TradePosition",
    [
        "ticket",
        "time",
        "time_msc",
        "time_update",
        "time_update_msc",
        "type",
        "magic",
        "identifier",
        "reason",
        "volume",
        "price_open",
        "sl",
        "tp",
        "price_current",
        "swap",
        "profit",
        "symbol",
        "comment",
        "external_id",
    ],
)


TradeRequest = collections.namedtuple(
    "TradeRequest",
    [
        "action",
        "magic",
        "order",
        "symbol",
        "volume",
        "price",
        "stoplimit",
        "sl",
        "tp",
        "deviation",
        "type",
        "type_filling",
        "type_time",
        "expiration",
        "comment",
        "position",
        "position_by",
    ],
)


OrderSendResult = collections.namedtuple(
    "OrderSendResult",
    [
        "retcode",
        "deal",
        "order",
        "volume",
        "price",
        "bid",
        "ask",
        "comment",
        "request_id",
        "retcode_external",
        "request",
    ],
)


TradeDeal = collections.namedtuple(
    "TradeDeal",
    [
        "ticket",
        "order",
        "time",
        "time_msc",
        "type",
        "entry",
        "magic",
        "position_id",
        "reason",
        "volume",
        "price",
        "commission",
        "swap",
        "profit",
        "fee",
        "symbol",
        "comment",
        "external_id",
    ],
)


TradeOrder = collections.namedtuple(
    "TradeOrder",
    [
        "ticket",
        "time_setup",
        "time_setup_msc",
        "time_done",
        "time_done_msc",
        "time_expiration",
        "type",
        "type_time",
        "type_filling",
        "state",
        "magic",
        "position_id",
        "position_by_id",
        "reason",
        "volume_initial",
        "volume_current",
        "price_open",
        "sl",
        "tp",
        "price_current",
        "price_stoplimit",
        "symbol",
        "comment",
        "external_id",
    ],
)


AccountInfo = collections.namedtuple(
    "AccountInfo",
    [
        "login",
        "trade_mode",
        "leverage",
        "limit_orders",
        "margin_so_mode",
        "trade_allowed",
        "trade_expert",
        "margin_mode",
        "currency_digits",
        "fifo_close",
        "balance",
        "credit",
        "profit",
        "equity",
        "margin",
        "margin_free",
        "margin_level",
        "margin_so_call",
        "margin_so_so",
        "margin_initial",
        "margin_maintenance",
        "assets",
        "liabilities",
        "commission_blocked",
        "name",
        "server",
        "currency",
        "company",
    ],
)


DEAL_ENTRY_IN = 0


DEAL_ENTRY_OUT = 1


ACCOUNT_MARGIN_MODE_RETAIL_HEDGING = 2


_NEEDS_INIT = (RES_E_INTERNAL_FAIL_INIT, "No IPC connection")


_TIMEOUT = (RES_E_INTERNAL_FAIL_TIMEOUT, "IPC timeout")
