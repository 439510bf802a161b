"""Import every table module so `create_all` knows the whole schema."""

from bot.accounts import models as _accounts  # noqa: F401
from bot.followup import escalation as _escalation  # noqa: F401
from bot.followup import feedback as _feedback  # noqa: F401
from bot.followup import survey as _survey  # noqa: F401
from bot.followup import webinars as _webinars  # noqa: F401
from bot.scheduling import models as _scheduling  # noqa: F401
