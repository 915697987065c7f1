"""Stage 2: split a document's kept spans into sentence-aligned, overlapping chunks.

Sizes are counted in the embedder's own word pieces, so no chunk is silently truncated by
the embedding model. Every chunk keeps its (start, end) offsets into the original text.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator, Optional

from .readers import kind, location
from .config import default
from .text import STOPWORDS, calendar_word, sentence_spans
from .types import Chunk, Document, Span

def _split_long(text: str, a: int, b: int, count: Callable[[str], int], limit: int) -> list[tuple[int, int]]:
    """Cut an over-long sentence at word boundaries into pieces within ``limit``."""
    pieces: list[tuple[int, int]] = []
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text[a:b])]
    i = 0
    while i < len(words):
        j = i + 1
        while j < len(words) and count(text[a + words[i][0] : a + words[j][1]]) <= limit:
            j += 1
        pieces.append((a + words[i][0], a + words[j - 1][1]))
        i = j
    return pieces


def chunk_document(
    doc: Document, count_tokens: Callable[[str], int], max_tokens: Optional[int] = None, overlap: Optional[int] = None,
    head_chars: Optional[int] = None,
) -> list[Chunk]:
    """Chunks of ``doc``: whole sentences packed up to ``max_tokens``, sharing ``overlap`` sentences,
    each that does not hold the document's ``head`` carrying it (not given: Settings' chunk_tokens,
    chunk_overlap and head_chars)."""
    max_tokens, overlap = default("chunk_tokens", max_tokens), default("chunk_overlap", overlap)
    opening, head_end = head(doc, default("head_chars", head_chars))
    chunks: list[Chunk] = []
    for block_start, block_end in doc.blocks:
        sentences: list[tuple[int, int]] = []
        for a, b in sentence_spans(doc.text, block_start, block_end):
            if count_tokens(doc.text[a:b]) > max_tokens:
                sentences.extend(_split_long(doc.text, a, b, count_tokens, max_tokens))
            else:
                sentences.append((a, b))
        for first, last in _pack(doc.text, sentences, count_tokens, max_tokens, overlap):
            chunks.append(_make_chunk(doc, sentences[first : last + 1], len(chunks)))
    # A chunk that starts at or before the head's end holds it already.
    return [replace(c, head=opening) if opening and c.start >= head_end else c for c in chunks]


# A paragraph of the body: it ends as a sentence does, runs long, or lists. A title may ask or
# exclaim ("Explainer: how well does the vaccine work?") where it is a paragraph of one line.
_BODY_END = re.compile(r"[.…][\"'”’)\]]*$")
_ASKS = re.compile(r"[!?][\"'”’)\]]*$")
_LIST_ITEM = re.compile(r"(?:[-*•]|\d+[.)])\s")
_HEAD_WORDS = 30
_PARAGRAPH = re.compile(r"(?:[ \t\r]*\S[^\n]*(?:\n|$))+")  # a run of lines that are not blank
# Formats whose first lines are data (a table's header and rows, keys and values), not a title.
_TABULAR = frozenset({"csv", "xlsx", "json", "ipynb"})


def head(doc: Document, limit: int) -> tuple[str, int]:
    """The document's opening paragraphs before its body, a line each, joined by " | ", and where
    they end in its text: a title, a byline ("By Jonas Elmqvist", "An interview with…"), a
    dateline, a letterhead. A later passage of a column, an interview or a statement says "I"
    or "we" for the person or body its head names. Whole lines of the kept blocks, at most
    ``limit`` characters (a longer first line is cut at a word); ("", 0) for a document that
    opens with its body, and for tables."""
    if not limit or kind(Path(doc.path).suffix) in _TABULAR:
        return "", 0
    lines: list[str] = []
    end = 0
    paragraphs = [m for a, b in doc.blocks for m in _PARAGRAPH.finditer(doc.text, a, b)]
    for m, following in zip(paragraphs, [*paragraphs[1:], None]):
        said = [" ".join(line.split()) for line in m.group().splitlines() if line.strip()]
        whole = " ".join(said)
        if _opens_body(said, following.group() if following else "", any(map(_byline, lines))):
            return _with_interviewee(lines, whole, doc.text[m.end():], limit), end
        for line in said:
            if len(" | ".join([*lines, line])) > limit:
                if not lines:
                    return line[:limit].rsplit(" ", 1)[0] + "…", m.end()
                return " | ".join(lines), end
            lines.append(line)
        end = m.end()
    return (" | ".join(lines), end) if lines else ("", 0)


def _opens_body(said: list[str], following: str, bylined: bool) -> bool:
    """Whether the paragraph of lines ``said`` is the body's first: it ends as a sentence does, runs
    long, or lists. Not a byline, whatever it ends with ("By Felix Marchbank, head of research,
    Greyfell & Co."), nor, before any byline (``bylined``), the sentence or two under a column's
    title that a byline ``following`` it shows to be its standfirst ("I was under that roof. Here
    is what I want to know.")."""
    whole = " ".join(said)
    if len(whole.split()) > _HEAD_WORDS or len(said) > 1 and _ASKS.search(whole) or any(
            _LIST_ITEM.match(line) for line in said):
        return True
    return bool(_BODY_END.search(whole)) and not _byline("\n".join(said)) and (
        bylined or not _byline(following.lstrip()))


# An interview opens its body by saying who answers: "Aurelio Brandt, 54, is managing director of
# Greyfell Terminals, the company that…". Its questions stand as paragraphs of their own.
_PERSON = r"((?:(?:Dr|Mr|Mrs|Ms|Prof)\.?\s+)?[A-Z][\w’'\-]+(?:\s+[A-Z][\w’'\-]+){1,2})(?:,\s+\d{1,3},)?"  # and age
_BIO = re.compile(_PERSON + r"\s+(?:is|was|has been|heads|leads|runs|chairs)\s")
_NAMED = re.compile(_PERSON + r"(?:\s+[a-z]|,\s+(?:the|a|an|who|whose)\s)")  # "…, the councillor who…"
_CLAUSE_END = re.compile(r"\s*(?:[,;(]|\s[–—-]\s|[.!?](?:\s|$))")
# A byline: "By" and a name of two to four words, on a line of its own or before a comma and no
# figure ("By Maren Atterbury", "By Felix Marchbank, head of research, Greyfell & Co."); not a
# sentence that opens "By the end of…", "By Christmas Eve, 40 swimmers…".
_BYLINE = re.compile(r"(?:Interview(?:ed)?\s+)?[Bb]y\s+((?:Dr\.?\s+)?[A-Z][\w’'\-.]*(?:\s+[A-Z][\w’'\-.]*){1,3})"
                     r"\s*(?:\n|$|,[^\d\n]*(?:\n|$))")


def _byline(paragraph: str) -> bool:
    """Whether ``paragraph`` opens with a byline: who wrote what follows (``_BYLINE``)."""
    m = _BYLINE.match(paragraph)
    return bool(m) and not any(calendar_word(w) or w in _NOT_A_NAME for w in m.group(1).split())


# Holidays, which "By" opens a sentence with as it does a month: "By Christmas Eve, the pool…".
_NOT_A_NAME = frozenset({"Christmas", "Easter", "Eve", "Day", "Year"})
_ASKER = re.compile(r"(?:interview(?:ed)?\s+)?by\s", re.IGNORECASE)  # the byline of who asks
_QUESTION = re.compile(r"^(?:Q\s*[:.]|Question\s*:)|^[^\n]*[?][\"'”’)\]]*\s*$", re.MULTILINE)


def head_title(head: str) -> str:
    """The line of a document's ``head`` that says what it is about: its first line that is neither
    a byline ("By Marit Olsvang", "Interview by…") nor a one-word label ("OPINION"); "" if none."""
    return next((line for line in head.split(" | ") if not _ASKER.match(line) and len(line.split()) > 1), "")


def _with_interviewee(lines: list[str], opening: str, rest: str, limit: int) -> str:
    """The head's ``lines`` joined, and, when the document is an interview (three questions or more
    as paragraphs of their own in ``rest``) whose body ``opening`` paragraph opens with who
    answers, that clause last ("Aurelio Brandt, 54, is managing director of Greyfell Terminals",
    or the name alone): the "I" of its answers is that person, not the interviewer, whose byline
    goes. Lines that leave it no room go."""
    bio, named = _BIO.match(opening), _NAMED.match(opening)
    asked = sum(1 for m in _PARAGRAPH.finditer(rest) if _QUESTION.match(m.group().strip()))
    first = opening.split(maxsplit=1)[0].lower() if opening.strip() else ""
    if not (bio or named) or asked < 3 or first in STOPWORDS:  # "The Harbour Authority said…" names no one
        return " | ".join(lines)
    surname = (bio or named).group(1).split()[-1]
    if any(_ASKER.match(line) and surname in line for line in lines):  # the opening introduces who asks
        return " | ".join(lines)
    # Who they are, to the clause's end; or, for an opening that tells a story ("Anneliese Corvo
    # first climbed Tollen Ridge…"), their name alone.
    cut = _CLAUSE_END.search(opening, bio.end()) if bio else None
    clause = (opening[: cut.start() if cut else len(opening)] if bio else named.group(1)).strip()
    if len(clause) > limit:
        return " | ".join(lines)
    kept: list[str] = []
    for line in (line for line in lines if not _ASKER.match(line)):
        if len(" | ".join([*kept, line, clause])) > limit:
            break
        kept.append(line)
    return " | ".join([*kept, clause])


def _pack(
    text: str, sentences: list[tuple[int, int]], count: Callable[[str], int], limit: int, overlap: int
) -> Iterator[tuple[int, int]]:
    i = 0
    while i < len(sentences):
        j = i
        while j + 1 < len(sentences) and count(text[sentences[i][0] : sentences[j + 1][1]]) <= limit:
            j += 1
        yield i, j
        if j + 1 >= len(sentences):
            return
        # Step back `overlap` sentences, but always move forward.
        i = max(i + 1, j + 1 - overlap)


def _make_chunk(doc: Document, sentences: list[tuple[int, int]], index: int) -> Chunk:
    start, end = sentences[0][0], sentences[-1][1]
    text = " ".join(doc.text[start:end].split())
    return Chunk(id=chunk_id(doc.path, index, text), text=text, source=doc.source, path=doc.path, start=start,
                 end=end, index=index, location=location(doc.units, start, end),
                 sentences=sentence_map(doc.text, sentences, text))


def sentence_map(original: str, sentences: list[tuple[int, int]], text: str) -> tuple[Span, ...]:
    """Where each sentence is in the chunk's whitespace-normalised ``text`` and in the file's text.

    The chunk text is the sentences' normalised texts joined by single spaces, so each one's
    place in it follows from the lengths before it; () if that ever does not hold."""
    spans: list[Span] = []
    at = 0
    for a, b in sentences:
        piece = " ".join(original[a:b].split())
        if text[at : at + len(piece)] != piece:
            return ()
        spans.append((at, at + len(piece), a, b))
        at += len(piece) + 1
    return tuple(spans) if at - 1 == len(text) else ()


def chunk_id(path: str, index: int, text: str) -> str:
    """A chunk's id: a hash of the document's path, the chunk's position and its text."""
    return hashlib.sha256(f"{path}\0{index}\0{text}".encode()).hexdigest()[:32]
