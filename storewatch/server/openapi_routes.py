"""Every route of the API as one `Operation` entry, and GET /api/v1/openapi.json serving them.

Adding a route to the app means adding its entry here: tests/test_openapi.py compares this
list with the app's routes and names every route that one has and the other lacks. An
entry needs only method, path and summary; path parameters, who may call and the usual
error answers follow from the path.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from storewatch import contract
from storewatch.server.openapi import (
    DEVICE_AUTH, DEVICE_ID_SCHEMA, METRICS_AUTH, NO_AUTH, Operation, Schema, build_document, dataclass_schema, openapi_path,
    number as _number, rules_schema, settings_schema, setting_schema,
)
from storewatch.analysis.thresholds import BOUNDS, HELP, Thresholds
from storewatch.store.events import IMAGE_KINDS, MAX_REASON, THUMB_KINDS
from storewatch.store.events import MAX_LIMIT as EVENTS_MAX_LIMIT
from storewatch.settings import APPLIANCE_SETTINGS, DEVICE_SETTINGS

OPENAPI_PATH = f"{contract.API_PREFIX}/openapi.json"
A = f"{contract.API_PREFIX}/admin"

# --- the device contract --------------------------------------------------------------------

FRAME_META = rules_schema(contract.FRAME_META_RULES, "The frame's metadata (shared/CONTRACT.md).")
HEARTBEAT = rules_schema(contract.HEARTBEAT_RULES, "The device's health report.")
_MODE: Schema = {"type": "string", "enum": list(contract.MODES)}
INGEST_RESULT = dataclass_schema(contract.IngestResult, {"device_id": DEVICE_ID_SCHEMA, "mode": _MODE,
                                                         "seq": {"type": "integer", "minimum": 0}})
_POINT: Schema = {"type": "array", "items": {"type": "number", "minimum": 0, "maximum": 1},
                  "minItems": 2, "maxItems": 2}
MOTION_TRIGGER: Schema = {
    "type": "object", "required": ["enabled", "threshold", "rois"],
    "properties": {
        # its settings, from the contract's config table
        **{f.json_path[1]: setting_schema(f) for f in contract.CONFIG_FIELDS if f.json_path[0] == "motion_trigger"},
        "rois": {"type": "array", "items": {
            "type": "object", "required": ["id", "polygon"],
            "properties": {"id": {"type": "integer"},
                           "polygon": {"type": "array", "items": _POINT,
                                       "description": "Normalized image coordinates, x right, y down."}}}},
    },
}
DEVICE_CONFIG = dataclass_schema(contract.DeviceConfig, {
    "device_id": DEVICE_ID_SCHEMA, "mode": _MODE,
    "mode_until": {"type": ["string", "null"], "format": "date-time"},
    "motion_trigger": MOTION_TRIGGER,
    "server_time": {"type": "string", "format": "date-time", "description": "The appliance's clock."},
    "last_seq": {"type": ["integer", "null"], "minimum": 0,
                 "description": "The highest seq stored for the device; null before its first frame."},
    # each capture setting the config carries, from the contract's config table
    **{f.name: setting_schema(f) for f in contract.CONFIG_FIELDS if len(f.json_path) == 1},
})
INGEST_FORM: Schema = {"content": {"multipart/form-data": {
    "schema": {"type": "object", "required": ["meta", "image"],
               "properties": {"meta": FRAME_META,
                              "image": {"type": "string", "format": "binary",
                                        "contentMediaType": "image/jpeg"}}},
    "encoding": {"meta": {"contentType": "application/json"}, "image": {"contentType": "image/jpeg"}},
}}}
_CONFIG_ANSWER = {"type": "object", "required": ["config_version", "mode", "server_time"],
                  "properties": {"config_version": {"type": "string"}, "mode": _MODE,
                                 "server_time": {"type": "string", "format": "date-time"}}}

DEVICE_OPERATIONS = [
    Operation("POST", contract.INGEST_FRAME_PATH, "Upload one frame", auth=DEVICE_AUTH, body=INGEST_FORM,
              answers={201: INGEST_RESULT,
                       200: {"description": "An exact re-send of a stored frame (duplicate: true).",
                             "content": {"application/json": {"schema": INGEST_RESULT}}}},
              errors={400: "Not multipart, `meta` missing or not a JSON object, `image` missing.",
                      409: "The seq is already stored with different bytes (seq_conflict), or is not above "
                           "the last seq analysed for the device (seq_too_old, details give last_seq); "
                           "nothing stored.",
                      413: f"The body is over max_body_bytes (default {contract.DEFAULT_MAX_BODY_BYTES}).",
                      415: "`image` is not a decodable JPEG.",
                      422: "A meta field is missing, of the wrong type or out of range, or "
                           "width/height differ from the JPEG's.",
                      507: ""}),
    Operation("POST", contract.HEARTBEAT_PATH, "Report the device's health", auth=DEVICE_AUTH,
              body=HEARTBEAT, answers={200: _CONFIG_ANSWER}),
    Operation("GET", contract.DEVICE_CONFIG_PATH, "What the device must apply now", auth=DEVICE_AUTH,
              query=({"name": "device_id", "in": "query", "required": True, "schema": DEVICE_ID_SCHEMA},
                     {"name": "If-None-Match", "in": "header", "required": False,
                      "schema": {"type": "string"}}),
              answers={200: {"description": "The config; its ETag is the config_version.",
                             "headers": {"ETag": {"schema": {"type": "string"}}},
                             "content": {"application/json": {"schema": DEVICE_CONFIG}}},
                       304: {"description": "If-None-Match names the current config_version."}},
              errors={422: "The device_id query parameter is missing."}),
]

# --- the admin API ----------------------------------------------------------------------------

_RESTLESS_SINCE = {"type": ["string", "null"], "format": "date-time",
                   "description": "Busy without a break since then (a screen, a plant in a draught, people "
                                  "passing behind): the ROI starts no events until calm again. Null: it watches."}
_RESTLESS_ROI = {"type": "object", "required": ["roi_id", "name", "since", "calm_seconds"],
                 "properties": {"roi_id": {"type": "integer"}, "name": {"type": "string"},
                                "since": {**_RESTLESS_SINCE, "type": "string"},
                                "calm_seconds": {"type": "number", "minimum": 0,
                                                 "description": "It watches again after this long without motion."}}}
_DEVICE = {"type": "object", "required": ["id", "name", "enabled", "auth_scheme", "config_version", "mode"],
           "properties": {"id": DEVICE_ID_SCHEMA, "name": {"type": "string"},
                          "enabled": {"type": "boolean"}, "auth_scheme": {"enum": ["bearer", "hmac"]},
                          "config_version": {"type": "string"}, "mode": _MODE,
                          "settings": {"type": "object"}, "health": {"type": "object"},
                          "restless": {"type": "array", "items": _RESTLESS_ROI,
                                       "description": "Its enabled ROIs that are restless now (in the list "
                                                      "and in GET of one device)."}}}
_NEW_TOKEN = {"type": "object", "required": ["device_id", "token"],
              "properties": {"device_id": DEVICE_ID_SCHEMA, "token": {"type": "string"}}}
_SETTINGS_ANSWER = {"type": "object", "required": ["settings", "schema"],
                    "properties": {"settings": {"type": "object"}, "schema": {"type": "object"}}}
_PASSWORD = {"type": "string", "maxLength": 1024}

ADMIN_OPERATIONS = [
    Operation("POST", f"{A}/login", "Log in: sets the session cookie, answers the CSRF token", auth=NO_AUTH,
              body={"type": "object", "required": ["password"], "properties": {"password": _PASSWORD}},
              answers={200: {"type": "object", "properties": {"csrf_token": {"type": "string"}}}},
              errors={401: "The password is wrong.", 429: ""}),
    Operation("POST", f"{A}/logout", "Log out (ends the session of the cookie, if any)", auth=NO_AUTH),
    Operation("GET", f"{A}/session", "The current session's CSRF token",
              answers={200: {"type": "object", "required": ["authenticated", "csrf_token"],
                             "properties": {"authenticated": {"type": "boolean"},
                                            "csrf_token": {"type": ["string", "null"]}}}},
              description="Without a session (no cookie, or an ended one) it answers authenticated "
                          "false rather than 401; a wrong admin API token is still 401."),
    Operation("GET", f"{A}/devices", "List the devices",
              answers={200: {"type": "object", "properties": {"devices": {"type": "array", "items": _DEVICE}}}}),
    Operation("POST", f"{A}/devices", "Add a device; its token is shown only in this answer",
              body={"type": "object", "required": ["name"],
                    "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 200},
                                   "auth_scheme": {"enum": ["bearer", "hmac"]}}},
              answers={201: {**_NEW_TOKEN, "properties": {**_NEW_TOKEN["properties"], "device": _DEVICE}}}),
    Operation("GET", f"{A}/devices/{{device_id}}", "One device", answers={200: _DEVICE}),
    Operation("PATCH", f"{A}/devices/{{device_id}}", "Change a device; all parts apply or none",
              body={"type": "object", "properties": {
                  "enabled": {"type": "boolean"}, "auth_scheme": {"enum": ["bearer", "hmac"]},
                  "settings": settings_schema(DEVICE_SETTINGS, "Capture settings sent in the config.")}},
              answers={200: _DEVICE}),
    Operation("POST", f"{A}/devices/{{device_id}}/rotate-token", "Issue a new token; the old one stops working",
              answers={200: _NEW_TOKEN}),
    Operation("POST", f"{A}/devices/{{device_id}}/burst", "Switch the device to burst mode now",
              answers={200: _DEVICE}),
    Operation("GET", f"{A}/settings", "Appliance settings with their bounds", answers={200: _SETTINGS_ANSWER}),
    Operation("PATCH", f"{A}/settings", "Change appliance settings",
              body=settings_schema(APPLIANCE_SETTINGS), answers={200: _SETTINGS_ANSWER}),
    Operation("POST", f"{A}/password", "Change the admin password (logs every session out)",
              body={"type": "object", "required": ["current", "new"],
                    "properties": {"current": _PASSWORD, "new": _PASSWORD}},
              answers={200: {"type": "object", "properties": {"changed": {"type": "boolean"}}}},
              errors={403: "The current password is wrong, or the CSRF header is missing.",
                      429: "Too many wrong passwords (shared with login), or busy checking others."}),
]

# --- ROIs, thresholds, events, queue, metrics ------------------------------------------------------

_THRESHOLDS = {"type": "object", "additionalProperties": False, "properties": {
    name: {"type": ["integer" if isinstance(getattr(Thresholds, name), int) else "number", "null"],
           "minimum": _number(low), "maximum": _number(high), "description": HELP.get(name, "")}
    for name, (low, high) in BOUNDS.items()},
    "description": "Threshold overrides by name; null drops an override (back to the default)."}
_POLYGON = {"type": "array", "items": _POINT, "minItems": 3, "maxItems": 64,
            "description": "Normalized image coordinates (0..1, x right, y down)."}
_ROI = {"type": "object", "required": ["id", "device_id", "name", "polygon", "enabled", "restless_since"],
        "properties": {"id": {"type": "integer"}, "device_id": DEVICE_ID_SCHEMA, "name": {"type": "string"},
                       "polygon": _POLYGON, "enabled": {"type": "boolean"}, "thresholds": {"type": "object"},
                       "effective_thresholds": {"type": "object"}, "restless_since": _RESTLESS_SINCE}}
_ROI_BODY = {"type": "object", "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 100},
                                              "polygon": _POLYGON, "enabled": {"type": "boolean"},
                                              "thresholds": _THRESHOLDS}}
_VERDICT = {"enum": ["taken", "placed", "moved", "unchanged", None]}
_NORMALIZED_BOX = {"type": ["array", "null"], "items": {"type": "number", "minimum": 0, "maximum": 1},
                   "minItems": 4, "maxItems": 4, "description": "Normalized [x0, y0, x1, y1] of the whole frame."}
_TOUCHED_ROI = {"type": "object", "required": ["roi_id", "roi_name", "verdict", "decision", "box", "score"],
                "properties": {"roi_id": {"type": ["integer", "null"]}, "roi_name": {"type": ["string", "null"]},
                               "verdict": _VERDICT, "decision": {"type": ["string", "null"]},
                               "box": _NORMALIZED_BOX, "score": {"type": ["number", "null"]},
                               "start_ts": {"type": ["string", "null"], "format": "date-time"},
                               "end_ts": {"type": ["string", "null"], "format": "date-time"}}}
_EVENT = {"type": "object", "required": ["id"], "properties": {
    "id": {"type": "integer"}, "device_id": DEVICE_ID_SCHEMA,
    "device_name": {"type": ["string", "null"]},
    "verdict": _VERDICT,
    "rois": {"type": "array", "items": _TOUCHED_ROI,
             "description": "The ROIs the visit touched, most significant first; empty for a lighting change."},
    "view_box": {**_NORMALIZED_BOX, "description": "What the touched ROIs span, with a margin (null: unknown)."},
    "images": {"type": "object", "properties": {kind: {"type": ["string", "null"]} for kind in IMAGE_KINDS}},
    "thumbnails": {"type": "object", "description": "Small card pictures (pre, post, diff) where made.",
                   "additionalProperties": {"type": "string"}},
    "thumbnail_region": {**_NORMALIZED_BOX, "description": "The part of the frame the thumbnails show."},
    "reviewed": {"type": "boolean"}, "reviewed_at": {"type": ["string", "null"], "format": "date-time"},
    "review": {"enum": ["confirmed", "false_alarm", None]},
    "false_alarm": {"type": "boolean"}, "false_alarm_reason": {"type": ["string", "null"]}}}
_TIME = {"type": "string", "format": "date-time"}


def _query(name: str, schema: Schema, description: str = "") -> Schema:
    param: Schema = {"name": name, "in": "query", "required": False, "schema": schema}
    if description:
        param["description"] = description
    return param


_JPEG_ANSWER = {"description": "A JPEG image.", "content": {"image/jpeg": {"schema": {"type": "string",
                                                                                      "format": "binary"}}}}
D = f"{A}/devices/{{device_id}}"
_ROI_NAME_TAKEN = "The device already has an ROI of that name (roi_name_taken)."

ANALYSIS_OPERATIONS = [
    Operation("GET", f"{D}/rois", "A device's ROIs",
              answers={200: {"type": "object", "properties": {"rois": {"type": "array", "items": _ROI}}}}),
    Operation("POST", f"{D}/rois", "Add an ROI", body={**_ROI_BODY, "required": ["name", "polygon"]},
              answers={201: _ROI}, errors={409: _ROI_NAME_TAKEN}),
    Operation("GET", f"{D}/rois/{{roi_id:int}}", "One ROI", answers={200: _ROI}),
    Operation("PATCH", f"{D}/rois/{{roi_id:int}}", "Change an ROI", body=_ROI_BODY, answers={200: _ROI},
              errors={409: _ROI_NAME_TAKEN}),
    Operation("DELETE", f"{D}/rois/{{roi_id:int}}", "Remove an ROI",
              answers={200: {"type": "object", "properties": {"deleted": {"type": "boolean"},
                                                              "id": {"type": "integer"}}}}),
    Operation("GET", f"{D}/scores", "Per-frame ROI scores, interactions and lighting changes of a span",
              query=(_query("since", _TIME), _query("until", _TIME, "Default: the newest score.")),
              errors={422: "since or until is not an RFC 3339 time, or since is after until."}),
    Operation("GET", f"{D}/latest-frame", "The device's newest stored frame", answers={200: _JPEG_ANSWER},
              query=(_query("width", {"type": "integer", "minimum": 64, "maximum": 1024},
                            "Scale the frame down to this width on the server."),),
              errors={404: "No such device, or no frame of it is stored yet.",
                      422: "width is not a whole number from 64 to 1024.",
                      503: "The newest frame could not be read from the data disk (frame_unreadable)."}),
    Operation("GET", f"{A}/thresholds", "The global analysis thresholds with their bounds"),
    Operation("PATCH", f"{A}/thresholds", "Change the global analysis thresholds", body=_THRESHOLDS),
    Operation("GET", f"{A}/events", "Events, newest first, filtered",
              query=(_query("device", DEVICE_ID_SCHEMA),
                     _query("roi", {"type": "integer", "minimum": 0}, "Events that touched this ROI."),
                     _query("decision", {"enum": ["changed", "unchanged", "unknown"]}),
                     _query("verdict", {"enum": ["taken", "placed", "moved", "unchanged"]},
                            "Events with any touched ROI of this verdict."),
                     _query("type", {"type": "string"}, "An event type, or `all`."),
                     _query("limit", {"type": "integer", "minimum": 1, "maximum": EVENTS_MAX_LIMIT}),
                     _query("before_id", {"type": "integer", "minimum": 0}),
                     _query("after_id", {"type": "integer", "minimum": 0}, "Only events newer than this id."),
                     _query("reviewed", {"enum": ["true", "false"]}),
                     _query("since", _TIME), _query("until", _TIME)),
              answers={200: {"type": "object", "properties": {"events": {"type": "array", "items": _EVENT}}}},
              errors={422: "A filter is out of range or not a time."}),
    Operation("GET", f"{A}/events/{{event_id:int}}", "One event", answers={200: _EVENT}),
    Operation("PATCH", f"{A}/events/{{event_id:int}}", "Review an event: reviewed, or a false alarm with a reason",
              body={"type": "object", "minProperties": 1, "additionalProperties": False,
                    "properties": {"reviewed": {"type": "boolean"}, "false_alarm": {"type": "boolean"},
                                   "reason": {"type": "string", "maxLength": MAX_REASON,
                                              "description": 'Only with "false_alarm": true.'}}},
              answers={200: _EVENT}),
    Operation("POST", f"{A}/events/review-all", "Mark every unreviewed event up to until_id reviewed",
              body={"type": "object", "required": ["until_id"], "properties": {
                  "until_id": {"type": "integer", "minimum": 0}, "device": DEVICE_ID_SCHEMA,
                  "roi": {"type": "integer"}, "decision": {"type": "string"}, "verdict": {"type": "string"},
                  "type": {"type": "string"}, "since": _TIME, "until": _TIME}},
              answers={200: {"type": "object", "properties": {"reviewed": {"type": "integer"}}}},
              errors={422: "until_id is missing, or a filter is out of range."}),
    Operation("GET", f"{A}/events/{{event_id:int}}/images/{{kind}}", "One of an event's pictures",
              params={"kind": {"type": "string", "enum": list(IMAGE_KINDS + THUMB_KINDS)}},
              answers={200: {"description": "The picture.", "content": {
                  "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
                  "image/png": {"schema": {"type": "string", "format": "binary"}}}}},
              errors={404: "No such event, a kind not in the list, or the picture has expired."}),
    Operation("GET", f"{A}/queue", "The analysis queue: counts by state and the dead jobs"),
    Operation("POST", f"{A}/queue/retry", "Queue dead jobs again",
              body={"type": "object", "properties": {
                  "job_ids": {"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 10_000},
                  "all_dead": {"type": "boolean"}}},
              errors={404: "A job id is not known.", 409: "A job is not dead."}),
    Operation("GET", f"{A}/metrics", "The appliance's figures now"),
    Operation("GET", f"{A}/metrics/history", "The figures over time, one sample a minute",
              query=(_query("since", _TIME, "Default: a day ago."),),
              errors={422: "since is not an RFC 3339 time."}),
    Operation("GET", "/metrics", "Prometheus text exposition", auth=METRICS_AUTH,
              answers={200: {"description": "Prometheus text format 0.0.4.",
                             "content": {"text/plain": {"schema": {"type": "string"}}}}}),
]

META_OPERATIONS = [
    Operation("GET", OPENAPI_PATH, "This document", auth=NO_AUTH, tag="appliance",
              answers={200: {"type": "object", "required": ["openapi", "paths"]}}),
]

# --- notification channels ------------------------------------------------------------------

N = f"{A}/notify"
_DELIVERY = {"type": "object", "properties": {
    "delivery_id": {"type": "string"}, "channel": {"type": ["string", "null"]},
    "event_id": {"type": ["integer", "null"]}, "alert_id": {"type": ["integer", "null"]},
    "state": {"enum": ["queued", "sending", "delivered", "dead"]}, "attempts": {"type": "integer"},
    "kind": {"enum": ["event", "health", "digest", "visit_started", "visit_ended"]}, "about": {"type": "string"},
    "digest_id": {"type": ["integer", "null"]},
    "created_at": {"type": "string"}, "next_attempt_at": {"type": ["string", "null"]},
    "last_attempt_at": {"type": ["string", "null"]}, "delivered_at": {"type": ["string", "null"]},
    "last_error": {"type": ["string", "null"]}}}
_CHANNEL_FIELDS = {
    "name": {"type": "string", "minLength": 1, "maxLength": 64},
    "url": {"type": "string", "maxLength": 2048, "description": "Shown back masked (scheme and host)."},
    "secret": {"type": ["string", "null"], "description": "A webhook's signing secret (16+ characters); "
               "empty or left out keeps the stored one (on add: one is made and answered once)."},
    "verdicts": {"type": "array", "items": {"enum": ["taken", "placed", "moved", "unchanged"]}},
    "devices": {"type": ["array", "null"], "items": {"type": "string"}, "description": "null: every camera."},
    "rois": {"type": ["array", "null"], "items": {"type": "integer"}, "description": "null: every area."},
    "cooldown_s": {"type": "number", "minimum": 0}, "enabled": {"type": "boolean"},
    "schedule": {"type": ["string", "null"]}, "health": {"type": "boolean"},
    "health_anytime": {"type": "boolean", "description": "Health alerts also outside the schedule (default: they "
                       "wait for its next window)."},
    "digest_at": {"type": ["string", "null"], "description": "HH:MM, the appliance's time zone: a daily digest "
                  "then; null: none."}}
_CHANNEL = {"type": "object", "properties": {
    "id": {"type": "integer"}, "kind": {"enum": ["webhook", "apprise", "mqtt"]}, **_CHANNEL_FIELDS,
    "secret": {"type": ["string", "null"], "description": "Masked: its first 3 characters."},
    "last": {"oneOf": [_DELIVERY, {"type": "null"}]},
    "last_test": {"type": ["object", "null"]},
    "counts": {"type": "object", "properties": {k: {"type": "integer"} for k in ("queued", "delivered", "dead")}}}}
_TAKEN = {409: "A channel with this name exists.", 422: "A field is wrong; `details` names it. Nothing stored."}

NOTIFY_OPERATIONS = [
    Operation("GET", f"{N}/channels", "Notification channels with their last delivery and counts",
              answers={200: {"type": "object", "properties": {"channels": {"type": "array", "items": _CHANNEL}}}}),
    Operation("POST", f"{N}/channels", "Add a channel (the CLI's rules)",
              body={"type": "object", "required": ["name", "kind", "url"],
                    "properties": {"kind": {"enum": ["webhook", "apprise", "mqtt"]}, **_CHANNEL_FIELDS}},
              answers={201: {"type": "object", "properties": {"channel": _CHANNEL,
                                                              "secret": {"type": ["string", "null"]}}}},
              errors=_TAKEN),
    Operation("PATCH", f"{N}/channels/{{channel_id}}", "Change a channel; fields left out keep their value",
              body={"type": "object", "properties": _CHANNEL_FIELDS},
              answers={200: {"type": "object", "properties": {"channel": _CHANNEL}}},
              errors={**_TAKEN, 404: "No such channel."}),
    Operation("DELETE", f"{N}/channels/{{channel_id}}", "Remove a channel and what it still had to send",
              errors={404: "No such channel."}),
    Operation("POST", f"{N}/channels/{{channel_id}}/test", "Send a test message now and say what happened",
              answers={200: {"type": "object", "properties": {"ok": {"type": "boolean"},
                                                              "detail": {"type": "string"},
                                                              "message": {"type": "string"},
                                                              "at": {"type": "string"}}}},
              errors={404: "No such channel."}),
    Operation("GET", f"{N}/outbox", "Recent deliveries, newest first",
              query=(_query("state", {"enum": ["queued", "sending", "delivered", "dead"]}),
                     _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000})),
              answers={200: {"type": "object", "properties": {"deliveries": {"type": "array", "items": _DELIVERY}}}},
              errors={422: "state or limit is out of range."}),
    Operation("GET", "/api/v1/notify/images/{event_id:int}/{kind}", "An event's picture by a notification's "
              "signed link (no login: the signature and expiry are the credential)", auth=NO_AUTH, tag="notify",
              params={"kind": {"type": "string", "enum": list(IMAGE_KINDS + THUMB_KINDS)}},
              query=(_query("expires", {"type": "integer"}, "Unix seconds; signed with the rest."),
                     _query("sig", {"type": "string"}, "HMAC of event, kind and expires.")),
              answers={200: {"description": "The picture.", "content": {
                  "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
                  "image/png": {"schema": {"type": "string", "format": "binary"}}}}},
              errors={403: "The link was changed or not made here (link_invalid), or has expired (link_expired).",
                      404: "No such event, or the picture has expired."}),
]

# --- what-if replays (server/admin_replay.py) ---------------------------------------------------

_REPLAY_TOUCHED = {"type": "object", "properties": {k: _TOUCHED_ROI["properties"][k] for k in
                                                    ("roi_id", "roi_name", "verdict", "decision", "box", "score")}}
_REPLAY_VISIT = {"type": "object", "properties": {
    "start_ts": _TIME, "end_ts": _TIME, "rois": {"type": "array", "items": _REPLAY_TOUCHED},
    "id": {"type": "integer", "description": "The live event's id (live visits only)."},
    "review": {"enum": ["confirmed", "false_alarm", None], "description": "The owner's review (live visits only)."}}}
_REPLAY_REPORT = {"type": "object", "properties": {
    "device_id": DEVICE_ID_SCHEMA, "since": _TIME, "until": _TIME, "overrides": {"type": "object"},
    "frames": {"type": "integer"}, "replayed": {"type": "array", "items": _REPLAY_VISIT},
    "live": {"type": "array", "items": _REPLAY_VISIT},
    "comparison": {"type": "array", "items": {"type": "object", "properties": {
        "kind": {"enum": ["same", "new", "gone", "verdict_changed"]}, "replayed": {"type": ["object", "null"]},
        "live": {"type": ["object", "null"]}}}},
    "review": {"type": "object", "properties": {k: {"type": "integer"} for k in
                                                ("reviewed", "false_alarms_gone", "confirmed_lost", "new_unseen")}},
    "scores": {"type": "array", "items": {"type": "object", "properties": {
        "roi_id": {"type": "integer"}, "ts": _TIME, "score": {"type": "number"}}}},
    "summary": {"type": "string", "description": 'e.g. "with these settings: 12 events instead of 15; 3 false '
                'alarms gone, 0 confirmed lost".'}}}
_SUGGESTION = {"type": "object", "properties": {
    "overrides": {"type": "object"}, "rests_on": {"type": "integer", "description": "Reviewed events it rests on."},
    "kept_confirmed": {"type": "integer"}, "dropped_false_alarms": {"type": "integer"}, "message": {"type": "string"}}}
_REPLAY = {"type": "object", "required": ["id", "kind", "device_id", "state", "frames_done"], "properties": {
    "id": {"type": "string"}, "kind": {"enum": ["replay", "suggest"]}, "device_id": DEVICE_ID_SCHEMA,
    "since": _TIME, "until": _TIME, "overrides": {"type": "object"}, "roi_id": {"type": ["integer", "null"]},
    "state": {"enum": ["running", "done", "cancelled", "failed"]}, "frames_done": {"type": "integer"},
    "frames_total": {"type": ["integer", "null"]}, "cancel_requested": {"type": "boolean"},
    "nice": {"type": ["integer", "null"], "description": "The replay process's OS scheduling nice value."},
    "started_at": _TIME, "finished_at": {"type": ["string", "null"], "format": "date-time"},
    "error": {"type": ["string", "null"], "description": "Why it failed, when it did."},
    "report": {**_REPLAY_REPORT, "description": "Once a replay is done."},
    "suggestion": {**_SUGGESTION, "description": "Once a suggestion search is done."}}}
_REPLAY_SPAN = {"since": {"oneOf": [_TIME, {"type": "number", "minimum": 0}], "description": "RFC 3339 or epoch seconds."},
                "until": {"oneOf": [_TIME, {"type": "number", "minimum": 0}]},
                "device_id": DEVICE_ID_SCHEMA,
                "roi_id": {"type": ["integer", "null"], "description": "Only this ROI; null: all of the device's."}}
_REPLAY_ERRORS = {404: "No such device or ROI.", 409: "A replay is already running (replay_running): one runs at a "
                  "time; or none of the device's frames are kept (no_frames_kept). Nothing started.",
                  422: "A field is wrong (details name it), since is not before until, an override is unknown or out "
                       "of its bounds, or the span lies outside the kept frames. Nothing started."}
R = f"{A}/replays"

REPLAY_OPERATIONS = [
    Operation("GET", f"{D}/replay-range", "The span of the device's frames kept for replay",
              answers={200: {"type": "object", "properties": {
                  "device_id": DEVICE_ID_SCHEMA, "since": {"type": ["string", "null"], "format": "date-time"},
                  "until": {"type": ["string", "null"], "format": "date-time"}}}}),
    Operation("GET", R, "The last replay (only it is kept), or null",
              answers={200: {"type": "object", "properties": {"replay": {"oneOf": [_REPLAY, {"type": "null"}]}}}}),
    Operation("POST", R, "Start a what-if replay of kept frames with other thresholds (one at a time)",
              body={"type": "object", "required": ["device_id", "since", "until"], "additionalProperties": False,
                    "properties": {**_REPLAY_SPAN, "overrides": _THRESHOLDS}},
              answers={202: {"description": "Started; Location names it.", "headers": {"Location": {"schema": {
                  "type": "string"}}}, "content": {"application/json": {"schema": _REPLAY}}}},
              errors=_REPLAY_ERRORS),
    Operation("POST", f"{A}/suggestions", "Start a bounded search for thresholds that keep every confirmed event and "
              "drop the most false alarms; it runs as a replay (follow it at /replays/{id})",
              body={"type": "object", "required": ["device_id", "since", "until"], "additionalProperties": False,
                    "properties": _REPLAY_SPAN},
              answers={202: {"description": "Started; Location names it.", "headers": {"Location": {"schema": {
                  "type": "string"}}}, "content": {"application/json": {"schema": _REPLAY}}}},
              errors=_REPLAY_ERRORS),
    Operation("GET", f"{R}/{{replay_id}}", "A replay's progress, and its report once done", answers={200: _REPLAY},
              errors={404: "Not the last replay (only it is kept)."}),
    Operation("DELETE", f"{R}/{{replay_id}}", "Cancel a replay (it stops at its next frames)",
              answers={202: {"description": "Cancelling.", "content": {"application/json": {"schema": _REPLAY}}},
                       200: {"description": "It had already ended; unchanged.",
                             "content": {"application/json": {"schema": _REPLAY}}}},
              errors={404: "Not the last replay (only it is kept)."}),
]

OPERATIONS = [*DEVICE_OPERATIONS, *ADMIN_OPERATIONS, *ANALYSIS_OPERATIONS, *NOTIFY_OPERATIONS, *REPLAY_OPERATIONS,
              *META_OPERATIONS]


def _version() -> str:
    try:
        return importlib.metadata.version("storewatch")
    except importlib.metadata.PackageNotFoundError:
        return "0"


def routed(routes: Iterable[BaseRoute], prefix: str = "") -> set[tuple[str, str]]:
    """(METHOD, document path) of every HTTP route, mounts walked; HEAD goes with GET."""
    found: set[tuple[str, str]] = set()
    for route in routes:
        if isinstance(route, Route):
            found |= {(method, openapi_path(prefix + route.path)) for method in route.methods or () if method != "HEAD"}
        elif isinstance(route, Mount):
            found |= routed(route.routes, prefix + route.path)
    return found


def document(routes: Iterable[BaseRoute] | None = None) -> Schema:
    """The document of every operation; of only those the app routes when `routes` is given."""
    wanted = routed(routes) if routes is not None else None
    operations = [op for op in OPERATIONS
                  if wanted is None or (op.method.upper(), openapi_path(op.path)) in wanted]
    return build_document(operations, _version())


async def openapi_json(request: Request) -> Response:
    state = request.app.state
    if getattr(state, "openapi_document", None) is None:
        state.openapi_document = document(request.app.routes)
    return JSONResponse(state.openapi_document, headers={"Cache-Control": "no-cache"})


ROUTES = [Route(OPENAPI_PATH, openapi_json, methods=["GET"])]
