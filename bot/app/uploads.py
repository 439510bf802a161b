"""Staff send a file: it is checked, its visibility chosen with buttons, then ingested."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from bot.accounts.service import Person
from bot.app.base import UseCases, expired
from bot.app.jobs import Jobs, Stopping
from bot.app.messages import Actor, Button, FileSource, Out, Outbox, Reply
from bot.domain import DocMeta, Role, Visibility
from bot.followup.webinars import WebinarError
from bot.i18n import t
from bot.knowledge.ingest import IngestReport
from bot.knowledge.loaders import is_supported
from bot.services import Services
from bot.storage.flows import FlowStore

log = logging.getLogger(__name__)

KIND = "upload"
READING = "upload-reading"  # an upload being read: its flow is touched while a process has it
# an upload no process has touched for this long was cut short by a crash: its sender is told
READING_LEASE = timedelta(minutes=3)
KEEP_FLOWS = timedelta(days=30)
# filesystems allow 255 bytes a name; what is left is for " (2)", a webinar's "<code>--" and
# the ".meta.yaml" of a sidecar
MAX_NAME_BYTES = 200
_BUTTON = re.compile(
    r"up:([0-9]{1,9}):(public|partner|internal|webinar|replace|both)(?::([\w-]{1,32}))?"
)


def safe_name(name: str, limit: int = MAX_NAME_BYTES) -> str:
    """Return a file name the filesystem takes: no control characters, at most `limit` bytes of
    UTF-8, a long one cut in its stem (marked with "…") and its extension kept."""
    name = "".join(c for c in name if c >= " " and c != "\x7f").strip() or "document"
    if len(name.encode()) <= limit:
        return name
    suffix = Path(name).suffix
    if len(suffix.encode()) > 16:  # not an extension, just a dot in a long name
        suffix = ""
    budget = limit - len(suffix.encode()) - len("…".encode())
    stem = name[: len(name) - len(suffix)].encode()[:budget].decode("utf-8", "ignore")
    return stem.rstrip() + "…" + suffix


@dataclass(frozen=True)
class _Chosen:
    """An upload whose visibility is chosen: what the job that reads it needs."""

    person: Person
    chat_id: int
    flow_id: int
    reading_id: int  # the READING flow that says the upload is in hand
    file_id: str
    name: str
    visibility: Visibility | None  # None: webinar material
    partner: str
    webinar: str
    label: str
    kept: DocMeta | None


class Uploads(UseCases):
    """A staff upload: offered, its visibility (or webinar) chosen, downloaded and ingested.

    The choice is answered at once ("reading …"); the download and the ingest run as a job, which
    sends progress for a long file and the result when it is in.
    """

    progress_every_s = 30.0  # a long ingest says how far it is this often

    def __init__(self, services: Services, outbox: Outbox, flows: FlowStore) -> None:
        super().__init__(services, outbox, flows)
        self.jobs = Jobs()
        # names being read: a second file of the same name waits, or it would replace the first
        # without asking (the first is not in the store yet)
        self._reading: set[str] = set()
        self._in_hand: set[int] = set()  # this process's READING flows
        self._reading_lock = threading.Lock()

    def offer(self, actor: Actor, file_id: str, file_name: str, size: int) -> Reply:
        """Check a file staff sent; ask whether to replace a document of the same name, then who
        may see it."""
        person = self.who(actor)
        self.staff(person)
        name = safe_name(Path(file_name or "document").name)
        limit = self.svc.settings.max_upload_mb
        if size > limit * 1024 * 1024:
            return Reply.say(t("upload_too_large", person.language, limit=limit))
        if not is_supported(Path(name)):
            return Reply.say(t("upload_unsupported", person.language, name=name))
        if name in self._reading:
            return Reply.say(t("upload_busy", person.language, name=name))
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
            if not (extra or "").isdecimal() or int(extra or 0) >= len(cities):
                return expired(person)
            partner = cities[int(extra or 0)]
        with self._reading_lock:
            if name in self._reading:  # offered twice, the other one chosen first
                return Reply(toast=t("upload_busy", lang, name=name), alert=True)
            if not self.flows.finish(flow.id):  # a double tap ingests once
                return expired(person)
            self._reading.add(name)
            reading = self.flows.start(
                person.user_id,
                READING,
                {"chat_id": actor.chat_id, "name": name, "lang": lang, "upload": flow.id},
                supersede=False,
            )
            self._in_hand.add(reading.id)
        webinar = (extra or "") if choice == "webinar" else ""
        visibility = None if choice == "webinar" else Visibility(choice)
        if visibility is None:
            label = t("webinar_option", lang, title=webinar)
        else:
            label = t(f"vis_{visibility.value}", lang) + (f" · {partner}" if partner else "")
        chosen = _Chosen(
            person=person,
            chat_id=actor.chat_id,
            flow_id=flow.id,
            reading_id=reading.id,
            file_id=flow.state["file_id"],
            name=name,
            visibility=visibility,
            partner=partner,
            webinar=webinar,
            label=label,
            kept=kept,
        )
        # said before the job is queued, so it always arrives before the job's own messages
        self.deliver(Out(t("upload_reading", lang, name=name, visibility=label), actor.chat_id))
        try:
            self.jobs.submit(lambda: self._receive(chosen, files))
        except Stopping:
            self._done(chosen, t("upload_interrupted", lang, name=name))
        return Reply(remove_buttons=True)

    def _receive(self, chosen: _Chosen, files: FileSource) -> None:
        """Download a chosen upload, check its real size, ingest it and tell the uploader (a job)."""
        lang, name = chosen.person.language, chosen.name
        try:
            text = self._ingest(chosen, files)
        except Stopping:
            log.info("upload %s interrupted by shutdown", name)
            text = t("upload_interrupted", lang, name=name)
        except Exception:  # the uploader hears of it either way; the log has the details
            log.exception("upload %s failed", name)
            text = t("upload_failed", lang, name=name, reason=t("upload_error", lang))
        self._done(chosen, text)

    def _done(self, chosen: _Chosen, text: str) -> None:
        """Tell the uploader how it ended, and let the name be uploaded again."""
        with self._reading_lock:
            self._reading.discard(chosen.name)
            self._in_hand.discard(chosen.reading_id)
        self.flows.finish(chosen.reading_id)
        self._tell(chosen, text)

    def recover(self) -> int:
        """Keep this process's uploads in hand marked so, tell the senders of uploads a crashed
        process was reading that theirs was not added, and forget old dialogues (a job).

        Return how many senders were told. Several processes may run this at once: `finish`
        decides which one tells.
        """
        with self._reading_lock:
            mine = sorted(self._in_hand)
        self.flows.touch(mine)
        told = 0
        for flow in self.flows.stale(READING, READING_LEASE):
            if flow.id in mine or not self.flows.finish(flow.id):
                continue
            state = flow.state
            self._incoming(int(state["upload"]), str(state["name"])).unlink(missing_ok=True)
            text = t("upload_lost", str(state["lang"]), name=state["name"])
            self.deliver(Out(text, int(state["chat_id"])))
            told += 1
        if told:
            log.info("told %d senders of uploads cut short by a crash", told)
        self.flows.prune(KEEP_FLOWS)
        return told

    def _tell(self, chosen: _Chosen, text: str) -> None:
        self.deliver(Out(text, chosen.chat_id))

    def _ingest(self, chosen: _Chosen, files: FileSource) -> str:
        lang, name = chosen.person.language, chosen.name
        folder = self.svc.settings.bot_data_dir / "uploads"
        target = folder / "webinars" / name if chosen.visibility is None else folder / name
        # downloaded beside the uploads, under a name of its own: a refused file replaces nothing
        incoming = self._incoming(chosen.flow_id, name)
        incoming.parent.mkdir(parents=True, exist_ok=True)
        try:
            files.fetch(chosen.file_id, incoming)
            self.jobs.check()
            limit = self.svc.settings.max_upload_mb
            if incoming.stat().st_size > limit * 1024 * 1024:  # not the size Telegram declared
                return t("upload_too_large", lang, limit=limit)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(incoming, target)
        finally:
            incoming.unlink(missing_ok=True)
        progress = self._progress(chosen)
        if chosen.visibility is None:
            try:
                report = self.svc.webinars.attach(
                    chosen.webinar, target, self.svc.ingestor, "public", passages=progress
                )
            except WebinarError as exc:
                return t(exc.reason, lang)
        else:
            # staff's choice is the whole of who may see it: a webinar named in the file's front
            # matter would otherwise hide a "public" document from the public
            overrides = {
                "visibility": chosen.visibility.value,
                "partner": chosen.partner,
                "webinar": "",
            }
            report = self.svc.ingestor.ingest(
                [target], chosen.visibility, None, overrides, passages=progress
            )
            stored = self.svc.store.document(name)  # say what was stored, not what was asked
            if stored is not None:
                label = self._label(stored, chosen.person.language)
                return self._result(chosen.person, name, report, label, chosen.kept)
        return self._result(chosen.person, name, report, chosen.label, chosen.kept)

    def _incoming(self, flow_id: int, name: str) -> Path:
        """Where an upload is downloaded to, beside the uploads under a name of its own (a
        refused file replaces nothing)."""
        folder = self.svc.settings.bot_data_dir / "uploads" / ".incoming"
        return folder / f"{flow_id}{Path(name).suffix}"

    def _progress(self, chosen: _Chosen) -> Callable[[str, int, int], None]:
        """Return the ingest's passage callback: stop on shutdown, say how far a long file is."""
        last = time.monotonic()

        def passages(_source: str, done: int, total: int) -> None:
            nonlocal last
            self.jobs.check()
            if done < total and time.monotonic() - last >= self.progress_every_s:
                last = time.monotonic()
                lang = chosen.person.language
                self._tell(
                    chosen, t("upload_progress", lang, name=chosen.name, done=done, total=total)
                )

        return passages

    def _result(
        self,
        person: Person,
        name: str,
        report: IngestReport,
        label: str,
        kept: DocMeta | None = None,
    ) -> str:
        """Log an upload's ingest and say what came of it: chunks and who may see them (and the
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
        return text
