"""Generate the default Vietnamese voice pack offline with espeak-ng and sox.

    xephang voice build [--out DIR] [--voice vi] [--speed 140]

Writes one ``<clip>.ogg`` per entry of ``xephang.announce.every_clip()``
(chime, digits, number words, letters, phrases, words) into
``display/static/display/voice/`` and a ``manifest.json`` listing what each
clip says. An office replaces any clip by a recording of its own with the
same name (docs/voice.md).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from xephang.engine.announcements import CHIME, every_clip

VOICE_DIR = Path(__file__).parent / "static" / "display" / "voice"
RATE = 22050


def _run(args: list[str]) -> None:
    subprocess.run(args, check=True, capture_output=True)


def make_chime(path: Path) -> None:
    """A two-tone "ding-dong" synthesised by sox."""
    with tempfile.TemporaryDirectory() as tmp:
        hi, lo = Path(tmp) / "hi.wav", Path(tmp) / "lo.wav"
        _run(
            [
                "sox",
                "-n",
                "-r",
                str(RATE),
                "-c",
                "1",
                str(hi),
                "synth",
                "0.5",
                "sine",
                "988",
                "fade",
                "q",
                "0.01",
                "0.5",
                "0.45",
                "vol",
                "0.5",
            ]
        )
        _run(
            [
                "sox",
                "-n",
                "-r",
                str(RATE),
                "-c",
                "1",
                str(lo),
                "synth",
                "0.8",
                "sine",
                "784",
                "fade",
                "q",
                "0.01",
                "0.8",
                "0.75",
                "vol",
                "0.5",
            ]
        )
        _run(["sox", str(hi), str(lo), "-C", "3", str(path), "pad", "0", "0.1"])


def speak(text: str, path: Path, voice: str, speed: int) -> None:
    """Say ``text`` with espeak-ng, trim the silence around it, normalise, encode Ogg Vorbis."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        _run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), text])
        _run(
            [
                "sox",
                str(raw),
                "-r",
                str(RATE),
                "-c",
                "1",
                "-C",
                "3",
                str(path),
                "silence",
                "1",
                "0.02",
                "0.5%",
                "reverse",
                "silence",
                "1",
                "0.02",
                "0.5%",
                "reverse",
                "norm",
                "-1",
            ]
        )


def generate(out: Path = VOICE_DIR, voice: str = "vi", speed: int = 140) -> dict[str, str]:
    """(Re)generate every clip into ``out``; returns the manifest (clip → words)."""
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is needed: apt-get install -y espeak-ng sox")
    out.mkdir(parents=True, exist_ok=True)
    manifest = every_clip()
    for name, words in sorted(manifest.items()):
        path = out / f"{name}.ogg"
        if name == CHIME:
            make_chime(path)
        else:
            speak(words, path, voice, speed)
    (out / "manifest.json").write_text(
        json.dumps(
            {
                "voice": f"espeak-ng {voice}, speed {speed}",
                "format": "ogg vorbis mono",
                "clips": manifest,
            },
            ensure_ascii=False,
            indent=1,
            sort_keys=True,
        )
        + "\n",
        encoding="utf-8",
    )
    return manifest
