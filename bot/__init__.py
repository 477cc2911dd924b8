"""MM Rebate Bot: the trading runtime (never imports mmctl)."""

__version__ = "0.1.0"
