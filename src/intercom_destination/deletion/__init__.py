"""Deleting and suppressing people, in Intercom and in the store (see `service`)."""

from intercom_destination.deletion.service import Deletions, Preview, open_deletions
from intercom_destination.deletion.subjects import BadSubjects, subjects_from_document, subjects_of

__all__ = [
    "BadSubjects",
    "Deletions",
    "Preview",
    "open_deletions",
    "subjects_from_document",
    "subjects_of",
]
