"""The scale-out store: one PostgreSQL database shared by many processes."""

from intercom_destination.store.postgres.store import PostgresStore, migrate_database

__all__ = ["PostgresStore", "migrate_database"]
