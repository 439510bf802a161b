"""Staff send a file: it is checked, its visibility chosen with buttons, then ingested."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from bot.accounts.service import Person
from bot.app.base import UseCases, expired
from bot.app.messages import Actor, Button, FileSource, Out, Reply
from bot.domain import Role, Visibility
from bot.followup.webinars import WebinarError
from bot.knowledge.ingest import IngestReport
from bot.knowledge.loaders import is_supported

log = logging.getLogger(__name__)

KIND = "upload"
_BUTTON = re.compile(r"up:(\d{1,12}):(public|partner|internal|webinar)(?::([\w-]{1,32}))?")


class Uploads(UseCases):
    """A staff upload: offered, its visibility (or webinar) chosen, downloaded and ingested."""

    def offer(self, actor: Actor, file_id: str, file_name: str, size: int) -> Reply:
        """Check a file staff sent and ask who may see it."""
        person = self.who(actor)
        self.staff(person)
        name = Path(file_name or "document").name
        limit = self.svc.settings.max_upload_mb
        if size > limit * 1024 * 1024:
            return Reply.say(self.t("upload_too_large", person.language, limit=limit))
        if not is_supported(Path(name)):
            return Reply.say(self.t("upload_unsupported", person.language, name=name))
        flow = self.flows.start(person.user_id, KIND, {"file_id": file_id, "name": name})
        lang = person.language
        rows = [
            [Button(self.t(f"vis_{v.value}", lang), f"up:{flow.id}:{v.value}")] for v in Visibility
        ]
        rows += [
            [
                Button(
                    self.t("webinar_option", lang, title=w.title[:40]),
                    f"up:{flow.id}:webinar:{w.code}",
                )
            ]
            for w in self.svc.webinars.list(open_only=True)
        ]
        return Reply.say(self.t("upload_visibility", lang, name=name), rows)

    def _partner_names(self) -> list[str]:
        scheduling = self.svc.scheduling
        return [c.name for c in scheduling.directory.partners] if scheduling else []

    def choose(self, actor: Actor, data: str, files: FileSource) -> Reply:
        """Handle the visibility (and partner city) buttons of an upload, then ingest the file."""
        person = self.known(actor)
        found = _BUTTON.fullmatch(data)
        if person.role is not Role.STAFF or found is None:
            return expired(person)
        flow = self.flows.get(int(found.group(1)), person.user_id, KIND)
        if flow is None:
            return Reply(edit=Out(self.t("upload_expired", person.language)))
        choice, extra, lang = found.group(2), found.group(3), person.language
        name = flow.state["name"]
        if choice == "partner" and extra is None:
            rows = [
                [Button(c, f"up:{flow.id}:partner:{i}")]
                for i, c in enumerate(self._partner_names())
            ]
            rows.append([Button(self.t("upload_all_partners", lang), f"up:{flow.id}:partner:-")])
            return Reply(edit=Out(self.t("upload_partner", lang, name=name), buttons=rows))
        if choice == "webinar" and extra is None:
            return expired(person)
        partner = ""
        if choice == "partner" and extra != "-":
            cities = self._partner_names()
            if not (extra or "").isdigit() or int(extra or 0) >= len(cities):
                return expired(person)
            partner = cities[int(extra or 0)]
        if not self.flows.finish(flow.id):  # a double tap ingests once
            return expired(person)
        folder = self.svc.settings.bot_data_dir / "uploads"
        if choice == "webinar":
            target = folder / "webinars" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            files.fetch(flow.state["file_id"], target)
            try:
                report = self.svc.webinars.attach(extra or "", target, self.svc.ingestor, "public")
            except WebinarError as exc:
                return Reply(edit=Out(self.t(exc.reason, lang)))
            return self._result(person, name, report, self.t("webinar_option", lang, title=extra))
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        files.fetch(flow.state["file_id"], target)
        visibility = Visibility(choice)
        overrides = {"visibility": visibility.value, "partner": partner}
        report = self.svc.ingestor.ingest([target], visibility, None, overrides)
        label = self.t(f"vis_{visibility.value}", lang) + (f" · {partner}" if partner else "")
        return self._result(person, name, report, label)

    def _result(self, person: Person, name: str, report: IngestReport, label: str) -> Reply:
        """Log an upload's ingest and tell the uploader: chunks and who may see them, or why not."""
        if report.failed:
            text = self.t("upload_failed", person.language, name=name, reason=report.failed[0][1])
        else:
            text = self.t(
                "upload_done", person.language, name=name, chunks=report.chunks, visibility=label
            )
        log.info(
            "upload by %s: chunks=%d failed=%d", person.user_id, report.chunks, len(report.failed)
        )
        return Reply(edit=Out(text))
