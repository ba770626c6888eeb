"""The app database: one SQLite file through apsw. All SQL and pragmas live below here."""

from storewatch.store.connection import Database, Row

__all__ = ["Database", "Row"]
