"""`storewatch worker`: the analysis worker alone (without the server)."""

from __future__ import annotations

import signal
import threading

import click

from storewatch.cli import CliContext


@click.command("worker")
@click.option("--threads", default=2, show_default=True, type=click.IntRange(1, 16),
              help="Analysis worker threads.")
@click.option("--lease", "lease_s", default=60.0, show_default=True, type=click.FloatRange(1, 3600),
              help="Seconds of a job's lease. It is renewed while the job runs, so another worker "
                   "takes a job over only this long after its worker stopped.")
@click.option("--poll", "poll_s", default=0.5, show_default=True, type=click.FloatRange(0.05, 10),
              help="Longest wait between looks at the queue when it is empty.")
@click.pass_obj
def worker(ctx: CliContext, threads: int, lease_s: float, poll_s: float) -> None:
    """Analyse queued frames until SIGTERM or Ctrl-C, then finish the frames in hand and exit."""
    from storewatch.jobs.processor import WorkerOptions
    from storewatch.jobs.service import WorkerService

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    service = WorkerService(ctx.appliance, workers=threads, options=WorkerOptions(lease_s=lease_s),
                            poll_max_s=poll_s, flush_counters=True)
    service.start()
    click.echo(f"storewatch worker: analysing with {threads} thread(s); data directory {ctx.data_dir}")
    while not stop.wait(1.0):
        pass
    service.stop(timeout=10.0)
    click.echo("storewatch worker stopped.")


def register(main: click.Group) -> None:
    main.add_command(worker)
