"""Stage 1: find files, read .txt/.md/.html/.pdf, and mark the parts worth keeping.

Cleaning never rewrites the text: it returns the spans (blocks) to keep, so that every later
offset still points into the document's original text. Whitespace is normalised when chunks
are built from those spans.
"""

from __future__ import annotations

import hashlib
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterator

from .config import PROJECT_ROOT
from .errors import AssistantError
from .types import Document

SUFFIXES = {".txt", ".md", ".markdown", ".html", ".htm", ".pdf"}

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


def iter_files(root: Path, follow_symlinks: bool = False) -> Iterator[Path]:
    """Supported files under ``root`` (or ``root`` itself), sorted, each once.

    Symlinks inside the folder are followed only while they stay inside it, unless
    ``follow_symlinks``; loops are cut by remembering the real folders already walked.
    """
    root = Path(root)
    if not root.exists():
        raise AssistantError(f"{root}: no such file or folder")
    if root.is_file():
        yield root.absolute()
        return
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
            entries = sorted(os.scandir(folder), key=lambda e: e.name, reverse=True)
        except OSError as exc:
            raise AssistantError(f"{folder}: cannot list folder ({exc.strerror})") from exc
        for entry in entries:
            path = Path(entry.path)
            if entry.is_symlink():
                target = path.resolve()
                if not follow_symlinks and not target.is_relative_to(base):
                    continue
            if entry.is_dir(follow_symlinks=True):
                stack.append(path)
            elif path.suffix.lower() in SUFFIXES and entry.is_file(follow_symlinks=True):
                real_file = path.resolve()
                if real_file not in seen_files:
                    seen_files.add(real_file)
                    yield path
    # os.scandir order is arbitrary; callers get a stable order from the sort above.


def load(path: Path, max_bytes: int | None = None) -> Document:
    """Read one file into a Document. Raises AssistantError naming the file when it can't."""
    path = Path(path).absolute()
    name = str(path)
    try:
        size = path.stat().st_size
        if max_bytes is not None and size > max_bytes:
            raise AssistantError(f"{name}: file is {size / 1e6:.0f} MB, over the {max_bytes / 1e6:.0f} MB limit (max_file_mb)")
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise AssistantError(f"{name}: file vanished before it could be read") from exc
    except OSError as exc:
        raise AssistantError(f"{name}: cannot read ({exc.strerror})") from exc
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        text = _pdf_text(data, name)
    else:
        text = _decode(data, name)
        if suffix in {".html", ".htm"}:
            text = html_text(text)
    blocks = tuple(clean_blocks(text))
    if not blocks:
        raise AssistantError(f"{name}: no text to index (empty, whitespace only, or nothing but markup)")
    return Document(
        path=name, source=source_name(path), text=text, sha256=hashlib.sha256(data).hexdigest(), blocks=blocks
    )


def _decode(data: bytes, name: str) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise AssistantError(f"{name}: broken UTF-16 text") from exc
    if b"\x00" in data[:8192]:
        raise AssistantError(f"{name}: looks like a binary file, not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Not UTF-8: legacy single-byte text (Windows-1252 is a superset of Latin-1's printables).
    text = data.decode("cp1252", errors="replace")
    controls = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\t\n\r\f")
    if controls > len(text[:8192]) * 0.05:
        raise AssistantError(f"{name}: looks like a binary file, not text")
    return text


def _pdf_text(data: bytes, name: str) -> str:
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except Exception as exc:  # pypdf raises several types for unsupported encryption
                raise AssistantError(f"{name}: encrypted PDF, cannot read it ({exc})") from exc
            if not ok:
                raise AssistantError(f"{name}: encrypted PDF, a password is needed")
        pages = [page.extract_text() or "" for page in reader.pages]
    except AssistantError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise AssistantError(f"{name}: malformed PDF ({exc})") from exc
    text = "\n\n".join(p.strip() for p in pages)
    if not text.strip():
        raise AssistantError(f"{name}: PDF has no text layer (scanned?); OCR it first")
    return text


class _TextExtractor(HTMLParser):
    _SKIP = {"script", "style", "noscript", "template", "svg", "head", "nav", "footer", "aside", "form"}
    _BLOCK = {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section",
              "article", "blockquote", "pre", "table", "header", "main", "figcaption", "title", "dd", "dt"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self._SKIP:
            self.skip += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def html_text(html: str) -> str:
    """Visible text of an HTML page, one block per line; scripts, styles and navigation dropped."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


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
                yield _trim(text, start, pos)
            start = None
        elif start is None and line.strip():
            start = pos
        pos += len(line)
    if start is not None and text[start:pos].strip():
        yield _trim(text, start, pos)


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
