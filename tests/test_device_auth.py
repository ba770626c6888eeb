"""Device auth: what is refused before the body is read, and what needs the body (the signature)."""

from __future__ import annotations

import secrets
import time

import pytest
from storewatch import contract
from storewatch.appliance import Appliance
from storewatch.server.device_auth import DeviceAuthenticator, PendingSignature
from storewatch.server.errors import ApiError

PATH = contract.INGEST_FRAME_PATH
BODY = b"the upload"


@pytest.fixture
def signer(appliance: Appliance) -> tuple[DeviceAuthenticator, str, str]:
    device_id, token = appliance.devices.add("signer", auth_scheme="hmac")
    return DeviceAuthenticator(appliance.devices), device_id, token


def signed(device_id: str, token: str, **changes: str) -> dict[str, str]:
    """The headers as the authenticator reads them (lower-case names). A plain mapping, so that
    text Starlette would never hand over (it decodes bytes as latin-1) can be tried too."""
    headers = contract.hmac_headers(device_id, token, "POST", PATH, BODY, time.time(), secrets.token_hex(16))
    return {name.lower(): value for name, value in {**headers, **changes}.items()}


def refused(call, *args) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call(*args)
    return caught.value


def test_the_headers_pass_before_the_body_and_the_signature_is_checked_with_it(signer) -> None:
    auth, device_id, token = signer
    pending = auth.begin(signed(device_id, token))
    assert isinstance(pending, PendingSignature) and pending.device["id"] == device_id
    assert auth.finish(pending, "POST", PATH, BODY)["id"] == device_id
    assert refused(auth.finish, auth.begin(signed(device_id, token)), "POST", PATH, b"other body").status == 401


@pytest.mark.parametrize("timestamp", ["١٧٦٤٠٠٠٠٠٠", "²", "1" * 400, "1" * 13, " 1764000000", "+1764000000"])
def test_a_timestamp_that_is_not_ascii_digits_is_401_before_the_body(signer, timestamp: str) -> None:
    auth, device_id, token = signer
    error = refused(auth.begin, signed(device_id, token, **{"X-Timestamp": timestamp}))
    assert (error.status, error.code) == (401, "unauthorized")


def test_a_replayed_nonce_is_refused_before_the_body(signer) -> None:
    auth, device_id, token = signer
    headers = signed(device_id, token)
    auth.authenticate(headers, "POST", PATH, BODY)
    assert "replayed" in refused(auth.begin, headers).message


def test_a_disabled_device_is_403_before_the_body(signer, appliance: Appliance) -> None:
    auth, device_id, token = signer
    appliance.devices.set_enabled(device_id, False)
    assert refused(auth.begin, signed(device_id, token)).code == "device_disabled"
