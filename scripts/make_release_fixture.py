"""Build tests/fixtures/release-2026-11-23.sqlite3: a database made by the release of 2026-11-23.

The release's own code (commit acd0e6f, unpacked from git into a temporary folder) creates the
database with its `create_all` and fills every table through its own services: staff, a partner
official with an invite, a group level, an answered and voted question, a booked meeting with
its invitees and reminders, a webinar with attendees, an escalation posted to staff, a survey
response, a document with chunks. The counts per table go to the .json beside it; the upgrade
test expects every one of those rows after migrating.

    python scripts/make_release_fixture.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

RELEASE = "acd0e6f"
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "release-2026-11-23.sqlite3"

FILL = r"""
import json, sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from sqlalchemy import func, select, text
from bot.accounts.service import AccountService, GroupLevel
from bot.domain import Answer, Asker, Chunk, Citation, DocMeta, Role, Visibility
from bot.followup.escalation import EscalationService
from bot.followup.feedback import FeedbackService
from bot.followup.survey import SurveyService
from bot.followup.webinars import WebinarService
from bot.knowledge.store import KnowledgeStore
from bot.scheduling.models import Invitee
from bot.scheduling.service import SchedulingService
from bot.scheduling.directory import Directory
from bot.storage.db import Base, Database

path, partners = sys.argv[1], sys.argv[2]
db = Database(f"sqlite:///{path}")
now = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
STAFF, ADMIN, PARTNER, PUBLIC, ATTENDEE, GROUP = 100, 1, 300, 200, 500, -500
accounts = AccountService(db, [STAFF], [ADMIN], clock=lambda: now)
for uid, name, lang in [(STAFF, "Kim", "ko"), (ADMIN, "Admin", "en"), (PARTNER, "Dana", "de"),
                        (PUBLIC, "Pat", "en"), (ATTENDEE, "Lan", "vi")]:
    accounts.touch(uid, name, name.lower(), lang)
accounts.redeem(accounts.create_invite("Düsseldorf", ADMIN).code, PARTNER)
accounts.set_language(PARTNER, "de")
accounts.create_invite("Riverton", ADMIN)  # not used yet: still valid after the upgrade
accounts.set_group_level(GROUP, GroupLevel.PARTNER, "Düsseldorf", ADMIN)

meta = DocMeta("agreements/duesseldorf.md", "Partnerschaftsvertrag", "agreement", "Düsseldorf",
               "2019-05-14", "de", Visibility.PARTNER)
chunks = [Chunk(f"c{i}", meta, i, "Artikel 1", f"Satz {i}.", (f"Satz {i}.",), "de", ("satz",), (("satz",),))
          for i in range(3)]
KnowledgeStore(db).replace(meta, "/srv/docs", "0" * 64, chunks)

feedback = FeedbackService(db, clock=lambda: now)
citation = Citation(1, meta.source, meta.title, "Artikel 1", "Satz 0.", 0.8, Visibility.PARTNER, "c0")
answer = Answer("Was steht in Artikel 1?", "Satz 0. [1]", (citation,), True, "de", 12.0)
answer_id = feedback.log(PARTNER, PARTNER, Asker(Role.PARTNER, partner="Düsseldorf"), answer)
feedback.vote(answer_id, PARTNER, 1)
declined = Answer("Who pays for lunch?", "I could not find this.", (), False, "en", 9.0)
public_answer = feedback.log(PUBLIC, PUBLIC, Asker(Role.PUBLIC), declined)

directory = Directory.load(Path(partners))
scheduling = SchedulingService(db, directory, lambda: now)
start = datetime(2026, 12, 8, 8, 0, tzinfo=UTC)  # Tue 17:00 KST, 09:00 CET
meeting = scheduling.book("Düsseldorf", start, 60, "Jahresgespräch",
                          organizer=Invitee(STAFF, "ko", "Asia/Seoul"),
                          invitees=[Invitee(PARTNER, "de", "Europe/Berlin")])

webinars = WebinarService(db, clock=lambda: now)
webinar = webinars.create("Smart transit card webinar", date(2026, 11, 20), "en", STAFF)
webinars.register(ATTENDEE, webinar.code, "vi")
webinars.register(PUBLIC, webinar.code, "en")
escalations = EscalationService(db, clock=lambda: now)
item = escalations.escalate_answer(public_answer, "ungrounded")
escalations.record_post(item.id, STAFF, 4242)
surveys = SurveyService(db, clock=lambda: now)
surveys.ask(webinar.code)
surveys.record(webinar.code, ATTENDEE, 5, "Rất hữu ích")

with db.engine.connect() as c:
    counts = {t: c.execute(text(f'SELECT count(*) FROM "{t}"')).scalar() for t in sorted(Base.metadata.tables)}
db.close()
print(json.dumps({"counts": counts, "webinar": webinar.code, "meeting": meeting.id}))
"""


def main() -> int:
    """Unpack the release, fill a database with it, write the fixture and its row counts."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", RELEASE],
        check=True,
        capture_output=True,
    ).stdout
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        OUT.unlink(missing_ok=True)
        result = subprocess.run(
            [sys.executable, "-c", FILL, str(OUT), str(Path(tmp) / "knowledge" / "partners.yaml")],
            cwd=tmp,
            env={"PYTHONPATH": tmp, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
        )
        if result.returncode:
            print(result.stderr, file=sys.stderr)
            return 1
    facts = json.loads(result.stdout.strip().splitlines()[-1])
    OUT.with_suffix(".json").write_text(json.dumps(facts, indent=2, sort_keys=True) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}: {facts['counts']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
