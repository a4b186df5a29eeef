"""Images in provider requests: a data URI or bare base64 decoded, and the format and size
read from the PNG or JPEG header, as image models read them before embedding.

Only the header is parsed (PNG `IHDR`, JPEG `SOFn`); pixels are never decoded. Anything
that is not a PNG or JPEG is a MalformedError, as the providers that take images accept
only those two formats (docs/reference/providers.md). Pure functions: no network, no store.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re

from reconciler.sandbox.providers.exchanges import MalformedError

_DATA_URI = re.compile(r"data:(?P<mime>[\w.+-]+/[\w.+-]+);base64,(?P<data>.*)", re.S)
_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG_FRAMES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
"""The JPEG start-of-frame markers (not DHT, JPG or DAC, which share the range)."""


@dataclasses.dataclass(frozen=True)
class Image:
    """What a header says about one image."""

    format: str
    """`png` or `jpeg`."""
    width: int
    height: int
    bit_depth: int
    raw: bytes = dataclasses.field(repr=False)


def decode(value: object, *, data_uri: bool) -> Image:
    """An image given as a data URI (`data_uri=True`) or as bare base64."""
    if not isinstance(value, str):
        raise MalformedError("image must be a string")
    text = value
    if data_uri:
        match = _DATA_URI.fullmatch(value)
        if match is None or match["mime"] not in ("image/png", "image/jpeg"):
            raise MalformedError("image must be a valid data URI of type image/png or image/jpeg")
        text = match["data"]
    else:
        match = _DATA_URI.fullmatch(value)
        text = match["data"] if match else value
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedError("image is not valid base64") from None
    return read(raw)


def read(raw: bytes) -> Image:
    """Format, size and bit depth from the header of a PNG or JPEG file."""
    if raw.startswith(_PNG) and len(raw) >= 25 and raw[12:16] == b"IHDR":
        width, height = int.from_bytes(raw[16:20], "big"), int.from_bytes(raw[20:24], "big")
        return Image("png", width, height, raw[24], raw)
    if raw.startswith(b"\xff\xd8"):
        found = _jpeg_frame(raw)
        if found is not None:
            return Image("jpeg", found[1], found[0], found[2], raw)
    raise MalformedError("cannot identify image file: not a PNG or JPEG image")


def _jpeg_frame(raw: bytes) -> tuple[int, int, int] | None:
    # Walk the marker segments up to the first start-of-frame: (height, width, precision).
    at = 2
    while at + 4 <= len(raw) and raw[at] == 0xFF:
        marker, length = raw[at + 1], int.from_bytes(raw[at + 2 : at + 4], "big")
        if marker in _JPEG_FRAMES and at + 9 <= len(raw):
            height = int.from_bytes(raw[at + 5 : at + 7], "big")
            width = int.from_bytes(raw[at + 7 : at + 9], "big")
            return height, width, raw[at + 4]
        at += 2 + length
    return None
