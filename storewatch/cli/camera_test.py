"""`storewatch camera-test`: take one frame and save it, to validate a camera."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("camera-test")
@click.option("--source", default="auto", show_default=True, metavar="auto|picamera2|simulated|dir:PATH")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the JPEG.")
@click.option("--width", default=1640, show_default=True, type=click.IntRange(16, 8192))
@click.option("--height", default=1232, show_default=True, type=click.IntRange(16, 8192))
@click.option("--quality", default=85, show_default=True, type=click.IntRange(1, 100))
def camera_test(source: str, out: Path, width: int, height: int, quality: int) -> None:
    """Capture one frame from SOURCE, check it decodes, write it to --out."""
    from storewatch.camera.source import CameraError
    from storewatch.diagnostics import capture_one
    from storewatch.jpeg import NotAJpeg
    from storewatch.storage import atomic_write

    try:
        frame = capture_one(source, width, height, quality)
    except (CameraError, NotAJpeg, ValueError) as exc:
        hint = f" {exc.next_step}" if isinstance(exc, CameraError) else ""
        raise click.ClickException(f"the camera test failed: {exc}.{hint}") from None
    atomic_write(out.resolve(), frame.jpeg)
    click.echo(f"{frame.source}: {frame.width}x{frame.height} JPEG, {len(frame.jpeg)} bytes in "
               f"{frame.seconds:.1f} s, written to {out}.")
    if (frame.width, frame.height) != (width, height):
        click.echo(f"Note: asked for {width}x{height}; the camera gave {frame.width}x{frame.height}.")


def register(main: click.Group) -> None:
    main.add_command(camera_test)
