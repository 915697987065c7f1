"""Stage 4: keep chunks and their vectors in Chroma, embedded on disk or on a Chroma server.

The collection records which embedder wrote it; opening it with another one is refused.
Each document's chunks are written in one call and carry the document's hash and chunk
count, so a document cut short by a crash is recognised and written again on the next ingest.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional, Protocol, Sequence

import numpy as np

from .errors import AssistantError
from .types import Chunk, Passage, Span


def encode_sentences(spans: tuple[Span, ...]) -> str:
    """A chunk's sentence map as Chroma metadata (a string): "0,61,120,181;62,140,182,262"."""
    return ";".join(",".join(map(str, s)) for s in spans)


def decode_sentences(value: Any) -> tuple[Span, ...]:
    """The sentence map back; () for a missing or malformed one (the passage is then read whole)."""
    try:
        spans = tuple(tuple(int(x) for x in part.split(",")) for part in str(value or "").split(";") if part)
    except ValueError:
        return ()
    return spans if all(len(s) == 4 for s in spans) else ()  # type: ignore[return-value]


def passage(cid: str, text: str, meta: dict[str, Any], score: float) -> Passage:
    """A passage from a stored chunk's id, text and metadata."""
    return Passage(text=text, source=meta["source"], start=int(meta["start"]), end=int(meta["end"]), score=score,
                   id=cid, location=meta.get("location", ""), sentences=decode_sentences(meta.get("sentences")),
                   head=meta.get("head", ""))


@dataclass(frozen=True)
class StoredDocument:
    """What the store knows about one ingested file."""

    path: str
    source: str
    sha256: str
    chunks: int  # chunks present
    expected: int  # chunks the document was split into; less present means a cut-short write
    # Other files with the very same bytes, as (path, source): stored once, under ``path``.
    aliases: tuple[tuple[str, str], ...] = ()


class VectorStore(Protocol):
    """The operations the assistant needs from a vector database."""

    def add(self, docs: Sequence[tuple[Sequence[Chunk], np.ndarray, str]]) -> None: ...
    def ids_for(self, path: str) -> list[str]: ...
    def vectors(self, ids: Sequence[str]) -> np.ndarray: ...  # a row each, in that order
    def delete_document(self, path: str) -> int: ...
    def delete_ids(self, ids: Sequence[str]) -> None: ...
    def documents(self) -> dict[str, StoredDocument]: ...
    def query(self, vector: np.ndarray, k: int) -> list[Passage]: ...
    def all_chunks(self) -> tuple[list[str], list[str], list[dict[str, Any]]]: ...
    def version(self) -> object: ...  # changes whenever the contents do, whoever wrote them
    def count(self) -> int: ...
    def writer(self) -> Any: ...
    def close(self) -> None: ...
    # Duplicate files are stored once: record other names of a document's content, and move a
    # document's chunks to another of its names.
    def set_aliases(self, path: str, aliases: Sequence[tuple[str, str]]) -> None: ...
    def rename_document(self, path: str, new_path: str, new_source: str,
                        aliases: Sequence[tuple[str, str]]) -> None: ...


# What this process's Chroma state reflects of each index folder on disk (see ChromaStore._refresh).
_KNOWN_VERSION: dict[str, object] = {}
# What chunking stores with a chunk (its sentence map, its document's head, as ``chunking`` reads
# them). A new value makes the next ingest write every document again (vectors are reused): raise
# it when a change to chunking would store something else for the same file.
LAYOUT = 4


