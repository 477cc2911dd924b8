"""The venue session: the exchange client, and for the default venue the in-process emulator."""

from __future__ import annotations

import secrets
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from bot.config import AppConfig, Secret, Secrets
from bot.exchange.base import ExchangeClient
from bot.observability.logging import get_logger, register_secrets
from bot.observability.metrics import Metrics

__all__ = ["Venue", "in_process_sim", "open_venue"]

log = get_logger(__name__)


def in_process_sim(cfg: AppConfig) -> bool:
    """Venue "sim" without explicit URLs means: start the emulator here on a loopback port."""
    return cfg.venue == "sim" and not cfg.exchange.rest_url


@dataclass(slots=True)
class Venue:
    client: ExchangeClient
    cfg: AppConfig  # the config the client runs with (emulator URLs and keys filled in)
    sim: Any = None
    supports_dcp: bool = True
    _stack: AsyncExitStack = field(default_factory=AsyncExitStack)

    async def aclose(self) -> None:
        """Close the client, then the emulator; idempotent."""
        await self._stack.aclose()


async def _start_sim(cfg: AppConfig, stack: AsyncExitStack) -> tuple[Any, AppConfig]:
    from bot.sim import SimConfig, SimServer

    sim = await stack.enter_async_context(SimServer(SimConfig(host="127.0.0.1", port=0, symbols=tuple(cfg.symbols),
                                                              seed=secrets.randbelow(2**31))))
    acct = sim.accounts[0]
    public = sim.ws_public_url(cfg.category)
    base = public.rsplit("/", 1)[0]  # our config holds the base; the client appends the category
    ex = cfg.exchange.model_copy(update={"rest_url": sim.rest_url, "ws_public_url": base,
                                         "ws_private_url": sim.ws_private_url, "ws_trade_url": sim.ws_trade_url})
    keys = Secrets(bybit_api_key=Secret(acct.api_key, source="sim"),
                   bybit_api_secret=Secret(acct.api_secret, source="sim"), admin_token=cfg.secrets.admin_token)
    register_secrets(keys.values())
    log.info("sim_started", rest_url=sim.rest_url, symbols=",".join(cfg.symbols))
    return sim, cfg.model_copy(update={"exchange": ex, "secrets": keys})


async def open_venue(cfg: AppConfig, metrics: Metrics) -> Venue:
    """Connect to the configured venue (starting the emulator first when it is the in-process one).

    Raises:
        ExchangeError / ConfigError: the venue cannot be reached or the keys are missing.
    """
    stack = AsyncExitStack()
    try:
        sim = None
        run_cfg = cfg
        if in_process_sim(cfg):
            sim, run_cfg = await _start_sim(cfg, stack)
        from bot.exchange.bybit.client import BybitClient

        client = BybitClient.from_config(run_cfg, metrics=metrics)
        stack.push_async_callback(client.aclose)
        # DCP covers derivatives only (product DERIVATIVES); spot quotes are not protected by it.
        return Venue(client=client, cfg=run_cfg, sim=sim, supports_dcp=cfg.category == "linear", _stack=stack)
    except BaseException:
        await stack.aclose()
        raise
