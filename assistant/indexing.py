"""Ingestion: a plan, then its application.

``Planner`` decides what each file found means for the index, from the file's hash and
what the store holds, with no store, embedder or file reads of its own: write it (new or
changed), record it as another name of a document with the same bytes (an alias), move a
changed document's chunks to one of its other names first (they keep the old content), and
at the end, which documents' alias lists changed. ``plan()`` runs it over a list of files;
tests check decisions with it, no Chroma or embedder needed.

``ingest()`` applies it in the crash-safe order: a document's new chunks are written before
its old ones are deleted (a crash in between leaves an answerable index, and the next ingest
sees two hashes under one path and rewrites the file), and copies under a new name are
written before the originals go.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence, Union

import numpy as np

from . import documents
from .chunking import chunk_document
from .errors import AssistantError
from .hashing import sha256_file
from .store import StoredDocument
from .types import Chunk, Document, IngestReport

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]  # (files done, files in all, current file)
Names = tuple[tuple[str, str], ...]  # (path, source) pairs

EMBED_BATCH = 256  # chunks embedded together across small files (larger groups sort by length better)


# The plan ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Write:
    """Embed and store the file's chunks; with ``replace``, its old chunks go once the new are in."""

    path: str
    replace: bool = False


@dataclass(frozen=True)
class Alias:
    """The file has the bytes of the document stored under ``home``: record its name there only.
    With ``drop_old``, the chunks stored under the file's own path (an older version) go."""

    path: str
    home: str
    source: str
    drop_old: bool = False


@dataclass(frozen=True)
class Rename:
    """Move the chunks of ``path`` to ``new_path`` (another name of the same bytes), vectors and all."""

    path: str
    new_path: str
    new_source: str
    aliases: Names


@dataclass(frozen=True)
class SetAliases:
    """The other names of the document stored under ``path``, after this ingest."""

    path: str
    aliases: Names


@dataclass(frozen=True)
class Unchanged:
    path: str


Step = Union[Write, Alias, Rename, SetAliases, Unchanged]


@dataclass(frozen=True)
class Found:
    """A file as this ingest read it."""

    path: str
    sha256: str
    source: str
    kind: str  # documents.kind(): equal bytes of equal kinds give equal chunks


class Planner:
    """Decides, file by file, what an ingest does, keeping track of the index as it will be."""

    def __init__(self, stored: Mapping[str, StoredDocument], dedupe: bool = True,
                 exists: Callable[[str], bool] = os.path.exists) -> None:
        self.stored = dict(stored)
        self.dedupe = dedupe
        self.exists = exists
        self.owner: dict[str, str] = {}  # every indexed name -> the path its chunks are stored under
        self.aliases: dict[str, dict[str, str]] = {}  # stored path -> {alias path: alias source}
        self.by_content: dict[tuple[str, str], str] = {}  # (sha256, kind) of a whole document -> its path
        self.touched: set[str] = set()  # stored paths whose aliases changed
        for key, d in self.stored.items():
            self.owner[key] = key
            self.aliases[key] = dict(d.aliases)
            for alias in self.aliases[key]:
                self.owner.setdefault(alias, key)
            if d.sha256 and _complete(d):
                self.by_content.setdefault((d.sha256, documents.kind(key)), key)

    def known(self, path: str) -> bool:
        """True when ``path`` is indexed, under its own name or as an alias."""
        return path in self.owner

    def indexed_sha256(self, path: str) -> str:
        """The hash ``path`` is indexed with, when its document is whole; else ""."""
        home = self.owner.get(path)
        d = self.stored.get(home) if home is not None else None
        return d.sha256 if d is not None and _complete(d) else ""

    def place(self, found: Found) -> list[Step]:
        """The steps for a new or changed file (not for an unchanged one: see ``indexed_sha256``)."""
        path, kind = found.path, found.kind
        steps: list[Step] = []
        home = self.owner.get(path)
        replace = False
        if home is not None and home != path:  # an alias whose bytes changed: no longer one
            del self.aliases[home][path]
            del self.owner[path]
            self.touched.add(home)
        elif home == path:  # a stored document changed: its other names keep the old content
            d = self.stored[path]
            if self.by_content.get((d.sha256, kind)) == path:
                del self.by_content[(d.sha256, kind)]
            others = self.aliases.get(path) or {}
            if others and d.sha256 and _complete(d):
                steps.append(self._hand_down(d, others, kind))
            else:
                replace = True
                if others:
                    self.touched.add(path)  # names of a half-written version: found again when ingested
            self.aliases[path] = {}
        match = self.by_content.get((found.sha256, kind)) if self.dedupe else None
        if match is not None and match != path:  # the same bytes are indexed: record the name only
            steps.append(Alias(path, match, found.source, drop_old=replace))
            self.aliases.pop(path, None)
            self.stored.pop(path, None)
            self.aliases[match][path] = found.source
            self.owner[path] = match
            self.touched.add(match)
            return steps
        steps.append(Write(path, replace))
        self.owner[path] = path
        self.aliases.setdefault(path, {})
        self.by_content[(found.sha256, kind)] = path
        return steps

    def _hand_down(self, d: StoredDocument, others: dict[str, str], kind: str) -> Rename:
        """The changed document's chunks go to another of its names (one whose file exists, if any)."""
        heir = next((p for p in others if self.exists(p)), next(iter(others)))
        rest = tuple((p, s) for p, s in others.items() if p != heir)
        self.stored[heir] = StoredDocument(heir, others[heir], d.sha256, d.chunks, d.expected, rest)
        self.aliases[heir] = dict(rest)
        for p in others:
            self.owner[p] = heir
        self.by_content[(d.sha256, kind)] = heir
        return Rename(d.path, heir, others[heir], rest)

    def finish(self) -> list[SetAliases]:
        """The alias lists that changed."""
        return [SetAliases(home, tuple(sorted(self.aliases[home].items())))
                for home in sorted(self.touched) if home in self.aliases]


