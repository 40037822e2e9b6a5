"""Read ``GS v 0`` raster blocks back out of ESC/POS bytes (the virtual printer uses it)."""

from __future__ import annotations

from PIL import Image, ImageOps

GS_V0 = b"\x1dv0"


def decode_raster(data: bytes) -> Image.Image:
    """Stack every GS v 0 block in ``data`` into one 1-bit image (black = printed)."""
    blocks: list[Image.Image] = []
    pos = data.find(GS_V0)
    while pos != -1:
        head = pos + len(GS_V0)
        width_bytes = data[head + 1] | data[head + 2] << 8
        height = data[head + 3] | data[head + 4] << 8
        start = head + 5
        end = start + width_bytes * height
        if end > len(data):
            raise ValueError("truncated raster block")
        # In the raster a set bit is a dot printed; in a PIL "1" image a set bit is white.
        block = Image.frombytes("1", (width_bytes * 8, height), data[start:end])
        blocks.append(ImageOps.invert(block.convert("L")).convert("1"))
        pos = data.find(GS_V0, end)
    if not blocks:
        raise ValueError("no GS v 0 raster in the data")
    width = max(b.width for b in blocks)
    image = Image.new("1", (width, sum(b.height for b in blocks)), 1)
    y = 0
    for block in blocks:
        image.paste(block, (0, y))
        y += block.height
    return image
