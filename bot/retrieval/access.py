"""The access filter: who may see which chunk, as data the retrievers apply before ranking."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bot.domain import Asker, Role, Visibility, city_key


@dataclass(frozen=True)
class AccessScope:
    """What one asker may see, expressed once and rendered for each retriever.

    Public documents are for everyone, partner documents for partner officials (a document
    tagged with a city only for that city's officials), internal ones for staff. A document
    attached to a webinar is for that webinar's attendees (and staff) only, and attendees never
    see anything above public, even in their webinar's material.
    """

    asker: Asker

    def allows(self, visibility: str, partner: str, webinar: str = "") -> bool:
        """Tell whether a chunk with this metadata is visible to the asker."""
        role = self.asker.role
        if role is Role.STAFF:
            return True
        if webinar:
            return (
                role is Role.ATTENDEE
                and webinar == self.asker.webinar
                and visibility == Visibility.PUBLIC
            )
        if visibility == Visibility.PUBLIC:
            return True
        if role is Role.PARTNER and visibility == Visibility.PARTNER:
            return partner == "" or partner == city_key(self.asker.partner)
        return False

    def chroma_where(self) -> dict[str, Any] | None:
        """Return the Chroma `where` clause equivalent to `allows` (None: no filter)."""
        role = self.asker.role
        if role is Role.STAFF:
            return None
        public = {"visibility": Visibility.PUBLIC.value}
        webinars = [""]
        if role is Role.ATTENDEE and self.asker.webinar:
            webinars.append(self.asker.webinar)
        if role is Role.PARTNER:
            cities = [""] + ([city_key(self.asker.partner)] if self.asker.partner else [])
            partner = {
                "$and": [{"visibility": Visibility.PARTNER.value}, {"partner": {"$in": cities}}]
            }
            return {"$and": [{"webinar": ""}, {"$or": [public, partner]}]}
        return {"$and": [public, {"webinar": {"$in": webinars}}]}

    def mask(self, visibility: np.ndarray, partner: np.ndarray, webinar: np.ndarray) -> np.ndarray:
        """Return a boolean mask over parallel metadata arrays, equivalent to `allows`."""
        role = self.asker.role
        if role is Role.STAFF:
            return np.ones(len(visibility), dtype=bool)
        untagged = webinar == ""
        allowed = (visibility == Visibility.PUBLIC.value) & untagged
        if role is Role.PARTNER:
            city = city_key(self.asker.partner)
            allowed |= (
                (visibility == Visibility.PARTNER.value)
                & ((partner == "") | (partner == city))
                & untagged
            )
        if role is Role.ATTENDEE and self.asker.webinar:
            allowed |= (visibility == Visibility.PUBLIC.value) & (webinar == self.asker.webinar)
        return allowed
