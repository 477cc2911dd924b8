"""The aiohttp application key under which handlers find their SimServer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from bot.sim.server import SimServer

__all__ = ["SIM_KEY"]

SIM_KEY: web.AppKey[SimServer] = web.AppKey("sim_server")
