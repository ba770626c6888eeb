"""Numbered schema migrations, applied by `PRAGMA user_version`.

Each entry moves the schema from version N-1 to N inside one transaction, so a fresh
file and every older version reach the current one at start, and a crash mid-migration
leaves the previous version intact. Append new migrations; never edit an old one.
"""

from __future__ import annotations

import apsw

MIGRATIONS: list[str] = [
    # 1: the appliance core
    """
    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL              -- JSON
    );
    CREATE TABLE devices (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE, -- sha256 of the bearer token
        token_salt TEXT NOT NULL,        -- with the appliance key, derives the token (HMAC key)
        auth_scheme TEXT NOT NULL DEFAULT 'bearer' CHECK (auth_scheme IN ('bearer', 'hmac')),
        enabled INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        last_seen TEXT,
        last_config_fetch TEXT,
        last_seq INTEGER,
        reported_mode TEXT,
        desired_mode TEXT NOT NULL DEFAULT 'baseline' CHECK (desired_mode IN ('baseline', 'burst')),
        mode_until TEXT,
        config_version INTEGER NOT NULL DEFAULT 1,
        fw_version TEXT,
        health TEXT NOT NULL DEFAULT '{}'  -- JSON, the last heartbeat
    );
    CREATE TABLE device_settings (
        device_id TEXT PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
        values_json TEXT NOT NULL DEFAULT '{}'  -- overrides of settings.DEVICE_SETTINGS
    );
    CREATE TABLE captures (
        id INTEGER PRIMARY KEY,
        device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        capture_ts TEXT NOT NULL,
        capture_epoch REAL NOT NULL,
        received_at TEXT NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        jpeg_quality INTEGER NOT NULL,
        size_bytes INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        path TEXT NOT NULL,              -- relative to the data directory
        mode TEXT,
        rssi INTEGER,
        fw_version TEXT,
        notes TEXT,
        UNIQUE (device_id, seq)
    );
    CREATE INDEX captures_received ON captures (received_at);
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY,
        capture_id INTEGER NOT NULL UNIQUE REFERENCES captures(id) ON DELETE CASCADE,
        device_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        state TEXT NOT NULL DEFAULT 'queued'
            CHECK (state IN ('queued', 'running', 'done', 'failed', 'dead')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT,
        lease_until TEXT,
        next_attempt_at TEXT,
        enqueued_at TEXT
    );
    CREATE INDEX jobs_state ON jobs (state, device_id, seq);
    CREATE TABLE rois (
        id INTEGER PRIMARY KEY,
        device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        polygon TEXT NOT NULL,           -- JSON [[x, y], ...], normalized 0..1
        enabled INTEGER NOT NULL DEFAULT 1,
        thresholds TEXT NOT NULL DEFAULT '{}',  -- JSON overrides of the global defaults
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (device_id, name)
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
        roi_id INTEGER REFERENCES rois(id) ON DELETE SET NULL,
        roi_name TEXT,
        type TEXT NOT NULL,
        start_ts TEXT NOT NULL,
        end_ts TEXT,
        duration_s REAL,
        peak_score REAL,
        decision TEXT,
        decision_score REAL,
        box TEXT,                        -- JSON [x0, y0, x1, y1], normalized
        start_capture_id INTEGER,
        images_expired INTEGER NOT NULL DEFAULT 0,
        false_alarm INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        UNIQUE (device_id, roi_id, type, start_capture_id)
    );
    CREATE INDEX events_time ON events (device_id, start_ts);
    CREATE TABLE event_images (
        id INTEGER PRIMARY KEY,
        event_id INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('pre', 'peak', 'post', 'diff')),
        capture_id INTEGER,
        path TEXT NOT NULL,
        size_bytes INTEGER NOT NULL,
        UNIQUE (event_id, kind)
    );
    CREATE TABLE admin_sessions (
        token_hash TEXT PRIMARY KEY,
        csrf_token TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
    );
    CREATE TABLE admin_tokens (
        id TEXT PRIMARY KEY,
        secret_hash TEXT NOT NULL,       -- scrypt, salted
        created_at TEXT NOT NULL,
        last_used TEXT
    );
    CREATE TABLE counters (
        name TEXT NOT NULL,
        label TEXT NOT NULL DEFAULT '',
        value INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (name, label)
    );
    """,
    # 2: retention runs and metrics samples. IF NOT EXISTS: for a while these were (wrongly)
    # appended to migration 1, so files made then already have them at version 1.
    """
    CREATE TABLE IF NOT EXISTS retention_runs (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        trigger TEXT NOT NULL,           -- periodic, start, emergency, manual
        dry_run INTEGER NOT NULL DEFAULT 0,
        deleted TEXT NOT NULL DEFAULT '{}',  -- JSON {what: count}
        bytes_freed INTEGER NOT NULL DEFAULT 0,
        duration_s REAL,
        error TEXT
    );
    CREATE TABLE IF NOT EXISTS metrics_samples (
        ts TEXT PRIMARY KEY,             -- one row a minute, pruned after a day or so
        values_json TEXT NOT NULL
    );
    """,
    # 3: the analysis worker: job leases and late frames, per-device analysis state,
    # per-ROI scores for the tuning chart, lighting changes as events
    """
    ALTER TABLE jobs ADD COLUMN lease_owner TEXT;   -- host:pid:token of the worker holding the lease
    ALTER TABLE jobs ADD COLUMN late INTEGER NOT NULL DEFAULT 0;  -- done without touching the state
    ALTER TABLE jobs ADD COLUMN duration_ms REAL;
    CREATE INDEX jobs_device_seq ON jobs (device_id, seq);
    CREATE INDEX jobs_finished ON jobs (state, finished_at);
    CREATE TABLE analysis_state (
        device_id TEXT PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
        last_applied_seq INTEGER NOT NULL,
        last_capture_id INTEGER,
        last_ts REAL,                    -- capture epoch of the last applied frame
        rois_key TEXT NOT NULL DEFAULT '',  -- fingerprint of the ROIs the state was built with
        state BLOB,                      -- the serialized DeviceAnalyzer
        updated_at TEXT NOT NULL
    );
    CREATE TABLE roi_scores (
        roi_id INTEGER NOT NULL,
        capture_id INTEGER NOT NULL,
        device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
        ts REAL NOT NULL,                -- capture epoch seconds
        score REAL NOT NULL,
        lighting INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (roi_id, capture_id)
    ) WITHOUT ROWID;
    CREATE INDEX roi_scores_ts ON roi_scores (ts);
    CREATE INDEX roi_scores_device_ts ON roi_scores (device_id, ts);
    CREATE INDEX events_roi ON events (roi_id, start_ts);
    CREATE UNIQUE INDEX events_lighting_once ON events (device_id, type, start_capture_id)
        WHERE type = 'lighting_change' AND roi_id IS NULL;
    """,
    # 4: the analysis state is a checkpoint, not rewritten at every frame: state_seq is the
    # seq it was taken after; frames up to last_applied_seq are replayed onto it on restore
    """
    ALTER TABLE analysis_state ADD COLUMN state_seq INTEGER;
    UPDATE analysis_state SET state_seq = last_applied_seq WHERE state IS NOT NULL;
    """,
    # 5: HMAC nonces seen inside the replay window, so a replay is refused after a restart
    # too (storewatch/store/nonces.py). No index on the expiry: one page fewer per transaction,
    # and pruning scans at most ten minutes of requests once a minute.
    """
    CREATE TABLE hmac_nonces (
        device_id TEXT NOT NULL,
        nonce TEXT NOT NULL,
        expires_at REAL NOT NULL,        -- unix seconds; forgotten after
        PRIMARY KEY (device_id, nonce)
    ) WITHOUT ROWID;
    """,
    # 6: admin API tokens get a name and an optional expiry (storewatch admin token --list)
    """
    ALTER TABLE admin_tokens ADD COLUMN name TEXT NOT NULL DEFAULT '';
    ALTER TABLE admin_tokens ADD COLUMN expires_at TEXT;  -- RFC 3339; NULL: never
    """,
    # 7: an interaction's verdict (storewatch/analysis/verdict.py); `decision` stays, changed
    # exactly for taken or placed. Old rows: unchanged -> unchanged; changed -> taken (whether
    # it was a take or a placement cannot be told from the row, a stock change was nearly always
    # a take, and moved would break changed <=> taken or placed); no decision -> no verdict.
    """
    ALTER TABLE events ADD COLUMN verdict TEXT
        CHECK (verdict IS NULL OR verdict IN ('taken', 'placed', 'moved', 'unchanged'));
    UPDATE events SET verdict = CASE decision WHEN 'changed' THEN 'taken' WHEN 'unchanged' THEN 'unchanged' END
        WHERE type = 'interaction_detected';
    """,
    # 8: an interaction event is one visit with a row per touched ROI (storewatch/store/events.py);
    # the event row keeps its headline ROI in the old columns. Every older interaction becomes
    # a visit of its one ROI. `visit` keys the events written as visits, once per (device,
    # start capture); older rows keep their per-ROI key. `view_box`: what the touched ROIs
    # span, normalized [x0, y0, x1, y1] (unknown for older rows).
    """
    ALTER TABLE events ADD COLUMN visit INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE events ADD COLUMN view_box TEXT;
    CREATE UNIQUE INDEX events_visit_once ON events (device_id, start_capture_id) WHERE visit = 1;
    CREATE TABLE event_rois (
        id INTEGER PRIMARY KEY,
        event_id INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
        roi_id INTEGER REFERENCES rois(id) ON DELETE SET NULL,
        roi_name TEXT,
        verdict TEXT CHECK (verdict IS NULL OR verdict IN ('taken', 'placed', 'moved', 'unchanged')),
        decision TEXT,
        decision_score REAL,
        box TEXT,                        -- JSON [x0, y0, x1, y1], normalized
        peak_score REAL,
        start_ts TEXT,
        end_ts TEXT,
        UNIQUE (event_id, roi_id)
    );
    CREATE INDEX event_rois_roi ON event_rois (roi_id);
    INSERT INTO event_rois (event_id, roi_id, roi_name, verdict, decision, decision_score, box, peak_score,
                            start_ts, end_ts)
        SELECT id, roi_id, roi_name, verdict, decision, decision_score, box, peak_score, start_ts, end_ts
        FROM events WHERE type = 'interaction_detected';
    """,
    # 9: notification channels and their outbox (storewatch/notify/). An outbox row is one
    # delivery of one event to one channel, decided when the event is written; its
    # delivery_id stays the same on every retry. No foreign key to events: a delivery whose
    # event was deleted meanwhile ends as dead, saying so, rather than vanishing.
    """
    CREATE TABLE notify_channels (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL CHECK (kind IN ('webhook', 'apprise')),
        url TEXT NOT NULL,               -- secret for Apprise (tokens in it): never shown in full
        secret TEXT,                     -- the webhook's HMAC key
        verdicts TEXT NOT NULL,          -- JSON list of verdicts
        devices TEXT,                    -- JSON list of device ids; NULL: every device
        rois TEXT,                       -- JSON list of ROI ids; NULL: every ROI
        cooldown_s REAL NOT NULL DEFAULT 0,
        enabled INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL
    );
    CREATE TABLE notify_outbox (
        id INTEGER PRIMARY KEY,
        delivery_id TEXT NOT NULL UNIQUE,
        channel_id INTEGER NOT NULL REFERENCES notify_channels(id) ON DELETE CASCADE,
        event_id INTEGER NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'delivered', 'dead')),
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,        -- unix seconds
        next_attempt_at REAL NOT NULL,
        last_attempt_at REAL,
        delivered_at REAL,
        last_error TEXT,
        UNIQUE (channel_id, event_id)
    );
    CREATE INDEX notify_outbox_due ON notify_outbox (state, next_attempt_at);
    CREATE TABLE notify_cooldowns (
        channel_id INTEGER NOT NULL REFERENCES notify_channels(id) ON DELETE CASCADE,
        roi_id INTEGER NOT NULL,
        last_epoch REAL NOT NULL,        -- start of the last visit of this ROI that was notified
        PRIMARY KEY (channel_id, roi_id)
    ) WITHOUT ROWID;
    """,
    # 10: a channel's schedule (storewatch/notify/schedule.py), as written: NULL is always
    """
    ALTER TABLE notify_channels ADD COLUMN schedule TEXT;
    """,
    # 11: the owner's review of an event (storewatch/store/events.py): reviewed_at (NULL: not yet),
    # review confirmed or false_alarm (false_alarm stays, for old clients and the counter),
    # an optional reason. event_images is rebuilt to take the card thumbnails (thumb_pre,
    # thumb_post, thumb_diff) and the part of the frame a picture shows (`region`, NULL: all).
    """
    ALTER TABLE events ADD COLUMN reviewed_at TEXT;
    ALTER TABLE events ADD COLUMN review TEXT CHECK (review IS NULL OR review IN ('confirmed', 'false_alarm'));
    ALTER TABLE events ADD COLUMN false_alarm_reason TEXT;
    UPDATE events SET review = 'false_alarm', reviewed_at = created_at WHERE false_alarm = 1;
    CREATE INDEX events_unreviewed ON events (id) WHERE reviewed_at IS NULL;
    CREATE TABLE event_images_new (
        id INTEGER PRIMARY KEY,
        event_id INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('pre', 'peak', 'post', 'diff', 'thumb_pre', 'thumb_post', 'thumb_diff')),
        capture_id INTEGER,
        path TEXT NOT NULL,
        size_bytes INTEGER NOT NULL,
        region TEXT,                     -- JSON [x0, y0, x1, y1] of the frame, normalized; NULL: the whole frame
        UNIQUE (event_id, kind)
    );
    INSERT INTO event_images_new (id, event_id, kind, capture_id, path, size_bytes)
        SELECT id, event_id, kind, capture_id, path, size_bytes FROM event_images;
    DROP TABLE event_images;
    ALTER TABLE event_images_new RENAME TO event_images;
    """,
    # 12: the MQTT channel kind (storewatch/notify/mqtt.py). SQLite cannot change a CHECK, so
    # notify_channels is rebuilt; its outbox and cooldowns are set aside first and dropped, so
    # that dropping the old channels table cascades to no row (foreign keys are on).
    """
    CREATE TEMP TABLE outbox_kept AS SELECT * FROM notify_outbox;
    CREATE TEMP TABLE cooldowns_kept AS SELECT * FROM notify_cooldowns;
    DROP TABLE notify_outbox;
    DROP TABLE notify_cooldowns;
    CREATE TABLE notify_channels_new (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL CHECK (kind IN ('webhook', 'apprise', 'mqtt')),
        url TEXT NOT NULL,               -- secret for Apprise (tokens) and MQTT (password): never shown in full
        secret TEXT,                     -- the webhook's HMAC key
        verdicts TEXT NOT NULL,          -- JSON list of verdicts
        devices TEXT,                    -- JSON list of device ids; NULL: every device
        rois TEXT,                       -- JSON list of ROI ids; NULL: every ROI
        cooldown_s REAL NOT NULL DEFAULT 0,
        enabled INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        schedule TEXT
    );
    INSERT INTO notify_channels_new (id, name, kind, url, secret, verdicts, devices, rois, cooldown_s, enabled,
                                     created_at, schedule)
        SELECT id, name, kind, url, secret, verdicts, devices, rois, cooldown_s, enabled, created_at, schedule
        FROM notify_channels;
    DROP TABLE notify_channels;
    ALTER TABLE notify_channels_new RENAME TO notify_channels;
    CREATE TABLE notify_outbox (
        id INTEGER PRIMARY KEY,
        delivery_id TEXT NOT NULL UNIQUE,
        channel_id INTEGER NOT NULL REFERENCES notify_channels(id) ON DELETE CASCADE,
        event_id INTEGER NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'delivered', 'dead')),
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,        -- unix seconds
        next_attempt_at REAL NOT NULL,
        last_attempt_at REAL,
        delivered_at REAL,
        last_error TEXT,
        UNIQUE (channel_id, event_id)
    );
    CREATE INDEX notify_outbox_due ON notify_outbox (state, next_attempt_at);
    INSERT INTO notify_outbox SELECT * FROM outbox_kept;
    CREATE TABLE notify_cooldowns (
        channel_id INTEGER NOT NULL REFERENCES notify_channels(id) ON DELETE CASCADE,
        roi_id INTEGER NOT NULL,
        last_epoch REAL NOT NULL,        -- start of the last visit of this ROI that was notified
        PRIMARY KEY (channel_id, roi_id)
    ) WITHOUT ROWID;
    INSERT INTO notify_cooldowns SELECT * FROM cooldowns_kept;
    DROP TABLE outbox_kept;
    DROP TABLE cooldowns_kept;
    """,
    # 13: appliance health alerts (storewatch/notify/health.py). A channel opts in with
    # `health`; health_conditions holds what is wrong now (so a restart neither repeats nor
    # forgets an alert), health_alerts each "raised" and "resolved" message. An outbox row is
    # now one event's or one alert's delivery: notify_outbox is rebuilt with event_id
    # nullable and alert_id beside it, exactly one of the two set.
    """
    ALTER TABLE notify_channels ADD COLUMN health INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE health_conditions (
        key TEXT PRIMARY KEY,            -- e.g. stale:aisle-3, disk, dead_jobs
        since REAL NOT NULL,             -- unix seconds it was first seen
        alert_id INTEGER NOT NULL        -- the health_alerts row that raised it
    );
    CREATE TABLE health_alerts (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('raised', 'resolved')),
        title TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TEMP TABLE outbox_kept AS SELECT * FROM notify_outbox;
    DROP TABLE notify_outbox;
    CREATE TABLE notify_outbox (
        id INTEGER PRIMARY KEY,
        delivery_id TEXT NOT NULL UNIQUE,
        channel_id INTEGER NOT NULL REFERENCES notify_channels(id) ON DELETE CASCADE,
        event_id INTEGER,
        state TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'delivered', 'dead')),
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,        -- unix seconds
        next_attempt_at REAL NOT NULL,
        last_attempt_at REAL,
        delivered_at REAL,
        last_error TEXT,
        alert_id INTEGER REFERENCES health_alerts(id) ON DELETE CASCADE,
        CHECK ((event_id IS NULL) != (alert_id IS NULL)),
        UNIQUE (channel_id, event_id),
        UNIQUE (channel_id, alert_id)
    );
    CREATE INDEX notify_outbox_due ON notify_outbox (state, next_attempt_at);
    INSERT INTO notify_outbox (id, delivery_id, channel_id, event_id, state, attempts, created_at, next_attempt_at,
                               last_attempt_at, delivered_at, last_error)
        SELECT id, delivery_id, channel_id, event_id, state, attempts, created_at, next_attempt_at,
               last_attempt_at, delivered_at, last_error FROM outbox_kept;
    DROP TABLE outbox_kept;
    """,
    # 14: notifications (storewatch/notify/): a channel's daily digest (digest_at, HH:MM in the
    # appliance's time zone; NULL: none) and whether its health alerts may come outside its
    # schedule (health_anytime; 0: they wait for the schedule's next window). notify_digests
    # holds each digest as made (one per channel and local day, so a restart never makes a
    # second). The outbox is rebuilt (SQLite cannot change a CHECK) for two more kinds of row:
    # a digest (digest_id), and a visit's start or end for MQTT's "touched" (visit: JSON
    # {"state", "device_id", "start_epoch", "roi_ids"}); a row is about exactly one thing.
    """
    ALTER TABLE notify_channels ADD COLUMN digest_at TEXT;
    ALTER TABLE notify_channels ADD COLUMN health_anytime INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE notify_digests (
        id INTEGER PRIMARY KEY,
        channel_id INTEGER NOT NULL REFERENCES notify_channels(id) ON DELETE CASCADE,
        day TEXT NOT NULL,               -- the local date it was made for, YYYY-MM-DD
        period_start REAL NOT NULL,      -- unix seconds: what it counts is [period_start, period_end)
        period_end REAL NOT NULL,
        payload TEXT NOT NULL,           -- JSON, as sent
        created_at REAL NOT NULL,
        UNIQUE (channel_id, day)
    );
    CREATE TEMP TABLE outbox_kept AS SELECT * FROM notify_outbox;
    DROP TABLE notify_outbox;
    CREATE TABLE notify_outbox (
        id INTEGER PRIMARY KEY,
        delivery_id TEXT NOT NULL UNIQUE,
        channel_id INTEGER NOT NULL REFERENCES notify_channels(id) ON DELETE CASCADE,
        event_id INTEGER,
        state TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'delivered', 'dead')),
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,        -- unix seconds
        next_attempt_at REAL NOT NULL,
        last_attempt_at REAL,
        delivered_at REAL,
        last_error TEXT,
        alert_id INTEGER REFERENCES health_alerts(id) ON DELETE CASCADE,
        digest_id INTEGER REFERENCES notify_digests(id) ON DELETE CASCADE,
        visit TEXT,
        CHECK ((event_id IS NOT NULL) + (alert_id IS NOT NULL) + (digest_id IS NOT NULL) + (visit IS NOT NULL) = 1),
        UNIQUE (channel_id, event_id),
        UNIQUE (channel_id, alert_id),
        UNIQUE (channel_id, digest_id)
    );
    CREATE INDEX notify_outbox_due ON notify_outbox (state, next_attempt_at);
    INSERT INTO notify_outbox (id, delivery_id, channel_id, event_id, state, attempts, created_at, next_attempt_at,
                               last_attempt_at, delivered_at, last_error, alert_id)
        SELECT id, delivery_id, channel_id, event_id, state, attempts, created_at, next_attempt_at,
               last_attempt_at, delivered_at, last_error, alert_id FROM outbox_kept;
    DROP TABLE outbox_kept;
    """,
    # 15: an ROI busy without a break is restless (analysis/tracker.py: it starts no events
    # until calm again); since when, RFC 3339, so the panel can tell the owner. NULL: it watches.
    """
    ALTER TABLE rois ADD COLUMN restless_since TEXT;
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNew(RuntimeError):
    pass


def migrate(conn: apsw.Connection) -> int:
    """Bring the schema to SCHEMA_VERSION; returns the version found before."""
    found = conn.execute("PRAGMA user_version").fetchone()
    before = int(next(iter(found.values())) if isinstance(found, dict) else found[0])
    if before > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"the database is at schema {before}, newer than this storewatch ({SCHEMA_VERSION}); "
            "upgrade storewatch or restore a backup"
        )
    for version in range(before + 1, SCHEMA_VERSION + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(MIGRATIONS[version - 1])
            conn.execute(f"PRAGMA user_version = {version}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return before
