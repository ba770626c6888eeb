"""Where channel secrets live: the 0600 database, and its backups, readable by the owner only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from click.testing import CliRunner

from storewatch.appliance import DATABASE_FILE, Appliance
from storewatch.cli import main
from storewatch.notify.channels import ChannelStore


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_database_and_its_backup_holding_secrets_are_owner_only(appliance: Appliance, data_dir: Path,
                                                                    tmp_path: Path) -> None:
    ChannelStore(appliance.db).add("phone", "apprise", "ntfys://secret-topic-1234")
    previous = os.umask(0o022)  # the usual umask: files others may read
    try:
        backup = tmp_path / "usb" / "storewatch-backup.db"
        backup.parent.mkdir()
        done = CliRunner().invoke(main, ["--data-dir", str(data_dir), "db", "backup", str(backup)])
    finally:
        os.umask(previous)
    assert done.exit_code == 0, done.output
    assert b"secret-topic-1234" in backup.read_bytes()  # stored as given: the file mode is the protection
    assert mode(data_dir / DATABASE_FILE) == 0o600
    assert mode(backup) == 0o600
