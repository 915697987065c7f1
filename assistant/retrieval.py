"""Stage 5: find the passages for a question: dense search and BM25, fused by reciprocal rank.

The BM25 index is built from the store's own contents. Before each search the retriever
reads the store's version (a stat of an embedded store's files; the chunk count and a hash
of the chunk ids on a Chroma server) and, when it moved, the store's content key, and
rebuilds the index only when the contents changed. So several assistants sharing one Chroma
server, or a UI and an `assistant ingest` sharing one index folder, stay consistent with each
other, also when a document is replaced by one with the same number of chunks.

The index is saved next to the store (``store.cache_dir``), one folder per content key,
written to a temporary folder and renamed into place, and memory-mapped when loaded: a new
process (or a reader after another process's ingest, once that process has searched) pays a
load of about a second instead of a rebuild (19 s at 100k chunks). A saved index that cannot
be read or does not add up is logged, deleted and rebuilt; a half-written one is never seen.

A saved index of at most ``exact_search_max`` chunks also holds a copy of their vectors, and
dense search reads that copy (exactly) instead of the store: a process that only answers
questions never opens Chroma, which is most of what a new process paid before its search.
"""

from __future__ import annotations

import hashlib
import json
import logging
import mmap
import os
import shutil
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from .config import default
from .store import passage
from .text import terms
from .types import Passage

log = logging.getLogger(__name__)

_FORMAT = 4  # bump when the saved layout changes (4: our own score files, read without bm25s)


def _tokenizer_id() -> str:
    """What a saved score matrix depends on: our tokenizer's source, the version of bm25s that
    scored it, the layout."""
    from importlib.metadata import version

    from . import text

    h = hashlib.sha256(Path(text.__file__).read_bytes())
    h.update(f"\0{version('bm25s')}\0{_FORMAT}".encode())
    return h.hexdigest()[:16]


