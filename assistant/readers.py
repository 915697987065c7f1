"""Stage 1a: one small reader per file format, found by the file's extension.

    READERS[".docx"](data, name) -> Extracted(text, units)
    EXTENSIONS                   -> (".txt", ".md", …): every supported extension, in the
                                    order users are shown them (CLI help, the page, the API)
    kind(path)                   -> "docx": equal bytes of equal kinds give equal chunks
    location(units, start, end)  -> "slide 3", "pages 2–3", "sheet Revenue" or ""

A reader gets the file's bytes and its name (for messages) and returns the text to index and,
where the format has units (pages, slides, sheets, rows, sections, cells), where each unit
starts in that text, so a citation can say "page 2" beside its character offsets. A file it
cannot read raises ``AssistantError`` with one line naming the file. Adding a format is one
function and one line in ``READERS``; the rest of ingestion does not change.

The readers are maintained format libraries (pypdf, python-docx, python-pptx, openpyxl,
EbookLib, odfpy) or the standard library (csv, email, json); each is imported only when a
file of its format is read.
"""

from __future__ import annotations

import io
import logging
import re
import warnings
import zipfile
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import date, datetime, time
from html.parser import HTMLParser
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence

from .errors import AssistantError

Units = tuple[tuple[int, str], ...]  # (offset where the unit starts in the text, "page 2")


@dataclass(frozen=True)
class Extracted:
    """What a reader found in a file: its text, and where each unit (page, slide…) starts in it.

    With ``split`` a chunk never spans two units, so a citation names one page or slide; rows
    (CSV) are too small for a chunk each, so there a chunk may say "rows 2–40"."""

    text: str
    units: Units = ()
    split: bool = True


Reader = Callable[[bytes, str], Extracted]


