"""The application: one entry per act of a person, the same for Telegram, the console and any
later front-end. Each takes plain data (who acts, what they sent) and returns a Reply."""

from __future__ import annotations

from collections.abc import Callable

from bot.app.admin import Admin
from bot.app.base import Refused, expired
from bot.app.meetings import Meetings
from bot.app.messages import Actor, Draft, FileSource, Outbox, Reply
from bot.app.questions import Questions
from bot.app.uploads import Uploads
from bot.app.webinars import Webinars
from bot.i18n import t
from bot.services import Services
from bot.storage.flows import FlowStore

Command = Callable[[Actor, str], Reply]


class App:
    """Routes each act to its use case and turns a refusal into its reply."""

    def __init__(self, services: Services, outbox: Outbox) -> None:
        self.services = services
        flows = FlowStore(services.db)
        self.questions = Questions(services, outbox, flows)
        self.admin = Admin(services, outbox, flows)
        self.meetings = Meetings(services, outbox, flows)
        self.webinars = Webinars(services, outbox, flows)
        self.uploads = Uploads(services, outbox, flows)
        q, a, m, w = self.questions, self.admin, self.meetings, self.webinars
        self.commands: dict[str, Command] = {
            "start": q.start,
            "help": q.help,
            "whoami": q.whoami,
            "language": q.language,
            "sources": q.sources,
            "invite": a.invite,
            "partners": a.partners,
            "revoke": a.revoke,
            "grouplevel": a.grouplevel,
            "stats": a.stats,
            "meet": m.meet,
            "meetings": m.list,
            "cancel": m.cancel,
            "reschedule": m.reschedule,
            "webinar": w.webinar,
            "pending": w.pending,
            "reply": w.reply,
            "assign": w.assign,
            "survey": w.survey,
            "report": w.report,
            "broadcast": w.broadcast,
        }

    def set_bot_username(self, username: str) -> None:
        """Tell the use cases the bot's username (for invite and webinar links)."""
        self.admin.bot_username = self.webinars.bot_username = username

    def command(self, actor: Actor, name: str, args: str = "") -> Reply:
        """Run a /command with the text after it."""
        use_case = self.commands.get(name.lower())
        if use_case is None:
            return Reply.say(t("unknown_command", self.questions.who(actor).language))
        return _guarded(lambda: use_case(actor, args))

    def text(
        self,
        actor: Actor,
        text: str,
        reply_to: int | None = None,
        working: Callable[[], None] | None = None,
        draft: Draft | None = None,
    ) -> Reply:
        """Route a plain message: a staff answer, a survey comment, a /meet title, a meeting
        sentence or a question. `reply_to` is the id of the message it replies to, if any;
        `working` is called once a question or a meeting sentence is taken up (a front-end
        shows "typing"); `draft` shows a question's answer while a model writes it."""
        w, m = self.webinars, self.meetings
        if w.is_staff_reply(actor, reply_to):
            return _guarded(lambda: w.staff_reply(actor, reply_to or 0, text))
        if not actor.in_group:
            if w.is_survey_comment(actor, reply_to):
                return w.survey_comment(actor, text)
            if m.awaits_title(actor):
                return _guarded(lambda: m.title(actor, text))
            if m.looks_like_request(actor, text):
                if working is not None:  # a model may read the sentence: that takes a while
                    working()
                return _guarded(lambda: m.sentence(actor, text))
        return _guarded(lambda: self.questions.ask(actor, text, working=working, draft=draft))

    def button(
        self, actor: Actor, data: str, message_text: str = "", files: FileSource | None = None
    ) -> Reply:
        """Handle a pressed button by the flow or object its data names; refuse anything else."""
        prefix = data.split(":", 1)[0]
        routes: dict[str, Callable[[], Reply]] = {
            "v": lambda: self.questions.vote(actor, data),
            "lang": lambda: self.questions.language_button(actor, data),
            "m": lambda: self.meetings.button(actor, data),
            "esc": lambda: self.webinars.escalation_button(
                actor, data, actor.chat_id, message_text
            ),
            "cur": lambda: self.webinars.curated_button(actor, data),
            "sv": lambda: self.webinars.survey_button(actor, data),
        }
        if files is not None:
            routes["up"] = lambda: self.uploads.choose(actor, data, files)
        route = routes.get(prefix)
        if route is None:
            return expired(self.questions.known(actor))
        return _guarded(route)

    def document(self, actor: Actor, file_id: str, name: str, size: int) -> Reply:
        """Take a file someone sent (staff only)."""
        return _guarded(lambda: self.uploads.offer(actor, file_id, name, size))

    def close(self, timeout: float = 20.0) -> None:
        """Stop the background jobs (an upload being read is told it was interrupted)."""
        self.uploads.jobs.close(timeout)

    def error(self, user_id: int | None) -> str:
        """Return what to tell a person when handling their act failed, in their language."""
        lang = self.services.accounts.person(user_id).language if user_id else "en"
        return t("error", lang)

    # ------------------------------------------------------------ jobs

    def send_due_reminders(self) -> int:
        """Send the meeting reminders that are due; return how many."""
        return self.meetings.send_due_reminders()

    def recover_uploads(self) -> int:
        """Tell the senders of uploads a crashed process was reading (see Uploads.recover)."""
        return self.uploads.recover()

    def repost_stale(self) -> int:
        """Post long-unanswered questions to staff once more; return how many."""
        return self.webinars.repost_stale()

    def resume_broadcasts(self) -> int:
        """Send the rest of broadcasts a stopped process left; return how many were taken up."""
        return self.webinars.resume_broadcasts()


def _guarded(run: Callable[[], Reply]) -> Reply:
    try:
        return run()
    except Refused as refused:
        return refused.reply
