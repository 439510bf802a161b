"""/sources shows what the chat may see now, not what it could see when the answer was given."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.app.core import App
from bot.app.messages import Actor
from bot.i18n import t
from tests.app.conftest import RecordingOutbox
from tests.conftest import write

ADMIN, PARTNER, GROUP = 1, 300, -500
BRIEFING = (
    "---\ntitle: Partner briefing for Riverton\nvisibility: partner\npartner: Riverton\n"
    "language: en\n---\n# Delegation schedule\n\nThe Riverton delegation arrives on 12 May "
    "and visits the water plant on 13 May.\n"
)


def test_sources_after_the_group_level_is_lowered_leave_out_what_it_may_no_longer_see(
    make_services: Any, tmp_path: Path, outbox: RecordingOutbox, database_url: str
) -> None:
    services = make_services(tmp_path / "data", admin_user_ids=[ADMIN], database_url=database_url)
    write(tmp_path / "kb" / "briefing.md", BRIEFING)
    services.ingestor.ingest([tmp_path / "kb"])
    app = App(services, outbox)
    invite = services.accounts.create_invite("Riverton", ADMIN)
    services.accounts.redeem(invite.code, PARTNER)
    admin = Actor(ADMIN, GROUP, in_group=True, first_name="Admin")
    partner = Actor(PARTNER, GROUP, in_group=True, first_name="Dana")
    app.command(admin, "grouplevel", "partner Riverton")

    answer = app.text(partner, "When does the Riverton delegation visit the water plant?")
    assert "13 May" in answer.messages[0].answer.text  # type: ignore[union-attr]
    (shown,) = app.command(partner, "sources").messages
    assert (
        shown.sources is not None
        and shown.sources[1][0]["title"] == "Partner briefing for Riverton"
    )

    app.command(admin, "grouplevel", "public")
    after = app.command(partner, "sources").messages
    assert after[0].text == t("sources_none", "en") and after[0].sources is None
    # nothing was lost: raised again, the group sees the document again
    app.command(admin, "grouplevel", "partner Riverton")
    assert app.command(partner, "sources").messages[0].sources is not None