class ChromaStore:
    """A Chroma collection, embedded (``PersistentClient``) or remote (``HttpClient``)."""

    def __init__(
        self,
        embedder_name: str,
        dim: int,
        path: Optional[Path] = None,
        url: Optional[str] = None,
        collection: str = "documents",
        cache_dir: Optional[Path] = None,
    ) -> None:
        """``cache_dir``: where the retriever keeps its saved BM25 index; by default
        ``<path>/.bm25/<collection>`` for an embedded store. A server's collection has none
        unless given: ``index_dir`` stays unused with a server (nothing is written locally), the
        collection is shared by assistants on other machines, and there the change check itself
        reads every chunk id (``version``), the larger part of a first query at 100k chunks."""
        self.location = url or str(path)
        self._url, self._name = url, collection
        self._lock_path = None if url else Path(path) / ".ingest.lock"
        self.embedder_name = embedder_name
        self.dim = dim
        self.cache_dir = Path(cache_dir) if cache_dir else (None if url else Path(path) / ".bm25" / collection)
        self._key = str(Path(self.location).resolve())
        self._client: Any = None
        self._collection: Any = None
        self._closed = False
        self._opening = threading.Lock()
        if url:
            self._open()  # a bad address fails here
            return
        try:
            Path(path).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise AssistantError(f"index {self.location}: cannot open the Chroma store ({exc})") from exc

    @property
    def _col(self) -> Any:
        """The Chroma collection, opened on first use: a process that only searches an embedded
        index whose saved search index is current (``retrieval``) never imports chromadb."""
        with self._opening:
            if self._closed:
                raise AssistantError(f"index {self.location}: the store was closed")
            if self._collection is None:
                self._open()
            return self._collection

    def open(self) -> None:
        """Open the store now: refused, with how to rebuild, when another embedder wrote it."""
        self._col  # noqa: B018  (the property opens it)

    def _open(self) -> None:
        """Connect, create the collection if needed, and refuse one written by another embedder."""
        import chromadb

        chroma_settings = _chroma_settings()
        url, path, collection = self._url, None if self._url else Path(self.location), self._name
        try:
            if url:
                from urllib.parse import urlparse

                parsed = urlparse(url)
                if parsed.scheme not in ("http", "https") or not parsed.hostname:
                    raise AssistantError(f"chroma_url {url!r}: expected http://host:port")
                https = parsed.scheme == "https"
                client = chromadb.HttpClient(
                    host=parsed.hostname, port=parsed.port or (443 if https else 8000), ssl=https,
                    settings=chroma_settings,
                )
            else:
                # Two processes creating one new index at once race in Chroma's table creation
                # ("table collections already exists"): opening takes turns (a short lock of its
                # own, so opening never waits for an ingest).
                opening = open(Path(path) / ".open.lock", "a+")
                fcntl.flock(opening, fcntl.LOCK_EX)
            try:
                if not url:
                    client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
                col = client.get_or_create_collection(
                    collection,
                    metadata={"hnsw:space": "cosine", "embedder": self.embedder_name, "dim": self.dim},
                    embedding_function=None,
                )
            finally:
                if not url:
                    opening.close()  # closing releases the lock
        except AssistantError:
            raise
        except Exception as exc:
            raise AssistantError(f"index {self.location}: cannot open the Chroma store ({exc})") from exc
        meta = col.metadata or {}
        if meta.get("embedder") != self.embedder_name or int(meta.get("dim", -1)) != self.dim:
            if url:
                where = f"collection {collection!r} on the Chroma server {url}"
                rebuild = (f"delete that collection (chromadb.HttpClient(...).delete_collection({collection!r})) "
                           f"or use another collection name (--collection)")
            else:
                where = f"index {self.location}"
                rebuild = f"delete {self.location} (or use another index_dir)"
            raise AssistantError(
                f"{where} was built with embedder {meta.get('embedder')!r} "
                f"(dimension {meta.get('dim')}), but this assistant uses {self.embedder_name!r} "
                f"(dimension {self.dim}). Rebuild it: {rebuild} and run `assistant ingest` again."
            )
        self._client, self._collection = client, col
        if self._lock_path is not None:
            _KNOWN_VERSION.setdefault(self._key, self.version())

    # Other processes' writes -----------------------------------------------------------------
    #
    # An embedded Chroma keeps each collection's HNSW (vector) index in memory and writes the
    # whole of it back after each write. Another process's writes reach this one's SQLite reads
    # (count, get) but not that in-memory index: this process's dense search misses them, and
    # its next write would save its stale index over the other's, losing those vectors from
    # dense search for good. So whenever the folder changed since this process last saw it, the
    # Chroma bindings are started afresh (about 30 ms; the index reloads from disk on next use):
    # always before writing (under the ingest lock), and before a search when no writer holds
    # the lock (a search never waits for an ingest; meanwhile it reads the index as it was).

    def _refresh(self, locked: bool) -> None:
        if self._lock_path is None or self._closed:
            return
        # Opened first, then compared: Chroma keeps one client per folder for the whole process,
        # so a store opened now may be handed an index that an earlier store loaded long ago.
        self.open()
        now = self.version()
        if _KNOWN_VERSION.get(self._key) == now:
            return
        handle = None
        if not locked:
            try:
                handle = open(self._lock_path, "a+")
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:  # a writer is at work: search the index as loaded
                if handle is not None:
                    handle.close()
                return
        try:
            server = getattr(self._col, "_client", None)
            if server is not None and hasattr(server, "bindings") and hasattr(server, "start"):
                server.start()  # new bindings over the same folder; requests in flight finish on the old
            else:  # another Chroma implementation: open a new client
                self._reopen()
            _KNOWN_VERSION[self._key] = now
        finally:
            if handle is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()

    def _reopen(self) -> None:
        import chromadb

        self._client = chromadb.PersistentClient(path=self.location, settings=_chroma_settings())
        self._collection = self._client.get_collection(self._name, embedding_function=None)

    def _wrote(self) -> None:
        """After a write of ours (under the lock): the folder's new state is what we hold."""
        if self._lock_path is not None:
            _KNOWN_VERSION[self._key] = self.version()

    # Writing -----------------------------------------------------------------------------

    @contextmanager
    def writer(self) -> Iterator[None]:
        """Hold the index's ingest lock: one writing process at a time, others wait.

        A Chroma server has no such lock: assistants sharing one write without waiting. That
        is safe for the same files (chunk ids are content hashes, so both upsert the same rows)
        and readers notice other writers' changes (``Retriever`` checks ``all_ids``)."""
        if self._lock_path is None:
            yield
            return
        with open(self._lock_path, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                self._refresh(locked=True)
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def add(self, docs: Sequence[tuple[Sequence[Chunk], np.ndarray, str]]) -> None:
        """Write documents, each given as (chunks, vectors, sha256 of the file).

        Several documents share one upsert, but a batch never splits a document unless it alone
        is larger than Chroma's batch limit: each write lands whole or not at all, so a crash
        leaves a document with all of its chunks or none (a split one is caught by n_chunks).
        """
        limit = self._max_batch()
        batch: list[tuple[Chunk, list[float], dict[str, Any]]] = []
        for chunks, vectors, sha256 in docs:
            rows = [
                (c, vectors[i].tolist(), {"source": c.source, "path": c.path, "start": c.start, "end": c.end,
                                          "index": c.index, "sha256": sha256, "n_chunks": len(chunks),
                                          "sentences": encode_sentences(c.sentences), "head": c.head,
                                          "layout": LAYOUT,
                                          **({"location": c.location} if c.location else {})})
                for i, c in enumerate(chunks)
            ]
            if batch and len(batch) + len(rows) > limit:
                self._upsert(batch)
                batch = []
            for i in range(0, len(rows), limit):
                batch.extend(rows[i : i + limit])
                if len(batch) >= limit:
                    self._upsert(batch)
                    batch = []
        if batch:
            self._upsert(batch)

    def _upsert(self, rows: list[tuple[Chunk, list[float], dict[str, Any]]]) -> None:
        self._col.upsert(
            ids=[c.id for c, _, _ in rows],
            embeddings=[v for _, v, _ in rows],
            documents=[c.text for c, _, _ in rows],
            metadatas=[m for _, _, m in rows],
        )
        self._wrote()

    def _max_batch(self) -> int:
        self.open()  # with its client
        try:
            return int(self._client.get_max_batch_size())
        except Exception:  # older clients lack it; Chroma's documented floor is well above this
            return 1000

    def ids_for(self, path: str) -> list[str]:
        """Ids of every chunk stored for the document at ``path``."""
        return list(self._col.get(where={"path": path}, include=[])["ids"])

    def delete_document(self, path: str) -> int:
        ids = self.ids_for(path)
        self.delete_ids(ids)
        return len(ids)

    def delete_ids(self, ids: Sequence[str]) -> None:
        ids = list(ids)
        for i in range(0, len(ids), 5000):
            self._col.delete(ids=ids[i : i + 5000])
        self._wrote()

    def set_aliases(self, path: str, aliases: Sequence[tuple[str, str]]) -> None:
        """Record the other names (path, source) of the document stored under ``path``.

        They live in an ``aliases`` field (JSON) of each of its chunks, so they come and go with
        the chunks, and a document is still all-or-nothing after a crash."""
        ids = self.ids_for(path)
        value = json.dumps([[p, s] for p, s in aliases], ensure_ascii=False)
        limit = self._max_batch()
        for i in range(0, len(ids), limit):
            part = ids[i : i + limit]
            self._col.update(ids=part, metadatas=[{"aliases": value}] * len(part))
        self._wrote()

    def rename_document(self, path: str, new_path: str, new_source: str, aliases: Sequence[tuple[str, str]]) -> None:
        """Move the chunks of ``path`` to another of its names (its first name was removed).

        The copies (new ids, as if ingested from ``new_path``; vectors reused) are written before
        the old chunks go: a crash in between leaves both names whole, never neither."""
        from .chunking import chunk_id

        got = self._col.get(where={"path": path}, include=["embeddings", "documents", "metadatas"])
        if not got["ids"]:
            return
        value = json.dumps([[p, s] for p, s in aliases], ensure_ascii=False)
        rows = []
        for text, vector, meta in zip(got["documents"], got["embeddings"], got["metadatas"]):
            meta = {**meta, "path": new_path, "source": new_source, "aliases": value}
            chunk = Chunk(id=chunk_id(new_path, int(meta["index"]), text), text=text, source=new_source,
                          path=new_path, start=int(meta["start"]), end=int(meta["end"]), index=int(meta["index"]))
            rows.append((chunk, np.asarray(vector, dtype=np.float32).tolist(), meta))
        limit = self._max_batch()
        for i in range(0, len(rows), limit):
            self._upsert(rows[i : i + limit])
        self.delete_ids(sorted(set(got["ids"]) - {c.id for c, _, _ in rows}))

    # Reading -----------------------------------------------------------------------------

    def documents(self) -> dict[str, StoredDocument]:
        """Every stored document by path, with the hash and chunk count it was written with."""
        docs: dict[str, dict[str, Any]] = {}
        for meta in self._iter_get(include=["metadatas"]):
            entry = docs.setdefault(
                meta["path"],
                {"source": meta["source"], "hashes": set(), "count": 0, "expected": int(meta.get("n_chunks", 0)),
                 "aliases": {}},
            )
            # A chunk written by an older chunking (before sentence maps or heads were kept, or read
            # otherwise): the next ingest writes the file again, its vectors kept.
            whole = meta.get("layout") == LAYOUT and "sentences" in meta and "head" in meta
            entry["hashes"].add(meta.get("sha256", "") if whole else "")
            entry["count"] += 1
            if meta.get("aliases"):
                try:
                    for alias_path, alias_source in json.loads(meta["aliases"]):
                        entry["aliases"].setdefault(alias_path, alias_source)
                except (ValueError, TypeError):
                    pass  # not ours; ignore rather than refuse the index
        return {
            path: StoredDocument(
                path=path,
                source=e["source"],
                # Two hashes under one path: a replacement was cut short; treat the file as changed.
                sha256=next(iter(e["hashes"])) if len(e["hashes"]) == 1 else "",
                chunks=e["count"],
                expected=e["expected"] if len(e["hashes"]) == 1 else -1,
                aliases=tuple((p, s) for p, s in e["aliases"].items() if p != path),
            )
            for path, e in docs.items()
        }

    def _iter_get(self, include: list[str]) -> Iterator[dict[str, Any]]:
        page = 5000
        offset = 0
        while True:
            got = self._col.get(include=include, limit=page, offset=offset)
            metas = got.get("metadatas") or []
            for meta in metas:
                yield meta
            if len(got["ids"]) < page:
                return
            offset += page

    def all_chunks(self) -> tuple[list[str], list[str], list[dict[str, Any]]]:
        """(ids, texts, metadatas) of every chunk, for the lexical index."""
        ids: list[str] = []
        texts: list[str] = []
        metas: list[dict[str, Any]] = []
        page, offset = 5000, 0
        while True:
            got = self._col.get(include=["documents", "metadatas"], limit=page, offset=offset)
            ids += got["ids"]
            texts += got["documents"]
            metas += got["metadatas"]
            if len(got["ids"]) < page:
                return ids, texts, metas
            offset += page

    def version(self) -> object:
        """A value that changes whenever the collection's contents change, whoever changed them.

        Embedded store: the size and mtime of Chroma's SQLite files, a stat and no query, so it
        costs nothing at any index size and still sees another process's ingest. Chroma server:
        the count and a hash of every chunk id, exact but one ids-only read per call.
        """
        if self._lock_path is not None:
            folder = self._lock_path.parent
            stats = []
            for name in ("chroma.sqlite3", "chroma.sqlite3-wal"):
                try:
                    st = (folder / name).stat()
                    stats.append((st.st_size, st.st_mtime_ns))
                except FileNotFoundError:
                    stats.append(None)
            return tuple(stats)
        import hashlib

        ids = self.all_ids()
        return len(ids), hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()

    def content_key(self, version: object = None) -> Optional[str]:
        """An exact name for the collection's contents that every process computes alike: what a
        saved BM25 index is checked against (``version`` of an embedded store is not: Chroma
        writes its SQLite file whenever any process opens it).

        Embedded store: the collection's id, the sequence number of the last write its metadata
        segment applied and its row count, read from Chroma's SQLite file (read-only, about 1 ms
        at any size; every add, update and delete takes a new sequence number). Reading the ids
        through Chroma instead costs 6.7 s at 100k chunks. None when that file is not laid out
        as expected (another Chroma version): the BM25 index is then not saved. Chroma server:
        ``version`` (count and hash of every chunk id; pass it when just read, to read it once)."""
        if self._lock_path is None:
            count, digest = version or self.version()  # type: ignore[misc]
            return f"server:{count}:{digest}"
        import sqlite3

        if not (self._lock_path.parent / "chroma.sqlite3").exists():
            self.open()  # a new index: Chroma creates its file
        try:
            db = sqlite3.connect(f"file:{self._lock_path.parent / 'chroma.sqlite3'}?mode=ro", uri=True, timeout=10)
            try:
                col = self._collection_id(db)
                (segment,) = db.execute(
                    "SELECT id FROM segments WHERE collection = ? AND scope = 'METADATA'", (col,)).fetchone()
                seq = db.execute("SELECT seq_id FROM max_seq_id WHERE segment_id = ?", (segment,)).fetchone()
                (rows,) = db.execute("SELECT count(*) FROM embeddings WHERE segment_id = ?", (segment,)).fetchone()
            finally:
                db.close()
        except AssistantError:  # opening Chroma failed: that is the error to report
            raise
        except Exception as exc:  # noqa: BLE001
            if not getattr(self, "_warned_key", False):
                import logging

                logging.getLogger(__name__).warning(
                    "index %s: cannot read Chroma's write sequence (%s); the BM25 index is rebuilt in each "
                    "process", self.location, exc)
                self._warned_key = True
            return None
        return f"local:{col}:{seq[0] if seq else 0}:{rows}"

    def vectors(self, ids: Sequence[str]) -> np.ndarray:
        """The stored vectors of ``ids``, a row each in that order (float32). Raises AssistantError
        when Chroma cannot give every one (its vector index lags its rows: another process is
        writing, or an ingest was killed)."""
        self._refresh(locked=False)  # another process's vectors, as for a search
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        row = {cid: i for i, cid in enumerate(ids)}
        found = 0
        for i in range(0, len(ids), 5000):
            got = self._col.get(ids=list(ids[i : i + 5000]), include=["embeddings"])
            for cid, vector in zip(got["ids"], got["embeddings"]):
                if vector is None or len(vector) != self.dim:
                    raise AssistantError(f"index {self.location}: chunk {cid} has no vector of dimension {self.dim}")
                out[row[cid]] = vector
                found += 1
        if found != len(ids):
            raise AssistantError(f"index {self.location}: {len(ids) - found} of {len(ids)} chunks have no vector yet")
        return out

    def _collection_id(self, db: Any) -> str:
        """The collection's id: read from Chroma's SQLite file by name while Chroma is not open
        (one collection of that name), else from Chroma (opening it)."""
        if self._collection is None and not self._closed:
            rows = db.execute("SELECT id FROM collections WHERE name = ?", (self._name,)).fetchall()
            if len(rows) == 1:
                return str(rows[0][0])
        return str(self._col.id)

    def all_ids(self) -> list[str]:
        """Every chunk id, and nothing else: the cheap read behind the retriever's change check.

        Ids are hashes of (path, position, text), so any change to the chunks changes this list,
        also one that keeps the chunk count (a document replaced by another assistant)."""
        ids: list[str] = []
        page, offset = 5000, 0
        while True:
            got = self._col.get(include=[], limit=page, offset=offset)
            ids += got["ids"]
            if len(got["ids"]) < page:
                return ids
            offset += page

    def query(self, vector: np.ndarray, k: int) -> list[Passage]:
        self._refresh(locked=False)
        # No count() first: Chroma returns what it has when asked for more (a count costs
        # about 17 ms at 100k chunks, a third of a whole retrieval).
        got = self._col.query(
            query_embeddings=[np.asarray(vector, dtype=np.float32).tolist()],
            n_results=k,
            include=["documents", "metadatas", "distances"],
        )
        return [
            passage(cid, text, meta, 1.0 - float(dist))
            for cid, text, meta, dist in zip(
                got["ids"][0], got["documents"][0], got["metadatas"][0], got["distances"][0]
            )
        ]

    def count(self) -> int:
        return int(self._col.count())

    def close(self) -> None:
        # Chroma has no close(); dropping the references lets its SQLite handles go.
        with self._opening:
            self._collection = self._client = None
            self._closed = True


def _chroma_settings() -> Any:
    """Chroma's client settings: no telemetry, no reset."""
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


def create_store(settings: Any, embedder_name: str, dim: int) -> ChromaStore:
    """The store the settings ask for: a Chroma server when ``chroma_url`` is set, else ``index_dir``."""
    return ChromaStore(
        embedder_name, dim, path=None if settings.chroma_url else Path(settings.index_dir),
        url=settings.chroma_url, collection=settings.collection,
    )
