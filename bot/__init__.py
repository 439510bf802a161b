"""Exchange Bot: cited answers over a city's international-exchange documents."""

__version__ = "0.1.0"
