"""`storewatch db …`: online backup, integrity check and restore of the app database
(the check also looks at the task queue's own file, huey.db)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from storewatch.cli import CliContext, print_json

if TYPE_CHECKING:
    from storewatch.upkeep.backup import CheckResult


def _live(ctx: CliContext) -> Path:
    from storewatch.appliance import DATABASE_FILE

    return ctx.data_dir / DATABASE_FILE


@click.group()
def db() -> None:
    """The app database (storewatch.db): back it up, check it, restore it."""


@db.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def backup(ctx: CliContext, path: Path) -> None:
    """Copy the database to PATH while the appliance runs (consistent, checked)."""
    from storewatch.upkeep.backup import BackupError, backup as make_backup

    live = _live(ctx)
    if not live.exists():
        raise click.ClickException(f"no database at {live}; is --data-dir right?")
    folder = path.absolute().parent
    if not folder.is_dir():  # made here, it would be on the SD card in place of an unplugged stick
        raise click.ClickException(f"there is no folder {folder}. A USB stick or disk: is it plugged in and "
                                   f"mounted (`mount`)? A new folder: make it first (mkdir -p {folder}).")
    try:
        result = make_backup(live, path, lambda message: click.echo(f"  {message}", err=True))
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Backed up {live} to {result.path}: {result.size_bytes / 1e6:.1f} MB, {result.pages} pages, "
               f"schema {result.check.schema_version}, quick_check ok, {result.duration_s:.1f} s.")
    click.echo(f"Keep {ctx.data_dir / 'appliance.key'} with it: device tokens derive from it.")


@db.command("check")
@click.option("--full", is_flag=True, help="PRAGMA integrity_check (slower) instead of quick_check.")
@click.option("--file", "path", type=click.Path(dir_okay=False, path_type=Path),
              help="Check this file (e.g. a backup) instead of the live database.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def check(ctx: CliContext, full: bool, path: Path | None, as_json: bool) -> None:
    """Check the database's integrity (and the task queue's file); exit 1 if either has problems."""
    from storewatch.upkeep.backup import check as check_file

    result = check_file(path or _live(ctx), full=full)
    queue = None if path else _queue_file_problem(ctx)  # a backup has no queue file beside it
    ok = result.ok and not (queue and queue[1])
    if as_json:
        shown = {"path": str(result.path), "ok": ok, "full": full,
                 "schema_version": result.schema_version, "problems": result.problems}
        if queue:
            shown["queue_file"] = {"path": str(queue[0]), "ok": not queue[1], "problem": queue[1]}
        print_json(shown)
    else:
        _echo_check(result, full, queue)
    if not ok:
        click.get_current_context().exit(1)


def _queue_file_problem(ctx: CliContext) -> tuple[Path, str | None]:
    import sqlite3

    from storewatch.appliance import HUEY_FILE
    from storewatch.jobs import taskfile

    queue_file = ctx.data_dir / HUEY_FILE
    try:
        return queue_file, taskfile.problem(queue_file)
    except sqlite3.Error as exc:  # busy or locked: not damage, but not checked either
        return queue_file, f"could not be checked ({exc}); try again"


def _echo_check(result: CheckResult, full: bool, queue: tuple[Path, str | None] | None) -> None:
    if result.ok:
        click.echo(f"{result.path}: {'integrity_check' if full else 'quick_check'} ok, "
                   f"schema {result.schema_version}.")
    else:
        click.echo(f"{result.path}: PROBLEMS:")
        for problem in result.problems:
            click.echo(f"  {problem}")
        click.echo("Restore the last good backup: see docs/RUNBOOK.md, 'Back up and restore'.")
    if queue is None:
        return
    queue_file, problem = queue
    if problem is None:
        click.echo(f"{queue_file} (the task queue): "
                   + ("quick_check ok." if queue_file.exists() else "not made yet (the worker makes it)."))
    else:
        click.echo(f"{queue_file} (the task queue): DAMAGED: {problem}. It only carries job ids: "
                   "`storewatch run` moves it aside and starts a new one by itself, and queues every "
                   "unfinished frame again from the database. Nothing is lost.")


@db.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Really replace the live database.")
@click.pass_obj
def restore(ctx: CliContext, path: Path, yes: bool) -> None:
    """Replace the database with the backup at PATH (stop the services first)."""
    from storewatch.upkeep.backup import BackupError, restore as restore_file

    from storewatch.ops import server_address

    running = server_address.read(ctx.data_dir)
    if running is not None and running.running:  # it would go on writing to the file it has open
        raise click.ClickException(
            f"storewatch run is running on this data directory (process {running.pid}, {running.url}): "
            "stop it first (sudo systemctl stop storewatch, or Ctrl-C where it runs), then restore.")
    if not yes:
        raise click.ClickException("this replaces the live database; stop the services "
                                   "(sudo systemctl stop storewatch) and add --yes")
    try:
        kept = restore_file(path, _live(ctx), lambda message: click.echo(f"  {message}", err=True))
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Restored {path}. The previous database is kept as {kept}. "
               "Start the services again; retention reconciles the image folders with it.")


def register(main: click.Group) -> None:
    main.add_command(db)
