"""The one config loader (CONFIG-001) and its sections; every command and the bot use it."""

from bot.config.base import VENUE_URLS, AppConfig, ExchangeConfig, ReconnectConfig, Venue
from bot.config.helpers import cfg_hash_sanitized, git_sha, sanitized_dict
from bot.config.loader import load_config, parse_value
from bot.config.monitoring import MonitoringConfig
from bot.config.portfolio import AllocatorConfig, PortfolioConfig, ThrottleConfig
from bot.config.risk import RiskConfig
from bot.config.rollout import RolloutConfig
from bot.config.secrets import Secret, Secrets, check_secrets, load_secrets
from bot.config.strategy import ObligationsConfig, StrategyConfig
from bot.config.validation import ConfigDiff, diff_runtime_safe, validate_invariants

__all__ = [
    "VENUE_URLS",
    "AllocatorConfig",
    "AppConfig",
    "ConfigDiff",
    "ExchangeConfig",
    "MonitoringConfig",
    "ObligationsConfig",
    "PortfolioConfig",
    "ReconnectConfig",
    "RiskConfig",
    "RolloutConfig",
    "Secret",
    "Secrets",
    "StrategyConfig",
    "ThrottleConfig",
    "Venue",
    "cfg_hash_sanitized",
    "check_secrets",
    "diff_runtime_safe",
    "git_sha",
    "load_config",
    "load_secrets",
    "parse_value",
    "sanitized_dict",
    "validate_invariants",
]
