"""Pytest fixtures for end-to-end tests against the Telegram Bot API emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .emulator import BotApiEmulator

TEST_TOKEN = "123456:TEST"
TEST_BOT_USERNAME = "exchange_test_bot"


@pytest.fixture
def emulator() -> Iterator[BotApiEmulator]:
    """Start a fresh Bot API emulator for one test and stop it afterwards."""
    emu = BotApiEmulator(token=TEST_TOKEN, bot_username=TEST_BOT_USERNAME)
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()
