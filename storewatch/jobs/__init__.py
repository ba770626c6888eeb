"""Frame analysis jobs: the jobs table lifecycle, Huey as the carrier, the worker service.

Data flows one way: ingest stores a capture and its job → the worker applies the frame
to its device's analysis → events, scores and burst requests. See `processor` for the
ordering and exactly-once rules, `queue` for the job states, `reconciler` for recovery.
"""
