"""Asking and what surrounds it: greeting, help, role, language, sources, votes, escalation."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import replace

from bot.accounts.service import InviteError, Person
from bot.answering.llm import StreamingAnswerer
from bot.app.base import LANGUAGE_NAMES, UseCases, expired
from bot.app.messages import Actor, Button, Draft, Out, Reply
from bot.domain import Answer, Asker, Role, city_key
from bot.followup.webinars import WebinarError, code_from_payload
from bot.i18n import LANGUAGES, t
from bot.retrieval.access import AccessScope
from bot.retrieval.endpoint import EmbedderUnavailable

log = logging.getLogger(__name__)
_VOTE = re.compile(r"v:([0-9]{1,9}):(1|-1)")


class Questions(UseCases):
    """Everyone's use cases: /start, /help, /whoami, /language, /sources, a question, a vote."""

    def capabilities(self, person: Person, attendee: bool = False) -> str:
        """Say what the person's role allows."""
        if person.role is Role.STAFF:
            return self.t("cap_staff", person.language)
        if person.role is Role.PARTNER:
            return self.t("cap_partner", person.language, city=person.partner)
        return self.t("cap_attendee" if attendee else "cap_public", person.language)

    def start(self, actor: Actor, payload: str) -> Reply:
        """Greet; redeem a partner invite or join a webinar when the link carries one."""
        person = self.who(actor)
        reply = Reply()
        if payload.startswith("join_"):
            try:
                city = self.svc.accounts.redeem(payload.removeprefix("join_"), person.user_id)
            except InviteError as exc:
                return Reply.say(self.t(exc.reason, person.language))
            log.info("user %s joined as partner of %s", person.user_id, city)
            person = self.svc.accounts.person(person.user_id)
            reply.messages.append(Out(self.t("invite_welcome", person.language, city=city)))
        code = code_from_payload(payload)
        if code is not None:
            # attendees come from the closing slide: they may ask even when public access is off
            try:
                webinar = self.svc.webinars.register(person.user_id, code, person.language)
            except WebinarError as exc:
                return Reply.say(self.t(exc.reason, person.language))
            return Reply.say(self.t("webinar_welcome", person.language, title=webinar.title))
        self.allowed(person)
        text = "\n\n".join(
            [
                self.t("start", person.language, name=actor.first_name),
                self.capabilities(person),
                self.t("help_common", person.language),
            ]
        )
        reply.messages.append(Out(text))
        return reply

    def help(self, actor: Actor, _args: str = "") -> Reply:
        """List what this person can do."""
        person = self.who(actor)
        self.allowed(person)
        attendee, _ = self.attendee(person)
        lines = [
            self.capabilities(person, attendee is not None),
            self.t("help_common", person.language),
        ]
        if person.role is Role.STAFF:
            lines.append(self.t("help_staff", person.language))
        if person.is_admin:
            lines.append(self.t("help_admin", person.language))
        if actor.in_group:
            lines.append(self.t("group_hint", person.language))
        return Reply.say("\n\n".join(lines))

    def whoami(self, actor: Actor, _args: str = "") -> Reply:
        """Show the person's role, partner city and language."""
        person = self.who(actor)
        lang = person.language
        return Reply.say(
            self.t(
                "whoami",
                lang,
                role=self.t(f"role_{person.role.value}", lang),
                city=person.partner or self.t("none", lang),
                language=LANGUAGE_NAMES[lang],
            )
        )

    def language(self, actor: Actor, args: str = "") -> Reply:
        """Set the language from an argument, or offer one button per language."""
        person = self.who(actor)
        choice = args.strip().lower()[:2]
        if choice in LANGUAGES:
            self.svc.accounts.set_language(person.user_id, choice)
            return Reply.say(self.t("language_set", choice))
        rows = [[Button(LANGUAGE_NAMES[code], f"lang:{code}")] for code in LANGUAGES]
        return Reply.say(self.t("language_choose", person.language), rows)

    def language_button(self, actor: Actor, data: str) -> Reply:
        """Store the language picked with a button."""
        code = data.removeprefix("lang:")
        if code not in LANGUAGES:
            return expired(self.known(actor))
        self.svc.accounts.set_language(actor.user_id, code)
        return Reply(edit=Out(self.t("language_set", code)))

    def sources(self, actor: Actor, _args: str = "") -> Reply:
        """Show the documents behind the person's last answer in this chat."""
        person = self.who(actor)
        last = self.svc.feedback.last_answer(person.user_id, actor.chat_id)
        # checked again as of now: a group's level lowered, a role revoked or a document made
        # internal since the answer hides what the chat may no longer see
        scope = AccessScope(self.current_asker(actor, person))
        shown = [src for src in (last.sources if last else []) if self._visible(scope, src)]
        if last is None or not shown:
            return Reply.say(t("sources_none", person.language))
        return Reply(messages=[Out(sources=(last.question, shown, person.language))])

    def current_asker(self, actor: Actor, person: Person) -> Asker:
        """Return what the actor may be shown in this chat now (as a question would be)."""
        attendee, closed = self.attendee(person) if not actor.in_group else (None, False)
        if attendee is not None and not closed:
            return attendee
        return self.svc.accounts.asker_in_chat(person, actor.chat_id, actor.in_group)

    def _visible(self, scope: AccessScope, source: dict[str, object]) -> bool:
        """Tell whether a logged source's document (as it is now) is visible in the scope."""
        meta = self.svc.store.document(str(source.get("source", "")))
        if meta is None:  # removed since: nothing left to show
            return False
        return scope.allows(meta.visibility.value, city_key(meta.partner), meta.webinar)

    # ------------------------------------------------------------ a question

    def attendee(self, person: Person) -> tuple[Asker | None, bool]:
        """Return (the attendee identity, whether their webinar is closed) for a public user."""
        if person.role is not Role.PUBLIC:  # staff and partners keep their own, wider rights
            return None, False
        return self.svc.webinars.attendee_asker(person.user_id)

    def ask(
        self,
        actor: Actor,
        text: str,
        person: Person | None = None,
        working: Callable[[], None] | None = None,
        draft: Draft | None = None,
    ) -> Reply:
        """Answer a question with sources and vote buttons; escalate what cannot be answered.

        The limits (length, rate), the access of the asker in this chat, the question log and
        the escalation to staff are the same for every front-end. `working` is called once the
        question passed them, before the answer is looked for. With a `draft` and a model that
        streams (STREAM_ANSWERS), the answer is shown through it while it is written, and the
        answer's message in the reply is marked as its finished form.
        """
        person = person or self.who(actor)
        attendee, closed = self.attendee(person) if not actor.in_group else (None, False)
        if closed:
            # the webinar's follow-up has ended: a former attendee asks as the public does
            attendee = None
            if not self.svc.accounts.may_use(person):
                return Reply.say(self.t("webinar_closed", person.language))
        if attendee is None:
            self.allowed(person)
        if not text.strip():
            return Reply.say(t("help_common", person.language))
        # the limit counts every attempt, an over-long one too: a flood of those is a flood
        limiter = self.svc.question_limiter
        wait = limiter.check(person.user_id)
        if wait:
            if limiter.told(person.user_id):
                return Reply()  # told once this window; more notices would feed the flood
            return Reply.say(t("rate_limited", person.language, seconds=max(1, round(wait))))
        limit = self.svc.settings.max_question_chars
        if len(text) > limit:
            return Reply.say(t("question_too_long", person.language, length=len(text), limit=limit))
        asker = attendee or self.svc.accounts.asker_in_chat(person, actor.chat_id, actor.in_group)
        if working is not None:
            working()
        answerer, streaming = self.svc.answerer, False
        try:
            if (
                draft is not None
                and self.svc.settings.stream_answers
                and isinstance(answerer, StreamingAnswerer)
            ):
                answer, streaming = answerer.answer_streaming(text, asker, draft.write), True
            else:
                answer = answerer.answer(text, asker)
        except EmbedderUnavailable as exc:
            # the question is logged and, as any unanswered one, goes to the office: not lost
            log.error("cannot answer: %s", exc)
            answer = Answer(
                text,
                t("search_unavailable", person.language),
                (),
                False,
                person.language,
                mode="unavailable",
            )
        answer_id = self.svc.feedback.log(person.user_id, actor.chat_id, asker, answer)
        log.info(
            "answered: grounded=%s sources=%d %.0f ms",
            answer.grounded,
            len(answer.citations),
            answer.latency_ms,
        )
        votes = [[Button("👍", f"v:{answer_id}:1"), Button("👎", f"v:{answer_id}:-1")]]
        if answer.mode == "unavailable":
            votes = []  # nothing was answered to vote on
        # what the bot cannot answer goes to the office; the asker hears back in this chat
        unanswered = not answer.grounded and person.role is not Role.STAFF and not actor.in_group
        notice = None
        if unanswered and closed:
            # the follow-up period is over: nobody at the office takes it up any more
            notice = self.t("webinar_closed", person.language)
        elif unanswered and self.escalate(answer_id, "ungrounded"):
            notice = self.t("escalated", person.language)
        if notice is not None:
            # said under the answer, in its message: a second message would cost the asker a
            # notification and the bot a request of Telegram's budget (30 a second)
            answer = replace(answer, text=f"{answer.text}\n\n{notice}")
        return Reply(messages=[Out(answer=answer, buttons=votes, draft=streaming)])

    def vote(self, actor: Actor, data: str) -> Reply:
        """Store a 👍/👎 on an answer; a 👎 from anyone but staff goes to the office."""
        person = self.known(actor)
        found = _VOTE.fullmatch(data)
        if found is None:
            return expired(person)
        answer_id, value = int(found.group(1)), int(found.group(2))
        accepted = self.svc.feedback.vote(answer_id, actor.user_id, value)
        reply = Reply(
            toast=self.t("vote_thanks" if accepted else "vote_not_yours", person.language)
        )
        if not accepted:
            return reply
        reply.remove_buttons = True
        downvoted = value == -1 and person.role is not Role.STAFF
        if downvoted and self.escalate(answer_id, "downvote", actor.in_group):
            self.deliver(Out(self.t("escalated", person.language), chat_id=actor.user_id))
        return reply
