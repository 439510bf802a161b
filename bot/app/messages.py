"""What goes in and out of the application layer: plain data, no front-end types."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.domain import Answer


@dataclass(frozen=True)
class Actor:
    """Who acts and where: the sender and the chat, as any front-end knows them."""

    user_id: int
    chat_id: int
    in_group: bool = False
    first_name: str = ""
    username: str = ""
    language_code: str = ""


@dataclass(frozen=True)
class Button:
    """An inline button: its label and the data it sends back when pressed."""

    label: str
    data: str


@dataclass(frozen=True)
class File:
    """A file to attach: its name and bytes; `photo` shows it as a picture."""

    name: str
    content: bytes
    photo: bool = False


@dataclass(frozen=True)
class Out:
    """One message: text (plain unless `answer`/`sources` says what to render), buttons, a file.

    `chat_id` None means the actor's own chat. `answer` and `sources` carry what a front-end
    renders in its own way (numbered source lists, excerpts).
    """

    text: str = ""
    chat_id: int | None = None
    buttons: Sequence[Sequence[Button]] = ()
    file: File | None = None
    answer: Answer | None = None
    sources: tuple[str, Sequence[dict[str, Any]], str] | None = None  # question, sources, lang
    force_reply: bool = False


@dataclass
class Reply:
    """What the actor sees: messages in their chat, the pressed message edited, a short toast."""

    messages: list[Out] = field(default_factory=list)
    edit: Out | None = None  # replaces the message whose button was pressed
    remove_buttons: bool = False  # take the pressed message's buttons away
    toast: str | None = None  # the short answer to a pressed button
    alert: bool = False

    @classmethod
    def say(cls, text: str, buttons: Sequence[Sequence[Button]] = ()) -> Reply:
        """Return a reply of one plain message."""
        return cls(messages=[Out(text, buttons=buttons)])


class Undeliverable(Exception):
    """A message could not reach its chat; `blocked` when the person blocked the bot."""

    def __init__(self, chat_id: int, blocked: bool = False, reason: str = "") -> None:
        super().__init__(f"chat {chat_id}: {reason or ('blocked' if blocked else 'failed')}")
        self.chat_id = chat_id
        self.blocked = blocked


class Outbox(Protocol):
    """Sends messages to other people's chats (invites, posts to staff, reminders, answers)."""

    def send(self, out: Out) -> int:
        """Send one message to `out.chat_id`; return its message id or raise Undeliverable."""
        ...


class FileSource(Protocol):
    """Fetches a file a person sent, by the front-end's id for it."""

    def fetch(self, file_id: str, target: Any) -> None:
        """Write the file to the path `target`."""
        ...
