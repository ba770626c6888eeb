"""Secrets: the appliance key file, derived device tokens and scrypt-hashed admin secrets."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from storewatch.credentials import (
    SCRYPT_BYTES,
    SLOW_HASHES,
    HashBusy,
    HashGate,
    derive_device_token,
    generate_password,
    hash_random_secret,
    hash_secret,
    load_or_create_key,
    new_salt,
    token_hash,
    verify_random_secret,
    verify_secret,
)
from storewatch.durable import TEMP_PREFIX


def test_key_is_created_once_as_32_bytes_readable_only_by_the_owner(tmp_path: Path) -> None:
    path = tmp_path / "appliance.key"
    key = load_or_create_key(path)
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(path) == key
    assert not list(tmp_path.glob(f"{TEMP_PREFIX}*"))


def test_a_damaged_key_file_stops_with_a_message(tmp_path: Path) -> None:
    path = tmp_path / "appliance.key"
    path.write_bytes(b"short")
    with pytest.raises(RuntimeError, match="damaged"):
        load_or_create_key(path)
    assert path.read_bytes() == b"short"  # never silently replaced: every token hangs on it


def test_device_token_is_derived_from_key_id_and_salt() -> None:
    key, salt = b"k" * 32, new_salt()
    token = derive_device_token(key, "pi-cam-1", salt)
    assert token.startswith("swd_") and len(token) >= 40
    assert derive_device_token(key, "pi-cam-1", salt) == token
    assert derive_device_token(b"j" * 32, "pi-cam-1", salt) != token
    assert derive_device_token(key, "pi-cam-2", salt) != token
    assert derive_device_token(key, "pi-cam-1", new_salt()) != token


def test_salts_and_passwords_are_fresh_each_time() -> None:
    assert len({new_salt() for _ in range(50)}) == 50
    assert len({generate_password() for _ in range(50)}) == 50
    assert all(len(generate_password()) >= 12 for _ in range(10))


def test_token_hash_is_sha256_hex() -> None:
    assert token_hash("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_hash_secret_verifies_only_the_same_secret() -> None:
    stored = hash_secret("correct horse")
    assert stored.startswith("scrypt$") and "correct horse" not in stored
    assert verify_secret("correct horse", stored)
    assert not verify_secret("correct horsf", stored)
    assert not verify_secret("", stored)
    assert hash_secret("correct horse") != stored  # salted


@pytest.mark.parametrize("stored", ["", "plain", "md5$1$2$3$00$00", "scrypt$x$8$1$00$00",
                                    "scrypt$16384$8$1$zz$00", "scrypt$16384$8$1$00"])
def test_a_garbled_stored_hash_never_verifies_and_never_raises(stored: str) -> None:
    assert verify_secret("anything", stored) is False


def test_a_random_secret_is_stored_as_sha256_and_verifies_only_itself() -> None:
    stored = hash_random_secret("s3cret-token")
    assert stored.startswith("sha256$") and "s3cret-token" not in stored
    assert verify_random_secret("s3cret-token", stored)
    assert not verify_random_secret("s3cret-tokem", stored)
    assert not verify_random_secret("s3cret-token", hash_secret("s3cret-token"))  # scrypt is not sha256


def test_the_hash_gate_gives_out_its_slots_and_then_refuses_at_once() -> None:
    gate = HashGate(2)
    with gate.slot(), gate.slot():
        assert gate.running == 2
        assert not gate.try_acquire()
        with pytest.raises(HashBusy):
            with gate.slot():
                pass
    assert gate.running == 0 and gate.try_acquire()
    gate.release()
    with pytest.raises(RuntimeError):
        gate.release()


def test_one_scrypt_check_costs_the_memory_the_gate_accounts_for() -> None:
    assert SCRYPT_BYTES == 16 * 1024 * 1024 and SLOW_HASHES.slots == 2
