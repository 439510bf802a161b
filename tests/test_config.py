"""Settings: typed, secret, validated, and documented in .env.example."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from bot.config import Settings
from tests.conftest import ROOT


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_every_setting_is_documented_in_env_example() -> None:
    documented = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text("utf-8"), re.M))
    assert {name.upper() for name in Settings.model_fields} == documented


def test_env_example_copied_as_it_is_loads_with_the_defaults() -> None:
    example = Settings(_env_file=ROOT / ".env.example")  # type: ignore[call-arg]
    assert example.staff_chat_id is None and example.telegram_bot_token is None
    assert example.model_dump() == settings().model_dump()


def test_file_url_is_derived_from_the_api_url() -> None:
    assert settings().telegram_api_file_url == "https://api.telegram.org/file/bot"
    local = settings(telegram_api_base_url="http://127.0.0.1:8081/bot")
    assert local.telegram_api_file_url == "http://127.0.0.1:8081/file/bot"


def test_secrets_are_hidden_and_placeholders_refused() -> None:
    s = settings(telegram_bot_token="123:abc", openai_api_key="sk-real")
    assert "123:abc" not in repr(s) and "sk-real" not in str(s.model_dump())
    with pytest.raises(ValidationError, match="placeholder"):
        settings(telegram_bot_token="changeme")


def test_ids_parse_from_a_comma_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAFF_USER_IDS", "1, 2 3")
    assert Settings(_env_file=None).staff_user_ids == [1, 2, 3]  # type: ignore[call-arg]
    monkeypatch.setenv("STAFF_USER_IDS", "1,bob")
    with pytest.raises(ValidationError, match="user ids"):
        Settings(_env_file=None)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "values",
    [
        {"fusion": "magic"},
        {"retrieval_top_k": 0},
        {"telegram_webhook_url": "http://insecure.example"},
        {"telegram_webhook_url": "https://bot.example"},  # without a secret
        {"video_url_template": "https://meet.example/static"},
        {"openai_base_url": "ftp://llm"},
        {"escalation_repost_after_min": 0},
        {"escalation_repost_poll_s": 0},
        {"escalation_repost_poll_s": 3601},
    ],
)
def test_invalid_values_are_refused(values: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        settings(**values)


def test_llm_is_enabled_by_a_key_or_a_base_url() -> None:
    assert not settings().llm_enabled
    assert settings(openai_base_url="http://127.0.0.1:11434/v1").llm_enabled
    assert settings(openai_api_key="sk-real").llm_enabled


def test_the_escalation_repost_job_defaults_to_an_hour_checked_every_minute() -> None:
    assert (settings().escalation_repost_after_min, settings().escalation_repost_poll_s) == (60, 60)
    quick = settings(escalation_repost_after_min="0.15", escalation_repost_poll_s="1")
    assert (quick.escalation_repost_after_min, quick.escalation_repost_poll_s) == (0.15, 1)


def test_a_reminder_lease_shorter_than_a_send_can_take_is_refused() -> None:
    assert settings().reminder_lease_s == 300
    assert settings(reminder_lease_s="121").reminder_lease_s == 121
    with pytest.raises(ValidationError, match=r"reminder_lease_s[\s\S]*longer than one message"):
        settings(reminder_lease_s="60")
