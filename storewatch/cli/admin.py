"""`storewatch admin …`: the admin password and API tokens."""

from __future__ import annotations

import sys

import click

from storewatch.cli import CliContext


@click.group()
def admin() -> None:
    """Admin access to the web panel and the admin API."""


@admin.command("set-password")
@click.pass_obj
def set_password(ctx: CliContext) -> None:
    """Set the admin password (asked twice; or piped on stdin)."""
    if sys.stdin.isatty():
        password = click.prompt("New admin password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        ctx.appliance.admins.set_password(password)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("Admin password set; existing browser sessions were logged out.")


@admin.command("token")
@click.pass_obj
def token(ctx: CliContext) -> None:
    """Print a new admin API token (last line) for scripts: `Authorization: Bearer <token>`."""
    new_token = ctx.appliance.admins.create_token()
    click.echo("New admin API token (shown only now):", err=True)
    click.echo(new_token)


def register(main: click.Group) -> None:
    main.add_command(admin)
