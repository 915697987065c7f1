"""Stage 1: find files, read .txt/.md/.html/.pdf, and mark the parts worth keeping.

Cleaning never rewrites the text: it returns the spans (blocks) to keep, so that every later
offset still points into the document's original text. Whitespace is normalised when chunks
are built from those spans.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterator, Optional

from .config import PROJECT_ROOT
from .errors import AssistantError
from .text import trim
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


def shown(path: object) -> str:
    """A path as one printable line for messages: control characters (a newline in a file name)
    and bytes that are not UTF-8 are escaped, so an error stays one line naming the file."""
    text = str(path).encode("utf-8", "backslashreplace").decode("utf-8")
    return re.sub(r"[\x00-\x1f\x7f]", lambda m: repr(m.group())[1:-1], text)


def kind(path: object) -> str:
    """How a file is read: "pdf", "html" or "text". Equal bytes of equal kinds give equal chunks."""
    suffix = Path(str(path)).suffix.lower()
    return "pdf" if suffix == ".pdf" else "html" if suffix in {".html", ".htm"} else "text"


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
            if entry.is_symlink():
                try:
                    target = path.resolve(strict=True)
                except (OSError, RuntimeError):  # RuntimeError: Python < 3.13 on a symlink loop
                    if supported:
                        note((str(path), f"{shown(path)}: broken or looping symlink, skipped"))
                    continue
                if not follow_symlinks and not target.is_relative_to(base):
                    if supported or target.is_dir():
                        note((str(path), f"{shown(path)}: symlink leads outside {shown(root)}, not followed "
                                         f"(set follow_symlinks to follow it)"))
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
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        text = _pdf_text(data, name)
    else:
        text = _decode(data, name)
        if suffix in {".html", ".htm"}:
            try:
                text = html_text(text)
            except Exception as exc:  # HTMLParser is lenient, but never let one page stop a batch
                raise AssistantError(f"{name}: malformed HTML ({exc})") from exc
    # Lone surrogates (from some PDFs) cannot be stored; one character for one keeps every offset.
    text = _SURROGATE.sub("\ufffd", text)
    blocks = tuple(clean_blocks(text))
    if not blocks:
        raise AssistantError(f"{name}: no text to index (empty, whitespace only, or nothing but markup)")
    return Document(
        path=str(path), source=source_name(path), text=text, sha256=hashlib.sha256(data).hexdigest(), blocks=blocks
    )


_SURROGATE = re.compile("[\ud800-\udfff]")


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

    # pypdf logs its repairs of damaged files ("EOF marker not found"); a bad file gets our one line.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except Exception as exc:  # pypdf raises several types for unsupported encryption
                raise AssistantError(f"{name}: encrypted PDF, cannot read it ({_one_line(exc)})") from exc
            if not ok:
                raise AssistantError(f"{name}: encrypted PDF, a password is needed")
        pages = [page.extract_text() or "" for page in reader.pages]
    except AssistantError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise AssistantError(f"{name}: malformed PDF ({_one_line(exc)})") from exc
    except Exception as exc:  # a damaged PDF makes pypdf raise almost anything; it is still one bad file
        raise AssistantError(f"{name}: malformed PDF ({type(exc).__name__}: {_one_line(exc)})") from exc
    text = "\n\n".join(p.strip() for p in pages)
    if not text.strip():
        raise AssistantError(f"{name}: PDF has no text layer (scanned?); OCR it first")
    return text


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


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
                yield trim(text, start, pos)
            start = None
        elif start is None and line.strip():
            start = pos
        pos += len(line)
    if start is not None and text[start:pos].strip():
        yield trim(text, start, pos)
