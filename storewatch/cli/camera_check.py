"""`storewatch camera-test`: take one frame and save it, to validate a camera."""

from __future__ import annotations

from pathlib import Path

import click

from storewatch.contract import CONFIG_FIELD


def _config_option(flag: str, name: str) -> click.Option:
    """An option with the device config field's default, bounds and help."""
    rule = CONFIG_FIELD[name]
    return click.option(flag, name, default=rule.default, show_default=True, help=rule.help,
                        type=click.IntRange(int(rule.minimum), int(rule.maximum)))


@click.command("camera-test")
@click.option("--source", default="auto", show_default=True, metavar="auto|picamera2|simulated|dir:PATH")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the JPEG.")
@_config_option("--width", "width")
@_config_option("--height", "height")
@_config_option("--quality", "jpeg_quality")
def camera_test(source: str, out: Path, width: int, height: int, jpeg_quality: int) -> None:
    """Capture one frame from SOURCE, check it decodes, write it to --out."""
    from storewatch.camera.client import next_step_hint
    from storewatch.camera.sources.base import CameraError
    from storewatch.ops.doctor import capture_one
    from storewatch.jpeg import NotAJpeg
    from storewatch.durable import atomic_write

    try:
        frame = capture_one(source, width, height, jpeg_quality)
    except (CameraError, NotAJpeg, ValueError) as exc:
        raise click.ClickException(f"the camera test failed: {exc}.{next_step_hint(exc)}") from None
    atomic_write(out.resolve(), frame.jpeg)
    click.echo(f"{frame.source}: {frame.width}x{frame.height} JPEG, {len(frame.jpeg)} bytes in "
               f"{frame.seconds:.1f} s, written to {out}.")
    if (frame.width, frame.height) != (width, height):
        click.echo(f"Note: asked for {width}x{height}; the camera gave {frame.width}x{frame.height}.")


def register(main: click.Group) -> None:
    main.add_command(camera_test)
