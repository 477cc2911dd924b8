"""Live terminal view (rich) of the running bot: quotes, book, position, fills, rebates, PnL, links."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.runtime.core import Bot

__all__ = ["render", "run_live_view"]


def render(st: dict[str, Any]) -> Any:
    """A rich renderable from a /status document."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    lat = st.get("latency", {})
    tot = st.get("totals", {})
    conns = "  ".join(f"{k}:{v}" for k, v in st.get("connections", {}).items())
    state = str(st.get("state"))
    color = {"running": "green", "paused": "yellow", "killed": "red", "stopping": "magenta"}.get(state, "cyan")
    head = Text.assemble(
        ("MM Rebate Bot ", "bold"), (state.upper(), f"bold {color}"),
        f"  venue {st.get('venue')}  uptime {st.get('uptime_s')}s  pid {st.get('pid')}"
        f"  kill switch {'ON' if st.get('kill_switch') else 'off'}\n",
        f"links  {conns}   reconnects "
        + " ".join(f"{k}={v}" for k, v in (st.get("reconnects") or {}).items()) + "\n",
        f"tick-to-order p50 {lat.get('tick_to_order_p50_us')} us  p99 {lat.get('tick_to_order_p99_us')} us"
        f"  ({lat.get('samples')} samples)\n",
        f"fills {tot.get('fills')}  maker share {tot.get('maker_share')}  rebates {tot.get('rebates')}"
        f"  fees {tot.get('fees')}  pnl {tot.get('pnl_realized')} / {tot.get('pnl_unrealized')}"
        f"  open orders {tot.get('open_orders')}  sent {tot.get('orders_sent')}")
    # One column per symbol, one row per figure: fits an 80-column terminal for a handful of symbols.
    syms = st.get("symbols", {})
    table = Table(expand=False, show_edge=False, pad_edge=False)
    table.add_column("", style="bold")
    for sym in syms:
        table.add_column(sym, justify="right")

    def pair(a: object, b: object) -> str:
        return f"{'-' if a is None else a} / {'-' if b is None else b}"

    rows: list[tuple[str, Any]] = [
        ("our bid / ask", lambda s: pair(s.get("bid"), s.get("ask"))),
        ("book bid / ask", lambda s: pair(s.get("book_bid"), s.get("book_ask"))),
        ("book age ms", lambda s: s.get("book_age_ms")),
        ("position", lambda s: s.get("position")),
        ("open orders", lambda s: s.get("open_orders")),
        ("fills (maker share)", lambda s: f"{s.get('fills')} ({s.get('maker_share') or '-'})"),
        ("rebates / fees", lambda s: pair(s.get("rebates"), s.get("fees"))),
        ("pnl real. / unreal.", lambda s: pair(s.get("pnl_realized"), s.get("pnl_unrealized"))),
        ("obligations met", lambda s: "yes" if s.get("obligations_met") else "no"),
    ]
    for label, get in rows:
        table.add_row(label, *(str(get(s)) for s in syms.values()))
    return Group(head, table)


async def run_live_view(bot: Bot, period_s: float = 0.5) -> None:
    """Redraw twice a second on stderr until cancelled (logs keep going to the log file)."""
    from rich.console import Console
    from rich.live import Live

    console = Console(file=sys.stderr)
    with Live(render(bot.status()), console=console, refresh_per_second=4, transient=False) as live:
        while True:
            await asyncio.sleep(period_s)
            live.update(render(bot.status()))
