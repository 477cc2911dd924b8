"""Emulator configuration: symbols, accounts (key pair + fee rates), speed, limits and timeouts."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from decimal import Decimal

from bot.domain import Category, Instrument, Symbol

__all__ = ["DEFAULT_SYMBOLS", "MarketSpec", "SimAccount", "SimConfig", "parse_symbol_spec"]

# A symbol spec is "BTCUSDT" (linear) or "BTCUSDT@spot" / "ETHUSDT@linear".
DEFAULT_SYMBOLS: tuple[str, ...] = ("BTCUSDT", "ETHUSDT", "BTCUSDT@spot")


@dataclass(frozen=True, slots=True)
class MarketSpec:
    """One tradable book: its instrument grid and the synthetic market's parameters."""

    instrument: Instrument
    start_price: Decimal
    vol_per_sqrt_s: Decimal  # relative volatility of the fair price per sqrt(second)
    jump_prob_per_s: Decimal
    jump_size: Decimal  # relative size of a jump
    level_qty: Decimal  # background resting size per level
    taker_rate_per_s: Decimal  # random taker arrivals per second
    taker_qty: Decimal  # typical taker size

    @property
    def symbol(self) -> str:
        return self.instrument.symbol

    @property
    def category(self) -> str:
        return self.instrument.category.value

    @property
    def key(self) -> tuple[str, str]:
        return (self.category, self.symbol)


# symbol -> (tick, qty_step, min_qty, max_qty, start price, level qty, taker qty)
_KNOWN: dict[str, tuple[str, str, str, str, str, str, str]] = {
    "BTCUSDT": ("0.10", "0.001", "0.001", "1190", "30000", "0.5", "0.05"),
    "ETHUSDT": ("0.01", "0.01", "0.01", "7240", "2000", "5", "0.5"),
    "SOLUSDT": ("0.010", "0.1", "0.1", "79770", "100", "50", "5"),
    "XRPUSDT": ("0.0001", "1", "1", "2000000", "0.5", "10000", "1000"),
}


def parse_symbol_spec(spec: str) -> MarketSpec:
    """Build a MarketSpec from "SYMBOL" (linear) or "SYMBOL@category"; unknown symbols get generic rules.

    Raises:
        ValueError: empty symbol or unsupported category.
    """
    name, _, cat = spec.strip().partition("@")
    name = name.upper()
    category = Category(cat.lower() or "linear")
    if not name or category not in (Category.LINEAR, Category.SPOT):
        raise ValueError(f"bad symbol spec {spec!r}: use SYMBOL or SYMBOL@spot / SYMBOL@linear")
    tick, step, min_q, max_q, px, lvl, tq = _KNOWN.get(name, ("0.01", "0.01", "0.01", "100000", "100", "20", "2"))
    base = name.removesuffix("USDT") if name.endswith("USDT") else name[:-4]
    if category is Category.SPOT:
        # spot has basePrecision instead of qtyStep and a finer grid
        step = {"BTCUSDT": "0.000001", "ETHUSDT": "0.00001"}.get(name, step)
        min_q = step
    inst = Instrument(
        symbol=Symbol(name), category=category, tick_size=Decimal(tick), qty_step=Decimal(step),
        min_qty=Decimal(min_q), max_qty=Decimal(max_q), min_notional=Decimal(5),
        base_coin=base, quote_coin="USDT",
    )
    return MarketSpec(
        instrument=inst, start_price=Decimal(px), vol_per_sqrt_s=Decimal("0.0005"),
        jump_prob_per_s=Decimal("0.002"), jump_size=Decimal("0.01"), level_qty=Decimal(lvl),
        taker_rate_per_s=Decimal(2), taker_qty=Decimal(tq),
    )


@dataclass(slots=True)
class SimAccount:
    """An emulated UTA sub-account: key pair, fee rates (negative maker = rebate), starting balances."""

    api_key: str = field(default_factory=lambda: "sim" + secrets.token_hex(8))
    api_secret: str = field(default_factory=lambda: secrets.token_hex(16), repr=False)
    maker_fee: Decimal = Decimal("-0.00005")
    taker_fee: Decimal = Decimal("0.00055")
    spot_maker_fee: Decimal = Decimal("-0.00005")
    spot_taker_fee: Decimal = Decimal("0.001")
    balances: dict[str, Decimal] = field(
        default_factory=lambda: {"USDT": Decimal(1_000_000), "BTC": Decimal(10), "ETH": Decimal(100)}
    )
    uid: int = 0  # assigned by the server when 0
    mm_level: int = 0  # mktMakerLevel reported by /v5/user/query-api

    def fee_rates(self, category: str) -> tuple[Decimal, Decimal]:
        """(maker, taker) for a category."""
        if category == "spot":
            return self.spot_maker_fee, self.spot_taker_fee
        return self.maker_fee, self.taker_fee


@dataclass(slots=True)
class SimConfig:
    """Everything the emulator needs; defaults are Bybit's published values where it has any."""

    host: str = "127.0.0.1"
    port: int = 0
    symbols: tuple[str, ...] = DEFAULT_SYMBOLS
    seed: int = 1
    speed: float = 1.0  # scales market activity and push intervals (2.0 = twice as fast)
    accounts: tuple[SimAccount, ...] = ()  # empty -> one generated account
    market: bool = True  # run the synthetic market; False = a static house ladder (no walk, no takers)
    levels: int = 60  # background levels per side
    idle_timeout_s: float = 600.0  # WS: no ping and no pushed data for this long -> close
    idle_sweep_s: float = 5.0
    recv_window_default_ms: int = 5000
    future_tolerance_ms: int = 1000  # timestamp may lead server time by less than this
    clock_offset_ms: int = 0  # server clock = wall clock + offset (test clock skew)
    rate_limits: bool = True
    rate_limit_scale: float = 1.0  # multiply every UID limit (tests may raise it)
    ip_limit_per_5s: int = 600  # 0 disables the IP limit
    ip_ban_s: float = 600.0
    batch_max_linear: int = 20
    batch_max_spot: int = 10
    max_active_orders: int = 500
    execution_retention: int = 100_000  # per account, newest kept (bounded memory in soaks)
    closed_order_retention: int = 500  # per account and category, for openOnly=1 and link-id reuse
    max_frame_bytes: int = 1 << 20
    ws_reply_delay_ms: float = 0.0  # public/private op replies (acks, pongs) this much later
    first_push_delay_ms: float = 0.0  # public: first snapshot this long after the subscribe ack (0 = at once)
    post_only_pushes_new: bool = False  # push "New" before the EC_PostOnlyWillTakeLiquidity cancel
    dcp_enabled: bool = True
    ssl_context: object | None = None  # ssl.SSLContext for a TLS listener

    def market_specs(self) -> list[MarketSpec]:
        return [parse_symbol_spec(s) for s in self.symbols]
