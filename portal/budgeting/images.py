"""Proposal images: decoded and re-encoded with Pillow (no metadata survives), with thumbnails."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000
FORMATS = {"JPEG", "PNG", "WEBP"}
LARGEST_SIDE = 1600
THUMB_SIDE = 240


class ImageRejected(ValueError):
    """An upload that is not an acceptable image; `code` names why."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class StoredImage:
    """Where an accepted image and its thumbnail were written."""

    filename: str
    thumbnail: str
    width: int
    height: int


def store_image(stream: IO[bytes], folder: Path) -> StoredImage:
    """Check an upload is a real JPEG, PNG or WebP image, then write clean copies of it."""
    data = stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ImageRejected("too-large")
    if not data:
        raise ImageRejected("empty")
    from io import BytesIO

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(BytesIO(data)) as probe:
            if probe.format not in FORMATS:
                raise ImageRejected("bad-type")
            probe.verify()
        with Image.open(BytesIO(data)) as opened:
            # Apply the camera's orientation, then drop every byte of metadata by re-encoding.
            image = ImageOps.exif_transpose(opened).convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError) as error:
        raise ImageRejected("bad-type") from error
    image.thumbnail((LARGEST_SIDE, LARGEST_SIDE))
    folder.mkdir(parents=True, exist_ok=True)
    name = secrets.token_urlsafe(16)
    filename, thumbname = f"{name}.jpg", f"{name}-t.jpg"
    image.save(folder / filename, "JPEG", quality=82, optimize=True, progressive=True)
    thumb = image.copy()
    thumb.thumbnail((THUMB_SIDE, THUMB_SIDE))
    thumb.save(folder / thumbname, "JPEG", quality=70, optimize=True)
    return StoredImage(filename, thumbname, image.width, image.height)