class _Builder:
    """Text assembled from blocks (a slide, a sheet…), one blank line apart, each maybe a unit."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.units: list[tuple[int, str]] = []
        self.size = 0

    def add(self, text: str, unit: str = "") -> None:
        text = text.strip()
        if not text:
            return
        if self.parts:
            self.parts.append("\n\n")
            self.size += 2
        if unit:
            self.units.append((self.size, unit))
        self.parts.append(text)
        self.size += len(text)

    def done(self, split: bool = True) -> Extracted:
        return Extracted("".join(self.parts), tuple(self.units), split)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


# Plain text, HTML, PDF ----------------------------------------------------------------------------


def decode(data: bytes, name: str) -> str:
    """Bytes of a text file as text: UTF-8 (BOM or not), UTF-16 with a BOM, else a legacy encoding
    (``_legacy``: Windows-1252 unless charset-normalizer finds a better one)."""
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
    text = _legacy(data)
    controls = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\t\n\r\f")
    if controls > len(text[:8192]) * 0.05:
        raise AssistantError(f"{name}: looks like a binary file, not text")
    return text


_ASCII = bytes(range(32, 127))


def _legacy(data: bytes) -> str:
    """Text that is not UTF-8. Windows-1252 (a superset of Latin-1's printables) when it reads as
    text; else charset-normalizer's best guess that keeps ASCII as ASCII and names a language
    (Cyrillic in cp1251 or KOI8-R, Greek, Central European, Shift-JIS, GB18030 …), if it reads
    clearly better; else Windows-1252 with undecodable bytes replaced."""
    from charset_normalizer import from_bytes
    from charset_normalizer.md import mess_ratio

    try:
        western: Optional[str] = data.decode("cp1252")
    except UnicodeDecodeError:
        western = None
    sample = data[:65536]
    mess = mess_ratio(western[:65536], 1.0) if western is not None else 1.0
    if western is not None and (len(data) < 16 or mess < 0.5):
        return western
    for match in from_bytes(sample):
        try:
            ascii_safe = _ASCII.decode(match.encoding) == _ASCII.decode()
        except (LookupError, UnicodeDecodeError):
            ascii_safe = False
        if ascii_safe and match.language != "Unknown" and match.chaos + 0.2 < mess:
            try:
                return data.decode(match.encoding)
            except UnicodeDecodeError:
                break  # the sample decoded, the whole file does not
    return western if western is not None else data.decode("cp1252", errors="replace")


def read_text(data: bytes, name: str) -> Extracted:
    return Extracted(decode(data, name))


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


def read_html(data: bytes, name: str) -> Extracted:
    text = decode(data, name)
    try:
        return Extracted(html_text(text))
    except Exception as exc:  # HTMLParser is lenient, but never let one page stop a batch
        raise AssistantError(f"{name}: malformed HTML ({exc})") from exc


def read_pdf(data: bytes, name: str) -> Extracted:
    """pypdf's text layer, page by page (units "page N")."""
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
    units, pos = [], 0
    for number, page in enumerate(pages, 1):
        if page.strip():
            units.append((pos, f"page {number}"))
        pos += len(page.strip()) + 2
    text = "\n\n".join(p.strip() for p in pages)
    if not text.strip():
        raise AssistantError(f"{name}: PDF has no text layer (scanned?); OCR it first")
    return Extracted(text, tuple(units))


# Zip containers: Office Open XML (docx, pptx, xlsx), OpenDocument, EPUB ------------------------------

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # a Compound File: legacy Office, or an encrypted OOXML file
_MIN_UNPACKED_LIMIT = 100_000_000  # bytes a container may always unpack to
_MAX_RATIO = 100  # beyond that, unpacking to more than 100 times the file's size is a zip bomb


def _container(data: bytes, name: str, what: str) -> zipfile.ZipFile:
    """The zip inside an Office / OpenDocument / EPUB file, checked before any library parses it.

    An encrypted Office file is not a zip but a Compound File holding an "EncryptedPackage";
    a zip whose parts unpack to over 100 times its size (and over 100 MB) is refused unopened
    (the sizes are those the zip declares, and Python's zipfile never inflates past them)."""
    if data.startswith(_OLE):
        if "EncryptedPackage".encode("utf-16-le") in data:
            raise AssistantError(f"{name}: encrypted {what}, a password is needed (save a copy without one)")
        raise AssistantError(f"{name}: an old binary Office file (.doc, .xls or .ppt), not {what}; "
                             f"save it as .{what.lower()}")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError) as exc:
        raise AssistantError(f"{name}: malformed {what}, not a readable zip archive ({_one_line(exc)})") from exc
    if unpacked > max(_MAX_RATIO * len(data), _MIN_UNPACKED_LIMIT):
        raise AssistantError(f"{name}: {what} would unpack to {unpacked / 1e6:,.0f} MB from "
                             f"{len(data) / 1e6:,.1f} MB (a zip bomb?); refused")
    return archive


