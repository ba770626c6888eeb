"""`storewatch admin …`: the admin password and API tokens."""

from __future__ import annotations

import re
import sys
from datetime import timedelta
from typing import Any

import click

from storewatch.cli import CliContext, print_json, shop_time


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


_DURATION = re.compile(r"(\d{1,6})([mhdw])")
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
_MAX_EXPIRY = timedelta(days=3660)


def _parse_expiry(ctx: click.Context, param: click.Parameter, value: str | None) -> timedelta | None:
    if value is None:
        return None
    match = _DURATION.fullmatch(value.strip().lower())
    expires_in = int(match.group(1)) * _UNITS[match.group(2)] if match else None
    if expires_in is None or not timedelta(0) < expires_in <= _MAX_EXPIRY:
        raise click.BadParameter(f"{value!r} is not a time from now like 90m, 12h, 30d or 8w "
                                 "(at most 10 years)", ctx=ctx, param=param)
    return expires_in


@admin.command("token")
@click.option("--name", default="", help="What the token is for, shown by --list (e.g. \"backup script\").")
@click.option("--expires", "expires_in", metavar="TIME", callback=_parse_expiry,
              help="Stop working after TIME: 90m, 12h, 30d or 8w. Default: never.")
@click.option("--list", "show_list", is_flag=True, help="List the tokens (never their secrets).")
@click.option("--revoke", "revoke_id", metavar="ID", help="Revoke the token with this id (see --list); at once.")
@click.option("--json", "as_json", is_flag=True, help="With --list: print JSON.")
@click.pass_obj
def token(ctx: CliContext, name: str, expires_in: timedelta | None, show_list: bool, revoke_id: str | None,
          as_json: bool) -> None:
    """Make a new admin API token for scripts (printed on the last line), or list or revoke them.

    Scripts send it as `Authorization: Bearer <token>`.
    """
    making = bool(name) or expires_in is not None
    if show_list + (revoke_id is not None) + making > 1:
        raise click.UsageError("use one of --list, --revoke ID, or --name/--expires to make a token")
    if as_json and not show_list:
        raise click.UsageError("--json goes with --list")
    admins = ctx.appliance.admins
    if show_list:
        _print_tokens(ctx.appliance, admins.list_tokens(), as_json)
    elif revoke_id is not None:
        if not admins.revoke_token(revoke_id):
            raise click.ClickException(f"there is no admin API token with id {revoke_id}; "
                                       "see `storewatch admin token --list`")
        click.echo(f"Token {revoke_id} revoked; it no longer works.")
    else:
        new_token = admins.create_token(name, expires_in)
        click.echo("New admin API token (shown only now):", err=True)
        click.echo(new_token)


def _print_tokens(appliance: Any, tokens: list[dict[str, str | None]], as_json: bool) -> None:
    if as_json:
        print_json(tokens)
        return
    if not tokens:
        click.echo("No admin API tokens. Make one with `storewatch admin token`.")
        return
    width = max(len("NAME"), *(len(t["name"] or "") for t in tokens))
    click.echo(f"{'ID':<13} {'NAME':<{width}} {'CREATED':<25} {'EXPIRES':<25} LAST USED")
    for t in tokens:
        click.echo(f"{t['id']:<13} {t['name'] or '':<{width}} {shop_time(appliance, t['created_at']):<25} "
                   f"{shop_time(appliance, t['expires_at']):<25} {shop_time(appliance, t['last_used'])}")


def register(main: click.Group) -> None:
    main.add_command(admin)
