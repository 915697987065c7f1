"""File hashing: the sha256 that identifies a document's or a model's bytes."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Optional, Union


def sha256_file(path: Union[str, Path], max_bytes: Optional[int] = None, chunk: int = 1 << 22) -> str:
    """The sha256 of the file's bytes, read a block at a time (a model of gigabytes included).

    With ``max_bytes``, a larger file gives "" from its size alone, before any of it is read.
    Raises OSError when the file cannot be read."""
    if max_bytes is not None and Path(path).stat().st_size > max_bytes:
        return ""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()
