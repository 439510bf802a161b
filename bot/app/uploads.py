"""Staff send a file: it is checked, its visibility chosen with buttons, then ingested."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from bot.accounts.service import Person
from bot.app.base import UseCases, expired
from bot.app.messages import Actor, Button, FileSource, Out, Reply
from bot.domain import DocMeta, Role, Visibility
from bot.followup.webinars import WebinarError
from bot.i18n import t
from bot.knowledge.ingest import IngestReport
from bot.knowledge.loaders import is_supported

log = logging.getLogger(__name__)

KIND = "upload"
_BUTTON = re.compile(
    r"up:(\d{1,12}):(public|partner|internal|webinar|replace|both)(?::([\w-]{1,32}))?"
)


class Uploads(UseCases):
    """A staff upload: offered, its visibility (or webinar) chosen, downloaded and ingested."""

    def offer(self, actor: Actor, file_id: str, file_name: str, size: int) -> Reply:
        """Check a file staff sent; ask whether to replace a document of the same name, then who
        may see it."""
        person = self.who(actor)
        self.staff(person)
        name = Path(file_name or "document").name
        limit = self.svc.settings.max_upload_mb
        if size > limit * 1024 * 1024:
            return Reply.say(t("upload_too_large", person.language, limit=limit))
        if not is_supported(Path(name)):
            return Reply.say(t("upload_unsupported", person.language, name=name))
        lang = person.language
        state = {"file_id": file_id, "name": name, "target": name}
        existing = self.svc.store.document(name)
        if existing is None:
            flow = self.flows.start(person.user_id, KIND, state)
            return Reply.say(
                t("upload_visibility", lang, name=name), self._visibility_rows(flow.id, lang)
            )
        # the same name would replace that document, its visibility included: ask first
        new = self._free_name(name)
        flow = self.flows.start(person.user_id, KIND, {**state, "free": new})
        rows = [
            [Button(t("upload_replace", lang), f"up:{flow.id}:replace")],
            [Button(t("upload_keep_both", lang, new=new), f"up:{flow.id}:both")],
        ]
        label = self._label(existing, lang)
        return Reply.say(t("upload_same_name", lang, name=name, visibility=label), rows)

    def _visibility_rows(self, flow_id: int, lang: str) -> list[list[Button]]:
        rows = [[Button(t(f"vis_{v.value}", lang), f"up:{flow_id}:{v.value}")] for v in Visibility]
        rows += [
            [
                Button(
                    t("webinar_option", lang, title=w.title[:40]), f"up:{flow_id}:webinar:{w.code}"
                )
            ]
            for w in self.svc.webinars.list(open_only=True)
        ]
        return rows

    def _label(self, meta: DocMeta, lang: str) -> str:
        """Say who may see a document: its visibility, partner city or webinar."""
        if meta.webinar:
            return t("webinar_option", lang, title=meta.webinar)
        label = t(f"vis_{meta.visibility.value}", lang)
        return f"{label} · {meta.partner}" if meta.partner else label

    def _free_name(self, name: str) -> str:
        """Return `name (2).ext`, `name (3).ext`, ...: the first no document or upload has."""
        path = Path(name)
        folder = self.svc.settings.bot_data_dir / "uploads"
        for n in range(2, 1000):
            candidate = f"{path.stem} ({n}){path.suffix}"
            if self.svc.store.document(candidate) is None and not (folder / candidate).exists():
                return candidate
        raise ValueError(f"no free name for {name}")

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
            return Reply(edit=Out(t("upload_expired", person.language)))
        choice, extra, lang = found.group(2), found.group(3), person.language
        if choice in ("replace", "both"):
            if "free" not in flow.state or flow.state.get("decided"):
                return expired(person)
            if choice == "both":
                flow.state.update(target=flow.state["free"], kept=flow.state["name"])
            flow.state["decided"] = True
            self.flows.save(flow)
            rows = self._visibility_rows(flow.id, lang)
            return Reply(
                edit=Out(t("upload_visibility", lang, name=flow.state["target"]), buttons=rows)
            )
        if "free" in flow.state and not flow.state.get("decided"):
            return expired(person)  # the replace-or-keep question comes first
        kept = self.svc.store.document(flow.state["kept"]) if "kept" in flow.state else None
        name = flow.state["target"]
        if choice == "partner" and extra is None:
            rows = [
                [Button(c, f"up:{flow.id}:partner:{i}")]
                for i, c in enumerate(self._partner_names())
            ]
            rows.append([Button(t("upload_all_partners", lang), f"up:{flow.id}:partner:-")])
            return Reply(edit=Out(t("upload_partner", lang, name=name), buttons=rows))
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
                return Reply(edit=Out(t(exc.reason, lang)))
            label = t("webinar_option", lang, title=extra)
            return self._result(person, name, report, label, kept)
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        files.fetch(flow.state["file_id"], target)
        visibility = Visibility(choice)
        # staff's choice is the whole of who may see it: a webinar named in the file's front
        # matter would otherwise hide a "public" document from the public
        overrides = {"visibility": visibility.value, "partner": partner, "webinar": ""}
        report = self.svc.ingestor.ingest([target], visibility, None, overrides)
        stored = self.svc.store.document(name)  # say what was stored, not what was asked for
        label = self._label(stored, lang) if stored else t(f"vis_{visibility.value}", lang)
        return self._result(person, name, report, label, kept)

    def _result(
        self,
        person: Person,
        name: str,
        report: IngestReport,
        label: str,
        kept: DocMeta | None = None,
    ) -> Reply:
        """Log an upload's ingest and tell the uploader: chunks and who may see them (and the
        document of the same name kept beside it), or why not."""
        lang = person.language
        if report.failed:
            text = t("upload_failed", lang, name=name, reason=report.failed[0][1])
        else:
            text = t("upload_done", lang, name=name, chunks=report.chunks, visibility=label)
            if kept is not None:
                old = self._label(kept, lang)
                text += "\n" + t("upload_kept_both", lang, old=kept.source, visibility=old)
        log.info(
            "upload by %s: chunks=%d failed=%d", person.user_id, report.chunks, len(report.failed)
        )
        return Reply(edit=Out(text))