class _Scores:
    """The BM25 score matrix bm25s builds, searched with NumPy alone.

    For each term it holds the rows the term occurs in and their BM25 scores (compressed sparse
    columns); a query's scores are the sum of its terms' columns, which is all bm25s's own search
    does. bm25s only builds the matrix: importing it pulls SciPy in, which was most of what a new
    process paid before its first search. The method is Lucene's, which gives a row that lacks a
    term nothing for it (no score for absent terms, as BM25L and BM25+ have).
    """

    METHOD = "lucene"
    _ARRAYS = ("data", "indices", "indptr")

    def __init__(self, data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, vocab: dict[str, int],
                 n: int) -> None:
        if len(indptr) != len(vocab) + 1 or int(indptr[-1]) != len(data) or len(indices) != len(data):
            raise ValueError(f"score matrix of {len(data)} scores, {len(indptr) - 1} terms, does not add up "
                             f"({len(vocab)} terms, {len(indices)} row numbers)")
        if vocab and not 0 <= min(vocab.values()) <= max(vocab.values()) < len(vocab):
            raise ValueError("term numbers beyond the score matrix")
        self.data, self.indices, self.indptr, self.vocab, self.n = data, indices, indptr, vocab, n

    @classmethod
    def build(cls, term_lists: list[list[str]]) -> "_Scores":
        if not term_lists:  # an empty store has nothing to index (and bm25s cannot index nothing)
            return cls(np.zeros(0, np.float32), np.zeros(0, np.int32), np.zeros(1, np.int32), {}, 0)
        import bm25s

        bm25 = bm25s.BM25(method=cls.METHOD)
        bm25.index(term_lists, show_progress=False)
        m = bm25.scores
        # bm25s adds an empty term of its own (for queries with no known term) that has no column.
        vocab = {t: i for t, i in bm25.vocab_dict.items() if t}
        return cls(m["data"], m["indices"], m["indptr"], vocab, int(m["num_docs"]))

    def search(self, query_terms: Sequence[str], k: int) -> list[tuple[int, float]]:
        """(row, score) of the ``k`` best rows with a score above zero, best first."""
        ids = [self.vocab[t] for t in query_terms if t in self.vocab]
        if not ids:
            return []
        scores = np.zeros(self.n, dtype=np.float32)
        for t in ids:  # a term asked twice counts twice, as in bm25s
            a, b = int(self.indptr[t]), int(self.indptr[t + 1])
            np.add.at(scores, self.indices[a:b], self.data[a:b])
        return [(r, s) for r, s in _best(scores, k) if s > 0]

    def save(self, folder: Path) -> None:
        for name in self._ARRAYS:
            np.save(folder / f"scores.{name}.npy", np.asarray(getattr(self, name)))
        (folder / "vocab.json").write_text(json.dumps(self.vocab, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, n: int) -> "_Scores":
        """The saved matrix, memory-mapped; ValueError (or an OSError) when it does not add up."""
        data, indices, indptr = (np.load(folder / f"scores.{name}.npy", mmap_mode="r") for name in cls._ARRAYS)
        vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
        # One pass: a negative row number read unsigned is beyond them too.
        if len(indices) and int(indices.view(np.dtype(f"u{indices.dtype.itemsize}")).max()) >= n:
            raise ValueError(f"row numbers beyond the {n} rows")
        return cls(data, indices, indptr, vocab, n)


def _best(scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """(row, score) of the ``k`` highest ``scores``, best first: every row above the k-th score,
    then its ties in row order, the same in every process."""
    n = len(scores)
    k = min(k, n)
    if k <= 0:
        return []
    if k < n:
        kth = -np.partition(-scores, k - 1)[k - 1]
        above = np.flatnonzero(scores > kth)
        top = np.concatenate([above, np.flatnonzero(scores == kth)[: k - len(above)]])
    else:
        top = np.arange(n)
    top = top[np.lexsort((top, -scores[top]))]
    return [(int(r), float(scores[r])) for r in top]


class _Rows:
    """Chunk rows (id, text, metadata) kept in memory, as read from the store."""

    def __init__(self, ids: list[str], texts: list[str], metas: list[dict]) -> None:
        self.ids, self.texts, self.metas = ids, texts, metas

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, row: int) -> tuple[str, str, dict]:
        return self.ids[row], self.texts[row], self.metas[row]


class _MappedRows:
    """Chunk rows read on demand from a saved ``rows.jsonl`` (one JSON array a line) through its
    memory-mapped line offsets: nothing is parsed at load, and memory stays flat at any size."""

    def __init__(self, folder: Path, n: int) -> None:
        self._offsets = np.load(folder / "rows.offsets.npy", mmap_mode="r")
        with open(folder / "rows.jsonl", "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if len(self._offsets) != n + 1 or int(self._offsets[0]) != 0 or int(self._offsets[-1]) != size:
                raise ValueError(f"rows.jsonl: {size} bytes and {len(self._offsets) - 1} rows, expected {n} rows "
                                 f"ending at byte {int(self._offsets[-1]) if len(self._offsets) else '?'}")
            self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __getitem__(self, row: int) -> tuple[str, str, dict]:
        cid, text, meta = json.loads(self._map[int(self._offsets[row]) : int(self._offsets[row + 1])])
        return cid, text, meta


class LexicalIndex:
    """BM25 over every chunk in the store, built from its rows or loaded from a saved folder;
    with ``vectors`` (the rows' stored vectors, written by ``embedder``), also their exact
    nearest neighbours."""

    def __init__(self, scores: _Scores, rows: Any, key: Optional[str] = None, vectors: Optional[np.ndarray] = None,
                 embedder: Optional[str] = None) -> None:
        self._scores, self.rows, self.key = scores, rows, key
        self.vectors, self.embedder = vectors, embedder

    @classmethod
    def build(cls, ids: list[str], texts: list[str], metas: list[dict], key: Optional[str] = None,
              vectors: Optional[np.ndarray] = None, embedder: Optional[str] = None) -> "LexicalIndex":
        scores = _Scores.build([terms(t) or ["\u2205"] for t in texts])
        if vectors is not None:  # unit rows: a dot product is the cosine similarity Chroma's index uses
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = np.asarray(vectors / np.where(norms == 0, 1.0, norms), dtype=np.float32)
        return cls(scores, _Rows(ids, texts, metas), key, vectors, embedder)

    def __len__(self) -> int:
        return len(self.rows)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """(row, score) pairs, best first; rows with no matching term are left out."""
        return self._scores.search(terms(query), k)

    def nearest(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(row, cosine similarity) of the ``k`` rows nearest ``vector``, best first (``vectors`` needed)."""
        assert self.vectors is not None
        query = np.asarray(vector, dtype=np.float32)
        return _best(np.asarray(self.vectors @ (query / (np.linalg.norm(query) or 1.0))), k)

    # Saving and loading -------------------------------------------------------------------

    def save(self, cache_dir: Path) -> Path:
        """Write the index to ``cache_dir/<key>`` atomically (a temporary folder renamed into
        place) and delete older saved keys; returns the folder."""
        assert self.key is not None and isinstance(self.rows, _Rows)
        cache_dir.mkdir(parents=True, exist_ok=True)
        final = cache_dir / _folder_name(self.key)
        tmp = cache_dir / f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            tmp.mkdir()
            self._scores.save(tmp)
            offsets = np.zeros(len(self.rows) + 1, dtype=np.int64)
            with open(tmp / "rows.jsonl", "wb") as f:
                pos = 0
                for i, (cid, text, meta) in enumerate(zip(self.rows.ids, self.rows.texts, self.rows.metas)):
                    line = json.dumps([cid, text, meta], ensure_ascii=False).encode() + b"\n"
                    f.write(line)
                    pos += len(line)
                    offsets[i + 1] = pos
            np.save(tmp / "rows.offsets.npy", offsets)
            if self.vectors is not None:
                np.save(tmp / "vectors.npy", np.asarray(self.vectors, dtype=np.float32))
            # Written last: a folder is complete when its meta.json says what it holds.
            (tmp / "meta.json").write_text(json.dumps(
                {"format": _FORMAT, "key": self.key, "tokenizer": _tokenizer_id(), "rows": len(self.rows),
                 "embedder": self.embedder, "vectors": self.vectors is not None}))
            for p in tmp.iterdir():  # on disk before the rename makes the folder trusted
                with open(p, "rb") as f:
                    os.fsync(f.fileno())
            try:
                os.rename(tmp, final)
            except OSError:  # another process saved the same contents first: theirs is as good
                if not (final / "meta.json").exists():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        for other in cache_dir.iterdir():  # older contents; a reader that mapped them keeps its pages
            try:  # another process may be cleaning up at the same time
                stale_tmp = other.name.startswith(".tmp-") and time.time() - other.stat().st_mtime > 3600
                if other != final and (stale_tmp or not other.name.startswith(".")):
                    shutil.rmtree(other, ignore_errors=True)
            except OSError:
                pass
        return final

    @classmethod
    def load(cls, cache_dir: Path, key: str) -> Optional["LexicalIndex"]:
        """The saved index for ``key``, memory-mapped; None when there is none. A saved index
        that cannot be read or does not add up is logged and deleted (the caller rebuilds)."""
        folder = cache_dir / _folder_name(key)
        if not (folder / "meta.json").exists():
            return None
        try:
            meta = json.loads((folder / "meta.json").read_text())
            if meta.get("format") != _FORMAT or meta.get("tokenizer") != _tokenizer_id():
                log.info("saved BM25 index %s: written by another version, rebuilding", folder)
                shutil.rmtree(folder, ignore_errors=True)
                return None
            if meta.get("key") != key:
                raise ValueError(f"holds contents {meta.get('key')!r}, not {key!r}")
            n = int(meta["rows"])
            scores = _Scores.load(folder, n)
            vectors = np.load(folder / "vectors.npy", mmap_mode="r") if meta.get("vectors") else None
            if vectors is not None and (vectors.ndim != 2 or len(vectors) != n):
                raise ValueError(f"vectors.npy: shape {vectors.shape}, expected {n} rows")
            return cls(scores, _MappedRows(folder, n), key, vectors, meta.get("embedder"))
        except Exception as exc:  # noqa: BLE001 (any damage: rebuild, never trust it)
            log.warning("saved BM25 index %s is unreadable (%s: %s); rebuilding it", folder, type(exc).__name__, exc)
            shutil.rmtree(folder, ignore_errors=True)
            return None


def _folder_name(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:24]


class Retriever:
    """Hybrid search over a VectorStore with an Embedder."""

    def __init__(
        self,
        store,
        embed_query: Callable[[str], np.ndarray],
        dense_weight: Optional[float] = None,
        bm25_weight: Optional[float] = None,
        rrf_k: Optional[int] = None,
        exact_max: Optional[int] = None,
    ) -> None:
        """Fusion weights and constant not given are Settings' defaults (dense_weight, bm25_weight,
        rrf_k), and so is ``exact_max`` (exact_search_max).

        The BM25 index is saved in ``store.cache_dir`` when the store has one and can say what it
        holds (``store.content_key()``); other stores get it rebuilt in each process. Saved, and
        of at most ``exact_max`` chunks, it keeps a copy of their vectors, and dense search reads
        that copy instead of the store (exact, and the store need not be opened)."""
        self.store = store
        self.embed_query = embed_query
        self.dense_weight = default("dense_weight", dense_weight)
        self.bm25_weight = default("bm25_weight", bm25_weight)
        self.rrf_k = default("rrf_k", rrf_k)
        self.exact_max = default("exact_search_max", exact_max)
        self._lexical: Optional[LexicalIndex] = None
        self._fingerprint: object = None  # the store's version when the index was last checked
        self._lock = threading.Lock()
        self.builds = 0  # BM25 indexes built (not loaded) by this retriever

    def invalidate(self) -> None:
        """Check the BM25 index against the store before the next search (the store was written to)."""
        with self._lock:
            self._fingerprint = None

    def fingerprint(self) -> object:
        """The store's version (or, for a store without one, its size)."""
        version = getattr(self.store, "version", None)
        return version() if version else self.store.count()

    def _content_key(self, version: object) -> Optional[str]:
        get = getattr(self.store, "content_key", None)
        return get(version) if get else None

    def lexical(self) -> LexicalIndex:
        """The BM25 index, loaded or rebuilt when the store's contents changed since it was built."""
        current = self.fingerprint()
        with self._lock:
            if self._lexical is not None and current == self._fingerprint:
                return self._lexical
            # The version moved (or this is the first search): the contents may not have (an
            # embedded store's files change when any process merely opens it). The content key
            # is exact, and read before the contents: a write landing in between only costs one
            # more rebuild, never a stale index believed current.
            key = self._content_key(current)
            if key is None or self._lexical is None or key != self._lexical.key:
                cache_dir = getattr(self.store, "cache_dir", None)
                loaded = LexicalIndex.load(Path(cache_dir), key) if key and cache_dir else None
                if loaded is not None and not self._same_embedder(loaded):
                    getattr(self.store, "open", lambda: None)()  # refuses another embedder's index
                self._lexical = loaded or self._build(key, cache_dir)
            self._fingerprint = current
            return self._lexical

    def _build(self, key: Optional[str], cache_dir: Optional[Path]) -> LexicalIndex:
        ids, texts, metas = self.store.all_chunks()
        self.builds += bool(ids)  # an empty store's index (before a first ingest) is nothing built
        embedder, get = getattr(self.store, "embedder_name", None), getattr(self.store, "vectors", None)
        small = bool(key and cache_dir and ids and embedder and get and len(ids) <= self.exact_max)
        vectors = self._vectors(get, ids) if small else None
        index = LexicalIndex.build(ids, texts, metas, key=key, vectors=vectors, embedder=embedder)
        # Not saved without the copy it should hold: the next process builds again and retries it.
        if key and cache_dir and len(index) and (vectors is not None or not small):
            try:
                index.save(Path(cache_dir))
                # Served from the saved files from now on: the rows leave memory.
                index = LexicalIndex.load(Path(cache_dir), key) or index
            except OSError as exc:
                log.warning("cannot save the BM25 index in %s (%s); it is rebuilt in each process", cache_dir, exc)
        return index

    def _vectors(self, get: Callable[[list[str]], np.ndarray], ids: list[str]) -> Optional[np.ndarray]:
        """The stored vectors of ``ids`` (``get``: the store's ``vectors``); None when the store
        cannot give them all (Chroma's vector index lags its rows while another process writes,
        or after a killed ingest): dense search then stays with the store."""
        try:
            return get(ids)
        except Exception as exc:  # noqa: BLE001 (any store error: search through the store, as before)
            log.warning("index %s: cannot read every stored vector (%s: %s); dense search goes through the store",
                        getattr(self.store, "location", "?"), type(exc).__name__, exc)
            return None

    def dense(self, query: str, k: int, lex: Optional[LexicalIndex] = None) -> list[Passage]:
        """The ``k`` nearest passages (``lex``: the current index, when the caller has it)."""
        vector = self.embed_query(query)
        lex = lex if lex is not None else self.lexical()
        if lex.vectors is not None and self._same_embedder(lex):
            return [_passage(lex.rows[row], score) for row, score in lex.nearest(vector, k)]
        return self.store.query(vector, k)

    def _same_embedder(self, lex: LexicalIndex) -> bool:
        """Whether ``lex`` was written from vectors of the embedder (name and dimension) the store expects."""
        name, dim = getattr(self.store, "embedder_name", None), getattr(self.store, "dim", None)
        return lex.embedder == name and (lex.vectors is None or lex.vectors.shape[1] == dim)

    def size(self, lex: Optional[LexicalIndex] = None) -> int:
        """How many chunks the store holds, as the (current) BM25 index counts them: no store query
        (``lex``: the current index, when the caller has it)."""
        if not self.bm25_weight:
            return self.store.count()
        return len(lex if lex is not None else self.lexical())

    def bm25(self, query: str, k: int, lex: Optional[LexicalIndex] = None) -> list[Passage]:
        """The ``k`` best passages by BM25 (``lex``: the current index, when the caller has it)."""
        lex = lex if lex is not None else self.lexical()
        return [_passage(lex.rows[row], score) for row, score in lex.search(query, k)]

    def retrieve(self, query: str, k: int = 4, candidates: int = 30) -> list[Passage]:
        """The ``k`` best passages by weighted reciprocal-rank fusion of dense and BM25 results."""
        if not query.strip():
            return []
        # The BM25 index is kept in step with the store's version, so its size is the store's:
        # no count query (Chroma counts its rows). Checked once here for both searches.
        lex = self.lexical()
        if self.size(lex) == 0:
            return []
        fused: dict[str, float] = {}
        by_id: dict[str, Passage] = {}
        for weight, hits in (
            (self.dense_weight, self.dense(query, candidates, lex) if self.dense_weight else []),
            (self.bm25_weight, self.bm25(query, candidates, lex) if self.bm25_weight else []),
        ):
            for rank, passage in enumerate(hits):
                fused[passage.id] = fused.get(passage.id, 0.0) + weight / (self.rrf_k + rank + 1)
                by_id.setdefault(passage.id, passage)
        best = sorted(fused, key=lambda i: fused[i], reverse=True)[:k]
        return [_with_score(by_id[i], fused[i]) for i in best]


def _passage(row: tuple[str, str, dict], score: float) -> Passage:
    return passage(*row, score)


def _with_score(p: Passage, score: float) -> Passage:
    return replace(p, score=score)
