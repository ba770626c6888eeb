"""The app database: one SQLite file through apsw. All SQL and pragmas live below here."""

from storewatch.db.connection import Database, Row

__all__ = ["Database", "Row"]
