"""Signed picture links in notifications (storewatch/notify/image_links.py): a webhook's
picture URL fetches the picture from a real uvicorn on 127.0.0.1 without logging in; a
changed, foreign or expired link is refused with the API's error shape, and refusing it
changes no row and no file."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from support.notify import Receiver, write_visit
from support.servers import in_process_server
from support.waiting import wait_for
from storewatch.appliance import Appliance
from storewatch.notify.channels import ChannelStore
from storewatch.notify.deliver import NotifySender
from storewatch.notify.image_links import ImageLinks, LinkRefused
from storewatch.notify.outbox import RetryPolicy

SECRET = "links-secret-0123456789abcdef"
FAST = RetryPolicy(base_s=0.1, cap_s=0.3, give_up_s=60, jitter=0.1)


@pytest.fixture
def shelf(appliance: Appliance) -> int:
    appliance.devices.add("Aisle camera", "cam")
    return appliance_rois(appliance)


def appliance_rois(appliance: Appliance) -> int:
    return appliance.rois.add("cam", "top shelf", [[0.2, 0.2], [0.6, 0.2], [0.6, 0.6], [0.2, 0.6]])["id"]


@pytest.fixture
def served(appliance: Appliance) -> Iterator[str]:
    with in_process_server(appliance) as (url, _app):
        yield url


def snapshot(appliance: Appliance) -> tuple[str, list[tuple[str, int, str]]]:
    """Every row of the database and every file under the data directory (name, size, hash)."""
    conn = appliance.db.connection()
    rows = []
    for name in [row["name"] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"
                                                     " ORDER BY name")]:
        rows.append(repr((name, conn.execute(f'SELECT * FROM "{name}"').fetchall())))
    files = sorted((str(p.relative_to(appliance.data_dir)), p.stat().st_size,
                    hashlib.sha256(p.read_bytes()).hexdigest())
                   for p in appliance.data_dir.rglob("*") if p.is_file() and not p.name.startswith("storewatch.db"))
    return "\n".join(rows), files


def refused(answer: httpx.Response, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"error"} and body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert body["error"]["details"] == []


def test_a_webhooks_picture_link_works_without_login_and_a_changed_one_is_refused(
        appliance: Appliance, shelf: int, served: str) -> None:
    receiver = Receiver()
    sender = NotifySender(appliance, served, policy=FAST, poll_s=0.05)
    sender.start()
    try:
        ChannelStore(appliance.db).add("hook", "webhook", receiver.url, secret=SECRET)
        event_id = write_visit(appliance, "cam", [(shelf, "taken")])
        (request,) = wait_for(lambda: receiver.requests)
    finally:
        sender.stop(5)
        receiver.close()
    body = request.json
    link = body["images"]["post"]
    assert link.startswith(f"{served}/api/v1/notify/images/{event_id}/post?")
    assert all("/api/v1/notify/images/" in url for url in body["thumbnails"].values())
    stored = appliance.events.picture_path(event_id, "post")
    want = appliance.images.absolute(stored).read_bytes()

    before = snapshot(appliance)
    with httpx.Client(timeout=10) as client:  # no session, no token
        answer = client.get(link)
        assert answer.status_code == 200 and answer.content == want
        assert answer.headers["content-type"] == "image/jpeg"
        assert "private" in answer.headers["cache-control"]
        assert client.get(f"{served}/api/v1/admin/events/{event_id}/images/post").status_code == 401  # as before

        parts = urlsplit(link)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        base = f"{served}{parts.path}"
        flipped = query["sig"][:-1] + ("0" if query["sig"][-1] != "0" else "1")
        refused(client.get(base, params={**query, "sig": flipped}), 403, "link_invalid")
        refused(client.get(base, params={**query, "expires": str(int(query["expires"]) + 3600)}), 403, "link_invalid")
        refused(client.get(base.replace("/post", "/pre"), params=query), 403, "link_invalid")  # another picture
        refused(client.get(base.replace(f"/{event_id}/", f"/{event_id + 1}/"), params=query), 403, "link_invalid")
        refused(client.get(base), 403, "link_invalid")  # unsigned
        refused(client.get(base, params={"expires": "x", "sig": query["sig"]}), 403, "link_invalid")
        other = ImageLinks(os.urandom(32)).url(served, event_id, "post")  # another appliance's key
        refused(client.get(other), 403, "link_invalid")
    assert snapshot(appliance) == before  # refusing (and serving) wrote nothing


def test_an_expired_link_is_refused_and_a_gone_picture_is_404(appliance: Appliance, shelf: int, served: str) -> None:
    event_id = write_visit(appliance, "cam", [(shelf, "placed")])
    links = ImageLinks(appliance.key)
    expired = links.url(served, event_id, "post", now=1_000_000.0, ttl=60)
    with pytest.raises(LinkRefused) as caught:
        links.verify(event_id, "post", parse_qs(urlsplit(expired).query)["expires"][0],
                     parse_qs(urlsplit(expired).query)["sig"][0])
    assert caught.value.expired
    before = snapshot(appliance)
    with httpx.Client(timeout=10) as client:
        refused(client.get(expired), 403, "link_expired")
        refused(client.get(links.url(served, event_id, "diff")), 404, "event_not_found")  # signed, but none made
        refused(client.get(links.url(served, event_id + 50, "post")), 404, "event_not_found")
        assert client.get(links.url(served, event_id, "post")).status_code == 200
    assert snapshot(appliance) == before


def test_links_last_the_configured_time_rounded_up_to_the_hour(appliance: Appliance,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    links = ImageLinks(appliance.key)
    now = 1_800_000_100.0  # not on an hour: a minute later rounds to the same hour
    expires = int(parse_qs(urlsplit(links.url("http://a", 3, "post", now=now)).query)["expires"][0])
    assert now + 7 * 86400 <= expires < now + 7 * 86400 + 3600 and expires % 3600 == 0
    assert links.url("http://a", 3, "post", now=now) == links.url("http://a", 3, "post", now=now + 60)  # cacheable
    monkeypatch.setenv("STOREWATCH_NOTIFY_LINK_TTL_S", "7200")
    expires = int(parse_qs(urlsplit(links.url("http://a", 3, "post", now=now)).query)["expires"][0])
    assert now + 7200 <= expires <= now + 7200 + 3600
    assert links.verify(3, "post", str(expires), parse_qs(urlsplit(links.url("http://a", 3, "post", now=now)).query)
                        ["sig"][0], now=now) == expires


def test_an_apprise_message_names_the_signed_picture_link(appliance: Appliance, shelf: int) -> None:
    from storewatch.notify.message import event_message

    event_id = write_visit(appliance, "cam", [(shelf, "taken")])
    links = ImageLinks(appliance.key)
    message = event_message(appliance.events, event_id, "d1", "http://shop:8080", links)
    line = next(line for line in message.body.splitlines() if line.startswith("Picture: "))
    url = line.removeprefix("Picture: ")
    assert url == message.payload["images"]["post"] and "/api/v1/notify/images/" in url
    query = parse_qs(urlsplit(url).query)
    assert links.verify(event_id, "post", query["expires"][0], query["sig"][0]) > 0


def test_a_hostile_link_is_refused_as_invalid_never_a_500(appliance: Appliance, shelf: int, served: str) -> None:
    event_id = write_visit(appliance, "cam", [(shelf, "taken")])
    link = ImageLinks(appliance.key).url(served, event_id, "post")
    parts = urlsplit(link)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    base = f"{served}{parts.path}"
    before = snapshot(appliance)
    with httpx.Client(timeout=10) as client:
        for hostile in ({**query, "sig": "é" * len(query["sig"])},           # not ASCII (found by the API fuzz)
                        {**query, "sig": query["sig"] + "\u00ff"},
                        {**query, "expires": "١٢٣٤٥٦٧٨٩٠"}):                  # Arabic-Indic digits
            refused(client.get(base, params=hostile), 403, "link_invalid")
        refused(client.get(f"{served}/api/v1/notify/images/{2**70}/post", params=query), 404, "not_found")  # no such id
    assert snapshot(appliance) == before
