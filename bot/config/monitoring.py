"""Web server, metrics, logs and recorder settings."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from bot.config.section import Section

__all__ = ["MonitoringConfig"]


class MonitoringConfig(Section):
    runtime_safe: ClassVar[frozenset[str]] = frozenset({"log_level"})

    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8080, ge=0, le=65535, description="0 = pick a free port")
    log_dir: str = "logs"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_max_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    log_backups: int = Field(default=5, ge=1, le=100)
    recorder_enabled: bool = True
    recorder_dir: str = "recordings"
    recorder_max_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    recorder_max_files: int = Field(default=10, ge=1)
    recorder_max_age_s: int = Field(default=7 * 86400, ge=60)
    heap_trim_interval_s: float = Field(default=30.0, ge=0,
                                        description="malloc_trim period: free heap pages back to the OS (0 = off)")
