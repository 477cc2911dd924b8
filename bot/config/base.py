"""The root AppConfig: venue, symbols, exchange endpoints and every section."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import ConfigDict, Field, InstanceOf, field_validator

from bot.config.monitoring import MonitoringConfig
from bot.config.portfolio import PortfolioConfig
from bot.config.risk import RiskConfig
from bot.config.rollout import RolloutConfig
from bot.config.secrets import Secrets
from bot.config.section import Section
from bot.config.strategy import StrategyConfig

__all__ = ["VENUE_URLS", "AppConfig", "ExchangeConfig", "ReconnectConfig", "Venue"]

Venue = Literal["sim", "testnet", "demo", "mainnet"]

# (rest, ws public base, ws private, ws trade); from the Bybit V5 reference, section 1.
VENUE_URLS: dict[str, tuple[str, str, str, str]] = {
    "mainnet": ("https://api.bybit.com", "wss://stream.bybit.com/v5/public",
                "wss://stream.bybit.com/v5/private", "wss://stream.bybit.com/v5/trade"),
    "testnet": ("https://api-testnet.bybit.com", "wss://stream-testnet.bybit.com/v5/public",
                "wss://stream-testnet.bybit.com/v5/private", "wss://stream-testnet.bybit.com/v5/trade"),
    # Demo trading uses mainnet public streams and has no trade WS.
    "demo": ("https://api-demo.bybit.com", "wss://stream.bybit.com/v5/public",
             "wss://stream-demo.bybit.com/v5/private", ""),
}


class ReconnectConfig(Section):
    """NET-001 policy: 1 s doubling to a 60 s cap, +/-30 % jitter, bounded attempts."""

    runtime_safe: ClassVar[frozenset[str]] = frozenset()

    initial_delay_s: float = Field(default=1.0, gt=0)
    max_delay_s: float = Field(default=60.0, gt=0)
    jitter: float = Field(default=0.3, ge=0, lt=1)
    max_attempts: int = Field(default=12, ge=1)
    healthy_after_s: float = Field(default=30.0, ge=0, description="connection age that resets the counter")


class ExchangeConfig(Section):
    runtime_safe: ClassVar[frozenset[str]] = frozenset()

    rest_url: str = ""
    ws_public_url: str = Field(default="", description="base, category is appended: .../v5/public/linear")
    ws_private_url: str = ""
    ws_trade_url: str = ""
    recv_window_ms: int = Field(default=5000, ge=100, le=60_000)
    connect_timeout_s: float = Field(default=3.0, gt=0)
    read_timeout_s: float = Field(default=5.0, gt=0)
    write_timeout_s: float = Field(default=5.0, gt=0)
    pool_timeout_s: float = Field(default=2.0, gt=0)
    total_timeout_s: float = Field(default=10.0, gt=0)
    max_connections: int = Field(default=10, ge=1)
    max_keepalive_connections: int = Field(default=10, ge=1)
    keepalive_expiry_s: float = Field(default=60.0, gt=0)
    ping_interval_s: float = Field(default=20.0, gt=0)
    reconnect: ReconnectConfig = ReconnectConfig()
    dcp_window_s: int = Field(default=10, ge=3, le=300)
    order_entry: Literal["ws", "rest"] = Field(
        default="ws", description="order writes over the WebSocket trade API while it is connected (REST when not, "
                                  "or always with 'rest')")


class AppConfig(Section):
    """Everything the bot and mmctl read; built only by `bot.config.load_config`."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, arbitrary_types_allowed=True)
    runtime_safe: ClassVar[frozenset[str]] = frozenset({"strategy", "risk", "portfolio", "rollout", "monitoring"})

    venue: Venue = "sim"
    category: Literal["linear", "spot"] = "linear"
    symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT")
    account_label: str = Field(default="default", pattern=r"^[A-Za-z0-9_-]{1,32}$")
    order_link_prefix: str = Field(default="mm", pattern=r"^[A-Za-z0-9]{1,6}$")
    state_dir: str = "state"
    secrets_dir: str = Field(default="secrets", description="fallback dir: <dir>/<name lowercase>")
    adopt_orders_on_start: bool = False
    live_pack_max_age_h: int = Field(default=24, ge=1)
    exchange: ExchangeConfig = ExchangeConfig()
    strategy: StrategyConfig = StrategyConfig()
    risk: RiskConfig = RiskConfig()
    portfolio: PortfolioConfig = PortfolioConfig()
    rollout: RolloutConfig = RolloutConfig()
    monitoring: MonitoringConfig = MonitoringConfig()
    secrets: InstanceOf[Secrets] = Field(default_factory=Secrets, exclude=True, repr=False)

    @field_validator("symbols")
    @classmethod
    def _symbols_upper(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [s for s in v if not s.isalnum() or s.upper() != s]
        if bad:
            raise ValueError(f"symbols must be uppercase alphanumeric, got {bad}")
        if len(set(v)) != len(v):
            raise ValueError("symbols must be unique")
        if not v:
            raise ValueError("at least one symbol")
        return v

    def urls(self) -> tuple[str, str, str, str]:
        """(rest, ws public base, ws private, ws trade), overrides first, else the venue's."""
        defaults = VENUE_URLS.get(self.venue, ("", "", "", ""))
        ex = self.exchange
        return (ex.rest_url or defaults[0], ex.ws_public_url or defaults[1],
                ex.ws_private_url or defaults[2], ex.ws_trade_url or defaults[3])