def plan(stored: Mapping[str, StoredDocument], found: Iterable[Found], dedupe: bool = True,
         exists: Callable[[str], bool] = os.path.exists) -> list[Step]:
    """Every step of an ingest of ``found`` into an index holding ``stored``, when every file reads."""
    planner = Planner(stored, dedupe, exists)
    steps: list[Step] = []
    for f in found:
        if planner.indexed_sha256(f.path) and planner.indexed_sha256(f.path) == f.sha256:
            steps.append(Unchanged(f.path))
        else:
            steps += planner.place(f)
    return steps + planner.finish()


def names(doc: StoredDocument) -> list[tuple[str, str]]:
    """Every (path, source) a stored document is known by; its own first."""
    return [(doc.path, doc.source), *doc.aliases]


def gone_names(docs: Iterable[StoredDocument], folders: Sequence[Path],
               exists: Callable[[str], bool] = os.path.exists) -> list[tuple[StoredDocument, set[str]]]:
    """Names under the ingested ``folders`` whose files are gone, by document."""
    prefixes = tuple(str(folder) + os.sep for folder in folders)
    out = []
    for d in docs:
        gone = {p for p, _ in names(d) if p.startswith(prefixes) and not exists(p)}
        if gone:
            out.append((d, gone))
    return out


def _complete(d: StoredDocument) -> bool:
    return d.chunks == d.expected


# Applying it ------------------------------------------------------------------------------------


@dataclass
class _Batch:
    """Documents waiting to be embedded together."""

    store: Any
    embedder: Callable[[], Any]
    pending: list[tuple[Document, list[Chunk], list[str]]] = field(default_factory=list)
    chunks: int = 0

    def add(self, doc: Document, chunks: list[Chunk], old_ids: list[str]) -> int:
        self.pending.append((doc, chunks, old_ids))
        self.chunks += len(chunks)
        return self.flush() if self.chunks >= EMBED_BATCH else 0

    def flush(self) -> int:
        """Embed and write what is pending; returns the chunks embedded."""
        pending, self.pending, self.chunks = self.pending, [], 0
        if not pending:
            return 0
        # A chunk id is a hash of its file, place and text, so a file written again with the same
        # chunks (an index of an older layout: ``store.LAYOUT``) keeps their vectors.
        kept = sorted({c.id for _, chunks, _ in pending for c in chunks} & {i for *_, old in pending for i in old})
        known = dict(zip(kept, self._stored(kept)))
        texts = [c.text for _, chunks, _ in pending for c in chunks if c.id not in known]
        fresh = iter(self.embedder().embed(texts) if texts else ())
        batch = [(chunks, np.array([known[c.id] if c.id in known else next(fresh) for c in chunks], dtype=np.float32),
                  doc.sha256) for doc, chunks, _ in pending]
        self.store.add(batch)
        # Old chunks go only after the new ones are in.
        stale = [i for doc, chunks, old_ids in pending for i in set(old_ids) - {c.id for c in chunks}]
        if stale:
            self.store.delete_ids(sorted(stale))
        return len(texts)

    def _stored(self, ids: list[str]) -> Sequence[np.ndarray]:
        """The stored vectors of ``ids``; none when the index cannot give them all (an ingest was
        killed mid-write), and they are embedded again."""
        if not ids:
            return []
        try:
            return list(self.store.vectors(ids))
        except AssistantError as exc:
            log.info("vectors embedded again: %s", exc)
            return []


