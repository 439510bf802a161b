"""The survey: whom to ask, one response per attendee, valid scores only, the results."""

from __future__ import annotations

from datetime import date

import pytest

from bot.followup.survey import SurveyError, SurveyService
from bot.followup.webinars import WebinarService
from bot.storage.db import Database
from tests.followup.conftest import Clock


@pytest.fixture
def setup(db: Database, clock: Clock) -> tuple[SurveyService, str, str]:
    webinars = WebinarService(db, clock)
    code = webinars.create("Forum", date(2026, 11, 20), "en", 10).code
    other = webinars.create("Other", date(2026, 11, 21), "en", 10).code
    for user in (50, 51, 52):
        webinars.register(user, code, "en")
    webinars.register(60, other, "en")
    return SurveyService(db, clock), code, other


def test_only_attendees_who_have_not_answered_are_asked(
    setup: tuple[SurveyService, str, str],
) -> None:
    survey, code, other = setup
    assert survey.ask(code) == [50, 51, 52]
    survey.record(code, 51, 4)
    assert survey.ask(code) == [50, 52]
    assert survey.ask(other) == [60]


def test_one_response_per_attendee_and_answering_again_replaces_the_score(
    setup: tuple[SurveyService, str, str],
) -> None:
    survey, code, _ = setup
    survey.record(code, 50, 2, "Too short")
    survey.record(code, 50, 5)
    results = survey.results(code)
    assert results.responses == 1
    assert results.distribution == {1: 0, 2: 0, 3: 0, 4: 0, 5: 1}
    assert results.comments == ("Too short",)


@pytest.mark.parametrize("score", [0, 6, -1, True, 3.0, "5", None])
def test_a_score_outside_one_to_five_is_refused(
    setup: tuple[SurveyService, str, str], score: object
) -> None:
    survey, code, _ = setup
    with pytest.raises(SurveyError) as info:
        survey.record(code, 50, score)  # type: ignore[arg-type]
    assert info.value.reason == "survey_bad_score"
    assert survey.results(code).responses == 0


def test_someone_who_did_not_attend_cannot_answer(setup: tuple[SurveyService, str, str]) -> None:
    survey, code, other = setup
    with pytest.raises(SurveyError) as info:
        survey.record(code, 60, 5)
    assert info.value.reason == "survey_not_attendee"
    with pytest.raises(SurveyError):
        survey.record("nope", 50, 5)


def test_a_comment_follows_the_score(setup: tuple[SurveyService, str, str]) -> None:
    survey, code, _ = setup
    with pytest.raises(SurveyError) as early:
        survey.add_comment(code, 50, "great")
    assert early.value.reason == "survey_no_response"
    survey.record(code, 50, 4)
    with pytest.raises(SurveyError):
        survey.add_comment(code, 50, "   ")
    survey.add_comment(code, 50, "  More time for questions, please.  ")
    assert survey.results(code).comments == ("More time for questions, please.",)


def test_results_give_distribution_average_and_share_satisfied(
    setup: tuple[SurveyService, str, str],
) -> None:
    survey, code, other = setup
    assert survey.results(code).satisfied_pct is None
    survey.record(code, 50, 5)
    survey.record(code, 51, 4, "useful")
    survey.record(code, 52, 1)
    results = survey.results(code)
    assert results.distribution == {1: 1, 2: 0, 3: 0, 4: 1, 5: 1}
    assert (results.responses, results.average, results.satisfied_pct) == (3, 3.33, 66.7)
    assert survey.results(other).responses == 0
