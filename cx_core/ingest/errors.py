"""Errors of loading files, with messages meant for the user."""

from __future__ import annotations


class InputFileError(ValueError):
    """A file we cannot read, with a message meant for the user."""
