"""Frames from the server's PNG to the array Gymnasium's ``render()`` returns, through Pillow."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import PNGDecodeError


def decode_png(data: bytes) -> np.ndarray:
    """The pixels of a PNG as a writable ``uint8`` array of shape (height, width, 3): RGB, as
    Gymnasium's ``rgb_array`` frames are (an alpha channel, a palette or grey are converted)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"decode_png expects bytes, got {type(data).__name__}")
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            return np.array(image.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        # Pillow reports a file that is not a PNG as UnidentifiedImageError, a cut or corrupt
        # one as OSError or SyntaxError (its chunk parser's "broken PNG file").
        raise PNGDecodeError(f"the frame is not a PNG that decodes: {e}") from e
