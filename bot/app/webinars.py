"""Webinar follow-up: webinars, the escalation queue and staff answers, curated answers, survey,
report, broadcast."""

from __future__ import annotations

import logging
import re
import time
from datetime import date, timedelta

from bot.accounts.service import Person
from bot.app.base import Refused, UseCases, expired
from bot.app.messages import (
    Actor,
    Button,
    File,
    Out,
    Reply,
    Undeliverable,
    quote_and_split,
    shorten,
)
from bot.domain import Role
from bot.followup.broadcast import BroadcastStore, Claimed, RecipientBlocked, broadcast
from bot.followup.escalation import EscalationError, EscalationItem
from bot.followup.report import build_report
from bot.followup.survey import SurveyError
from bot.followup.webinars import Webinar, WebinarError, deep_link, qr_png
from bot.i18n import LANGUAGES, t
from bot.storage.inbox import HANDLING

log = logging.getLogger(__name__)

SURVEY = "survey_comment"
_ESC = re.compile(r"esc:(ans|mine|dis|grp|retry):([0-9]{1,9})")
_CUR = re.compile(r"cur:([0-9]{1,9}):(public|internal|webinar|-)")
_SURVEY = re.compile(r"sv:([\w-]{1,32}):([1-5])")


class Webinars(UseCases):
    """Staff run webinars and the queue of unanswered questions; attendees rate and comment."""

    # ------------------------------------------------------------ /webinar

    def webinar(self, actor: Actor, args: str) -> Reply:
        """`/webinar new DATE LANG TITLE`, `/webinar close CODE`, `/webinar list`."""
        person = self.who(actor)
        self.staff(person)
        words = args.split()
        lang = person.language
        if len(words) >= 4 and words[0] == "new":
            try:
                day = date.fromisoformat(words[1])
            except ValueError:
                day = None
            if day is None or words[2] not in LANGUAGES:
                return Reply.say(self.t("webinar_usage", lang))
            title = " ".join(words[3:])[:200]
            webinar = self.svc.webinars.create(title, day, words[2], person.user_id)
            link = deep_link(self.bot_username, webinar.code)
            text = self.t(
                "webinar_created",
                lang,
                title=webinar.title,
                date=webinar.date,
                language=webinar.language,
                code=webinar.code,
                link=link,
            )
            qr = File(f"webinar-{webinar.code}.png", qr_png(link), photo=True)
            return Reply(messages=[Out(text), Out(file=qr)])
        if len(words) == 2 and words[0] == "close":
            try:
                self.svc.webinars.close(words[1])
            except WebinarError as exc:
                return Reply.say(self.t(exc.reason, lang))
            return Reply.say(self.t("webinar_closed_ok", lang, code=words[1]))
        if words[:1] == ["list"]:
            items = self.svc.webinars.list()
            if not items:
                return Reply.say(self.t("webinar_list_none", lang))
            counts = self.svc.webinars.attendee_counts()
            return Reply.say(
                "\n".join(
                    f"{w.code} · {w.date} · {w.language} · {'open' if w.is_open else 'closed'} · "
                    f"{w.title} · {counts.get(w.code, 0)}"
                    for w in items
                )
            )
        return Reply.say(self.t("webinar_usage", lang))

    # ------------------------------------------------------------ the queue

    def escalation_button(self, actor: Actor, data: str, chat_id: int, text: str) -> Reply:
        """Answer / Assign to me / Dismiss on an escalation post (`text` is the post's text)."""
        person = self.known(actor)
        if person.role is not Role.STAFF:
            return Reply(toast=self.t("staff_only", person.language), alert=True)
        found = _ESC.fullmatch(data)
        if found is None:
            return expired(person)
        action, item_id, lang = found.group(1), int(found.group(2)), person.language
        if action in ("grp", "retry"):
            return self._deliver_kept(person, item_id, into_group=action == "grp")
        try:
            if action == "ans":
                if self.svc.escalations.get(item_id) is None:
                    return expired(person)
                prompt = self.t("esc_answer_prompt", lang, id=item_id)
                message_id = self.deliver(Out(prompt, chat_id=chat_id))
                if message_id is not None:  # a reply to the prompt is the answer
                    self.svc.escalations.record_post(item_id, chat_id, message_id)
                return Reply()
            if action == "mine":
                self.svc.escalations.assign(item_id, person.user_id)
                note = self.t("esc_assigned", lang, id=item_id, name=actor.first_name)
            else:
                self.svc.escalations.dismiss(item_id, person.user_id)
                note = self.t("esc_dismissed", lang, id=item_id)
        except EscalationError as exc:
            return Reply(toast=self.t(exc.reason, lang), alert=True)
        keep = [] if action == "dis" else self._post_buttons(item_id, lang)
        return Reply(toast=note, edit=Out(f"{text}\n\n{note}", buttons=keep))

    def _post_buttons(self, item_id: int, lang: str) -> list[list[Button]]:
        return [
            [
                Button(self.t("esc_btn_answer", lang), f"esc:ans:{item_id}"),
                Button(self.t("esc_btn_mine", lang), f"esc:mine:{item_id}"),
                Button(self.t("esc_btn_dismiss", lang), f"esc:dis:{item_id}"),
            ]
        ]

    def is_staff_reply(self, actor: Actor, reply_to: int | None) -> bool:
        """Tell whether a message replies to an escalation post (or its answer prompt)."""
        if reply_to is None or actor.user_id not in self.svc.accounts.staff_ids:
            return False
        return self.svc.escalations.find_by_post(actor.chat_id, reply_to) is not None

    def staff_reply(self, actor: Actor, reply_to: int, text: str) -> Reply:
        """Take a staff reply to an escalation post as the answer."""
        person = self.who(actor)
        self.staff(person)
        item = self.svc.escalations.find_by_post(actor.chat_id, reply_to)
        if item is None:
            return Reply.say(self.t("offer_expired", person.language))
        return self.answer_item(person, item.id, text)

    def reply(self, actor: Actor, args: str) -> Reply:
        """`/reply ID text`: answer a queued question."""
        person = self.who(actor)
        self.staff(person)
        parts = args.split(None, 1)
        if len(parts) < 2 or not parts[0].lstrip("#").isdecimal() or len(parts[0]) > 9:
            return Reply.say(self.t("reply_usage", person.language))
        return self.answer_item(person, int(parts[0].lstrip("#")), parts[1])

    def answer_item(self, person: Person, item_id: int, text: str) -> Reply:
        """Keep the staff answer, deliver it to the asker, and offer to curate it."""
        try:
            item = self.svc.escalations.claim(item_id, person.user_id, text)
        except EscalationError as exc:
            return Reply.say(t(exc.reason, person.language))
        return self._deliver_answer(person, item, into_group=False)

    def _deliver_answer(self, person: Person, item: EscalationItem, into_group: bool) -> Reply:
        """Send a claimed item's answer where it belongs and tell staff how it went.

        Only the asker's own chat gets it: nothing one attendee writes reaches another. A
        question from a group is answered privately; into the group only once staff chose so.
        The item is answered only when the answer arrived, or can never arrive (the asker
        blocked the bot) and staff are told; any other failure leaves it open with a retry.
        """
        lang, answer = person.language, item.staff_answer or ""
        privately = item.in_group and not into_group
        target = item.user_id if privately else item.chat_id
        key = "staff_answer_private" if privately else "staff_answer"

        def render(quote: str, body: str) -> str:
            return self.t(key, item.language, question=quote, answer=body)

        # the answer is never cut: the quoted question gives way, then the answer is split
        try:
            for body in quote_and_split(render, item.question, answer):
                self.outbox.send(Out(body, chat_id=target))
        except Undeliverable as exc:
            log.info("answer to #%s not delivered: %s", item.id, exc)
            if privately:
                self.svc.escalations.release(item.id, "private chat unreachable")
                rows = [
                    [Button(t("esc_btn_group", lang), f"esc:grp:{item.id}")],
                    [Button(t("esc_btn_retry", lang), f"esc:retry:{item.id}")],
                ]
                return Reply.say(t("esc_group_confirm", lang, id=item.id), rows)
            if not exc.blocked:
                self.svc.escalations.release(item.id, str(exc))
                retry = [[Button(t("esc_btn_retry", lang), f"esc:retry:{item.id}")]]
                reason = shorten(str(exc), 200)
                return Reply.say(t("esc_delivery_failed", lang, id=item.id, reason=reason), retry)
            # blocked (or the group removed the bot): it can never arrive; staff are told here
            self.svc.escalations.delivered(item.id)
            reply = Reply(messages=[Out(t("esc_undeliverable", lang, id=item.id))])
            reply.messages.append(self._curation(item, lang, "esc_delivered"))
            return reply
        self.svc.escalations.delivered(item.id)
        done = "esc_delivered_private" if privately else "esc_delivered"
        return Reply(messages=[self._curation(item, lang, done)])

    def _curation(self, item: EscalationItem, lang: str, key: str) -> Out:
        """Return the message that asks staff whether (and for whom) the answer teaches the bot."""
        scopes = ["public", "internal"] + (["webinar"] if item.webinar else [])
        rows = [[Button(t(f"curated_{s}", lang), f"cur:{item.id}:{s}")] for s in scopes]
        rows.append([Button(t("curated_skip", lang), f"cur:{item.id}:-")])
        return Out(t(key, lang, id=item.id), buttons=rows)

    def _deliver_kept(self, person: Person, item_id: int, into_group: bool) -> Reply:
        """Deliver the answer kept on an item whose delivery failed: again, or into its group."""
        lang = person.language
        item = self.svc.escalations.get(item_id)
        if item is None or not item.staff_answer or (into_group and not item.in_group):
            return expired(person)
        try:
            item = self.svc.escalations.claim(item.id, person.user_id, item.staff_answer)
        except EscalationError as exc:  # a double tap: the first one delivers
            return Reply(toast=t(exc.reason, lang), alert=True)
        reply = self._deliver_answer(person, item, into_group)
        reply.remove_buttons = True
        return reply

    def curated_button(self, actor: Actor, data: str) -> Reply:
        """Publish an answered question as a curated answer in the scope staff chose."""
        person = self.known(actor)
        self.staff(person)
        found = _CUR.fullmatch(data)
        item = self.svc.escalations.get(int(found.group(1))) if found else None
        if found is None or item is None or item.staff_answer is None:
            return expired(person)
        scope, lang = found.group(2), person.language
        if scope == "-":
            return Reply(edit=Out(self.t("curated_skipped", lang)))
        if scope == "webinar" and not item.webinar:
            return expired(person)
        report = self.svc.curated.publish(item, scope, item.webinar)
        text = (
            self.t("curated_done", lang, scope=self.t(f"curated_{scope}", lang))
            if not report.failed
            else str(report.failed[0][1])
        )
        return Reply(edit=Out(text))

    def assign(self, actor: Actor, args: str) -> Reply:
        """`/assign ID STAFF_ID`: hand a queued question to a colleague."""
        person = self.who(actor)
        self.staff(person)
        words = args.split()
        if (
            len(words) != 2
            or not all(w.lstrip("#").isdecimal() and len(w) <= 18 for w in words)
            or len(words[0].lstrip("#")) > 9  # a row id: beyond it PostgreSQL's integer overflows
            or int(words[1]) not in self.svc.accounts.staff_ids
        ):
            return Reply.say(self.t("assign_usage", person.language))
        item_id, staff_id = int(words[0].lstrip("#")), int(words[1])
        try:
            item = self.svc.escalations.assign(item_id, staff_id)
        except EscalationError as exc:
            return Reply.say(self.t(exc.reason, person.language))
        # the colleague gets the question with its buttons, and the post is remembered, before
        # the confirmation: a reply to the post is only an answer once the bot knows the post
        delivered = self.post_item(item, staff_id)
        key = "esc_assigned" if delivered else "esc_assigned_undelivered"
        return Reply.say(self.t(key, person.language, id=item.id, name=staff_id))

    def pending(self, actor: Actor, _args: str = "") -> Reply:
        """List the open queue, oldest first, with how long each has waited."""
        person = self.who(actor)
        self.staff(person)
        pending = self.svc.escalations.pending()
        if not pending:
            return Reply.say(self.t("pending_none", person.language))
        lines = [self.t("pending_header", person.language)]
        for p in pending:
            hours = p.age.total_seconds() / 3600
            age = f"{hours:.0f} h" if hours >= 1 else f"{p.age.total_seconds() / 60:.0f} min"
            who = f" → {p.item.assigned_to}" if p.item.assigned_to else ""
            # 👥 asked in a group; ⚠ an answer is kept whose delivery failed (Retry, /reply)
            marks = ("👥 " if p.item.in_group else "") + ("⚠ " if p.item.delivery_error else "")
            lines.append(
                f"#{p.item.id} · {age}{who} · {p.item.webinar or '-'} · "
                f"{marks}{p.item.question[:120]}"
            )
        return Reply.say("\n".join(lines))

    def repost_stale(self) -> int:
        """Post questions waiting longer than the set time once more (a job); return how many."""
        after = timedelta(minutes=self.svc.settings.escalation_repost_after_min)
        queue = self.svc.escalations
        # claimed, posted, then recorded: each process runs this job, each item goes out once
        due = queue.due_for_repost(queue.clock(), after, self.svc.db.owner)
        for item in due:
            self.post_to_staff(item)
            queue.reposted(item.id, queue.clock())
            log.info("escalation #%s re-posted to staff", item.id)  # the process is on the line
        return len(due)

    # ------------------------------------------------------------ survey, report, broadcast

    def _webinar_arg(self, person: Person, args: str, usage: str) -> Webinar:
        self.staff(person)
        webinar = self.svc.webinars.get((args.split() or [""])[0])
        if webinar is None:
            raise Refused(Reply.say(self.t(usage, person.language)))
        return webinar

    def survey(self, actor: Actor, args: str) -> Reply:
        """`/survey CODE`: ask the webinar's attendees for a 1–5 rating."""
        person = self.who(actor)
        webinar = self._webinar_arg(person, args, "survey_usage")
        code = webinar.code
        languages = {a.user_id: a.language for a in self.svc.webinars.attendees(code)}
        sent = 0
        for user_id in self.svc.surveys.ask(code):
            lang = languages.get(user_id, "en")
            row = [Button(str(n), f"sv:{code}:{n}") for n in range(1, 6)]
            out = Out(self.t("survey_question", lang, title=webinar.title), user_id, buttons=[row])
            sent += self.deliver(out) is not None
        return Reply.say(self.t("survey_sent", person.language, count=sent))

    def survey_button(self, actor: Actor, data: str) -> Reply:
        """Store an attendee's rating and invite an optional comment (a reply to the prompt)."""
        person = self.known(actor)
        found = _SURVEY.fullmatch(data)
        if found is None:
            return expired(person)
        code = found.group(1)
        try:
            self.svc.surveys.record(code, actor.user_id, int(found.group(2)))
        except SurveyError as exc:
            return Reply(toast=self.t(exc.reason, person.language), alert=True)
        prompt = Out(
            self.t("survey_thanks_comment", person.language), actor.user_id, force_reply=True
        )
        message_id = self.deliver(prompt)
        if message_id is not None:  # only a reply to this prompt is a comment
            self.flows.start(actor.user_id, SURVEY, {"code": code, "prompt": message_id})
        return Reply(toast=self.t("vote_thanks", person.language), remove_buttons=True)

    def is_survey_comment(self, actor: Actor, reply_to: int | None) -> bool:
        """Tell whether a message replies to the actor's open survey comment prompt."""
        if reply_to is None or actor.in_group:
            return False
        flow = self.flows.current(actor.user_id, SURVEY)
        return flow is not None and flow.state.get("prompt") == reply_to

    def survey_comment(self, actor: Actor, text: str) -> Reply:
        """Take a reply to the comment prompt as the comment."""
        person = self.who(actor)
        flow = self.flows.current(actor.user_id, SURVEY)
        if flow is None or not self.flows.finish(flow.id):
            return Reply.say(self.t("offer_expired", person.language))
        try:
            self.svc.surveys.add_comment(flow.state["code"], person.user_id, text[:2000])
        except SurveyError as exc:
            return Reply.say(self.t(exc.reason, person.language))
        return Reply.say(self.t("survey_comment_thanks", person.language))

    def report(self, actor: Actor, args: str) -> Reply:
        """`/report CODE`: the webinar's report as Markdown, CSV and a chart."""
        person = self.who(actor)
        webinar = self._webinar_arg(person, args, "report_usage")
        code = webinar.code
        # days counted in the office's zone (the directory's home; UTC without one)
        report = build_report(code, self.svc.db, self.svc.analyzer, tz=self.svc.office.tz)
        caption = self.t(
            "report_caption",
            person.language,
            title=webinar.title,
            questions=report.figures["questions"],
            attendees=report.figures["attendees"],
        )
        return Reply(
            messages=[
                Out(caption, file=File(f"report-{code}.md", report.markdown.encode())),
                Out(file=File(f"report-{code}.csv", report.csv.encode("utf-8-sig"))),
                Out(file=File(f"questions-per-day-{code}.png", report.chart_png, photo=True)),
            ]
        )

    def broadcast(self, actor: Actor, args: str) -> Reply:
        """`/broadcast CODE text`: send a follow-up to every attendee, paced; report the counts."""
        person = self.who(actor)
        self.staff(person)
        parts = args.split(None, 1)
        if len(parts) < 2 or self.svc.webinars.get(parts[0]) is None:
            return Reply.say(self.t("broadcast_usage", person.language))
        body = parts[1]
        store = BroadcastStore(self.svc.db)
        # stored first, keyed by the update: handled again after a crash, it goes on, not anew
        update_id = HANDLING.get()
        # update ids are counted per bot, and bots may share a database (the inbox is per bot)
        bot = self.svc.settings.bot_id
        key = f"update:{bot}:{update_id}" if update_id is not None else None
        recipients = [a.user_id for a in self.svc.webinars.attendees(parts[0])]
        claimed = store.start(parts[0], body, person.user_id, recipients, key, self.svc.db.owner)
        self._send_broadcast(store, claimed)
        store.finish(claimed.broadcast_id)
        return Reply.say(self._broadcast_done(store, claimed.broadcast_id, person.language))

    def _broadcast_done(self, store: BroadcastStore, broadcast_id: int, lang: str) -> str:
        result = store.result(broadcast_id)
        return self.t(
            "broadcast_done",
            lang,
            delivered=result.delivered,
            blocked=result.blocked,
            failed=result.failed,
        )

    def _send_broadcast(self, store: BroadcastStore, claimed: Claimed) -> None:
        """Send a broadcast to the recipients claimed, paced, recording each send as it goes."""
        owner = self.svc.db.owner

        def send(user_id: int) -> None:
            try:
                self.outbox.send(Out(claimed.body, chat_id=user_id))
            except Undeliverable as exc:
                status = "blocked" if exc.blocked else "failed"
                store.record(claimed.broadcast_id, user_id, status, owner)
                if exc.blocked:
                    raise RecipientBlocked(user_id) from exc
                raise
            store.record(claimed.broadcast_id, user_id, "delivered", owner)

        result = broadcast(
            claimed.user_ids,
            send,
            per_second=self.svc.settings.broadcast_per_second,
            sleep=time.sleep,
        )
        log.info(  # nothing personal: the process (on every line), the broadcast, the counts
            "broadcast %s: batch of %d sent (%d delivered, %d blocked, %d failed)",
            claimed.broadcast_id,
            len(claimed.user_ids),
            result.delivered,
            result.blocked,
            result.failed,
        )

    def resume_broadcasts(self) -> int:
        """Send the rest of broadcasts whose process died (a job); tell their senders the counts."""
        store = BroadcastStore(self.svc.db)
        resumed = 0
        while (claimed := store.claim(self.svc.db.owner)) is not None:
            resumed += 1
            log.info("broadcast %s taken up: %d to go", claimed.broadcast_id, len(claimed.user_ids))
            self._send_broadcast(store, claimed)
            if store.finish(claimed.broadcast_id):
                lang = self.svc.accounts.person(claimed.created_by).language
                text = self._broadcast_done(store, claimed.broadcast_id, lang)
                self.deliver(Out(text, chat_id=claimed.created_by))
        return resumed
