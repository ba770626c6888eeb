"""The app database: one SQLite file through apsw. All SQL and pragmas live below here.

One module per table or aggregate: admins, captures, counters, devices, events (with
their pictures and touched ROIs), nonces, rois, scores (roi_scores), settings (the
settings table, its one upsert), retention_runs, metrics (metrics_samples and the job
durations metrics read), image_rows (rows that point at files, for the disk audit),
database_file (a database file outside `Database`: checks, page copies, journal mode),
plus connection (`Database`) and migrations. Everything else goes through these, mostly
as the `Appliance` facade's stores; tests/test_store_layer.py keeps SQL from leaking out.
"""

from storewatch.store.connection import Database, Row

__all__ = ["Database", "Row"]
