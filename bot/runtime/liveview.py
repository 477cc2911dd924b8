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
        f"links  {conns}   reconnects {st.get('reconnects')}\n",
        f"tick-to-order p50 {lat.get('tick_to_order_p50_us')} us  p99 {lat.get('tick_to_order_p99_us')} us"
        f"  ({lat.get('samples')} samples)\n",
        f"fills {tot.get('fills')}  maker share {tot.get('maker_share')}  rebates {tot.get('rebates')}"
        f"  fees {tot.get('fees')}  pnl {tot.get('pnl_realized')} / {tot.get('pnl_unrealized')}"
        f"  open orders {tot.get('open_orders')}  sent {tot.get('orders_sent')}")
    table = Table(expand=False)
    cols = ("symbol", "our bid", "our ask", "book bid", "book ask", "age ms", "position", "open", "fills",
            "maker", "rebates", "fees", "pnl real.", "pnl unreal.", "oblig.")
    for c in cols:
        table.add_column(c, justify="right")
    for sym, s in st.get("symbols", {}).items():
        table.add_row(sym, *(str(s.get(k)) if s.get(k) is not None else "-" for k in (
            "bid", "ask", "book_bid", "book_ask", "book_age_ms", "position", "open_orders", "fills", "maker_share",
            "rebates", "fees", "pnl_realized", "pnl_unrealized", "obligations_met")))
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
