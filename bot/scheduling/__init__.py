"""Meetings with partner cities: directory, slot rules, invites, reminders."""

from bot.scheduling import (
    models as models,
)  # registers the meeting tables on Base before create_all
from bot.scheduling.directory import City, Directory, DirectoryError, UnknownPartner
from bot.scheduling.models import Invitee, Meeting, Reminder
from bot.scheduling.service import BookingRefused, SchedulingService

__all__ = [
    "BookingRefused",
    "City",
    "Directory",
    "DirectoryError",
    "Invitee",
    "Meeting",
    "Reminder",
    "SchedulingService",
    "UnknownPartner",
]
