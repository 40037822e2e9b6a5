"""``xephang voice build``: (re)generate the offline voice pack the board plays."""

from __future__ import annotations

from pathlib import Path

import click

from .voice_pack import VOICE_DIR, generate


@click.group()
def voice():
    """Voice announcements (giọng đọc số)."""


@voice.command("build")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=VOICE_DIR,
    show_default=True,
    help="Folder the .ogg clips and manifest.json go to.",
)
@click.option(
    "--voice",
    "voice_name",
    default="vi",
    show_default=True,
    help="espeak-ng voice: vi, vi-vn-x-south, ...",
)
@click.option("--speed", default=140, show_default=True, help="Words per minute.")
def voice_build(out, voice_name, speed):
    """Generate every clip with espeak-ng and sox (needs both installed)."""
    try:
        manifest = generate(out, voice_name, speed)
    except RuntimeError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"{len(manifest)} clips in {out}")
