"""Logging with redaction, Prometheus metrics, the fill ledger and the market-data recorder."""
