"""Stage 1: find files, read them (each format by its reader in ``readers.READERS``), and mark
the parts worth keeping.

Cleaning never rewrites the text: it returns the spans (blocks) to keep, so that every later
offset still points into the document's original text. Whitespace is normalised when chunks
are built from those spans.
"""

from __future__ import annotations

import hashlib
import os
import re
from bisect import bisect_right
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional, Sequence

from .config import PROJECT_ROOT
from .errors import AssistantError
from .readers import EXTENSIONS, READERS, html_text, read_text  # noqa: F401  (html_text: kept importable here)
from .readers import kind as _reader_kind
from .text import trim
from .types import Document

# Every format ingestion reads, from the one registry (the CLI, the page and the API list these).
SUFFIXES = frozenset(EXTENSIONS)

# Promotional lines that news sites splice into articles ("Register for Tekedia Mini-MBA…").
# A line is dropped when it is short and reads like an advert, never for a single weak word.
_PROMO = re.compile(
    r"\b(register (for|to|now)|registrations?\b|subscribe|sign up|newsletter|early bird|masterclass|"
    r"mini-mba|co-invest|discounts?\b|advertisement|sponsored|click here|follow us|"
    r"download (our|the) app|read more:|promo code|limited offer)",
    re.IGNORECASE,
)
_PROMO_MAX_CHARS = 300


def source_name(path: Path) -> str:
    """What users see for a file: its path inside the project, else its absolute path."""
    try:
        return path.relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return str(path)


def shown(path: object) -> str:
    """A path as one printable line for messages: control characters (a newline in a file name)
    and bytes that are not UTF-8 are escaped, so an error stays one line naming the file."""
    text = str(path).encode("utf-8", "backslashreplace").decode("utf-8")
    return re.sub(r"[\x00-\x1f\x7f]", lambda m: repr(m.group())[1:-1], text)


def kind(path: object) -> str:
    """How a file is read: "text", "html", "pdf", "docx"… Equal bytes of equal kinds give equal chunks."""
    return _reader_kind(Path(str(path)).suffix)


def iter_files(
    root: Path, follow_symlinks: bool = False, skipped: Optional[list[tuple[str, str]]] = None
) -> Iterator[Path]:
    """Supported files under ``root`` (or ``root`` itself), sorted, each once.

    Symlinks inside the folder are followed only while they stay inside it, unless
    ``follow_symlinks``; loops are cut by remembering the real folders already walked.
    What is passed over for a reason the user should hear of (a symlink leading out of the
    folder, a broken or looping symlink, a subfolder that cannot be listed) is appended to
    ``skipped`` as (path, one-line reason).
    """
    root = Path(root)
    note = skipped.append if skipped is not None else (lambda item: None)
    if not root.exists():
        if root.is_symlink():
            raise AssistantError(f"{shown(root)}: broken or looping symlink")
        raise AssistantError(f"{shown(root)}: no such file or folder")
    if root.is_file():
        yield root.absolute()
        return
    if not root.is_dir():
        raise AssistantError(f"{shown(root)}: not a regular file or folder")
    base = root.resolve()
    seen_dirs: set[Path] = set()
    seen_files: set[Path] = set()
    stack = [root.absolute()]
    while stack:
        folder = stack.pop()
        real = folder.resolve()
        if real in seen_dirs:
            continue
        seen_dirs.add(real)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            if folder == root.absolute():
                raise AssistantError(f"{shown(folder)}: cannot list folder ({exc.strerror})") from exc
            note((str(folder), f"{shown(folder)}: cannot list folder ({exc.strerror}), skipped"))
            continue
        subfolders: list[Path] = []
        for entry in entries:
            path = Path(entry.path)
            supported = path.suffix.lower() in SUFFIXES
            if entry.is_symlink() and not _symlink_followed(path, root, base, follow_symlinks, supported, note):
                continue
            if entry.is_dir(follow_symlinks=True):
                subfolders.append(path)
            elif supported and entry.is_file(follow_symlinks=True):
                real_file = path.resolve()
                if real_file not in seen_files:
                    seen_files.add(real_file)
                    yield path
        stack.extend(reversed(subfolders))
    # os.scandir order is arbitrary; callers get a stable order (by name, a folder's files first).