def _parse(what: str, name: str, parse: Callable[[], Any]) -> Any:
    """Run a library's parser; whatever it raises on a damaged file becomes one line naming it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl, EbookLib: warnings about styles, future options
            return parse()
    except AssistantError:
        raise
    except Exception as exc:
        reason = _IN_MEMORY.sub("the file", _one_line(exc))  # "file '<_io.BytesIO object at 0x…>' is not…"
        raise AssistantError(f"{name}: malformed {what} ({type(exc).__name__}: {reason})") from exc


_IN_MEMORY = re.compile(r"(file )?'?<_io\.BytesIO object at 0x[0-9a-fA-F]+>'?")


def _row(cells: Iterable[str]) -> str:
    """A table row on one line: its non-empty cells, a merged cell once."""
    out: list[str] = []
    for cell in cells:
        cell = " ".join(cell.split())
        if cell and (not out or out[-1] != cell):
            out.append(cell)
    return " | ".join(out)


def read_docx(data: bytes, name: str) -> Extracted:
    """Paragraphs and tables of the body, in order (Word has no fixed pages: no units)."""
    _container(data, name, "DOCX")

    def parse() -> list[str]:
        import docx
        from docx.table import Table

        lines = []
        for block in docx.Document(io.BytesIO(data)).iter_inner_content():
            if isinstance(block, Table):
                lines.extend(_row(cell.text for cell in row.cells) for row in block.rows)
            else:
                lines.append(block.text)
        return lines

    return Extracted("\n".join(line.strip() for line in _parse("DOCX", name, parse) if line.strip()))


def read_pptx(data: bytes, name: str) -> Extracted:
    """Each slide's text boxes, tables and speaker notes (units "slide N")."""
    _container(data, name, "PPTX")

    def shape_lines(shapes: Iterable[Any]) -> Iterator[str]:
        for shape in shapes:
            if getattr(shape, "shapes", None) is not None:  # a group
                yield from shape_lines(shape.shapes)
            if shape.has_text_frame:
                yield from (p.text for p in shape.text_frame.paragraphs)
            if shape.has_table:
                yield from (_row(cell.text for cell in row.cells) for row in shape.table.rows)

    def parse() -> tuple[Extracted, int]:
        import pptx

        out = _Builder()
        slides = pptx.Presentation(io.BytesIO(data)).slides
        for number, slide in enumerate(slides, 1):
            lines = [line.strip() for line in shape_lines(slide.shapes)]
            if slide.has_notes_slide:
                notes = slide.notes_slide.notes_text_frame
                if notes is not None and notes.text.strip():
                    lines.append("Notes: " + notes.text.strip())
            out.add("\n".join(line for line in lines if line), f"slide {number}")
        return out.done(), len(slides)

    extracted, count = _parse("PPTX", name, parse)
    if not extracted.text:
        raise AssistantError(f"{name}: no text to index (a deck of {count} slide{'s' * (count != 1)} "
                             f"with no text: pictures only?)")
    return extracted


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    return " ".join(str(value).split())


def _table(rows: Iterable[Sequence[Any]], first: int = 1) -> Iterator[tuple[int, str]]:
    """(row number, line) for each non-empty row. When the first row reads as a header (text in
    every cell), later rows say which column each value is in ("Region: North; Q1: 120"), which
    is what a question about a table needs; otherwise a row is its cells, " | " apart."""
    header: list[str] = []
    seen = False
    for number, raw in enumerate(rows, first):
        cells = [_cell(v) for v in raw]
        while cells and not cells[-1]:
            cells.pop()
        if not any(cells):
            continue
        if not seen and len(cells) > 1 and all(c and not _is_number(c) for c in cells):
            seen, header = True, cells
            yield number, " | ".join(cells)
            continue
        seen = True
        if header:
            named = [f"{header[i]}: {c}" if i < len(header) else c for i, c in enumerate(cells) if c]
            yield number, "; ".join(named)
        else:
            yield number, " | ".join(c for c in cells if c)


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


def read_xlsx(data: bytes, name: str) -> Extracted:
    """Each worksheet's rows (cached formula values), one line a row (units "sheet NAME")."""
    _container(data, name, "XLSX")

    def parse() -> Extracted:
        import openpyxl

        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        out = _Builder()
        try:
            for sheet in book.worksheets:
                lines = [line for _, line in _table(sheet.iter_rows(values_only=True))]
                if lines:
                    out.add(f"Sheet: {sheet.title}\n" + "\n".join(lines), f"sheet {sheet.title}")
        finally:
            book.close()
        return out.done()

    return _parse("XLSX", name, parse)


