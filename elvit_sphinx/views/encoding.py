"""How view data travels to the page: NumPy arrays as base64 typed arrays inside JSON.

A view's data is plain JSON. Arrays are packed by :func:`encode` into
``{"dtype": "f32", "shape": [...], "b64": "..."}``, which the page's runtime
(``static/elvit.js``, ``elvit.decode``) turns back into a typed array without parsing one number
at a time. Little-endian on both sides, as every browser and NumPy on x86/ARM are.

* ``u8`` for palette indices (heatmap colours, min-max normalised to 0…255) and RGB pixels;
* ``f32`` for every number the reader can read off a view: it is the trace's own float32 value,
  so a readout equals the trace exactly.

:func:`decode` is the inverse, used by the tests and the static (PNG) fallbacks.
"""

from __future__ import annotations

import base64

import numpy as np

_DTYPES = {"u8": np.uint8, "i8": np.int8, "u16": np.uint16, "i16": np.int16, "f32": np.float32,
           "u32": np.uint32}


def encode(values, dtype: str = "f32") -> dict:
    """``values`` as ``{"dtype", "shape", "b64"}``; ``dtype`` is one of u8 i8 u16 i16 f32 u32."""
    try:
        numpy_type = np.dtype(_DTYPES[dtype]).newbyteorder("<")
    except KeyError:
        raise ValueError(f"unknown dtype {dtype!r}; expected one of {', '.join(_DTYPES)}") from None
    array = np.ascontiguousarray(values, dtype=numpy_type)
    return {"dtype": dtype, "shape": list(array.shape),
            "b64": base64.b64encode(array.tobytes()).decode("ascii")}


def decode(packed: dict) -> np.ndarray:
    """The array :func:`encode` packed (native byte order, read-only copy not needed)."""
    numpy_type = np.dtype(_DTYPES[packed["dtype"]]).newbyteorder("<")
    raw = base64.b64decode(packed["b64"])
    return np.frombuffer(raw, dtype=numpy_type).reshape(packed["shape"]).astype(numpy_type.newbyteorder("="))


def is_encoded(value) -> bool:
    return isinstance(value, dict) and set(value) == {"dtype", "shape", "b64"}


# --- Pictures as PNG (interpretation views) ---------------------------------------------------

def encode_png(rgb: np.ndarray) -> dict:
    """An H×W×3 uint8 picture as ``{"format": "png", "shape", "b64"}``: lossless, and for the
    book's blurry upscaled photos about five times smaller than the raw bytes. The page decodes
    it natively (``elvit.interp.drawPNG``); :func:`decode_png` is the inverse here."""
    import io

    from PIL import Image

    array = np.ascontiguousarray(rgb, dtype=np.uint8)
    buffer = io.BytesIO()
    # No gamma or colour-profile chunk: browsers then draw the exact bytes onto a canvas.
    Image.fromarray(array).save(buffer, format="PNG", optimize=True)
    return {"format": "png", "shape": list(array.shape),
            "b64": base64.b64encode(buffer.getvalue()).decode("ascii")}


def decode_png(packed: dict) -> np.ndarray:
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(base64.b64decode(packed["b64"]))).convert("RGB"))
