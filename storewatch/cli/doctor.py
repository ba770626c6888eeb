"""`storewatch doctor`: check everything an unattended appliance needs, with the next step for each."""

from __future__ import annotations

import click

from storewatch.cli import CliContext, print_json


@click.command("doctor")
@click.option("--url", help="Where the appliance's server listens. Default: the address `storewatch run` "
                             "records in its data directory while it serves.")
@click.option("--camera", "camera", default="auto", show_default=True, metavar="auto|picamera2|simulated|dir:PATH|none",
              help="The frame source to test-capture from (auto: the Pi camera on a Raspberry Pi or where "
                   "one is attached, else the simulated shelf, as storewatch run's camera takes it).")
@click.option("--full", is_flag=True, help="Full database integrity_check (slower).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def doctor_command(ctx: CliContext, url: str | None, camera: str, full: bool, as_json: bool) -> None:
    """Check camera, database, disk, clock, server, services and worker; exit 1 on any FAIL."""
    from storewatch.ops import doctor

    checks = doctor.run_all(ctx.appliance, url, camera, full)
    if as_json:
        print_json(doctor.summary(checks))
    else:
        for check in checks:
            click.echo(f"{check.status:<5} {check.name:<22} {check.message}")
            if check.next_step and check.status in (doctor.WARN, doctor.FAIL):
                click.echo(f"{'':<28}next: {check.next_step}")
        click.echo(f"Overall: {doctor.worst(checks)}")
    if doctor.worst(checks) == doctor.FAIL:
        click.get_current_context().exit(1)


def register(main: click.Group) -> None:
    main.add_command(doctor_command)
