"""Shared plumbing: JSON I/O (orjson, atomic writes) and clocks."""
