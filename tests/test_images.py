"""Reader images in every mode the book promises to handle, and every way they can be bad."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from elvit_sphinx.tracing.images import ImageError, load_rgb


def save(tmp_path, name, image, **kwargs):
    path = tmp_path / name
    image.save(path, **kwargs)
    return path


@pytest.mark.parametrize("mode, note", [
    ("RGBA", "transparency flattened onto white"),
    ("LA", "transparency flattened onto white"),
    ("L", "grayscale image repeated on 3 channels"),
    ("P", "palette image converted to RGB"),
    ("CMYK", "CMYK image converted to RGB"),
])
def test_modes_are_converted_to_rgb_and_say_so(tmp_path, mode, note):
    image = Image.new("RGB", (20, 10), (200, 30, 40)).convert(mode)
    path = save(tmp_path, f"x.{'jpg' if mode == 'CMYK' else 'png'}", image)
    loaded = load_rgb(path)
    assert loaded.rgb.mode == "RGB" and loaded.rgb.size == (20, 10)
    assert any(note in c for c in loaded.conversions)


def test_transparent_pixels_become_white(tmp_path):
    image = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    loaded = load_rgb(save(tmp_path, "t.png", image))
    assert np.asarray(loaded.rgb)[0, 0].tolist() == [255, 255, 255]


def test_sixteen_bit_grayscale_is_scaled(tmp_path):
    values = np.array([[0, 32768, 65535]], dtype=np.uint16)
    path = save(tmp_path, "g16.png", Image.fromarray(values))
    loaded = load_rgb(path)
    assert np.asarray(loaded.rgb)[0, :, 0].tolist() == [0, 128, 255]
    assert "16-bit" in loaded.conversions[0]


def test_rgb_needs_no_conversion(tmp_path):
    loaded = load_rgb(save(tmp_path, "c.png", Image.new("RGB", (5, 5))))
    assert loaded.conversions == []


@pytest.mark.parametrize("setup, message", [
    (lambda p: None, "image file not found"),
    (lambda p: p.write_text("hello, I am text"), "not an image file"),
    (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40), "or a corrupt one"),
])
def test_bad_files_raise_one_clear_error(tmp_path, setup, message):
    path = tmp_path / "bad.png"
    setup(path)
    with pytest.raises(ImageError, match=message):
        load_rgb(path)


def test_truncated_jpeg(tmp_path):
    good = save(tmp_path, "good.jpg", Image.new("RGB", (64, 64), (10, 200, 10)))
    data = good.read_bytes()
    bad = tmp_path / "truncated.jpg"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="corrupt or truncated"):
        load_rgb(bad)


def test_huge_image_is_refused_before_decoding(tmp_path):
    path = save(tmp_path, "huge.png", Image.new("1", (8000, 8000)))
    with pytest.raises(ImageError, match="8000×8000"):
        load_rgb(path)
