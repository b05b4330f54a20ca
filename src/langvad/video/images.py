"""Frame images checked before any work: a damaged file or a decompression bomb (an image
that claims far more pixels than it holds) is one clear error naming the file."""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from langvad.errors import VideoError

MAX_FRAME_PIXELS = 80_000_000  # under PIL's own warning limit (89 million)


def reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def image_size(f: Path) -> tuple[int, int]:
    try:
        with bombs_raise(), Image.open(f) as im:
            check_pixels(f, im.size)
            return im.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise huge_image(f, None, exc) from exc
    except (OSError, UnidentifiedImageError) as exc:
        raise bad_image(f, exc) from exc


@contextlib.contextmanager
def bombs_raise() -> Iterator[None]:
    """PIL's decompression-bomb warning as an exception (never a stray warning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


def check_pixels(f: Path, size: tuple[int, int]) -> None:
    """A frame image that claims more than MAX_FRAME_PIXELS is refused before decoding."""
    if size[0] * size[1] > MAX_FRAME_PIXELS:
        raise huge_image(f, size)


def huge_image(
    f: Path, size: tuple[int, int] | None, exc: BaseException | None = None
) -> VideoError:
    m = re.search(r"\((\d+) pixels\)", str(exc or ""))
    if size:
        claims = f"claims {size[0]}×{size[1]} pixels"
    else:
        claims = f"claims {int(m.group(1)):,} pixels" if m else "claims too many pixels"
    return VideoError(
        f"Frame image {f} {claims}, over the limit of {MAX_FRAME_PIXELS:,} pixels per frame "
        "(a damaged file or a decompression bomb)",
        "Replace the image, or downscale the frames (e.g. ffmpeg -i in.png -vf scale=1920:-1 "
        "out.png)",
    )


def check_image(f: Path, data: bytes, *, decode: bool) -> None:
    """Refuse a damaged frame image at probe time, before any expensive work: its structure
    is always checked, and every pixel is decoded when the folder is small enough."""
    try:
        with bombs_raise(), Image.open(io.BytesIO(data)) as im:
            check_pixels(f, im.size)
            im.verify()
        if decode:
            with Image.open(io.BytesIO(data)) as im:
                im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise huge_image(f, None, exc) from exc
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as exc:
        raise bad_image(f, exc) from exc


def bad_image(f: Path, exc: BaseException) -> VideoError:
    return VideoError(
        f"Cannot read frame image {f} ({reason(exc)})",
        "Replace or remove the broken image in the frame folder",
    )