def find_files(paths: Iterable[Union[str, Path]], follow_symlinks: bool,
               report: IngestReport) -> tuple[list[Path], list[Path]]:
    """(files, folders) named by ``paths``; what cannot be walked goes into ``report``."""
    files: list[Path] = []
    folders: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        skipped: list[tuple[str, str]] = []
        try:
            if path.is_dir():
                folders.append(path.absolute())
            files.extend(documents.iter_files(path, follow_symlinks, skipped))
        except AssistantError as exc:
            report.failed += 1
            report.errors[str(raw)] = str(exc)
        for key, reason in skipped:
            report.failed += 1
            report.errors[key] = reason
    return list(dict.fromkeys(files)), folders  # named twice (a folder and a file in it): read once


def ingest(store: Any, embedder: Callable[[], Any], paths: Iterable[Union[str, Path]], settings: Any,
           progress: Optional[Progress] = None) -> IngestReport:
    """Index files and folders incrementally into ``store`` (see ``Assistant.ingest``).

    ``embedder()`` gives the embedder, called only when something is to be embedded."""
    report = IngestReport()
    files, folders = find_files(paths, settings.follow_symlinks, report)
    max_bytes = int(settings.max_file_mb * 1e6)
    with store.writer():
        planner = Planner(store.documents())
        batch = _Batch(store, embedder)
        for done, path in enumerate(files, 1):
            key = str(path)
            if progress:
                progress(done, len(files), key)
            indexed = planner.indexed_sha256(key)
            if indexed and indexed == _sha256(path, max_bytes):
                report.unchanged += 1
                continue
            try:
                doc, chunks = _read(path, embedder, settings, max_bytes)
            except AssistantError as exc:
                report.failed += 1
                report.errors[key] = str(exc)
                continue
            if planner.known(key):
                report.updated += 1
            else:
                report.added += 1
            for step in planner.place(Found(key, doc.sha256, doc.source, documents.kind(key))):
                report.chunks += _apply(step, store, batch, doc, chunks)
        report.chunks += batch.flush()
        for step in planner.finish():
            store.set_aliases(step.path, list(step.aliases))
        if folders:
            # A document goes with its last name (its file gone before or during this ingest).
            for d, gone in gone_names(store.documents().values(), folders):
                drop_names(store, d, gone)
                report.removed += len(gone)
    return report


def _apply(step: Step, store: Any, batch: _Batch, doc: Document, chunks: list[Chunk]) -> int:
    if isinstance(step, Rename):
        store.rename_document(step.path, step.new_path, step.new_source, list(step.aliases))
    elif isinstance(step, Alias):
        if step.drop_old:
            old = store.ids_for(step.path)
            if old:
                store.delete_ids(old)
    elif isinstance(step, Write):
        return batch.add(doc, chunks, store.ids_for(step.path) if step.replace else [])
    return 0


def _read(path: Path, embedder: Callable[[], Any], settings: Any, max_bytes: int) -> tuple[Document, list[Chunk]]:
    try:
        doc = documents.load(path, max_bytes)
        return doc, chunk_document(doc, embedder().count_tokens, settings.chunk_tokens, settings.chunk_overlap,
                                   settings.head_chars)
    except AssistantError:
        raise
    except Exception as exc:  # a reader bug on one odd file must not stop the batch
        raise AssistantError(f"{documents.shown(str(path))}: cannot be read "
                             f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]})") from exc


def _sha256(path: Path, max_bytes: int) -> str:
    try:
        return sha256_file(path, max_bytes)
    except OSError:
        return ""


def drop_names(store: Any, doc: StoredDocument, gone: set[str],
               exists: Callable[[str], bool] = os.path.exists) -> int:
    """Forget some names of a stored document; returns the chunks deleted (only with its last name).

    When the name its chunks are stored under goes, they move to a remaining name (one whose
    file still exists, if any), vectors and all: nothing is embedded again."""
    all_names = names(doc)
    keep = [(p, s) for p, s in all_names if p not in gone]
    if not keep:
        return store.delete_document(doc.path)
    if doc.path in gone:
        heir = next((n for n in keep if exists(n[0])), keep[0])
        store.rename_document(doc.path, heir[0], heir[1], [n for n in keep if n != heir])
    elif len(keep) != len(all_names):
        store.set_aliases(doc.path, keep[1:])
    return 0
