"""The server's Web Push (VAPID) key pair: made once, kept in a PEM file.

``xephang init`` makes it (``prepare_instance``); a server that finds none
makes it at start-up. The public half is what a browser's
``pushManager.subscribe`` needs (``applicationServerKey``); the private half
signs every push.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid02, b64urlencode

KEY_NAME = "vapid_private.pem"


def key_path(config) -> Path:
    """VAPID_PRIVATE_KEY_FILE, or vapid_private.pem beside the database file."""
    configured = config.get("VAPID_PRIVATE_KEY_FILE") or ""
    return Path(configured) if configured else Path(config["DB"]).resolve().parent / KEY_NAME


def ensure_key(path: Path) -> bool:
    """Make the key file if there is none (readable by its owner only); True if made.

    Two processes starting together cannot both write it: the file is created
    exclusively, and the loser keeps the winner's key.
    """
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    vapid = Vapid02()
    vapid.generate_keys()
    pem = vapid.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return True


def load_key(path: Path) -> Vapid02:
    return Vapid02.from_file(str(path))


def public_key(vapid: Vapid02) -> str:
    """The public key as the browser wants it: the uncompressed point, base64url."""
    raw = vapid.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64urlencode(raw)
