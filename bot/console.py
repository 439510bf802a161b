"""The console chat: the same use cases as Telegram, typed in a terminal.

The console is one person (user id 0) in a private chat. Buttons are printed numbered; typing a
number presses one, so /meet is a typed dialogue. Messages the application sends to other people
(invites, posts to staff) are printed with their recipient.
"""

from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from bot.app.core import App
from bot.app.messages import Actor, Button, Out, Reply
from bot.domain import Answer, Role
from bot.i18n import t
from bot.services import Services

CONSOLE_USER = 0  # never a Telegram user id (those start at 1)


def answer_text(answer: Answer) -> str:
    """Render an answer for a terminal: the text, then the sources it cites."""
    return "\n".join([answer.text, *sources_lines(answer)])


def sources_lines(answer: Answer) -> list[str]:
    """Return the lines under an answer's text: the sources it cites (none without any)."""
    if not answer.cited:
        return []
    lines = ["", f"{t('sources', answer.language)}:"]
    for c in answer.cited:
        where = f" — {c.shown_heading}" if c.shown_heading else ""
        lines.append(f"  [{c.n}] {c.title}{where} ({c.source})")
    return lines


class ConsoleDraft:
    """The application's Draft in a terminal: the answer printed as it is written."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.printed = ""

    def write(self, text: str) -> None:
        """Print what the answer gained since the last call."""
        if not text.startswith(self.printed):  # rewritten (a citation dropped): the end shows it
            return
        self.out.write(text[len(self.printed) :])
        self.out.flush()
        self.printed = text


class Console:
    """Reads lines, calls the application, prints what it answers."""

    def __init__(self, services: Services, out: TextIO = sys.stdout) -> None:
        self.out = out
        self.buttons: list[Button] = []
        # message ids unique across runs: a post remembered in the database never matches a new one
        self._ids = itertools.count(time.time_ns() // 1_000_000)
        self.prompt: int | None = None  # the message just sent to the console, which a line answers
        self.actor = Actor(CONSOLE_USER, CONSOLE_USER, first_name="console")
        self.app = App(services, self)
        self.folder = services.settings.bot_data_dir / "console"

    # ------------------------------------------------------------ the outbox

    def send(self, out: Out) -> int:
        """Print a message the application sends to someone's chat; return its id."""
        message_id = next(self._ids)
        if out.chat_id == CONSOLE_USER:
            self.render(out)
            self.prompt = message_id
        else:
            self.print(f"(→ {out.chat_id}) {out.text}".rstrip())
            if out.file is not None:
                self.print(f"(→ {out.chat_id}) [{out.file.name}, {len(out.file.content)} bytes]")
        return message_id

    # ------------------------------------------------------------ rendering

    def print(self, text: str) -> None:
        """Write a line to the terminal."""
        print(text, file=self.out, flush=True)

    def render(self, out: Out, draft: ConsoleDraft | None = None) -> None:
        """Print one message: text or answer, a saved file, numbered buttons.

        An answer printed while it was written gets its sources under it, or is printed again
        in full when it ended otherwise (a stream that broke off).
        """
        if out.answer is not None and out.draft and draft is not None and draft.printed:
            self.print("")
            if out.answer.text == draft.printed:
                lines = sources_lines(out.answer)
                if lines:
                    self.print("\n".join(lines))
            else:
                self.print("")
                self.print(answer_text(out.answer))
        elif out.answer is not None:
            self.print(answer_text(out.answer))
        elif out.sources is not None:
            question, sources, lang = out.sources
            self.print(t("sources_header", lang, question=question))
            for src in sources:
                excerpt = " ".join(str(src.get("text", "")).split())[:300]
                self.print(f"[{src['n']}] {src['title']} ({src['source']})\n    {excerpt}")
        elif out.text:
            self.print(out.text)
        if out.file is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / Path(out.file.name).name
            path.write_bytes(out.file.content)
            self.print(f"[{path}]")
        for row in out.buttons:
            for button in row:
                self.buttons.append(button)
                self.print(f"  {len(self.buttons)}) {button.label}")

    def show(self, reply: Reply, draft: ConsoleDraft | None = None) -> None:
        """Print a reply: its toast, the edited message, then its messages."""
        if reply.toast:
            self.print(reply.toast)
        if reply.edit is not None:
            self.render(reply.edit)
        for out in reply.messages:
            self.render(out, draft)
        self.print("")

    # ------------------------------------------------------------ one line typed

    def handle(self, line: str) -> None:
        """Act on one typed line: a number presses a button, /x is a command, else text."""
        offered, self.buttons = self.buttons, []
        reply_to, self.prompt = self.prompt, None
        if line.isdecimal() and 1 <= int(line) <= len(offered):
            pressed = offered[int(line) - 1]
            self.show(self.app.button(self.actor, pressed.data))
        elif line.isdecimal() and offered and reply_to is None:
            # a number beside the buttons shown is a mistyped press, not a question: say so and
            # keep the buttons
            self.buttons = offered
            self.print(f"There is no button {line}: type a number from 1 to {len(offered)}.\n")
        elif line.startswith("/"):
            head, _, args = line.partition(" ")
            self.show(self.app.command(self.actor, head[1:], args.strip()))
        else:
            # a line right after a prompt (a staff answer, a survey comment) replies to it;
            # an answer a model writes is printed as it comes
            draft = ConsoleDraft(self.out)
            self.show(self.app.text(self.actor, line, reply_to, draft=draft), draft)

    def run(self, lines: Iterable[str]) -> None:
        """Handle lines until they end or /quit."""
        self.print(
            "Exchange Bot — ask about agreements, manuals and proceedings. "
            "/help lists what you can do, /quit leaves."
        )
        for raw in lines:
            line = raw.strip()
            if line in ("/quit", "/exit"):
                break
            if line:
                self.handle(line)


def console_services(services: Services, role: Role, partner: str | None) -> Services:
    """Make the console's person the given role: staff, a partner city's official, or public."""
    accounts = services.accounts
    if role is Role.STAFF:
        accounts.staff_ids = accounts.staff_ids | {CONSOLE_USER}
        return services
    accounts.revoke(CONSOLE_USER)
    if role is Role.PARTNER:
        invite = accounts.create_invite(partner or "", CONSOLE_USER)
        accounts.redeem(invite.code, CONSOLE_USER)
    return services


def prompt_lines(stdin: TextIO = sys.stdin) -> Iterable[str]:
    """Yield typed lines with a prompt on a terminal, plain lines from a pipe."""
    interactive = stdin.isatty()
    while True:
        try:
            line = input("> ") if interactive else stdin.readline()
        except EOFError:
            return
        if not interactive and not line:
            return
        yield line
