"""The `storewatch` command: parses options, opens the data directory, calls the library."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, Callable

import click

from storewatch.settings import default_data_dir
from storewatch.timezone import shop_time  # noqa: F401 - the commands import it from here; doctor (ops) too, from there


INSTALLED_DATA_DIR = Path("/var/lib/storewatch")  # scripts/install-pi's


class CliContext:
    def __init__(self, data_dir: Path, chosen: bool = True):
        self.data_dir = data_dir
        self.chosen = chosen  # given by --data-dir or $STOREWATCH_DATA_DIR, not the per-user default
        self._appliance = None

    @property
    def appliance(self):  # noqa: ANN201 - opened on first use so `--help` touches no disk
        if self._appliance is None:
            from storewatch.appliance import Appliance
            from storewatch.store.migrations import SchemaTooNew

            self._refuse_a_new_default_beside_the_installed()
            try:
                self._appliance = Appliance(self.data_dir)
            except (SchemaTooNew, PermissionError, RuntimeError) as exc:
                raise click.ClickException(str(exc)) from None
            except OSError as exc:  # not a folder, nor one that can be made (a file in its path, a typo)
                raise click.ClickException(
                    f"cannot use the data directory {self.data_dir}: {exc.strerror or exc}. Give --data-dir DIR "
                    "(or $STOREWATCH_DATA_DIR) a folder this user may create or write.") from None
        return self._appliance

    def _refuse_a_new_default_beside_the_installed(self) -> None:
        # Run as oneself on an installed Pi, the CLI would make an empty appliance in the home
        # directory and answer from it ("none yet"), beside the real one.
        if self.chosen or self.data_dir.exists() or not INSTALLED_DATA_DIR.is_dir():
            return
        raise click.ClickException(
            f"this machine's installed appliance keeps its data in {INSTALLED_DATA_DIR}, not in {self.data_dir}. "
            f"Run the command as its user: sudo -u storewatch STOREWATCH_DATA_DIR={INSTALLED_DATA_DIR} "
            "/opt/storewatch/venv/bin/storewatch ... (docs/RUNBOOK.md, 'Before you start', has an alias for it); "
            "or give --data-dir DIR for another appliance.")

    def close(self) -> None:
        if self._appliance is not None:
            self._appliance.close()


LONG_RUNNING = frozenset({"run", "worker", "camera"})


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=True, default=str))


# A table column: its header, a format spec for its cells (">10", "<25", ...; "" for the
# last, free-width one) and how a row gives its cell (a key, or a function of the row).
Column = tuple[str, str, str | Callable[[dict[str, Any]], Any]]


def print_rows(rows: list[dict[str, Any]], columns: list[Column], *, as_json: bool, empty: str) -> None:
    """A listing command's output: the rows as JSON, `empty` when there are none, else a table."""
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo(empty)
        return
    click.echo(" ".join(f"{header:{spec}}" for header, spec, _ in columns).rstrip())
    for row in rows:
        cells = (cell(row) if callable(cell) else row[cell] for _, _, cell in columns)
        click.echo(" ".join(f"{'' if value is None else value:{spec}}"
                            for value, (_, spec, _) in zip(cells, columns)).rstrip())


class _Commands(click.Group):
    """The command group; data the appliance stored that no longer reads back (a damaged
    card, a hand edit) ends a command with what to do, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from storewatch.errors import CorruptStoredValue

        try:
            return super().invoke(ctx)
        except CorruptStoredValue as exc:
            raise click.ClickException(
                f"{exc}. Run `storewatch db check` to check the whole database; "
                "`storewatch db restore BACKUP` puts a good backup back.") from None


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the database and images live. Default: $STOREWATCH_DATA_DIR, "
                   "else ~/.local/share/storewatch.")
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
@click.pass_context
def main(ctx: click.Context, data_dir: Path | None, verbose: bool) -> None:
    """storewatch: a shelf-watching appliance for small shops."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.DEBUG if verbose else logging.WARNING)
    if ctx.invoked_subcommand in LONG_RUNNING:
        from storewatch.ops.memory import tune_allocator

        tune_allocator()
    context = CliContext(data_dir or default_data_dir(),
                         chosen=data_dir is not None or bool(os.environ.get("STOREWATCH_DATA_DIR")))
    ctx.obj = context
    ctx.call_on_close(context.close)


def _register() -> None:
    from storewatch.cli import admin, camera, captures, device, events, queue, roi, run, worker

    for module in (admin, camera, captures, device, events, queue, roi, run, worker):
        module.register(main)
    from storewatch.cli import camera_check, db, doctor, export, notify, replay, retention, settings, status

    for module in (camera_check, db, doctor, export, notify, replay, retention, settings, status):
        module.register(main)


_register()
