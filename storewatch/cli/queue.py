"""`storewatch queue …`: the analysis queue's state, dead jobs, retries and purging."""

from __future__ import annotations

import click

from storewatch import contract
from storewatch.cli import CliContext, print_json, print_rows
from storewatch.jobs.queue import PURGEABLE, STATES, JobQueue, parse_age, public_job
from storewatch.store.jobs import DEAD


@click.group()
def queue() -> None:
    """The analysis queue (one job per stored frame)."""


def _queue(ctx: CliContext) -> JobQueue:
    return ctx.appliance.jobs


@queue.command("status")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def status(ctx: CliContext, as_json: bool) -> None:
    """Jobs by state and the age of the oldest unfinished one."""
    jobs = _queue(ctx)
    counts, age = jobs.counts(), jobs.oldest_queued_age_s(contract.utc_now())
    if as_json:
        print_json({"counts": counts, "oldest_queued_age_s": age})
        return
    for state in STATES:
        click.echo(f"{state:<8} {counts[state]:>8}")
    click.echo("oldest unfinished: " + ("none" if age is None else f"{age:.1f} s old"))


@queue.command("list")
@click.option("--state", type=click.Choice(STATES), default=DEAD, show_default=True)
@click.option("--device", "device_id", help="Only this device's jobs.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def list_jobs(ctx: CliContext, state: str, device_id: str | None, limit: int, as_json: bool) -> None:
    """Jobs in one state, newest first."""
    print_rows([public_job(row) for row in _queue(ctx).list(state, device_id, limit)],
               [("ID", ">8", "id"), ("DEVICE", "<20", "device_id"), ("SEQ", ">10", "seq"),
                ("ATTEMPTS", ">8", "attempts"), ("UPDATED", "<25", "updated_at"), ("LAST ERROR", "", "last_error")],
               as_json=as_json, empty=f"No {state} jobs.")


@queue.command("retry")
@click.argument("job_ids", nargs=-1, type=int)
@click.option("--all-dead", is_flag=True, help="Retry every dead job.")
@click.pass_obj
def retry(ctx: CliContext, job_ids: tuple[int, ...], all_dead: bool) -> None:
    """Put dead (or failed) jobs back in the queue with fresh attempts."""
    from storewatch.jobs.broker import Broker

    if bool(job_ids) == all_dead:
        raise click.UsageError("give job ids or --all-dead (not both)")
    jobs = _queue(ctx)
    try:
        retried = jobs.retry(job_ids, all_dead=all_dead)
    except (LookupError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    broker = Broker(ctx.appliance.huey_path, jobs)
    try:
        broker.enqueue_many([job["id"] for job in retried])
    finally:
        broker.close()
    click.echo(f"{len(retried)} job(s) queued again.")


@queue.command("purge")
@click.option("--state", type=click.Choice(PURGEABLE), required=True)
@click.option("--older-than", "older_than", required=True, help="An age like 7d, 12h, 30m.")
@click.pass_obj
def purge(ctx: CliContext, state: str, older_than: str) -> None:
    """Delete finished jobs last changed longer ago than --older-than (their frames stay)."""
    try:
        age = parse_age(older_than)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--older-than") from None
    removed = _queue(ctx).purge(state, age)
    click.echo(f"Purged {removed} {state} job(s) older than {older_than}.")


def register(main: click.Group) -> None:
    main.add_command(queue)
