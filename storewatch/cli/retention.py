"""`storewatch retention …`: run retention now (or see what it would do), its history, its settings."""

from __future__ import annotations

import click

from storewatch.cli import CliContext, print_json, shop_time
from storewatch.settings import APPLIANCE_SETTINGS, SettingError, parse_assignments

RETENTION_SETTINGS = ("staging_retention_hours", "staging_max_bytes", "event_image_retention_days",
                      "score_history_days", "replay_days", "disk_reserve_bytes", "disk_reserve_percent")


@click.group()
def retention() -> None:
    """What is kept on the data disk, and for how long."""


@retention.command("run")
@click.option("--dry-run", is_flag=True, help="Only show what would be deleted.")
@click.option("--no-reconcile", is_flag=True, help="Skip comparing disk and database.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def run(ctx: CliContext, dry_run: bool, no_reconcile: bool, as_json: bool) -> None:
    """Delete what retention allows now (the appliance also does this every few minutes)."""
    from storewatch.upkeep.retention import run_retention

    progress = None if as_json else (lambda message: click.echo(f"  {message}", err=True))
    if not as_json:
        click.echo("Retention dry run: nothing is deleted." if dry_run else "Retention run:", err=True)
    report = run_retention(ctx.appliance, "manual", dry_run, not no_reconcile, progress)
    if as_json:
        print_json(report.to_json())
        return
    verb = "Would free" if dry_run else "Freed"
    kinds = ", ".join(f"{what} {n}" for what, n in sorted(report.deleted.items())) or "nothing to delete"
    click.echo(f"{verb} {report.bytes_freed / 1e6:.1f} MB in {report.duration_s:.1f} s: {kinds}.")
    for refusal in report.refused:
        click.echo(f"REFUSED: {refusal}")


@retention.command("history")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def history(ctx: CliContext, limit: int, as_json: bool) -> None:
    """The last runs, newest first: trigger, what went, bytes freed."""
    from storewatch.upkeep.retention import last_runs

    runs = last_runs(ctx.appliance, limit)
    if as_json:
        print_json(runs)
        return
    if not runs:
        click.echo("Retention has not run yet.")
        return
    click.echo(f"{'STARTED':<25} {'TRIGGER':<10} {'DRY':<4} {'FREED MB':>9} {'SECONDS':>8}  DELETED")
    for row in runs:
        deleted = ", ".join(f"{k} {v}" for k, v in row["deleted"].items() if k != "refused") or "-"
        if row["error"]:
            deleted += f"  ERROR: {row['error']}"
        if "refused" in row["deleted"]:
            deleted += "  REFUSED reconcile"
        click.echo(f"{shop_time(ctx.appliance, row['started_at']):<25} {row['trigger']:<10} {'yes' if row['dry_run'] else 'no':<4} "
                   f"{row['bytes_freed'] / 1e6:>9.1f} {row['duration_s'] or 0:>8.2f}  {deleted}")


@retention.command("settings", epilog="Settings: " + "; ".join(
    f"{name} ({APPLIANCE_SETTINGS[name].help})" for name in RETENTION_SETTINGS))
@click.argument("assignments", nargs=-1)
@click.pass_obj
def settings(ctx: CliContext, assignments: tuple[str, ...]) -> None:
    """Show the retention settings, or change some: `staging_retention_hours=12`."""
    store = ctx.appliance.settings
    if assignments:
        try:
            values = parse_assignments(list(assignments), APPLIANCE_SETTINGS)
            others = set(values) - set(RETENTION_SETTINGS)
            if others:
                raise SettingError(f"only these are retention settings: {', '.join(RETENTION_SETTINGS)}; "
                                   f"the others are set with `storewatch settings {sorted(others)[0]}=...`")
            store.update(values)
        except SettingError as exc:
            raise click.ClickException(str(exc)) from None
    for name in RETENTION_SETTINGS:
        click.echo(f"{name} = {store.get(name)}")


def register(main: click.Group) -> None:
    main.add_command(retention)
