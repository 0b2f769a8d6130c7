"""decode_png, offline: frames as Gymnasium's rgb_array arrays, whatever PNG form they come in,
and a clear error for what is not a PNG."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from gym_server_client import PNGDecodeError, decode_png


def png_bytes(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **options)
    return buffer.getvalue()


def test_rgb_round_trips_exactly():
    pixels = np.random.default_rng(0).integers(0, 256, size=(23, 31, 3), dtype=np.uint8)
    decoded = decode_png(png_bytes(Image.fromarray(pixels), optimize=True))
    assert decoded.dtype == np.uint8 and decoded.shape == (23, 31, 3)
    assert np.array_equal(decoded, pixels)
    assert decoded.flags.writeable and decoded.flags.c_contiguous


def test_other_forms_become_rgb():
    rgba = np.random.default_rng(1).integers(0, 256, size=(4, 5, 4), dtype=np.uint8)
    assert np.array_equal(decode_png(png_bytes(Image.fromarray(rgba, "RGBA"))), rgba[:, :, :3])
    grey = np.arange(20, dtype=np.uint8).reshape(4, 5)
    assert np.array_equal(decode_png(png_bytes(Image.fromarray(grey, "L"))), np.repeat(grey[:, :, None], 3, axis=2))
    palette = Image.fromarray(rgba[:, :, :3]).convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    assert np.array_equal(decode_png(png_bytes(palette)), np.asarray(palette.convert("RGB")))


@pytest.mark.parametrize(
    "data",
    [b"", b"GIF89a\x01\x00\x01\x00", b"\x89PNG\r\n\x1a\n", png_bytes(Image.new("RGB", (8, 8)))[:-30]],
    ids=["empty", "gif", "signature-only", "truncated"],
)
def test_what_is_not_a_png_raises(data):
    with pytest.raises(PNGDecodeError, match="not a PNG that decodes"):
        decode_png(data)


def test_not_bytes():
    with pytest.raises(TypeError, match="expects bytes"):
        decode_png("frame.png")  # type: ignore[arg-type]