def read_csv(data: bytes, name: str) -> Extracted:
    """Rows of a CSV (or TSV) file, its delimiter sniffed (units "row N", the header being row 1)."""
    import csv

    text = decode(data, name)
    try:
        dialect: Any = csv.Sniffer().sniff(text[:16384], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel_tab if name.lower().endswith(".tsv") else csv.excel
    out = _Builder()
    try:
        lines = list(_table(csv.reader(io.StringIO(text, newline=""), dialect)))
    except csv.Error as exc:
        raise AssistantError(f"{name}: malformed CSV ({_one_line(exc)})") from exc
    for number, line in lines:
        if out.parts:  # rows one line apart, not a blank line: a chunk holds many rows
            out.parts.append("\n")
            out.size += 1
        out.units.append((out.size, f"row {number}"))
        out.parts.append(line)
        out.size += len(line)
    return out.done(split=False)


def read_odt(data: bytes, name: str) -> Extracted:
    """Headings, paragraphs, lists and tables of an OpenDocument text, in order."""
    archive = _container(data, name, "ODT")
    try:
        manifest = archive.read("META-INF/manifest.xml")
    except (KeyError, zipfile.BadZipFile, OSError, EOFError, ValueError):
        manifest = b""
    if b"encryption-data" in manifest:
        raise AssistantError(f"{name}: encrypted ODT, a password is needed (save a copy without one)")

    def parse() -> list[str]:
        from odf import teletype
        from odf.opendocument import load

        lines: list[str] = []

        def walk(node: Any) -> None:
            for child in node.childNodes:
                if child.nodeType != child.ELEMENT_NODE:
                    continue
                tag = child.qname[1]
                if tag in ("h", "p"):
                    lines.append(teletype.extractText(child))
                elif tag == "table-row":
                    lines.append(_row(teletype.extractText(cell) for cell in child.childNodes
                                      if cell.nodeType == cell.ELEMENT_NODE))
                elif tag not in ("tracked-changes", "sequence-decls", "variable-decls"):
                    walk(child)

        walk(load(io.BytesIO(data)).text)
        return lines

    lines = _parse("ODT", name, parse)
    return Extracted("\n".join(" ".join(line.split()) for line in lines if line.strip()))


def read_epub(data: bytes, name: str) -> Extracted:
    """The book's documents in reading (spine) order, as HTML text (units "section N")."""
    archive = _container(data, name, "EPUB")
    try:
        encryption = archive.read("META-INF/encryption.xml").decode("utf-8", "replace")
    except KeyError:
        encryption = ""
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise AssistantError(f"{name}: malformed EPUB ({_one_line(exc)})") from exc
    # Publishers obfuscate embedded fonts there too; only encrypted text documents are DRM.
    if re.search(r'URI="[^"]+\.(x?html?|xml)"', encryption, re.IGNORECASE):
        raise AssistantError(f"{name}: encrypted EPUB (DRM), cannot read it")

    def parse() -> Extracted:
        import ebooklib
        from ebooklib import epub

        book = epub.read_epub(io.BytesIO(data), options={"ignore_ncx": True})
        out = _Builder()
        number = 0
        for idref, _linear in book.spine:
            item = book.get_item_with_id(idref)
            if item is None or item.get_type() != ebooklib.ITEM_DOCUMENT:
                continue
            text = html_text(decode(item.get_content(), name))
            if text.strip():
                number += 1
                out.add(text, f"section {number}")
        return out.done()

    return _parse("EPUB", name, parse)


# E-mail, JSON, notebooks ---------------------------------------------------------------------------


def read_eml(data: bytes, name: str) -> Extracted:
    """Subject, From, To, Cc and Date, the text body (or the HTML one's text), attachment names."""
    import email
    from email import policy

    def parse() -> str:
        message = email.message_from_bytes(data, policy=policy.default)
        if not message.keys():
            raise AssistantError(f"{name}: not an e-mail message (no headers)")
        lines = [f"{field}: {' '.join(str(message[field]).split())}"
                 for field in ("Subject", "From", "To", "Cc", "Date") if message[field]]
        body = message.get_body(preferencelist=("plain", "html"))
        if body is not None:
            content = body.get_content()
            if isinstance(content, bytes):
                content = decode(content, name)
            lines += ["", html_text(content) if body.get_content_subtype() == "html" else content.strip()]
        files = [part.get_filename() for part in message.iter_attachments() if part.get_filename()]
        if files:
            lines += ["", "Attachments: " + ", ".join(files)]
        return "\n".join(lines)

    return Extracted(_parse("e-mail", name, parse).strip())


def _json(data: bytes, name: str) -> Any:
    import json

    try:
        return json.loads(decode(data, name))
    except RecursionError as exc:
        raise AssistantError(f"{name}: JSON nested too deeply to read") from exc
    except ValueError as exc:
        raise AssistantError(f"{name}: malformed JSON ({_one_line(exc)})") from exc


def read_json(data: bytes, name: str) -> Extracted:
    """Every value on a line of its own with the keys that lead to it: "authors[0].name: Ada"."""
    lines: list[str] = []
    stack: list[tuple[str, Any]] = [("", _json(data, name))]
    while stack:  # depth first, in the file's order, with no recursion limit
        path, value = stack.pop()
        if isinstance(value, dict):
            stack.extend(reversed([(f"{path}.{k}" if path else str(k), v) for k, v in value.items()]))
        elif isinstance(value, list):
            stack.extend(reversed([(f"{path}[{i}]", v) for i, v in enumerate(value)]))
        elif value is not None and str(value).strip():
            shown = "true" if value is True else "false" if value is False else str(value).strip()
            lines.append(f"{path}: {shown}" if path else shown)
    return Extracted("\n".join(lines))


def read_ipynb(data: bytes, name: str) -> Extracted:
    """A Jupyter notebook's cells: markdown, code and the code's text output (units "cell N")."""
    notebook = _json(data, name)
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if cells is None and isinstance(notebook, dict) and notebook.get("worksheets"):  # nbformat 3
        cells = notebook["worksheets"][0].get("cells")
    if not isinstance(cells, list):
        raise AssistantError(f"{name}: not a Jupyter notebook (no list of cells)")

    def joined(value: Any) -> str:
        return "".join(value) if isinstance(value, list) else value if isinstance(value, str) else ""

    out = _Builder()
    for number, cell in enumerate(cells, 1):
        if not isinstance(cell, dict):
            continue
        parts = [joined(cell.get("source", cell.get("input")))]
        for output in cell.get("outputs") or []:
            if isinstance(output, dict):
                parts.append(joined(output.get("text")) or joined((output.get("data") or {}).get("text/plain")))
        out.add("\n".join(p.strip() for p in parts if p.strip()), f"cell {number}")
    return out.done()


# The registry ------------------------------------------------------------------------------------

READERS: dict[str, Reader] = {
    ".txt": read_text,
    ".md": read_text,
    ".markdown": read_text,
    ".html": read_html,
    ".htm": read_html,
    ".pdf": read_pdf,
    ".docx": read_docx,
    ".pptx": read_pptx,
    ".xlsx": read_xlsx,
    ".csv": read_csv,
    ".tsv": read_csv,
    ".odt": read_odt,
    ".epub": read_epub,
    ".eml": read_eml,
    ".json": read_json,
    ".ipynb": read_ipynb,
}
EXTENSIONS: tuple[str, ...] = tuple(READERS)


def kind(suffix: str) -> str:
    """The reader a suffix uses, by name ("text", "pdf", "docx"…); "text" for an unknown one."""
    return READERS.get(suffix.lower(), read_text).__name__.removeprefix("read_")


def location(units: Units, start: int, end: int) -> str:
    """Where ``[start, end)`` lies in units: "page 2", "pages 2–3", "sheet Revenue"; "" with none."""
    if not units:
        return ""
    offsets = [offset for offset, _ in units]
    first = max(0, bisect_right(offsets, start) - 1)
    last = max(first, bisect_left(offsets, end) - 1)
    a, b = units[first][1], units[last][1]
    if a == b:
        return a
    kind_a, _, name_a = a.partition(" ")
    kind_b, _, name_b = b.partition(" ")
    return f"{kind_a}s {name_a}–{name_b}" if kind_a == kind_b else f"{a}–{b}"
