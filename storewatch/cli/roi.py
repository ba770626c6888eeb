"""`storewatch roi …`: a device's regions of interest and their thresholds."""

from __future__ import annotations

import functools

import click

from storewatch.analysis.tracker import RESTLESS_CALM_SECONDS
from storewatch.cli import CliContext, print_json
from storewatch.store.devices import DeviceNotFound
from storewatch.store.rois import RoiError, RoiNotFound, RoiStore, parse_polygon_text, parse_threshold_words
from storewatch.timezone import shop_time


@click.group()
def roi() -> None:
    """Shelf areas watched on each device (polygons in 0..1 frame coordinates)."""


def _guard(fn):  # noqa: ANN001, ANN202 - domain errors become messages for people
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        try:
            return fn(*args, **kwargs)
        except (DeviceNotFound, RoiNotFound, RoiError, ValueError) as exc:
            raise click.ClickException(str(exc)) from None
    return wrapper


def _store(ctx: CliContext) -> RoiStore:
    return ctx.appliance.rois


def _describe(shown: dict) -> str:
    points = " ".join(f"{x:g},{y:g}" for x, y in shown["polygon"])
    overrides = " ".join(f"{k}={v:g}" for k, v in sorted(shown["thresholds"].items()))
    state = "enabled" if shown["enabled"] else "disabled"
    return f"{shown['id']:>5}  {shown['name']:<20} {state:<9} {points}" + (f"  [{overrides}]" if overrides else "")


@roi.command("add", epilog="Thresholds: name=value words, e.g. start_threshold=0.1 (see `roi thresholds`).")
@click.argument("device_id")
@click.option("--name", required=True)
@click.option("--polygon", required=True, help='Points "x,y x,y x,y …", each 0..1 (3 to 64 points).')
@click.option("--disabled", is_flag=True, help="Add it switched off.")
@click.argument("thresholds", nargs=-1)
@click.pass_obj
@_guard
def add(ctx: CliContext, device_id: str, name: str, polygon: str, disabled: bool, thresholds: tuple[str, ...]) -> None:
    """Add an ROI to a device; the device and the analysis use it from the next frame."""
    overrides = {k: v for k, v in parse_threshold_words(list(thresholds)).items() if v is not None}
    store = _store(ctx)
    row = store.add(device_id, name, parse_polygon_text(polygon), not disabled, overrides)
    click.echo(f"Added ROI {row['id']} ({row['name']}) to {device_id}.")


@roi.command("list")
@click.argument("device_id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@_guard
def list_rois(ctx: CliContext, device_id: str, as_json: bool) -> None:
    """A device's ROIs with their polygons and threshold overrides."""
    store = _store(ctx)
    defaults = store.defaults()
    shown = [store.public(row, defaults) for row in store.list(device_id)]
    if as_json:
        print_json(shown)
        return
    if not shown:
        click.echo(f"{device_id} has no ROIs. Add one with `storewatch roi add {device_id} --name … --polygon …`.")
        return
    for item in shown:
        click.echo(_describe(item))
        if item.get("restless_since") and item["enabled"]:
            since = shop_time(ctx.appliance, item["restless_since"])
            click.echo(f"       restless since {since}: busy without a break, it starts no events until calm "
                       f"for {RESTLESS_CALM_SECONDS:g} s")


@roi.command("set")
@click.argument("device_id")
@click.argument("roi_ref", metavar="ROI_ID_OR_NAME")
@click.option("--name", help="A new name.")
@click.option("--polygon", help='New points "x,y x,y x,y …".')
@click.option("--enable/--disable", "enabled", default=None)
@click.argument("thresholds", nargs=-1)
@click.pass_obj
@_guard
def set_roi(ctx: CliContext, device_id: str, roi_ref: str, name: str | None, polygon: str | None,
            enabled: bool | None, thresholds: tuple[str, ...]) -> None:
    """Change an ROI; threshold words name=value override, name=default drops an override."""
    store = _store(ctx)
    row = store.find(device_id, roi_ref)
    changes = parse_threshold_words(list(thresholds)) if thresholds else None
    row = store.update(device_id, row["id"], name=name, polygon=parse_polygon_text(polygon) if polygon else None,
                       enabled=enabled, thresholds=changes)
    click.echo(_describe(store.public(row)))


@roi.command("remove")
@click.argument("device_id")
@click.argument("roi_ref", metavar="ROI_ID_OR_NAME")
@click.pass_obj
@_guard
def remove(ctx: CliContext, device_id: str, roi_ref: str) -> None:
    """Delete an ROI (its past events stay)."""
    store = _store(ctx)
    row = store.find(device_id, roi_ref)
    store.remove(device_id, row["id"])
    click.echo(f"Removed ROI {row['id']} ({row['name']}) from {device_id}.")


@roi.command("thresholds")
@click.argument("assignments", nargs=-1)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@_guard
def thresholds(ctx: CliContext, assignments: tuple[str, ...], as_json: bool) -> None:
    """Show the global threshold defaults, or change them with name=value (name=default resets)."""
    store = _store(ctx)
    shown = store.update_defaults(parse_threshold_words(list(assignments))) if assignments else store.thresholds_public()
    if as_json:
        print_json(shown)
        return
    for name, value in shown["defaults"].items():
        low, high = shown["bounds"][name]
        mark = "*" if name in shown["overrides"] else " "
        click.echo(f"{mark} {name:<28} {value:<10g} [{low:g} .. {high:g}]")


def register(main: click.Group) -> None:
    main.add_command(roi)
