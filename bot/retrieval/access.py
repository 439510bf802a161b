"""The access filter: who may see which chunk, as data the retrievers apply before ranking."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from bot.domain import Asker, CityNames, Role, Visibility

NO_NAMES = CityNames()


@dataclass(frozen=True)
class AccessScope:
    """What one asker may see, expressed once and rendered for each retriever.

    Public documents are for everyone, partner documents for partner officials (a document
    tagged with a city only for that city's officials), internal ones for staff. A document
    attached to a webinar is for that webinar's attendees (and staff) only, and attendees never
    see anything above public, even in their webinar's material.

    A document's city and the asker's are compared by one key, `names.key` (the partner
    directory's resolver): a document tagged 뒤셀도르프 or Duesseldorf is Düsseldorf's.
    """

    asker: Asker
    names: CityNames = field(default=NO_NAMES, compare=False)

    @cached_property
    def city(self) -> str:
        """Return the key of the asker's partner city ("" when they have none)."""
        return self.names.key(self.asker.partner) if self.asker.partner else ""

    def allows(self, visibility: str, partner: str, webinar: str = "") -> bool:
        """Tell whether a chunk with this metadata (`partner`: its tag or key) is visible."""
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
            return partner == "" or (bool(self.city) and self.names.key(partner) == self.city)
        return False

    def chroma_where(self, spellings: Iterable[str] = ()) -> dict[str, Any] | None:
        """Return the Chroma `where` clause equivalent to `allows` (None: no filter).

        Chroma holds each chunk's tag as spelt (bot.domain.city_key); `spellings` are the stored
        spellings to look through, and those naming the asker's city are admitted.
        """
        role = self.asker.role
        if role is Role.STAFF:
            return None
        public = {"visibility": Visibility.PUBLIC.value}
        webinars = [""]
        if role is Role.ATTENDEE and self.asker.webinar:
            webinars.append(self.asker.webinar)
        if role is Role.PARTNER:
            cities = [""]
            if self.city:
                cities += sorted(
                    {self.city} | {s for s in spellings if s and self.names.key(s) == self.city}
                )
            partner = {
                "$and": [{"visibility": Visibility.PARTNER.value}, {"partner": {"$in": cities}}]
            }
            return {"$and": [{"webinar": ""}, {"$or": [public, partner]}]}
        return {"$and": [public, {"webinar": {"$in": webinars}}]}

    def mask(self, visibility: np.ndarray, partner: np.ndarray, webinar: np.ndarray) -> np.ndarray:
        """Return a boolean mask over parallel metadata arrays, equivalent to `allows`.

        `partner` holds each row's city key (`names.key` of its tag, "" when untagged), which
        the keyword index computes once per spelling rather than once per question.
        """
        role = self.asker.role
        if role is Role.STAFF:
            return np.ones(len(visibility), dtype=bool)
        untagged = webinar == ""
        allowed = (visibility == Visibility.PUBLIC.value) & untagged
        if role is Role.PARTNER:
            mine = (partner == "") | ((partner == self.city) if self.city else False)
            allowed |= (visibility == Visibility.PARTNER.value) & mine & untagged
        if role is Role.ATTENDEE and self.asker.webinar:
            allowed |= (visibility == Visibility.PUBLIC.value) & (webinar == self.asker.webinar)
        return allowed
