"""Public market data: instruments-info, orderbook and ticker views, and the per-depth book publishers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bot.sim.engine import Engine, Market, OrderError
from bot.sim.orders import _fmt

__all__ = ["BOOK_DEPTHS", "BookStream", "TickerStream", "instruments", "orderbook_rest", "recent_trades_rest",
           "tickers_rest"]

# depth -> push interval ms at speed 1 (linear and spot alike)
BOOK_DEPTHS: dict[int, int] = {1: 10, 50: 20, 200: 100, 1000: 200}
L1_RESEND_MS = 3000


def instruments(engine: Engine, p: dict[str, Any]) -> dict[str, Any]:
    cat = p.get("category")
    if cat not in ("linear", "spot", "inverse", "option"):
        raise OrderError(10001, "Illegal category")
    rows: list[dict[str, Any]] = []
    for m in engine.markets.values():
        if m.category != cat or (p.get("symbol") and p["symbol"] != m.symbol):
            continue
        if p.get("status") and p["status"] != "Trading":
            continue
        inst = m.spec.instrument
        if cat == "spot":
            rows.append({
                "symbol": m.symbol, "baseCoin": inst.base_coin, "quoteCoin": inst.quote_coin,
                "innovation": "0", "status": "Trading", "marginTrading": "utaOnly", "stTag": "0",
                "symbolType": "",
                "lotSizeFilter": {"basePrecision": str(inst.qty_step), "quotePrecision": "0.0000001",
                                  "minOrderQty": str(inst.min_qty), "maxOrderQty": str(inst.max_qty),
                                  "minOrderAmt": str(inst.min_notional), "maxOrderAmt": "8000000",
                                  "maxLimitOrderQty": str(inst.max_qty), "maxMarketOrderQty": str(inst.max_qty / 2),
                                  "postOnlyMaxLimitOrderSize": str(inst.max_qty * 5)},
                "priceFilter": {"tickSize": str(inst.tick_size)},
                "riskParameters": {"priceLimitRatioX": "0.005", "priceLimitRatioY": "0.01"},
            })
        else:
            scale = max(0, -inst.tick_size.as_tuple().exponent)  # type: ignore[operator]
            rows.append({
                "symbol": m.symbol, "contractType": "LinearPerpetual", "status": "Trading",
                "baseCoin": inst.base_coin, "quoteCoin": inst.quote_coin, "settleCoin": inst.quote_coin,
                "priceScale": str(scale), "launchTime": "1585526400000", "deliveryTime": "0",
                "deliveryFeeRate": "", "fundingInterval": 480, "copyTrading": "both", "upperFundingRate": "0.005",
                "lowerFundingRate": "-0.005", "unifiedMarginTrade": True, "isPreListing": False,
                "preListingInfo": None, "symbolType": "", "displayName": "",
                "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
                "priceFilter": {"minPrice": str(inst.tick_size), "maxPrice": "1999999.80",
                                "tickSize": str(inst.tick_size)},
                "lotSizeFilter": {"maxOrderQty": str(inst.max_qty), "minOrderQty": str(inst.min_qty),
                                  "qtyStep": str(inst.qty_step), "postOnlyMaxOrderQty": str(inst.max_qty),
                                  "maxMktOrderQty": str(inst.max_qty / 2), "minNotionalValue": str(inst.min_notional)},
                "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"},
            })
    return {"category": cat, "list": rows, "nextPageCursor": ""}


def _levels(m: Market, levels: list[tuple[int, int]]) -> list[list[str]]:
    inst = m.spec.instrument
    return [[str(inst.from_ticks(p)), str(inst.from_lots(q)) if q else "0"] for p, q in levels]


def orderbook_rest(engine: Engine, p: dict[str, Any], now_ms: int) -> dict[str, Any]:
    m = engine.market(p.get("category"), p.get("symbol"))
    default = 1 if m.category == "spot" else 25
    try:
        n = int(p.get("limit") or default)
    except ValueError as exc:
        raise OrderError(10001, "params error: limit invalid") from exc
    if not 1 <= n <= 1000:
        raise OrderError(10001, "params error: limit invalid")
    bids, asks = m.book.depth(n)
    return {"s": m.symbol, "b": _levels(m, bids), "a": _levels(m, asks), "ts": now_ms,
            "u": m.book.seq, "seq": m.book.seq, "cts": now_ms}


def recent_trades_rest(engine: Engine, p: dict[str, Any]) -> dict[str, Any]:
    """GET /v5/market/recent-trade: newest first; limit [1, 1000] (spot 60 by default, others 500)."""
    m = engine.market(p.get("category"), p.get("symbol"))
    default = 60 if m.category == "spot" else 500
    try:
        n = int(p.get("limit") or default)
    except ValueError as exc:
        raise OrderError(10001, "params error: limit invalid") from exc
    if not 1 <= n <= 1000:
        raise OrderError(10001, "params error: limit invalid")
    rows = [{"execId": t["i"], "symbol": t["s"], "price": t["p"], "size": t["v"], "side": t["S"],
             "time": str(t["T"]), "isBlockTrade": False, "isRPITrade": False}
            for t in list(m.recent_trades)[::-1][:n]]
    return {"category": m.category, "list": rows}


def ticker_fields(m: Market) -> dict[str, Any]:
    inst = m.spec.instrument
    bids, asks = m.book.depth(1)
    pct = (m.last_price / m.prev_price_24h - 1) if m.prev_price_24h else Decimal(0)
    out: dict[str, Any] = {
        "symbol": m.symbol, "lastPrice": str(m.last_price),
        "bid1Price": str(inst.from_ticks(bids[0][0])) if bids else "",
        "bid1Size": str(inst.from_lots(bids[0][1])) if bids else "",
        "ask1Price": str(inst.from_ticks(asks[0][0])) if asks else "",
        "ask1Size": str(inst.from_lots(asks[0][1])) if asks else "",
        "prevPrice24h": str(m.prev_price_24h), "price24hPcnt": _fmt(pct.quantize(Decimal("0.000001"))),
        "highPrice24h": str(m.high_24h), "lowPrice24h": str(m.low_24h),
        "turnover24h": _fmt(m.turnover_24h), "volume24h": _fmt(m.volume_24h),
    }
    fair = _fmt(inst.floor_to_tick(m.fair))
    if m.category == "spot":
        out["usdIndexPrice"] = fair
    else:
        out.update({"indexPrice": fair, "markPrice": fair, "prevPrice1h": str(m.prev_price_24h),
                    "openInterest": "0", "openInterestValue": "0", "fundingRate": "0.0001",
                    "nextFundingTime": "0", "predictedDeliveryPrice": "", "basisRate": "", "basis": "",
                    "deliveryFeeRate": "", "deliveryTime": "0", "tickDirection": m.tick_direction,
                    "fundingIntervalHour": "8", "fundingCap": "0.005"})
    return out


def tickers_rest(engine: Engine, p: dict[str, Any]) -> dict[str, Any]:
    cat = p.get("category")
    if cat not in ("linear", "spot", "inverse", "option"):
        raise OrderError(10001, "Illegal category")
    rows = [ticker_fields(m) for m in engine.markets.values()
            if m.category == cat and (not p.get("symbol") or p["symbol"] == m.symbol)]
    if p.get("symbol") and not rows:
        raise OrderError(10001, "params error: symbol invalid")
    return {"category": cat, "list": rows}


class BookStream:
    """The shared orderbook.{depth}.{symbol} stream: one `u` sequence, diffs of the top `depth` levels."""

    def __init__(self, m: Market, depth: int, first_u: int) -> None:
        self.m = m
        self.depth = depth
        self.topic = f"orderbook.{depth}.{m.symbol}"
        self.u = first_u
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.started = False
        self.last_push_ms = 0
        self.last_seq = -1
        self.gap_pending = False
        self.reset_pending = False

    def _msg(self, kind: str, bids: list[tuple[int, int]], asks: list[tuple[int, int]], now: int) -> dict[str, Any]:
        return {"topic": self.topic, "type": kind, "ts": now,
                "data": {"s": self.m.symbol, "b": _levels(self.m, bids), "a": _levels(self.m, asks),
                         "u": self.u, "seq": self.m.book.seq}, "cts": now}

    def snapshot_for_new_subscriber(self, now: int) -> dict[str, Any]:
        """A snapshot of the last published state (same `u`), so the shared deltas follow on."""
        if not self.started:
            self._take(now)
            self.started = True
        bids = sorted(self.bids.items(), reverse=True)
        asks = sorted(self.asks.items())
        return self._msg("snapshot", bids, asks, now)

    def _take(self, now: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        bids, asks = self.m.book.depth(self.depth)
        self.bids, self.asks = dict(bids), dict(asks)
        self.last_seq = self.m.book.seq
        self.last_push_ms = now
        return bids, asks

    def poll(self, now: int) -> dict[str, Any] | None:
        """The next message if one is due: a delta (or a level-1 snapshot), a reset snapshot, or None."""
        if self.reset_pending:
            self.reset_pending = False
            self.u = 1  # u == 1: the service restarted; clients must overwrite their book
            bids, asks = self._take(now)
            self.started = True
            return self._msg("snapshot", bids, asks, now)
        changed = self.m.book.seq != self.last_seq
        if self.depth == 1:
            if not changed and now - self.last_push_ms < L1_RESEND_MS:
                return None
            old = (dict(self.bids), dict(self.asks))
            bids, asks = self._take(now)
            if (self.bids, self.asks) != old:
                self.u += 1
            return self._msg("snapshot", bids, asks, now)
        if not changed:
            return None
        old_b, old_a = self.bids, self.asks
        bids, asks = self._take(now)
        db = [(p, q) for p, q in bids if old_b.get(p) != q] + [(p, 0) for p in old_b if p not in self.bids]
        da = [(p, q) for p, q in asks if old_a.get(p) != q] + [(p, 0) for p in old_a if p not in self.asks]
        if not db and not da:
            return None
        self.u += 2 if self.gap_pending else 1
        self.gap_pending = False
        db.sort(reverse=True)
        da.sort()
        return self._msg("delta", db, da, now)


class TickerStream:
    """tickers.{symbol}: linear snapshot then deltas of changed fields; spot snapshots only."""

    def __init__(self, m: Market) -> None:
        self.m = m
        self.topic = f"tickers.{m.symbol}"
        self.last: dict[str, Any] = {}
        self.last_push_ms = 0

    def snapshot(self, now: int) -> dict[str, Any]:
        data = ticker_fields(self.m)
        if not self.last:
            self.last = data
        return {"topic": self.topic, "type": "snapshot", "data": data, "cs": self.m.book.seq, "ts": now}

    def poll(self, now: int) -> dict[str, Any] | None:
        data = ticker_fields(self.m)
        self.last_push_ms = now
        if self.m.category == "spot":
            if data == self.last:
                return None
            self.last = data
            return {"topic": self.topic, "type": "snapshot", "data": data, "cs": self.m.book.seq, "ts": now}
        diff = {k: v for k, v in data.items() if self.last.get(k) != v}
        self.last = data
        if not diff:
            return None
        diff["symbol"] = self.m.symbol
        return {"topic": self.topic, "type": "delta", "data": diff, "cs": self.m.book.seq, "ts": now}
