"""What goes in and out of the application layer: plain data, no front-end types."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.domain import Answer

# What one message may hold, whatever the front-end: Telegram's limits, the tightest of them.
# Telegram counts text after its markup is parsed; `length` counts UTF-16 code units as it may.
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
MIN_QUOTE = 200  # a quoted question shorter than this hardly says which question it was
_BREAKS = ("\n\n", "\n", ". ", "; ", ", ", " ")  # where a long text is best cut, best first


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
    # the finished form of the answer a Draft showed while it was written: a front-end that
    # showed a draft turns it into this message (else it sends this one as any other)
    draft: bool = False


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
    """A message could not reach its chat; `blocked` when the person blocked the bot.

    Its text is the reason only: it is logged, and a chat id is a person's Telegram id."""

    def __init__(self, chat_id: int, blocked: bool = False, reason: str = "") -> None:
        super().__init__(reason or ("blocked" if blocked else "failed"))
        self.chat_id = chat_id
        self.blocked = blocked


class Outbox(Protocol):
    """Sends messages to other people's chats (invites, posts to staff, reminders, answers)."""

    def send(self, out: Out) -> int:
        """Send one message to `out.chat_id`; return its message id or raise Undeliverable."""
        ...


class Draft(Protocol):
    """Shows an answer while it is written (a message a front-end sends, then changes)."""

    def write(self, text: str) -> None:
        """Show the whole answer written so far; called from the use case's thread, often.

        A front-end shows it as often as its medium allows (Telegram: about one edit a
        second); it must not block the writer.
        """
        ...


class FileSource(Protocol):
    """Fetches a file a person sent, by the front-end's id for it."""

    def fetch(self, file_id: str, target: Any) -> None:
        """Write the file to the path `target`."""
        ...


# ---------------------------------------------------------------- fitting messages to the limits


def length(text: str) -> int:
    """Return a text's length as a message limit counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def _prefix_within(text: str, limit: int) -> int:
    """Return how many characters of `text` fit in `limit` length units."""
    used = 0
    for i, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > limit:
            return i
    return len(text)


def shorten(text: str, limit: int) -> str:
    """Return `text` within `limit`, cut at a word where one is near the end, marked with "…"."""
    if length(text) <= limit:
        return text
    cut = _prefix_within(text, max(limit - 1, 0))
    space = text.rfind(" ", 0, cut)
    if space > cut // 2:
        cut = space
    return text[:cut].rstrip() + "…"


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Split `text` into pieces within `limit`, at a paragraph, line, sentence or word if it can.

    Nothing is left out: the pieces joined again are the text (but the whitespace at the cuts).
    """
    pieces: list[str] = []
    rest = text.strip()
    while length(rest) > limit:
        cut = max(_prefix_within(rest, limit), 1)  # at least a character: the loop moves on
        for mark in _BREAKS:
            at = rest.rfind(mark, 0, cut)
            if at > cut // 2:  # a break in the first half would waste most of a message
                cut = at + len(mark)
                break
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not pieces:
        pieces.append(rest)
    return pieces


def fit(render: Callable[[str], str], part: str, limit: int) -> str:
    """Return `render(part)` within `limit`, shortening only `part` (a title, a quote)."""
    whole = render(part)
    if length(whole) <= limit:
        return whole
    room = limit - length(render(""))
    return render(shorten(part, max(room, 1)))


def quote_and_split(
    render: Callable[[str, str], str], quote: str, body: str, limit: int = TEXT_LIMIT
) -> list[str]:
    """Return `render(quote, body)` as messages within `limit`, the body never shortened.

    The quote (the question an answer is for) is shortened first; a body too long for one
    message even then is split over several, the first under the quote.
    """
    whole = render(quote, body)
    if length(whole) <= limit:
        return [whole]
    room = limit - length(render("", body))
    if room >= MIN_QUOTE:
        return [render(shorten(quote, room), body)]
    quote = shorten(quote, MIN_QUOTE)
    parts = split_text(body, limit - length(render(quote, "")))
    return [render(quote, parts[0]), *parts[1:]]
