"""`storewatch doctor`: check everything an unattended appliance needs, with the next step for each."""

from __future__ import annotations

import click

from storewatch.cli import CliContext, print_json

DEFAULT_URL = "http://127.0.0.1:8080"


@click.command("doctor")
@click.option("--url", default=DEFAULT_URL, show_default=True, help="Where the appliance's server listens.")
@click.option("--camera", "camera", default="auto", show_default=True, metavar="auto|picamera2|simulated|dir:PATH|none",
              help="The frame source to test-capture from.")
@click.option("--full", is_flag=True, help="Full database integrity_check (slower).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def doctor(ctx: CliContext, url: str, camera: str, full: bool, as_json: bool) -> None:
    """Check camera, database, disk, clock, server, services and worker; exit 1 on any FAIL."""
    from storewatch import diagnostics

    checks = diagnostics.run_all(ctx.appliance, url, camera, full)
    if as_json:
        print_json(diagnostics.summary(checks))
    else:
        for check in checks:
            click.echo(f"{check.status:<5} {check.name:<22} {check.message}")
            if check.next_step and check.status in (diagnostics.WARN, diagnostics.FAIL):
                click.echo(f"{'':<28}next: {check.next_step}")
        click.echo(f"Overall: {diagnostics.worst(checks)}")
    if diagnostics.worst(checks) == diagnostics.FAIL:
        click.get_current_context().exit(1)


def register(main: click.Group) -> None:
    main.add_command(doctor)
