"""Apprise channel: one URL reaches ntfy, Telegram, Pushover, e-mail, Gotify, Discord and the rest.

The URL carries the service's tokens, so Apprise's own log lines (which may name parts of
it) never reach the appliance's log: they are captured for this one send, and only a
line of them with every part of the URL masked becomes the delivery's error.
"""

from __future__ import annotations

import logging

import apprise
from apprise.attachment.memory import AttachMemory

from storewatch.notify.channels import Channel
from storewatch.notify.message import Message
from storewatch.notify.redaction import redact
from storewatch.notify.result import SendResult

# Apprise logs under "apprise"; it must not propagate to the root handlers (the journal).
logging.getLogger("apprise").propagate = False


def send(channel: Channel, message: Message) -> SendResult:
    notifier = apprise.Apprise()
    if not notifier.add(channel.url):
        return SendResult(False, "Apprise does not understand this channel's URL any more")
    attach = None
    if message.picture:
        attach = apprise.AppriseAttachment()
        attach.add(AttachMemory(content=message.picture, name=message.picture_name, mimetype="image/jpeg"))
    with apprise.LogCapture(level=logging.WARNING) as captured:
        ok = bool(notifier.notify(title=message.title, body=message.body, attach=attach))
    if ok:
        return SendResult(True, "the service took the message")
    said = _last_line(captured.getvalue())
    return SendResult(False, "the service did not take the message"
                      + (f" ({redact(said, channel.url)})" if said else ""))


def understands(url: str) -> bool:
    """Whether Apprise knows the service of this URL (quietly: its complaint may quote the URL)."""
    with apprise.LogCapture(level=logging.ERROR):
        return apprise.Apprise.instantiate(url) is not None


def _last_line(text: str) -> str:
    lines = [line.split(" - ", 2)[-1].strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""

