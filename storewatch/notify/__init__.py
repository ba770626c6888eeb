"""Notifications: channels (webhook, Apprise), the rules that pick events for them, and an
outbox that delivers each picked event at least once, beside ingest and analysis.

Flow: the worker writes an event and, in the same transaction, one outbox row per channel
whose rules it meets (rules.py, outbox.py); the sender (deliver.py) posts due rows with
capped, jittered backoff until they are delivered or, after a bounded time, dead.
"""
