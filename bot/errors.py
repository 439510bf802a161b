"""Errors shared by the command line's parts (bot/cli.py and each feature's subcommands)."""

from __future__ import annotations


class CliError(Exception):
    """A problem the user can fix; printed as one line, exit code 1."""
