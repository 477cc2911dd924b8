"""Bybit V5 exchange emulator on loopback: REST + WS (public, private, trade), matching, synthetic market, faults."""

from bot.sim.config import DEFAULT_SYMBOLS, MarketSpec, SimAccount, SimConfig, parse_symbol_spec
from bot.sim.faults import Faults
from bot.sim.server import SimServer, banner, serve
from bot.sim.stats import ConnectionAttempt, SimStats

__all__ = [
    "DEFAULT_SYMBOLS",
    "ConnectionAttempt",
    "Faults",
    "MarketSpec",
    "SimAccount",
    "SimConfig",
    "SimServer",
    "SimStats",
    "banner",
    "parse_symbol_spec",
    "serve",
]
