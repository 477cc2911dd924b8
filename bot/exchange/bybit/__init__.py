"""Bybit V5: pure wire/parse/signing modules and the I/O clients built on them."""
