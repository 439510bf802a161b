"""Administrators' and staff's office work: invites, partner officials, group levels, statistics."""

from __future__ import annotations

from bot.accounts.service import GroupLevel, Person
from bot.app.base import UseCases
from bot.app.messages import Actor, Reply
from bot.domain import UnknownCity


class Admin(UseCases):
    """/invite, /partners, /revoke, /grouplevel (admins) and /stats (staff)."""

    def invite(self, actor: Actor, args: str) -> Reply:
        """Create a one-time partner invite link."""
        person = self.who(actor)
        self.admin(person)
        city = args.strip()
        if not city:
            return Reply.say(self.t("invite_usage", person.language))
        try:
            created = self.svc.accounts.create_invite(city, person.user_id)
        except UnknownCity as exc:
            return self.unknown_city(person, exc)
        except ValueError:  # no name left once its spaces are tidied, or longer than a city's
            return Reply.say(self.t("invite_usage", person.language))
        link = f"https://t.me/{self.bot_username}?start=join_{created.code}"
        expires = created.expires_at.strftime("%Y-%m-%d %H:%M UTC")
        return Reply.say(
            self.t("invite_created", person.language, city=created.city, link=link, expires=expires)
        )

    def partners(self, actor: Actor, _args: str = "") -> Reply:
        """List registered partner officials."""
        person = self.who(actor)
        self.admin(person)
        rows = self.svc.accounts.partners()
        if not rows:
            return Reply.say(self.t("partners_none", person.language))
        lines = [self.t("partners_header", person.language)]
        lines += [
            f"{uid} · {name or '-'} · {city} · {since:%Y-%m-%d}"
            if since
            else f"{uid} · {name} · {city}"
            for uid, name, city, since in rows
        ]
        return Reply.say("\n".join(lines))

    def revoke(self, actor: Actor, args: str) -> Reply:
        """Remove a user's partner role."""
        person = self.who(actor)
        self.admin(person)
        words = args.split()
        if not words or not words[0].lstrip("-").isdecimal() or len(words[0]) > 18:
            return Reply.say(self.t("revoke_usage", person.language))
        user_id = int(words[0])
        done = self.svc.accounts.revoke(user_id)
        return Reply.say(
            self.t("revoke_done" if done else "revoke_none", person.language, user=user_id)
        )

    def grouplevel(self, actor: Actor, args: str) -> Reply:
        """Set what a group may be shown (in the group)."""
        person = self.who(actor)
        self.admin(person)
        words = args.split()
        if not actor.in_group or not words or words[0].lower() not in set(GroupLevel):
            return Reply.say(self.t("grouplevel_usage", person.language))
        level = GroupLevel(words[0].lower())
        try:
            city = self.svc.accounts.set_group_level(
                actor.chat_id, level, " ".join(words[1:]) or None, person.user_id
            )
        except UnknownCity as exc:
            return self.unknown_city(person, exc)
        except ValueError:  # a city name longer than a city's
            return Reply.say(self.t("grouplevel_usage", person.language))
        return Reply.say(
            self.t(
                "grouplevel_set",
                person.language,
                level=level.value,
                city=f" ({city})" if city else "",
            )
        )

    def unknown_city(self, person: Person, exc: UnknownCity) -> Reply:
        """Refuse a city the partner directory does not know, naming the ones it does."""
        known = ", ".join(exc.known)
        return Reply.say(self.t("city_unknown", person.language, city=exc.name, known=known))

    def stats(self, actor: Actor, _args: str = "") -> Reply:
        """Show usage statistics of the last seven days (days in the office's time zone)."""
        person = self.who(actor)
        self.staff(person)
        data = self.svc.feedback.stats(days=7, tz=self.svc.office.tz)
        lang = person.language
        keys = ("days", "total", "answered", "declined", "up", "down")
        lines = [self.t("stats", lang, **{k: data[k] for k in keys})]
        per_role: dict[str, dict[str, int]] = data["per_role"]  # type: ignore[assignment]
        per_day: dict[str, dict[str, int]] = data["per_day"]  # type: ignore[assignment]
        if per_role:
            lines.append(self.t("stats_roles", lang))
            lines += [f"  {role}: {_counts(c)}" for role, c in per_role.items()]
        if per_day:
            lines.append(self.t("stats_days", lang))
            lines += [f"  {day}: {_counts(c)}" for day, c in per_day.items()]
        top: list[tuple[str, int]] = data["top_sources"]  # type: ignore[assignment]
        if top:
            lines.append(self.t("stats_top", lang))
            lines += [f"  {title} ({n})" for title, n in top]
        return Reply.say("\n".join(lines))


def _counts(c: dict[str, int]) -> str:
    return f"✔ {c.get('answered', 0)} · ✘ {c.get('declined', 0)} · 👍 {c.get('up', 0)} · 👎 {c.get('down', 0)}"
