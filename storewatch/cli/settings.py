"""`storewatch settings`: the appliance's own settings (time zone, /metrics, retention, the
analysis attempts), as the admin panel's Settings page shows them."""

from __future__ import annotations

import json
from typing import Any

import click

from storewatch.cli import CliContext, print_json
from storewatch.settings import APPLIANCE_SETTINGS, SettingError, parse_assignments


def _shown(value: Any) -> str:
    return json.dumps(value) if isinstance(value, bool) else str(value)  # true/false, as typed back


@click.command("settings", epilog="Settings: " + "; ".join(
    f"{name} ({setting.help})" for name, setting in APPLIANCE_SETTINGS.items()))
@click.argument("assignments", nargs=-1)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def settings(ctx: CliContext, assignments: tuple[str, ...], as_json: bool) -> None:
    """Show the appliance's settings, or change some: `storewatch settings time_zone=Europe/Berlin`.

    A running appliance takes a change within a few seconds."""
    store = ctx.appliance.settings
    if assignments:
        try:
            store.update(parse_assignments(list(assignments), APPLIANCE_SETTINGS))
        except SettingError as exc:
            raise click.ClickException(str(exc)) from None
    shown = store.all()
    if as_json:
        print_json(shown)
        return
    width = max(len(name) for name in shown)
    for name, value in shown.items():
        click.echo(f"{name:<{width}} = {_shown(value)}")


def register(main: click.Group) -> None:
    main.add_command(settings)
