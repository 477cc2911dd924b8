"""The domain's string enums hash like their values (they are dict keys on every quote cycle)."""

from __future__ import annotations

from bot.domain import Category, OrderStatus, Side
from bot.strategy import ActionKind


def test_members_hash_like_their_values_and_find_string_keys() -> None:
    for member in (Side.BUY, Side.SELL, Category.LINEAR, OrderStatus.NEW, ActionKind.CANCEL):
        assert member == member.value and hash(member) == hash(member.value)
    assert {("BTCUSDT", "Buy"): 1}[("BTCUSDT", Side.BUY)] == 1
    assert {Side.SELL: 2}["Sell"] == 2
