"""The application layer: one use case per act of a person, called by every front-end.

`bot.app.core.App` routes the acts; `bot.app.messages` holds the plain data they take and return.
"""