def _symlink_followed(path: Path, root: Path, base: Path, follow_symlinks: bool, supported: bool,
                      note: Callable[[tuple[str, str]], None]) -> bool:
    """Whether to follow the symlink ``path`` met under ``root`` (real folder ``base``): not when
    it is broken or loops, nor, unless ``follow_symlinks``, when it leads outside. Where the user
    should hear of it (a supported file, or a folder led outside), ``note`` says why."""
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):  # RuntimeError: Python < 3.13 on a symlink loop
        if supported:
            note((str(path), f"{shown(path)}: broken or looping symlink, skipped"))
        return False
    if not follow_symlinks and not target.is_relative_to(base):
        if supported or target.is_dir():
            note((str(path), f"{shown(path)}: symlink leads outside {shown(root)}, not followed "
                             f"(set follow_symlinks to follow it)"))
        return False
    return True


def load(path: Path, max_bytes: int | None = None) -> Document:
    """Read one file into a Document. Raises AssistantError naming the file when it can't.

    A file over ``max_bytes`` is refused from its size alone, before any of it is read, and
    never more than ``max_bytes`` are read (a file growing meanwhile is refused too)."""
    path = Path(path).absolute()
    name = shown(path)
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        raise AssistantError(f"{name}: file name is not valid UTF-8; rename the file") from None
    try:
        size = path.stat().st_size
        if max_bytes is not None and size > max_bytes:
            raise AssistantError(f"{name}: file is {size / 1e6:.0f} MB, over the {max_bytes / 1e6:.0f} MB limit (max_file_mb)")
        with open(path, "rb") as handle:
            # read(n) sets aside n bytes at once: ask for the size stat gave, more only if it grew.
            data = handle.read(size + 1)
            if len(data) > size:
                data += handle.read() if max_bytes is None else handle.read(max(0, max_bytes + 1 - len(data)))
        if max_bytes is not None and len(data) > max_bytes:
            raise AssistantError(f"{name}: file grew past the {max_bytes / 1e6:.0f} MB limit (max_file_mb) while read")
    except FileNotFoundError as exc:
        raise AssistantError(f"{name}: file vanished before it could be read") from exc
    except IsADirectoryError as exc:
        raise AssistantError(f"{name}: is a folder, not a file") from exc
    except OSError as exc:
        raise AssistantError(f"{name}: cannot read ({exc.strerror or exc})") from exc
    # A file named on its own is read whatever its suffix; unknown ones as text.
    extracted = READERS.get(path.suffix.lower(), read_text)(data, name)
    text = extracted.text
    # Lone surrogates (from some PDFs) cannot be stored; one character for one keeps every offset.
    text = _SURROGATE.sub("\ufffd", text)
    blocks = tuple(clean_blocks(text))
    if extracted.split:
        blocks = tuple(split_at(text, blocks, [offset for offset, _ in extracted.units]))
    if not blocks:
        raise AssistantError(f"{name}: no text to index (empty, whitespace only, or nothing but markup)")
    return Document(
        path=str(path), source=source_name(path), text=text, sha256=hashlib.sha256(data).hexdigest(), blocks=blocks,
        units=extracted.units,
    )


_SURROGATE = re.compile("[\ud800-\udfff]")


def split_at(text: str, blocks: Iterable[tuple[int, int]], offsets: Sequence[int]) -> Iterator[tuple[int, int]]:
    """``blocks`` cut wherever a unit (page, slide, sheet…) starts, so no chunk spans two units."""
    for start, end in blocks:
        i = bisect_right(offsets, start)
        while i < len(offsets) and offsets[i] < end:
            piece = trim(text, start, offsets[i])
            if piece[1] > piece[0]:
                yield piece
            start = offsets[i]
            i += 1
        piece = trim(text, start, end)
        if piece[1] > piece[0]:
            yield piece


def is_boilerplate(line: str) -> bool:
    """True for a short promotional line such as "Register for Tekedia Mini-MBA … today"."""
    stripped = line.strip()
    return len(stripped) <= _PROMO_MAX_CHARS and bool(_PROMO.search(stripped))


def clean_blocks(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) spans of ``text`` to keep, split wherever a boilerplate line was cut out.

    Blank lines stay inside a span (chunking folds whitespace), so a chunk never straddles
    dropped text and ``text[start:end]`` always reads as the chunk does.
    """
    start = None
    pos = 0
    for line in text.splitlines(keepends=True):
        if is_boilerplate(line):
            if start is not None and text[start:pos].strip():
                yield trim(text, start, pos)
            start = None
        elif start is None and line.strip():
            start = pos
        pos += len(line)
    if start is not None and text[start:pos].strip():
        yield trim(text, start, pos)
