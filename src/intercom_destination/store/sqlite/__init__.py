"""The embedded store: one SQLite file, its writer threads and its inbox of segment files."""

from intercom_destination.store.sqlite.store import SQLiteStore, migrate_database

__all__ = ["SQLiteStore", "migrate_database"]
