"""Channel secrets kept out of words and log lines: every piece of a URL that may be a token."""

from __future__ import annotations

import io
import logging

from storewatch.notify.redaction import Redactor, redact, secret_pieces


def test_every_part_of_a_url_that_may_be_a_token_is_masked() -> None:
    url = "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw@tgram/-100987654321/?format=markdown"
    said = f"sent to {url}; bot 123456789 token AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw chat -100987654321"
    masked = redact(said, url)
    for piece in ("123456789", "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", "100987654321"):
        assert piece not in masked
    assert masked.startswith("sent to …")


def test_escaped_pieces_and_the_secret_are_masked_too() -> None:
    pieces = secret_pieces("https://hooks.example/x?key=a%2Fb%2Fc-long", "my-webhook-secret")
    assert {"a/b/c-long", "a%2Fb%2Fc-long", "my-webhook-secret", "hooks.example"} <= pieces
    assert "https" not in pieces and "key" not in pieces  # too short or common to be secret


def test_the_filter_masks_records_of_any_library_on_its_handler() -> None:
    redactor, written = Redactor(), io.StringIO()
    redactor.remember("ntfy://shop-alerts-secret-topic", None)
    handler = logging.StreamHandler(written)
    handler.addFilter(redactor)
    library = logging.getLogger("test.notify.library.child")
    library.addHandler(handler)
    library.propagate = False
    try:
        library.warning("POST %s failed", "https://ntfy.sh/shop-alerts-secret-topic")
        try:
            raise OSError("cannot reach ntfy://shop-alerts-secret-topic")
        except OSError:
            library.exception("boom")
    finally:
        library.removeHandler(handler)
    assert "shop-alerts-secret-topic" not in written.getvalue()
    assert "POST https://ntfy.sh/… failed" in written.getvalue()
