"""What every group of use cases shares: the services, the outbox, the flows, who acts."""

from __future__ import annotations

import logging

from bot.accounts.service import Person
from bot.app.messages import Actor, Button, Out, Outbox, Reply, Undeliverable
from bot.domain import Role
from bot.followup.escalation import EscalationItem
from bot.i18n import t
from bot.services import Services
from bot.storage.flows import FlowStore

log = logging.getLogger(__name__)

LANGUAGE_NAMES = {"ko": "한국어", "en": "English", "de": "Deutsch", "vi": "Tiếng Việt"}


class Refused(Exception):
    """A use case refuses the act; the reply says why (staff only, bad usage, ...)."""

    def __init__(self, reply: Reply) -> None:
        super().__init__("refused")
        self.reply = reply


def expired(person: Person) -> Reply:
    """Return the answer to a button of a finished, older or forged offer."""
    return Reply(toast=t("offer_expired", person.language), alert=True)


class UseCases:
    """A group of use cases over the wired services; front-ends never reach past it."""

    bot_username = ""  # set by the front-end once it knows it (invite and webinar links)

    def __init__(self, services: Services, outbox: Outbox, flows: FlowStore) -> None:
        self.svc = services
        self.outbox = outbox
        self.flows = flows

    def t(self, key: str, lang: str, /, **values: object) -> str:
        """Return a string in the reader's language with the office's name, home and example."""
        return self.svc.office.t(key, lang, **values)

    def who(self, actor: Actor) -> Person:
        """Record the actor (name, Telegram language) and return who they are."""
        return self.svc.accounts.touch(
            actor.user_id, actor.first_name, actor.username, actor.language_code
        )

    def known(self, actor: Actor) -> Person:
        """Return who the actor is without recording anything (a pressed button)."""
        return self.svc.accounts.person(actor.user_id)

    def staff(self, person: Person) -> None:
        """Refuse anyone but staff."""
        if person.role is not Role.STAFF:
            raise Refused(Reply.say(self.t("staff_only", person.language)))

    def admin(self, person: Person) -> None:
        """Refuse anyone but administrators."""
        if not person.is_admin:
            raise Refused(Reply.say(self.t("admin_only", person.language)))

    def allowed(self, person: Person) -> None:
        """Refuse a public user politely when public access is off."""
        if not self.svc.accounts.may_use(person):
            raise Refused(Reply.say(self.t("not_allowed", person.language)))

    def deliver(self, out: Out) -> int | None:
        """Send a message to someone else's chat; return its id, or None when it cannot arrive."""
        try:
            return self.outbox.send(out)
        except Undeliverable as exc:
            log.info("a message was not delivered: %s", exc)  # (no chat id: it names a person)
            return None

    # ------------------------------------------------------------ escalation to staff

    def escalate(self, answer_id: int, reason: str, in_group: bool = False) -> bool:
        """Queue a logged answer for staff and post it; return True when it is newly queued.

        `in_group`: the answer was given in a group chat, which the item remembers.
        """
        item = self.svc.escalations.escalate_answer(answer_id, reason, in_group)
        if item is None or not item.is_new:
            return False
        self.post_to_staff(item)
        return True

    def staff_targets(self) -> list[int]:
        """Return where escalations are posted: the staff chat, else each staff member."""
        if self.svc.settings.staff_chat_id is not None:
            return [self.svc.settings.staff_chat_id]
        return sorted(self.svc.accounts.staff_ids)

    def post_to_staff(self, item: EscalationItem) -> None:
        """Post a queued question to the staff chat (or each staff member) with its buttons."""
        for chat_id in self.staff_targets():
            self.post_item(item, chat_id)

    def post_item(self, item: EscalationItem, chat_id: int) -> bool:
        """Post a queued question with its buttons to one chat and remember the post.

        A private chat gets it in that staff member's language, a group in English.
        """
        lang = self.svc.accounts.person(chat_id).language if chat_id > 0 else "en"
        webinar = f", {item.webinar}" if item.webinar else ""
        text = self.t(
            "esc_post",
            lang,
            id=item.id,
            reason=self.t(f"esc_reason_{item.reason}", lang),
            webinar=webinar,
            language=item.language,
            question=item.question,
        )
        if item.in_group:  # staff must know an answer could be read by a whole group
            text += "\n" + t("esc_from_group", lang)
        rows = [
            [
                Button(self.t("esc_btn_answer", lang), f"esc:ans:{item.id}"),
                Button(self.t("esc_btn_mine", lang), f"esc:mine:{item.id}"),
                Button(self.t("esc_btn_dismiss", lang), f"esc:dis:{item.id}"),
            ]
        ]
        message_id = self.deliver(Out(text, chat_id=chat_id, buttons=rows))
        if message_id is None:
            return False
        self.svc.escalations.record_post(item.id, chat_id, message_id)
        return True
