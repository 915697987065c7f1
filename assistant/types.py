"""Plain data passed between the stages. No behaviour lives here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Union


@dataclass(frozen=True)
class Document:
    """A loaded file: its cleaned-up text spans point into ``text``, the decoded original."""

    path: str  # absolute path; the key of the document in the store
    source: str  # what users see and citations name
    text: str  # the decoded text of the file (PDF and HTML: the extracted text)
    sha256: str  # hash of the file's bytes
    blocks: tuple[tuple[int, int], ...]  # kept (start, end) spans of ``text``, boilerplate left out
    # Where each unit of the format starts in ``text``: ((0, "page 1"), (1834, "page 2")…); () if none.
    units: tuple[tuple[int, str], ...] = ()


#: A sentence of a chunk: (start, end) in the chunk's text, then (start, end) in the file's text.
Span = tuple[int, int, int, int]


@dataclass(frozen=True)
class Chunk:
    """A piece of a document small enough for the embedder."""

    id: str
    text: str  # whitespace-normalised ``document.text[start:end]``
    source: str
    path: str
    start: int
    end: int
    index: int  # position among the document's chunks
    location: str = ""  # the units it lies in ("page 2", "slides 3–4", "sheet Revenue"), "" if none
    sentences: tuple[Span, ...] = ()  # each sentence: where it is in ``text`` and in the file
    head: str = ""  # the document's opening lines, for a chunk that does not hold them (``chunking.head``)


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk. ``start``/``end`` are character offsets into the source's text."""

    text: str
    source: str
    start: int
    end: int
    score: float
    id: str = ""
    location: str = ""  # "page 2", "slide 3"… where the format has units
    sentences: tuple[Span, ...] = ()  # its sentences, when the index recorded them
    shown: tuple[Span, ...] = ()  # the sentences given to the model; () when it read the whole text
    head: str = ""  # its document's opening lines (title, byline), shown with it; "" when it holds them
    # Its document's title where the head is not shown (``selection.voiced``): the checks still read
    # what the document is about ("the next festival" in a story titled "…the Riverlight Festival").
    title: str = ""


@dataclass(frozen=True)
class Citation:
    """A source the answer cites as ``[n]``."""

    n: int
    source: str
    text: str
    start: int
    end: int
    location: str = ""  # "page 2", "slide 3"… where the format has units
    shown: tuple[Span, ...] = ()  # the sentences the model read, when it read only some
    head: str = ""  # its document's opening lines (title, byline), shown with it


@dataclass(frozen=True)
class Conflict:
    """One of the values the sources give for a fact they disagree on, with where it is said."""

    value: str  # "March 5", "Wednesday", "8.39%"
    source: str
    passage: str  # the sentence that states it
    n: int  # its source number in the answer's citations


@dataclass(frozen=True)
class Removed:
    """A sentence of the model's answer that the grounding check took out, and why."""

    sentence: str
    reason: str  # "'2023' is in none of the sources", "its facts do not stand together in [2]"


@dataclass(frozen=True)
class Answer:
    """The final answer: what every front end shows, whatever streamed before it.

    ``thinking`` holds a reasoning model's ``<think>`` part, never ``text``. ``changed``: the
    text differs from the answer tokens streamed (the citation check added or moved a [n], or
    the answer was withheld); a front end that printed the tokens shows ``text`` instead.
    ``withheld``: the model answered, but no source supports it, so ``text`` is the refusal."""

    text: str
    citations: list[Citation]
    refused: bool
    thinking: str = ""
    passages: list[Passage] = field(default_factory=list)  # every passage the model was shown
    changed: bool = False
    withheld: bool = False
    removed: list[Removed] = field(default_factory=list)  # sentences the sources do not support
    conflicts: list[Conflict] = field(default_factory=list)  # values the sources disagree on, one per value

    def to_dict(self) -> dict:
        """The JSON shape shared by ``assistant ask --json``, the web UI's /ask and the API.

        A citation carries ``"location"`` ("page 2", "slide 3"…) only when its format has units, and
        ``"head"`` (its document's title and byline) only when the passage does not hold them."""
        return {
            "answer": self.text,
            "citations": [
                {"n": c.n, "source": c.source, "text": c.text, "start": c.start, "end": c.end,
                 **({"location": c.location} if c.location else {}), **({"head": c.head} if c.head else {}),
                 **({"shown": [{"text": c.text[a:b], "start": fa, "end": fb} for a, b, fa, fb in c.shown]}
                    if c.shown else {})}
                for c in self.citations
            ],
            "refused": self.refused,
            "thinking": self.thinking,
            "removed": [{"sentence": r.sentence, "reason": r.reason} for r in self.removed],
            "conflicts": [{"value": c.value, "source": c.source, "passage": c.passage, "n": c.n}
                          for c in self.conflicts],
        }


@dataclass(frozen=True)
class Token:
    """A piece of streamed output. ``kind`` says where it belongs.

    ``kind="reset"`` means the answer streamed so far was in fact thinking (a model that only
    closes ``</think>``); a UI moves it to the thinking pane. Its ``text`` is that thinking.
    """

    text: str
    kind: Literal["answer", "thinking", "reset"] = "answer"


@dataclass(frozen=True)
class Sources:
    """Streamed before the first token: the passages the model is about to read."""

    passages: list[Passage]


StreamEvent = Union[Sources, Token, Answer]


@dataclass
class IngestReport:
    """What an ingest did. ``errors`` maps a file to a one-line reason."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: int = 0
    chunks: int = 0
    errors: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        return (
            f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.removed} removed, {self.failed} failed ({self.chunks} chunks embedded)"
        )


