"""In-process emulator of the Telegram Bot API for end-to-end tests.

The emulator is a small HTTP server on ``127.0.0.1`` (random free port) that speaks enough of
the Bot API for a real python-telegram-bot ``Application`` (in the same process or in a
subprocess) to run against it::

    emu = BotApiEmulator(token="123456:TEST", bot_username="exchange_test_bot")
    with emu:
        app = (
            Application.builder()
            .token(emu.token)
            .base_url(emu.base_url)
            .base_file_url(emu.base_file_url)
            .build()
        )
        ...
        emu.send_text(42, "/start")
        record = emu.wait_for(lambda r: r["chat_id"] == 42)

Only the standard library is used. All state is guarded by one re-entrant lock with a condition
variable, so the HTTP server threads, synchronous test code and ``asyncio`` test code can use
the emulator concurrently.

Request parameters are accepted as JSON bodies, ``application/x-www-form-urlencoded`` (what
PTB sends when there are no files; every non-string value is JSON encoded) and
``multipart/form-data`` (what PTB sends for uploads), plus the URL query string.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import re
import secrets
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = [
    "ApiError",
    "BotApiEmulator",
    "EntityParseError",
    "parse_html",
    "utf16_len",
]

JSONDict = dict[str, Any]
Record = dict[str, Any]
Predicate = Callable[[Record], bool]

MAX_MESSAGE_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_DOWNLOAD_SIZE = 20 * 1024 * 1024

# Canonical names of the methods the emulator implements (Telegram matches them
# case-insensitively).
_METHODS = (
    "getMe",
    "logOut",
    "close",
    "getUpdates",
    "setWebhook",
    "deleteWebhook",
    "getWebhookInfo",
    "sendMessage",
    "sendChatAction",
    "sendDocument",
    "sendPhoto",
    "editMessageText",
    "editMessageCaption",
    "editMessageReplyMarkup",
    "deleteMessage",
    "answerCallbackQuery",
    "setMyCommands",
    "getMyCommands",
    "deleteMyCommands",
    "setMyDescription",
    "setMyShortDescription",
    "setMyName",
    "setChatMenuButton",
    "getFile",
)
_CANONICAL = {name.lower(): name for name in _METHODS}

# Methods that are refused with 403 when the target private chat blocked the bot.
_BLOCKABLE_PREFIXES = ("send", "edit", "forward", "copy")

_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)

# Update types delivered when allowed_updates was never set or set to [].
_DEFAULT_ALLOWED_EXCLUDED = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

# Form fields whose values are plain strings (never JSON-decoded). Every other form field is
# JSON-decoded if possible (PTB JSON-encodes all non-string values).
_STRING_FIELDS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "action",
        "callback_query_id",
        "url",
        "description",
        "short_description",
        "name",
        "title",
        "language_code",
        "file_id",
        "inline_message_id",
        "business_connection_id",
        "secret_token",
        "ip_address",
        "document",
        "photo",
        "audio",
        "video",
        "animation",
        "voice",
        "sticker",
        "video_note",
        "thumbnail",
        "emoji",
        "message_effect_id",
        "first_name",
        "last_name",
        "phone_number",
        "vcard",
        "address",
        "question",
        "custom_title",
    }
)

_IMAGE_EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif"}


_TEXT_BUTTONS_UNALLOWED = (
    "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
)


class ApiError(Exception):
    """Signal a Bot API error response from inside a method implementation."""

    def __init__(
        self, error_code: int, description: str, parameters: JSONDict | None = None
    ) -> None:
        """Store the error code, description and optional response parameters."""
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def payload(self) -> JSONDict:
        """Return the JSON body Telegram would send for this error."""
        body: JSONDict = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad_request(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


# --------------------------------------------------------------------------------------------
# Text helpers: UTF-16 lengths and Telegram-style HTML parsing
# --------------------------------------------------------------------------------------------


def utf16_len(text: str) -> int:
    """Return the length of ``text`` in UTF-16 code units (Telegram's entity offset unit)."""
    return len(text.encode("utf-16-le")) // 2


class EntityParseError(ValueError):
    """Raise when formatted text cannot be parsed the way Telegram parses it."""


_HTML_TAGS: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED_HTML_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TAG_NAME_RE = re.compile(r"[A-Za-z0-9-]*")
_ATTR_NAME_RE = re.compile(r"[A-Za-z0-9_-]*")
_UNQUOTED_VALUE_RE = re.compile(r"[^\s>]*")
_HTML_ENTITY_RE = re.compile(
    r"&(?:#([0-9]{1,8})|#[xX]([0-9a-fA-F]{1,8})|([A-Za-z][A-Za-z0-9]{0,31}));"
)


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8", "surrogatepass"))


def _decode_html_entity(text: str, index: int, offset_base: int = 0) -> tuple[str, int]:
    """Decode the HTML entity starting at ``text[index] == '&'``; return (char, next index)."""
    match = _HTML_ENTITY_RE.match(text, index)
    where = f"byte offset {offset_base + _byte_offset(text, index)}"
    if match is None:
        raise EntityParseError(
            f'Character "&" must be escaped as "&amp;" (found an unescaped "&" at {where})'
        )
    decimal, hexadecimal, name = match.groups()
    if name is not None:
        if name.lower() not in _NAMED_HTML_ENTITIES:
            raise EntityParseError(f'Unsupported HTML entity "&{name};" at {where}')
        return _NAMED_HTML_ENTITIES[name.lower()], match.end()
    code = int(decimal) if decimal is not None else int(hexadecimal, 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        raise EntityParseError(f"Invalid HTML entity code point at {where}")
    return chr(code), match.end()


def _decode_attribute(value: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(value):
        if value[i] == "&":
            char, i = _decode_html_entity(value, i)
            out.append(char)
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def parse_html(text: str) -> tuple[str, list[JSONDict]]:
    """Parse Telegram-flavoured HTML into (plain text, entities) or raise EntityParseError.

    Mirrors the rules of the Bot API "HTML style": only the supported tags, properly nested
    and closed; ``&lt; &gt; &amp; &quot;`` and numeric entities are decoded; a bare ``<`` or
    ``&`` is an error (a bare ``>`` is tolerated like Telegram does). Entity offsets and lengths
    are in UTF-16 code units.
    """
    out: list[str] = []
    u16 = 0
    # stack entries: [tag name, attributes, utf-16 start, byte offset of the tag, pre language]
    stack: list[list[Any]] = []
    entities: list[JSONDict] = []
    i = 0
    n = len(text)

    def skip_ws(pos: int) -> int:
        while pos < n and text[pos] in " \t\r\n":
            pos += 1
        return pos

    while i < n:
        char = text[i]
        if char == "&":
            decoded, i = _decode_html_entity(text, i)
            out.append(decoded)
            u16 += utf16_len(decoded)
            continue
        if char != "<":
            out.append(char)
            u16 += 2 if ord(char) > 0xFFFF else 1
            i += 1
            continue

        tag_start = i
        where = f"byte offset {_byte_offset(text, tag_start)}"
        i += 1
        if i < n and text[i] == "/":
            match = _TAG_NAME_RE.match(text, i + 1)
            assert match is not None
            name = match.group().lower()
            i = skip_ws(match.end())
            if i >= n or text[i] != ">":
                raise EntityParseError(f"Unclosed end tag at {where}")
            i += 1
            if not stack:
                raise EntityParseError(f'Unexpected end tag "</{name}>" at {where}')
            top_name, top_attrs, start_u16, _, language = stack.pop()
            if name != top_name:
                raise EntityParseError(
                    f'Unmatched end tag at {where}, expected "</{top_name}>", found "</{name}>"'
                )
            length = u16 - start_u16
            if top_name == "code" and stack and stack[-1][0] == "pre":
                css = top_attrs.get("class", "")
                if css.startswith("language-") and len(css) > len("language-"):
                    stack[-1][4] = css[len("language-") :]
                    continue
            if length == 0:
                continue
            entity: JSONDict = {"type": _HTML_TAGS[top_name], "offset": start_u16, "length": length}
            if top_name == "a":
                href = top_attrs.get("href", "")
                if not href:
                    continue
                entity["url"] = href
            elif top_name == "pre" and language:
                entity["language"] = language
            elif top_name == "blockquote" and "expandable" in top_attrs:
                entity["type"] = "expandable_blockquote"
            elif top_name == "tg-emoji":
                entity["custom_emoji_id"] = top_attrs["emoji-id"]
            entities.append(entity)
            continue

        match = _TAG_NAME_RE.match(text, i)
        assert match is not None
        name = match.group().lower()
        i = match.end()
        if name not in _HTML_TAGS:
            raise EntityParseError(f'Unsupported start tag "{name}" at {where}')
        attrs: dict[str, str] = {}
        while True:
            i = skip_ws(i)
            if i >= n:
                raise EntityParseError(f"Unclosed start tag at {where}")
            if text[i] == ">":
                i += 1
                break
            attr_match = _ATTR_NAME_RE.match(text, i)
            assert attr_match is not None
            attr_name = attr_match.group().lower()
            if not attr_name:
                raise EntityParseError(f'Empty attribute name in the tag "{name}" at {where}')
            i = skip_ws(attr_match.end())
            value = ""
            if i < n and text[i] == "=":
                i = skip_ws(i + 1)
                if i >= n:
                    raise EntityParseError(f"Unclosed start tag at {where}")
                if text[i] in "\"'":
                    end = text.find(text[i], i + 1)
                    if end < 0:
                        raise EntityParseError(f"Unclosed start tag at {where}")
                    raw_value = text[i + 1 : end]
                    i = end + 1
                else:
                    value_match = _UNQUOTED_VALUE_RE.match(text, i)
                    assert value_match is not None
                    raw_value = value_match.group()
                    i = value_match.end()
                value = _decode_attribute(raw_value)
            attrs[attr_name] = value
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise EntityParseError(f'Tag "span" must have class "tg-spoiler" at {where}')
        if name == "tg-emoji" and not attrs.get("emoji-id"):
            raise EntityParseError(f'Tag "tg-emoji" must have attribute "emoji-id" at {where}')
        stack.append([name, attrs, u16, tag_start, None])

    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _auto_entities(text: str, bot_username: str) -> list[JSONDict]:
    """Build bot_command / mention entities the way Telegram clients would for user text."""
    entities: list[JSONDict] = []
    command_end = 0
    if text.startswith("/"):
        match = re.match(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,64})?", text)
        if match:
            entities.append(
                {"type": "bot_command", "offset": 0, "length": utf16_len(match.group())}
            )
            command_end = match.end()
    for match in re.finditer(rf"@{re.escape(bot_username)}\b", text, flags=re.IGNORECASE):
        if match.start() < command_end:
            continue
        entities.append(
            {
                "type": "mention",
                "offset": utf16_len(text[: match.start()]),
                "length": utf16_len(match.group()),
            }
        )
    return entities


def _image_size(content: bytes) -> tuple[int, int]:
    """Return (width, height) of PNG/GIF/JPEG bytes, or (100, 100) if unknown."""
    try:
        if content[:8] == b"\x89PNG\r\n\x1a\n" and len(content) >= 24:
            width, height = struct.unpack(">II", content[16:24])
            return int(width), int(height)
        if content[:6] in (b"GIF87a", b"GIF89a"):
            width, height = struct.unpack("<HH", content[6:10])
            return int(width), int(height)
        if content[:2] == b"\xff\xd8":
            pos = 2
            while pos + 9 < len(content):
                if content[pos] != 0xFF:
                    break
                marker = content[pos + 1]
                seg_len = struct.unpack(">H", content[pos + 2 : pos + 4])[0]
                if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                    height, width = struct.unpack(">HH", content[pos + 5 : pos + 9])
                    return int(width), int(height)
                pos += 2 + seg_len
    except (struct.error, IndexError):
        pass
    return 100, 100


# --------------------------------------------------------------------------------------------
# Request body parsing
# --------------------------------------------------------------------------------------------


def _parse_header_params(value: str) -> tuple[str, dict[str, str]]:
    """Split a header like ``form-data; name="x"; filename="y"`` into (value, params)."""
    parts = re.findall(r'(?:[^;"]|"(?:\\.|[^"\\])*")+', value)
    main = parts[0].strip().lower() if parts else ""
    params: dict[str, str] = {}
    for part in parts[1:]:
        key, sep, val = part.strip().partition("=")
        if not sep:
            continue
        key = key.strip().lower()
        val = val.strip()
        if len(val) >= 2 and val[0] == val[-1] == '"':
            val = val[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        if key.endswith("*"):
            # RFC 5987: charset'lang'percent-encoded
            _, _, encoded = val.partition("'")
            _, _, encoded = encoded.partition("'")
            key = key[:-1]
            val = unquote(encoded)
            params[key] = val
            continue
        params.setdefault(key, val)
    return main, params


def _parse_multipart(
    body: bytes, boundary: str
) -> tuple[dict[str, str], dict[str, tuple[str, bytes, str]]]:
    """Parse multipart/form-data into (text fields, files: name -> (filename, bytes, mime))."""
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, bytes, str]] = {}
    delimiter = b"--" + boundary.encode("latin-1")
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        if chunk.startswith(b"\r\n"):
            chunk = chunk[2:]
        head, sep, content = chunk.partition(b"\r\n\r\n")
        if not sep:
            continue
        if content.endswith(b"\r\n"):
            content = content[:-2]
        headers: dict[str, str] = {}
        for line in head.split(b"\r\n"):
            key, _, value = line.decode("utf-8", "replace").partition(":")
            headers[key.strip().lower()] = value.strip()
        _, disposition = _parse_header_params(headers.get("content-disposition", ""))
        name = disposition.get("name")
        if name is None:
            continue
        name = name.replace("%22", '"')
        if "filename" in disposition:
            filename = disposition["filename"].replace("%22", '"')
            mime = headers.get("content-type", "application/octet-stream")
            files[name] = (filename, content, mime)
        else:
            fields[name] = content.decode("utf-8", "replace")
    return fields, files


def _decode_form_value(key: str, value: Any) -> Any:
    if not isinstance(value, str) or key in _STRING_FIELDS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _as_int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise _bad_request(f"wrong parameter {name} in request")
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise _bad_request(f"wrong parameter {name} in request") from None


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1")
    return bool(value)


def _as_obj(value: Any, what: str) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise _bad_request(f"can't parse {what} JSON object") from None
    return value


# --------------------------------------------------------------------------------------------
# The emulator
# --------------------------------------------------------------------------------------------


class BotApiEmulator:
    """Emulate the Telegram Bot API over HTTP for end-to-end tests of a PTB bot."""

    def __init__(
        self,
        token: str = "123456:TEST",
        bot_username: str = "exchange_test_bot",
        bot_first_name: str = "Exchange Test Bot",
        max_poll_timeout: float = 2.0,
        count_utf16: bool = False,
    ) -> None:
        """Create a stopped emulator; ``count_utf16`` counts text length in UTF-16 units."""
        self.token = token
        self.bot_username = bot_username
        self.bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 1
        self.bot_first_name = bot_first_name
        self.max_poll_timeout = max_poll_timeout
        self.count_utf16 = count_utf16

        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False

        # Public, append-only logs (read them freely; they are only appended under the lock).
        self.sent: list[Record] = []
        self.calls: list[tuple[str, JSONDict]] = []
        self.edited: list[Record] = []
        self.deleted: list[Record] = []
        self.errors: list[Record] = []
        self.webhook: JSONDict | None = None

        self._users: dict[int, JSONDict] = {}
        self._chats: dict[int, JSONDict] = {}
        self._message_ids: dict[int, int] = {}
        self._messages: dict[tuple[int, int], JSONDict] = {}
        self._records_by_message: dict[tuple[int, int], Record] = {}
        self._files: dict[str, JSONDict] = {}
        self._files_by_path: dict[str, JSONDict] = {}
        self._file_counter = itertools.count(1)
        self._callback_queries: dict[str, JSONDict] = {}
        self._callback_counter = itertools.count(1)
        self._blocked: set[int] = set()
        self._faults: dict[str, deque[ApiError]] = {}
        self._commands: dict[tuple[str, str], list[JSONDict]] = {}

        self._updates: list[JSONDict] = []  # not yet confirmed (delivered or not)
        # Telegram's update ids only grow, also across the bot's restarts: a second emulator on the
        # same bot database (whose inbox remembers ids it saw) continues above the first one's
        self._next_update_id = time.time_ns() // 1000
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self.polls = 0

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> BotApiEmulator:
        """Start the HTTP server in a background thread and return self."""
        if self._server is not None:
            return self
        handler = _make_handler(self)
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        server.block_on_close = False
        self._server = server
        self._stopping = False
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="bot-api-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the HTTP server and wake every blocked long poll and waiter."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> BotApiEmulator:
        """Start the emulator."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop the emulator."""
        self.stop()

    @property
    def port(self) -> int:
        """Return the TCP port the server listens on."""
        if self._server is None:
            raise RuntimeError("emulator is not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """Return the value for ``ApplicationBuilder.base_url`` (token is appended by PTB)."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """Return the value for ``ApplicationBuilder.base_file_url``."""
        return f"http://127.0.0.1:{self.port}/file/bot"

    @property
    def bot_user(self) -> JSONDict:
        """Return the bot's own User object."""
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    # ---------------------------------------------------------------- scenario helpers (test side)

    def user(
        self,
        user_id: int,
        first_name: str = "Ann",
        language_code: str | None = "en",
        username: str | None = None,
        last_name: str | None = None,
    ) -> JSONDict:
        """Register (or update) a user and their private chat with the bot; return the User."""
        user: JSONDict = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        with self._cond:
            self._users[user_id] = user
            chat: JSONDict = {"id": user_id, "type": "private", "first_name": first_name}
            if last_name:
                chat["last_name"] = last_name
            if username:
                chat["username"] = username
            self._chats[user_id] = chat
        return dict(user)

    def group(self, chat_id: int, title: str | None = None, chat_type: str = "group") -> JSONDict:
        """Register a group/supergroup chat (negative id) and return the Chat object."""
        chat = {"id": chat_id, "type": chat_type, "title": title or f"Test group {abs(chat_id)}"}
        with self._cond:
            self._chats[chat_id] = chat
        return dict(chat)

    def _ensure_user(
        self, user_id: int, language_code: str | None = None, first_name: str | None = None
    ) -> JSONDict:
        with self._cond:
            existing = self._users.get(user_id)
            if existing is None:
                self.user(
                    user_id, first_name=first_name or "Ann", language_code=language_code or "en"
                )
                existing = self._users[user_id]
            elif user_id not in self._chats:
                self._chats[user_id] = {
                    "id": user_id,
                    "type": "private",
                    "first_name": existing["first_name"],
                }
            user = dict(existing)
            if language_code is not None:
                user["language_code"] = language_code
            return user

    def _ensure_chat(self, user_id: int, chat_id: int | None, chat_type: str) -> JSONDict:
        with self._cond:
            if chat_id is None or (chat_id == user_id and chat_type == "private"):
                return dict(self._chats[user_id])
            if chat_id not in self._chats:
                self.group(chat_id, chat_type=chat_type if chat_type != "private" else "group")
            return dict(self._chats[chat_id])

    def _new_message_id(self, chat_id: int) -> int:
        self._message_ids[chat_id] = self._message_ids.get(chat_id, 0) + 1
        return self._message_ids[chat_id]

    def _shallow_message(self, message: JSONDict) -> JSONDict:
        return {k: v for k, v in message.items() if k != "reply_to_message"}

    def add_update(self, update: JSONDict) -> int:
        """Queue a raw update (``update_id`` is assigned) and return its update_id."""
        with self._cond:
            update_id = self._next_update_id
            self._next_update_id += 1
            self._updates.append({"update_id": update_id, **update})
            self._cond.notify_all()
            return update_id

    def send_text(
        self,
        user_id: int,
        text: str,
        chat_id: int | None = None,
        chat_type: str = "private",
        language_code: str | None = None,
        reply_to_message_id: int | None = None,
        entities: list[JSONDict] | None = None,
    ) -> int:
        """Queue a text message from a user and return the update_id.

        ``language_code=None`` keeps the registered user's language ("en" for new users).
        Commands get a ``bot_command`` entity and ``@bot_username`` a ``mention`` entity unless
        ``entities`` is given.
        """
        with self._cond:
            user = self._ensure_user(user_id, language_code)
            chat = self._ensure_chat(user_id, chat_id, chat_type)
            message: JSONDict = {
                "message_id": self._new_message_id(chat["id"]),
                "from": user,
                "chat": chat,
                "date": int(time.time()),
                "text": text,
            }
            ents = entities if entities is not None else _auto_entities(text, self.bot_username)
            if ents:
                message["entities"] = ents
            if reply_to_message_id is not None:
                replied = self._messages.get((chat["id"], reply_to_message_id))
                if replied is None:
                    raise ValueError(
                        f"no message {reply_to_message_id} in chat {chat['id']} to reply to"
                    )
                message["reply_to_message"] = self._shallow_message(replied)
            self._messages[(chat["id"], message["message_id"])] = message
            return self.add_update({"message": message})

    def send_document(
        self,
        user_id: int,
        filename: str,
        content: bytes,
        mime_type: str | None = None,
        caption: str | None = None,
        chat_id: int | None = None,
        chat_type: str = "private",
    ) -> int:
        """Queue a document message from a user and return the update_id.

        The file is stored, so the bot can getFile and download it.
        """
        with self._cond:
            user = self._ensure_user(user_id)
            chat = self._ensure_chat(user_id, chat_id, chat_type)
            stored = self._store_file(
                content, filename, mime_type or _guess_mime(filename), "documents"
            )
            message: JSONDict = {
                "message_id": self._new_message_id(chat["id"]),
                "from": user,
                "chat": chat,
                "date": int(time.time()),
                "document": self._document_object(stored),
            }
            if caption is not None:
                message["caption"] = caption
                ents = _auto_entities(caption, self.bot_username)
                if ents:
                    message["caption_entities"] = ents
            self._messages[(chat["id"], message["message_id"])] = message
            return self.add_update({"message": message})

    def press_button(
        self,
        user_id: int,
        message_id: int,
        data: str,
        chat_id: int | None = None,
        check_markup: bool = True,
    ) -> str:
        """Queue a callback_query for a bot message's inline button; return the query id.

        With ``check_markup`` (default) the message must currently carry an inline button with
        exactly this ``callback_data``, as a real user can only press existing buttons.
        """
        with self._cond:
            user = self._ensure_user(user_id)
            target_chat = chat_id if chat_id is not None else user_id
            message = self._messages.get((target_chat, message_id))
            if message is None:
                raise ValueError(f"no message {message_id} in chat {target_chat}")
            if message.get("from", {}).get("id") != self.bot_id:
                raise ValueError(
                    f"message {message_id} in chat {target_chat} was not sent by the bot"
                )
            if check_markup:
                buttons = [
                    button.get("callback_data")
                    for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
                    for button in row
                ]
                if data not in buttons:
                    raise AssertionError(
                        f"message {message_id} has no inline button with callback_data {data!r};"
                        f" buttons: {buttons!r}"
                    )
            query_id = f"{self.bot_id}{next(self._callback_counter):08d}"
            query = {
                "id": query_id,
                "from": user,
                "message": self._shallow_message(message),
                "chat_instance": str(abs(hash((self.bot_id, target_chat))) % 10**18),
                "data": data,
            }
            self._callback_queries[query_id] = {"answered": False, "query": query}
            self.add_update({"callback_query": query})
            return query_id

    def block(self, user_id: int) -> None:
        """Make every later send*/edit* to chat ``user_id`` fail with 403.

        A positive id gives "Forbidden: bot was blocked by the user"; a negative (group) id
        gives "Forbidden: bot was kicked from the group chat".
        """
        with self._cond:
            self._blocked.add(user_id)

    def unblock(self, user_id: int) -> None:
        """Undo :meth:`block`."""
        with self._cond:
            self._blocked.discard(user_id)

    def fail_next(
        self,
        method: str,
        error_code: int = 400,
        description: str = "Bad Request: injected failure",
        parameters: JSONDict | None = None,
    ) -> None:
        """Make the next call of ``method`` fail with the given error (calls stack up FIFO)."""
        with self._cond:
            self._faults.setdefault(method.lower(), deque()).append(
                ApiError(error_code, description, parameters)
            )

    def rate_limit_next(self, method: str, retry_after: int = 1) -> None:
        """Make the next call of ``method`` fail with 429 and ``parameters.retry_after``."""
        self.fail_next(
            method,
            429,
            f"Too Many Requests: retry after {retry_after}",
            {"retry_after": retry_after},
        )

    # ---------------------------------------------------------------- inspection helpers

    def messages_to(self, chat_id: int) -> list[Record]:
        """Return the sent records addressed to ``chat_id`` in order."""
        with self._cond:
            return [r for r in self.sent if r["chat_id"] == chat_id]

    def message(self, chat_id: int, message_id: int) -> JSONDict | None:
        """Return the current stored Message object (reflects edits; None if deleted/unknown)."""
        with self._cond:
            msg = self._messages.get((chat_id, message_id))
            return json.loads(json.dumps(msg)) if msg is not None else None

    def mark(self) -> int:
        """Return the current length of :attr:`sent`, for ``wait_for(..., since=mark)``."""
        with self._cond:
            return len(self.sent)

    def calls_of(self, method: str) -> list[JSONDict]:
        """Return the params of every call of ``method`` (case-insensitive)."""
        with self._cond:
            return [p for m, p in self.calls if m.lower() == method.lower()]

    def updates_confirmed(self) -> bool:
        """Return True when every queued update was fetched and confirmed via offset."""
        with self._cond:
            return not self._updates

    def pending_updates(self) -> list[JSONDict]:
        """Return the updates not yet confirmed by the bot."""
        with self._cond:
            return list(self._updates)

    def take_updates(self) -> list[JSONDict]:
        """Return the queued updates and forget them: Telegram's delivery, done by the test.

        In webhook mode nothing polls; a test delivers the updates itself (to one bot, or to
        several behind the load balancer it plays, see tests/e2e/replicas.py).
        """
        with self._cond:
            taken, self._updates = self._updates, []
            self._cond.notify_all()
            return json.loads(json.dumps(taken))

    def _dump(self, limit: int = 10) -> str:
        lines = [f"last {limit} sent records (of {len(self.sent)}):"]
        for record in self.sent[-limit:]:
            lines.append(
                "  {method} chat={chat_id} msg={message_id} text={text!r} markup={markup}".format(
                    method=record["method"],
                    chat_id=record["chat_id"],
                    message_id=record["message_id"],
                    text=record["text"][:300],
                    markup=json.dumps(record["reply_markup"])[:300]
                    if record["reply_markup"]
                    else None,
                )
            )
        if self.errors:
            lines.append(f"last errors returned to the bot (of {len(self.errors)}):")
            for err in self.errors[-5:]:
                lines.append(f"  {err['method']}: {err['error_code']} {err['description']}")
        recent = [m for m, _ in self.calls[-15:]]
        lines.append(f"last calls: {recent}")
        lines.append(f"pending updates: {len(self._updates)}")
        return "\n".join(lines)

    def _first_match(
        self, items: list[Any], predicate: Callable[[Any], bool] | None, since: int
    ) -> Any:
        for item in items[since:]:
            if predicate is None or predicate(item):
                return item
        return None

    def _block_until(self, find: Callable[[], Any], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = find()
                if found is not None:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no {what} matched within {timeout}s\n{self._dump()}")
                self._cond.wait(min(remaining, 0.5))

    async def _await_until(self, find: Callable[[], Any], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                found = find()
                if found is not None:
                    return found
                if time.monotonic() >= deadline:
                    raise AssertionError(f"no {what} matched within {timeout}s\n{self._dump()}")
            await asyncio.sleep(0.02)

    def _call_finder(
        self, method: str, predicate: Callable[[JSONDict], bool] | None, since: int
    ) -> Callable[[], JSONDict | None]:
        def find() -> JSONDict | None:
            for name, params in self.calls[since:]:
                if name.lower() == method.lower() and (predicate is None or predicate(params)):
                    return params
            return None

        return find

    def wait_for(
        self, predicate: Predicate | None = None, timeout: float = 20.0, since: int = 0
    ) -> Record:
        """Block until a sent record (index >= ``since``) matches ``predicate``; return it."""
        record: Record = self._block_until(
            lambda: self._first_match(self.sent, predicate, since), timeout, "sent record"
        )
        return record

    async def await_for(
        self, predicate: Predicate | None = None, timeout: float = 20.0, since: int = 0
    ) -> Record:
        """Await a matching sent record without blocking the event loop."""
        record: Record = await self._await_until(
            lambda: self._first_match(self.sent, predicate, since), timeout, "sent record"
        )
        return record

    def wait_for_edit(
        self, predicate: Predicate | None = None, timeout: float = 20.0, since: int = 0
    ) -> Record:
        """Block until an edit record (index >= ``since``) matches ``predicate``; return it."""
        record: Record = self._block_until(
            lambda: self._first_match(self.edited, predicate, since), timeout, "edit record"
        )
        return record

    async def await_edit(
        self, predicate: Predicate | None = None, timeout: float = 20.0, since: int = 0
    ) -> Record:
        """Await a matching edit record without blocking the event loop."""
        record: Record = await self._await_until(
            lambda: self._first_match(self.edited, predicate, since), timeout, "edit record"
        )
        return record

    def wait_for_call(
        self,
        method: str,
        predicate: Callable[[JSONDict], bool] | None = None,
        timeout: float = 20.0,
        since: int = 0,
    ) -> JSONDict:
        """Block until ``method`` was called with params matching ``predicate``; return params."""
        params: JSONDict = self._block_until(
            self._call_finder(method, predicate, since), timeout, f"{method} call"
        )
        return params

    async def await_call(
        self,
        method: str,
        predicate: Callable[[JSONDict], bool] | None = None,
        timeout: float = 20.0,
        since: int = 0,
    ) -> JSONDict:
        """Await a matching ``method`` call without blocking the event loop."""
        params: JSONDict = await self._await_until(
            self._call_finder(method, predicate, since), timeout, f"{method} call"
        )
        return params

    def wait_until_polling(self, timeout: float = 20.0, since: int = 0) -> None:
        """Block until the bot has issued a getUpdates call (at index >= ``since`` of the calls:
        a bot started after another one on this emulator is polling once it has called it)."""
        self.wait_for_call("getUpdates", timeout=timeout, since=since)

    def calls_mark(self) -> int:
        """Return the index the next call will have (for ``since=``)."""
        with self._lock:
            return len(self.calls)

    # ---------------------------------------------------------------- HTTP entry points

    def handle_api_request(
        self,
        token: str,
        method: str,
        raw_params: dict[str, Any],
        files: dict[str, tuple[str, bytes, str]],
    ) -> tuple[int, JSONDict]:
        """Execute one Bot API call and return (HTTP status, JSON body)."""
        if token != self.token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        canonical = _CANONICAL.get(method.lower())
        params = {k: _decode_form_value(k, v) for k, v in raw_params.items()}
        logged = dict(params)
        for name, (filename, content, mime) in files.items():
            logged[name] = {"filename": filename, "mime_type": mime, "size": len(content)}
        with self._cond:
            self.calls.append((canonical or method, logged))
            self._cond.notify_all()
        try:
            if canonical is None:
                raise ApiError(404, "Not Found: method not found")
            with self._cond:
                queue = self._faults.get(canonical.lower())
                if queue:
                    raise queue.popleft()
            handler = getattr(self, "_api_" + re.sub(r"(?<!^)(?=[A-Z])", "_", canonical).lower())
            result = handler(params, files)
        except ApiError as err:
            with self._cond:
                self.errors.append(
                    {
                        "method": canonical or method,
                        "params": logged,
                        "error_code": err.error_code,
                        "description": err.description,
                        "time": time.time(),
                    }
                )
                self._cond.notify_all()
            return err.error_code, err.payload()
        return 200, {"ok": True, "result": result}

    def handle_file_request(self, token: str, file_path: str) -> tuple[int, bytes | None]:
        """Return (status, bytes) for a file download."""
        if token != self.token:
            return 401, None
        with self._cond:
            stored = self._files_by_path.get(file_path)
            if stored is None or stored["content"] is None:
                return 404, None
            return 200, stored["content"]

    # ---------------------------------------------------------------- validation helpers

    def _chat_for(self, params: JSONDict, method: str) -> JSONDict:
        if "chat_id" not in params:
            raise _bad_request("chat_id is empty")
        raw = params["chat_id"]
        if isinstance(raw, str) and raw.startswith("@"):
            for known in self._chats.values():
                if known.get("username", "").lower() == raw[1:].lower():
                    chat_id = known["id"]
                    break
            else:
                raise _bad_request("chat not found")
        else:
            chat_id = _as_int(raw, "chat_id")
        if chat_id in self._blocked and method.lower().startswith(_BLOCKABLE_PREFIXES):
            if chat_id < 0:
                raise ApiError(403, "Forbidden: bot was kicked from the group chat")
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        chat = self._chats.get(chat_id)
        if chat is None:
            raise _bad_request("chat not found")
        return chat

    def _text_length(self, text: str) -> int:
        return utf16_len(text) if self.count_utf16 else len(text)

    def _parse_text(
        self,
        raw: Any,
        parse_mode: Any,
        entities: Any,
        max_length: int,
        empty_error: str | None,
        too_long_error: str,
    ) -> tuple[str, list[JSONDict]]:
        """Return (plain text, entities) for a text/caption parameter, validating like Telegram."""
        text = "" if raw is None else str(raw)
        mode = str(parse_mode).lower() if parse_mode else ""
        parsed_entities: list[JSONDict] = []
        if entities is not None and entities != "":
            parsed_entities = _as_obj(entities, "message entities")
            if not isinstance(parsed_entities, list):
                raise _bad_request("can't parse entities JSON object")
            plain = text
        elif mode == "html":
            try:
                plain, parsed_entities = parse_html(text)
            except EntityParseError as exc:
                raise _bad_request(f"can't parse entities: {exc}") from None
        elif mode in ("", "markdown", "markdownv2"):
            # Markdown modes are not parsed: the raw text is kept as the plain text.
            plain = text
        else:
            raise _bad_request(f"unsupported parse_mode {parse_mode}")
        if empty_error is not None and not plain.strip():
            raise _bad_request(empty_error)
        if self._text_length(plain) > max_length:
            raise _bad_request(too_long_error)
        return plain, parsed_entities

    def _parse_markup(self, value: Any) -> JSONDict | None:
        if value is None or value == "":
            return None
        markup = _as_obj(value, "reply keyboard markup")
        if not isinstance(markup, dict):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _bad_request(
                    'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
                )
            actions = (
                "callback_data",
                "url",
                "web_app",
                "login_url",
                "switch_inline_query",
                "switch_inline_query_current_chat",
                "switch_inline_query_chosen_chat",
                "copy_text",
                "callback_game",
                "pay",
            )
            for row in rows:
                for button in row:
                    if not isinstance(button, dict) or not button.get("text"):
                        raise _bad_request(_TEXT_BUTTONS_UNALLOWED)
                    present = [a for a in actions if a in button]
                    if len(present) != 1:
                        raise _bad_request(_TEXT_BUTTONS_UNALLOWED)
                    if "callback_data" in button:
                        data = button["callback_data"]
                        if (
                            not isinstance(data, str)
                            or not data
                            or len(data.encode("utf-8")) > MAX_CALLBACK_DATA_BYTES
                        ):
                            raise _bad_request("BUTTON_DATA_INVALID")
                    if "url" in button:
                        url = str(button["url"])
                        if not re.match(r"^(https?|tg)://\S+$", url):
                            raise _bad_request(
                                f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL"
                            )
        return markup

    def _reply_to(self, params: JSONDict, chat: JSONDict) -> tuple[int | None, JSONDict | None]:
        reply_id: int | None = None
        allow_without = _as_bool(params.get("allow_sending_without_reply", False))
        if params.get("reply_parameters") not in (None, ""):
            reply = _as_obj(params["reply_parameters"], "reply parameters")
            if isinstance(reply, dict) and "message_id" in reply:
                reply_id = _as_int(reply["message_id"], "reply_parameters")
                allow_without = _as_bool(reply.get("allow_sending_without_reply", allow_without))
        elif params.get("reply_to_message_id") not in (None, ""):
            reply_id = _as_int(params["reply_to_message_id"], "reply_to_message_id")
        if reply_id is None:
            return None, None
        replied = self._messages.get((chat["id"], reply_id))
        if replied is None:
            if allow_without:
                return None, None
            raise _bad_request("message to be replied not found")
        return reply_id, self._shallow_message(replied)

    def _store_file(
        self, content: bytes | None, filename: str | None, mime: str | None, folder: str
    ) -> JSONDict:
        number = next(self._file_counter)
        ext = ""
        if filename and "." in filename:
            ext = "." + filename.rsplit(".", 1)[1]
        elif mime in _IMAGE_EXTENSIONS:
            ext = _IMAGE_EXTENSIONS[mime]
        prefix = "AgAC" if folder == "photos" else "BQAC"
        stored: JSONDict = {
            "file_id": f"{prefix}{self.bot_id}x{number:06d}{secrets.token_hex(6)}",
            "file_unique_id": f"AQAD{number:06d}",
            "file_path": f"{folder}/file_{number}{ext}",
            "file_name": filename,
            "mime_type": mime,
            "content": content,
            "file_size": len(content) if content is not None else 0,
        }
        self._files[stored["file_id"]] = stored
        self._files_by_path[stored["file_path"]] = stored
        return stored

    def _document_object(self, stored: JSONDict) -> JSONDict:
        doc = {
            "file_id": stored["file_id"],
            "file_unique_id": stored["file_unique_id"],
            "file_size": stored["file_size"],
        }
        if stored.get("file_name"):
            doc["file_name"] = stored["file_name"]
        if stored.get("mime_type"):
            doc["mime_type"] = stored["mime_type"]
        return doc

    def _input_file(
        self,
        params: JSONDict,
        files: dict[str, tuple[str, bytes, str]],
        name: str,
        folder: str,
    ) -> JSONDict:
        """Resolve an InputFile parameter (upload, attach://, file_id or URL) to a stored file."""
        value = params.get(name)
        upload: tuple[str, bytes, str] | None = files.get(name)
        if upload is None and isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value[len("attach://") :])
        if upload is not None:
            filename, content, mime = upload
            if not content:
                raise _bad_request("file must be non-empty")
            if not mime or mime == "application/octet-stream":
                mime = _guess_mime(filename) or mime
            return self._store_file(content, filename, mime, folder)
        if not value:
            raise _bad_request(f"there is no {name} in the request")
        value = str(value)
        if value in self._files:
            return self._files[value]
        if re.match(r"^https?://", value):
            filename = value.rstrip("/").rsplit("/", 1)[-1] or "file"
            return self._store_file(None, filename, _guess_mime(filename), folder)
        raise _bad_request("wrong file identifier/HTTP URL specified")

    def _register_sent(
        self,
        method: str,
        chat: JSONDict,
        message: JSONDict,
        params: JSONDict,
        raw_text: str,
        plain: str,
        markup: JSONDict | None,
        reply_id: int | None,
        stored: JSONDict | None = None,
    ) -> Record:
        self._messages[(chat["id"], message["message_id"])] = message
        record: Record = {
            "method": method,
            "chat_id": chat["id"],
            "message_id": message["message_id"],
            "text": plain,
            "raw_text": raw_text,
            "parse_mode": params.get("parse_mode"),
            "entities": message.get("entities") or message.get("caption_entities") or [],
            "reply_markup": markup,
            "reply_to_message_id": reply_id,
            "document": stored["content"] if stored else None,
            "filename": stored["file_name"] if stored else None,
            "mime_type": stored["mime_type"] if stored else None,
            "file_id": stored["file_id"] if stored else None,
            "caption": plain if stored else None,
            "params": params,
            "message": message,
            "edited": False,
            "history": [],
            "time": time.time(),
        }
        self.sent.append(record)
        self._records_by_message[(chat["id"], message["message_id"])] = record
        self._cond.notify_all()
        return record

    def _base_message(self, chat: JSONDict, reply: JSONDict | None) -> JSONDict:
        message: JSONDict = {
            "message_id": self._new_message_id(chat["id"]),
            "from": self.bot_user,
            "chat": dict(chat),
            "date": int(time.time()),
        }
        if reply is not None:
            message["reply_to_message"] = reply
        return message

    # ---------------------------------------------------------------- API methods

    def _api_get_me(self, params: JSONDict, files: Any) -> JSONDict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _api_log_out(self, params: JSONDict, files: Any) -> bool:
        return True

    def _api_close(self, params: JSONDict, files: Any) -> bool:
        return True

    def _api_set_webhook(self, params: JSONDict, files: Any) -> bool:
        url = str(params.get("url") or "")
        with self._cond:
            if not url:
                self.webhook = None
            else:
                self.webhook = {
                    "url": url,
                    "allowed_updates": params.get("allowed_updates"),
                    "secret_token": params.get("secret_token"),
                    "max_connections": params.get("max_connections", 40),
                }
            if _as_bool(params.get("drop_pending_updates", False)):
                self._updates.clear()
            self._cond.notify_all()
        return True

    def _api_delete_webhook(self, params: JSONDict, files: Any) -> bool:
        with self._cond:
            self.webhook = None
            if _as_bool(params.get("drop_pending_updates", False)):
                self._updates.clear()
            self._cond.notify_all()
        return True

    def _api_get_webhook_info(self, params: JSONDict, files: Any) -> JSONDict:
        with self._cond:
            info: JSONDict = {
                "url": self.webhook["url"] if self.webhook else "",
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }
            if self.webhook:
                info["max_connections"] = self.webhook["max_connections"]
                if self.webhook.get("allowed_updates"):
                    info["allowed_updates"] = self.webhook["allowed_updates"]
            return info

    def _update_allowed(self, update: JSONDict) -> bool:
        kind = next((k for k in update if k != "update_id"), "")
        if not self._allowed_updates:
            return kind not in _DEFAULT_ALLOWED_EXCLUDED
        return kind in self._allowed_updates

    def _api_get_updates(self, params: JSONDict, files: Any) -> list[JSONDict]:
        offset = _as_int(params.get("offset", 0), "offset")
        limit = max(1, min(100, _as_int(params.get("limit", 100), "limit")))
        try:
            requested = float(params.get("timeout", 0) or 0)
        except (TypeError, ValueError):
            raise _bad_request("wrong parameter timeout in request") from None
        timeout = max(0.0, min(requested, self.max_poll_timeout))
        allowed = params.get("allowed_updates")
        with self._cond:
            if self.webhook:
                raise ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            self.polls += 1
            self._poll_generation += 1
            generation = self._poll_generation
            self._cond.notify_all()  # terminate a concurrent long poll with 409
            if allowed is not None and allowed != "":
                parsed = _as_obj(allowed, "allowed_updates")
                self._allowed_updates = list(parsed) if isinstance(parsed, list) else None
            if offset > 0:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            elif offset < 0:
                self._updates = self._updates[offset:]
            deadline = time.monotonic() + timeout
            while True:
                if generation != self._poll_generation:
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; make sure that only "
                        "one bot instance is running",
                    )
                self._updates = [u for u in self._updates if self._update_allowed(u)]
                if self._updates or self._stopping:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            self._cond.notify_all()  # updates_confirmed() may have changed
            delivered: list[JSONDict] = json.loads(json.dumps(self._updates[:limit]))
            return delivered

    def _api_send_message(self, params: JSONDict, files: Any) -> JSONDict:
        with self._cond:
            chat = self._chat_for(params, "sendMessage")
            if "text" not in params:
                raise _bad_request("message text is empty")
            raw_text = str(params["text"])
            plain, entities = self._parse_text(
                raw_text,
                params.get("parse_mode"),
                params.get("entities"),
                MAX_MESSAGE_LENGTH,
                "message text is empty",
                "message is too long",
            )
            markup = self._parse_markup(params.get("reply_markup"))
            reply_id, reply = self._reply_to(params, chat)
            message = self._base_message(chat, reply)
            message["text"] = plain
            if entities:
                message["entities"] = entities
            if markup and "inline_keyboard" in markup:
                message["reply_markup"] = markup
            self._register_sent(
                "sendMessage", chat, message, params, raw_text, plain, markup, reply_id
            )
            return message

    def _send_file(
        self, method: str, field: str, folder: str, params: JSONDict, files: Any
    ) -> JSONDict:
        with self._cond:
            chat = self._chat_for(params, method)
            raw_caption = params.get("caption")
            plain, entities = self._parse_text(
                raw_caption,
                params.get("parse_mode"),
                params.get("caption_entities"),
                MAX_CAPTION_LENGTH,
                None,
                "message caption is too long",
            )
            markup = self._parse_markup(params.get("reply_markup"))
            reply_id, reply = self._reply_to(params, chat)
            stored = self._input_file(params, files, field, folder)
            message = self._base_message(chat, reply)
            if field == "photo":
                width, height = _image_size(stored["content"] or b"")
                message["photo"] = [
                    {
                        "file_id": stored["file_id"],
                        "file_unique_id": stored["file_unique_id"],
                        "file_size": stored["file_size"],
                        "width": width,
                        "height": height,
                    }
                ]
            else:
                message["document"] = self._document_object(stored)
            if raw_caption:
                message["caption"] = plain
                if entities:
                    message["caption_entities"] = entities
            if markup and "inline_keyboard" in markup:
                message["reply_markup"] = markup
            self._register_sent(
                method,
                chat,
                message,
                params,
                str(raw_caption or ""),
                plain,
                markup,
                reply_id,
                stored,
            )
            return message

    def _api_send_document(self, params: JSONDict, files: Any) -> JSONDict:
        return self._send_file("sendDocument", "document", "documents", params, files)

    def _api_send_photo(self, params: JSONDict, files: Any) -> JSONDict:
        return self._send_file("sendPhoto", "photo", "photos", params, files)

    def _api_send_chat_action(self, params: JSONDict, files: Any) -> bool:
        with self._cond:
            self._chat_for(params, "sendChatAction")
            if str(params.get("action", "")) not in _CHAT_ACTIONS:
                raise _bad_request("wrong parameter action in request")
            return True

    def _editable(self, params: JSONDict, method: str) -> tuple[JSONDict, JSONDict]:
        if params.get("inline_message_id"):
            raise _bad_request("MESSAGE_ID_INVALID")
        chat = self._chat_for(params, method)
        if "message_id" not in params:
            raise _bad_request("message identifier is not specified")
        message_id = _as_int(params["message_id"], "message_id")
        message = self._messages.get((chat["id"], message_id))
        if message is None:
            raise _bad_request("message to edit not found")
        if message.get("from", {}).get("id") != self.bot_id:
            raise _bad_request("message can't be edited")
        return chat, message

    def _apply_edit(
        self,
        method: str,
        chat: JSONDict,
        message: JSONDict,
        params: JSONDict,
        changes: JSONDict,
        raw_text: str | None,
    ) -> JSONDict:
        """Apply ``changes`` (None values remove keys) or raise "message is not modified"."""
        new = dict(message)
        for key, value in changes.items():
            if value in (None, [], {}):
                new.pop(key, None)
            else:
                new[key] = value
        if new == message:
            raise _bad_request(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        new["edit_date"] = int(time.time())
        self._messages[(chat["id"], message["message_id"])] = new
        text = new.get("text", new.get("caption", ""))
        markup = new.get("reply_markup")
        edit: Record = {
            "method": method,
            "chat_id": chat["id"],
            "message_id": message["message_id"],
            "text": text,
            "raw_text": raw_text if raw_text is not None else text,
            "parse_mode": params.get("parse_mode"),
            "reply_markup": markup,
            "params": params,
            "message": new,
            "time": time.time(),
        }
        self.edited.append(edit)
        record = self._records_by_message.get((chat["id"], message["message_id"]))
        if record is not None:
            record["history"].append(
                {
                    "text": record["text"],
                    "raw_text": record["raw_text"],
                    "reply_markup": record["reply_markup"],
                }
            )
            record["text"] = text
            record["raw_text"] = edit["raw_text"]
            if "text" in changes or "caption" in changes:
                record["parse_mode"] = params.get("parse_mode")
                record["entities"] = new.get("entities") or new.get("caption_entities") or []
            record["reply_markup"] = markup
            record["message"] = new
            record["edited"] = True
        self._cond.notify_all()
        return new

    def _api_edit_message_text(self, params: JSONDict, files: Any) -> JSONDict:
        with self._cond:
            chat, message = self._editable(params, "editMessageText")
            if "text" not in message:
                raise _bad_request("there is no text in the message to edit")
            raw_text = str(params.get("text", ""))
            plain, entities = self._parse_text(
                raw_text,
                params.get("parse_mode"),
                params.get("entities"),
                MAX_MESSAGE_LENGTH,
                "message text is empty",
                "message is too long",
            )
            markup = self._parse_markup(params.get("reply_markup"))
            changes = {
                "text": plain,
                "entities": entities,
                # Omitting reply_markup removes the inline keyboard, as on Telegram.
                "reply_markup": markup if markup and "inline_keyboard" in markup else None,
            }
            return self._apply_edit("editMessageText", chat, message, params, changes, raw_text)

    def _api_edit_message_caption(self, params: JSONDict, files: Any) -> JSONDict:
        with self._cond:
            chat, message = self._editable(params, "editMessageCaption")
            if "text" in message:
                raise _bad_request("there is no caption in the message to edit")
            raw_caption = str(params.get("caption", "") or "")
            plain, entities = self._parse_text(
                raw_caption,
                params.get("parse_mode"),
                params.get("caption_entities"),
                MAX_CAPTION_LENGTH,
                None,
                "message caption is too long",
            )
            markup = self._parse_markup(params.get("reply_markup"))
            changes = {
                "caption": plain or None,
                "caption_entities": entities,
                "reply_markup": markup if markup and "inline_keyboard" in markup else None,
            }
            return self._apply_edit(
                "editMessageCaption", chat, message, params, changes, raw_caption
            )

    def _api_edit_message_reply_markup(self, params: JSONDict, files: Any) -> JSONDict:
        with self._cond:
            chat, message = self._editable(params, "editMessageReplyMarkup")
            markup = self._parse_markup(params.get("reply_markup"))
            changes = {"reply_markup": markup if markup and "inline_keyboard" in markup else None}
            return self._apply_edit("editMessageReplyMarkup", chat, message, params, changes, None)

    def _api_delete_message(self, params: JSONDict, files: Any) -> bool:
        with self._cond:
            chat = self._chat_for(params, "deleteMessage")
            message_id = _as_int(params.get("message_id"), "message_id")
            message = self._messages.pop((chat["id"], message_id), None)
            if message is None:
                raise _bad_request("message to delete not found")
            self.deleted.append(
                {"chat_id": chat["id"], "message_id": message_id, "time": time.time()}
            )
            self._cond.notify_all()
            return True

    def _api_answer_callback_query(self, params: JSONDict, files: Any) -> bool:
        with self._cond:
            query_id = str(params.get("callback_query_id", ""))
            query = self._callback_queries.get(query_id)
            if query is None or query["answered"]:
                raise _bad_request(
                    "query is too old and response timeout expired or query ID is invalid"
                )
            text = params.get("text")
            if text is not None and len(str(text)) > 200:
                raise _bad_request("MESSAGE_TOO_LONG")
            query["answered"] = True
            query["answer"] = params
            return True

    def _commands_key(self, params: JSONDict) -> tuple[str, str]:
        scope = params.get("scope")
        scope_obj = (
            _as_obj(scope, "bot command scope") if scope not in (None, "") else {"type": "default"}
        )
        return json.dumps(scope_obj, sort_keys=True), str(params.get("language_code") or "")

    def _api_set_my_commands(self, params: JSONDict, files: Any) -> bool:
        commands = _as_obj(params.get("commands", "[]"), "bot commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad_request("can't parse commands JSON object")
        for command in commands:
            if not isinstance(command, dict):
                raise _bad_request("can't parse commands JSON object")
            name = str(command.get("command", ""))
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise _bad_request("BOT_COMMAND_INVALID")
            description = str(command.get("description", ""))
            if not 1 <= len(description) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        with self._cond:
            self._commands[self._commands_key(params)] = [
                {"command": c["command"], "description": c["description"]} for c in commands
            ]
            return True

    def _api_get_my_commands(self, params: JSONDict, files: Any) -> list[JSONDict]:
        with self._cond:
            return list(self._commands.get(self._commands_key(params), []))

    def _api_delete_my_commands(self, params: JSONDict, files: Any) -> bool:
        with self._cond:
            self._commands.pop(self._commands_key(params), None)
            return True

    def commands(self, scope: JSONDict | None = None, language_code: str = "") -> list[JSONDict]:
        """Return the commands set for ``scope`` (default scope) and ``language_code``."""
        key = (json.dumps(scope or {"type": "default"}, sort_keys=True), language_code)
        with self._cond:
            return list(self._commands.get(key, []))

    def _api_set_my_description(self, params: JSONDict, files: Any) -> bool:
        return True

    def _api_set_my_short_description(self, params: JSONDict, files: Any) -> bool:
        return True

    def _api_set_my_name(self, params: JSONDict, files: Any) -> bool:
        return True

    def _api_set_chat_menu_button(self, params: JSONDict, files: Any) -> bool:
        return True

    def _api_get_file(self, params: JSONDict, files: Any) -> JSONDict:
        with self._cond:
            file_id = str(params.get("file_id", ""))
            stored = self._files.get(file_id)
            if stored is None:
                raise _bad_request("invalid file_id")
            if stored["file_size"] > MAX_DOWNLOAD_SIZE:
                raise _bad_request("file is too big")
            return {
                "file_id": stored["file_id"],
                "file_unique_id": stored["file_unique_id"],
                "file_size": stored["file_size"],
                "file_path": stored["file_path"],
            }


def _guess_mime(filename: str | None) -> str | None:
    import mimetypes

    if not filename:
        return None
    return mimetypes.guess_type(filename)[0]


# --------------------------------------------------------------------------------------------
# HTTP layer
# --------------------------------------------------------------------------------------------


def _make_handler(emulator: BotApiEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 60
        server_version = "BotApiEmulator/1.0"

        def log_message(self, format: str, *args: Any) -> None:
            """Silence the default stderr access log."""

        def _read_body(self) -> bytes:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        break
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                return b"".join(chunks)
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError, OSError):
                self.close_connection = True

        def _send_json(self, status: int, payload: JSONDict) -> None:
            self._send(
                status, json.dumps(payload, ensure_ascii=False).encode("utf-8"), "application/json"
            )

        def _handle(self) -> None:
            body = self._read_body()
            if emulator._stopping:
                # A stopped emulator drops kept-alive connections without answering.
                self.close_connection = True
                return
            url = urlsplit(self.path)
            path = unquote(url.path)
            file_match = re.fullmatch(r"/file/bot([^/]*)/(.+)", path)
            if file_match:
                status, content = emulator.handle_file_request(
                    file_match.group(1), file_match.group(2)
                )
                if content is None:
                    description = "Unauthorized" if status == 401 else "Not Found"
                    self._send_json(
                        status, {"ok": False, "error_code": status, "description": description}
                    )
                else:
                    self._send(200, content, "application/octet-stream")
                return
            api_match = re.fullmatch(r"/bot([^/]*)/([^/]*)/?", path)
            if not api_match:
                self._send_json(404, {"ok": False, "error_code": 404, "description": "Not Found"})
                return
            params: dict[str, Any] = dict(parse_qsl(url.query, keep_blank_values=True))
            files: dict[str, tuple[str, bytes, str]] = {}
            content_type = self.headers.get("Content-Type", "")
            main_type, type_params = _parse_header_params(content_type)
            try:
                if main_type == "application/json" and body:
                    decoded = json.loads(body.decode("utf-8"))
                    if not isinstance(decoded, dict):
                        raise ValueError("JSON body must be an object")
                    params.update(decoded)
                elif main_type == "application/x-www-form-urlencoded":
                    params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
                elif main_type == "multipart/form-data":
                    fields, files = _parse_multipart(body, type_params.get("boundary", ""))
                    params.update(fields)
            except (ValueError, UnicodeDecodeError) as exc:
                self._send_json(
                    400,
                    {
                        "ok": False,
                        "error_code": 400,
                        "description": f"Bad Request: can't parse request: {exc}",
                    },
                )
                return
            status, payload = emulator.handle_api_request(
                api_match.group(1), api_match.group(2), params, files
            )
            self._send_json(status, payload)

        def do_POST(self) -> None:
            """Handle a POST request."""
            self._handle()

        def do_GET(self) -> None:
            """Handle a GET request."""
            self._handle()

    return Handler


def html_escape(text: str) -> str:
    """Escape ``text`` for Telegram's HTML parse mode."""
    return html.escape(text, quote=False)


def iter_buttons(markup: JSONDict | None) -> Iterable[JSONDict]:
    """Yield every button of an inline keyboard markup dict."""
    for row in (markup or {}).get("inline_keyboard", []):
        yield from row
