"""Who is who: Telegram users, their roles, partner invites and group levels."""
