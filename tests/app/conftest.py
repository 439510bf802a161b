"""Fixtures for the application layer: the outbox is the seam to Telegram, recorded here."""

from __future__ import annotations

import pytest

from bot.app.messages import TEXT_LIMIT, Out, Undeliverable, length


class RecordingOutbox:
    """Keeps what the application sends to other chats; chats in `blocked` cannot be reached,
    sends to chats in `failing` fail for a while, and a text over Telegram's limit is refused
    as Telegram refuses it."""

    def __init__(self) -> None:
        self.sent: list[Out] = []
        self.blocked: set[int] = set()
        self.failing: set[int] = set()

    def send(self, out: Out) -> int:
        """Record a message and return its id, or refuse it as Telegram would."""
        assert out.chat_id is not None
        if out.chat_id in self.blocked:
            raise Undeliverable(out.chat_id, blocked=True)
        if out.chat_id in self.failing:
            raise Undeliverable(out.chat_id, reason="Timed out")
        if out.file is None and length(out.text) > TEXT_LIMIT:
            raise Undeliverable(out.chat_id, reason="Bad Request: message is too long")
        self.sent.append(out)
        return len(self.sent)

    def to(self, chat_id: int) -> list[Out]:
        """Return what was sent to one chat."""
        return [o for o in self.sent if o.chat_id == chat_id]


@pytest.fixture
def outbox() -> RecordingOutbox:
    """Return a fresh recording outbox."""
    return RecordingOutbox()
