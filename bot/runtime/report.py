"""Read-only views of the trader for /status, /readyz, the live view and the Prometheus gauges."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from bot.domain import Side

if TYPE_CHECKING:
    from bot.runtime.trading import Trader

__all__ = ["not_ready_reasons", "refresh_metrics", "symbol_status", "totals"]

_ZERO = Decimal(0)


def _s(d: Decimal | None) -> str | None:
    return None if d is None else str(d.quantize(Decimal("0.00000001")).normalize()) if d else "0"


def _share(maker: int, total: int) -> str | None:
    return str(round(Decimal(maker) / total, 4)) if total else None


def refresh_metrics(t: Trader) -> None:
    m = t.metrics
    now = time.monotonic_ns()
    marks = t.marks()
    for sym, st in t.syms.items():
        inv = t.portfolio.inventory(sym)
        mid = marks.get(sym)
        m.book_age.labels(sym).set((now - st.book_ts_ns) / 1e9 if st.book_ts_ns else 0)
        m.position.labels(sym).set(float(inv.position))
        m.position_notional.labels(sym).set(float(abs(inv.position) * mid) if mid else 0)
        m.pnl_realized.labels(sym).set(float(inv.realized_pnl - inv.net_fees))
        m.pnl_unrealized.labels(sym).set(float(inv.unrealized(mid)) if mid else 0)
        m.obligation_met.labels(sym).set(1 if st.obligations_met else 0)
        m.open_orders.labels(sym).set(len(t.om.live(sym)) if t.om else 0)
        fills = inv.maker_fills + inv.taker_fills
        if fills:
            m.maker_share.labels(sym).set(inv.maker_fills / fills)
    pnl = t.portfolio.total_pnl(marks)
    snap = t.risk.snapshot()
    m.daily_pnl.set(float(pnl - Decimal(str(snap.get("day_start_pnl") or 0))))
    peak = None if snap.get("peak_pnl") is None else Decimal(str(snap["peak_pnl"]))
    m.drawdown.set(float(peak - pnl) if peak is not None and peak > pnl else 0)
    r = t.cfg.risk
    for name, value in (("max_position_notional", r.max_position_notional), ("daily_loss_limit", r.daily_loss_limit),
                        ("max_drawdown", r.max_drawdown), ("max_order_notional", r.max_order_notional)):
        m.risk_limit.labels(name).set(float(value))


def not_ready_reasons(t: Trader) -> list[str]:
    out = [f"{k} stream {v}" for k, v in t.conn.items() if k != "trade" and v != "connected"]
    now = time.monotonic_ns()
    for sym, st in t.syms.items():
        if not st.trusted or now - st.book_ts_ns > t.cfg.risk.stale_book_ms * 1_000_000:
            out.append(f"{sym} book not fresh")
    if t.kill_switch_engaged:
        out.append("kill switch engaged")
    return out


def symbol_status(t: Trader) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    now = time.monotonic_ns()
    for sym, st in t.syms.items():
        inv = t.portfolio.inventory(sym)
        live = t.om.live(sym) if t.om else []
        bids = [o.price for o in live if o.side is Side.BUY]
        asks = [o.price for o in live if o.side is Side.SELL]
        bb, ba = (st.book.best_bid(), st.book.best_ask()) if st.book.has_snapshot else (None, None)
        mid = st.mid()
        fills = inv.maker_fills + inv.taker_fills
        out[sym] = {
            "bid": str(max(bids)) if bids else None, "ask": str(min(asks)) if asks else None,
            "book_bid": str(bb[0]) if bb else None, "book_ask": str(ba[0]) if ba else None,
            "book_age_ms": round((now - st.book_ts_ns) / 1e6, 1) if st.book_ts_ns else None,
            "book_trusted": st.trusted, "position": str(inv.position), "open_orders": len(live),
            "fills": fills, "maker_fills": inv.maker_fills, "maker_share": _share(inv.maker_fills, fills),
            "rebates": _s(inv.rebates), "fees": _s(inv.fees_paid),
            "pnl_realized": _s(inv.realized_pnl - inv.net_fees),
            "pnl_unrealized": _s(inv.unrealized(mid) if mid else _ZERO),
            "obligations_met": st.obligations_met, "post_only_rejects": st.post_only_rejects,
        }
    return out


def totals(t: Trader) -> dict[str, Any]:
    invs = [t.portfolio.inventory(s) for s in t.syms]
    marks = t.marks()
    maker = sum(i.maker_fills for i in invs)
    fills = maker + sum(i.taker_fills for i in invs)
    return {
        "fills": fills, "maker_fills": maker, "taker_fills": fills - maker, "maker_share": _share(maker, fills),
        "rebates": _s(sum((i.rebates for i in invs), _ZERO)), "fees": _s(sum((i.fees_paid for i in invs), _ZERO)),
        "pnl_realized": _s(sum((i.realized_pnl - i.net_fees for i in invs), _ZERO)),
        "pnl_unrealized": _s(sum((i.unrealized(marks[i.symbol]) for i in invs if i.symbol in marks), _ZERO)),
        "open_orders": len(t.om.live()) if t.om else 0, "orders_sent": t.orders_sent,
        "post_only_rejects": sum(st.post_only_rejects for st in t.syms.values()),
        "rollout_fraction": str(t.rollout.fraction),
        "equity": str(t.wallet.total_equity) if t.wallet else None,
    }
