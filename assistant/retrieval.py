"""Stage 5: find the passages for a question: dense search and BM25, fused by reciprocal rank.

The BM25 index is built from the store's own contents. Before each search the retriever
reads the store's fingerprint, its chunk count and a hash of its chunk ids (which are hashes
of each chunk's path, position and text), and rebuilds the index when it changed. So several
assistants sharing one Chroma server, or a UI and an `assistant ingest` sharing one index
folder, stay consistent with each other, also when a document is replaced by one with the
same number of chunks. The check is one ids-only read (about 30 ms for 5,000 chunks on a
Chroma server); a store without ``all_ids`` is checked by its count only.
"""

from __future__ import annotations

import threading
from typing import Callable, Optional

import numpy as np

from .config import default
from .text import terms
from .types import Passage

class LexicalIndex:
    """BM25 over every chunk in the store."""

    def __init__(self, ids: list[str], texts: list[str], metas: list[dict]) -> None:
        import bm25s

        self.ids, self.texts, self.metas = ids, texts, metas
        self._bm25 = bm25s.BM25()
        corpus = [terms(t) or ["\u2205"] for t in texts]
        self._bm25.index(corpus, show_progress=False)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """(row, score) pairs, best first; rows with no matching term are left out."""
        query_terms = terms(query)
        if not query_terms or not self.ids:
            return []
        rows, scores = self._bm25.retrieve([query_terms], k=min(k, len(self.ids)), show_progress=False)
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if s > 0]


class Retriever:
    """Hybrid search over a VectorStore with an Embedder."""

    def __init__(
        self,
        store,
        embed_query: Callable[[str], np.ndarray],
        dense_weight: Optional[float] = None,
        bm25_weight: Optional[float] = None,
        rrf_k: Optional[int] = None,
    ) -> None:
        """Fusion weights and constant not given are Settings' defaults (dense_weight, bm25_weight, rrf_k)."""
        self.store = store
        self.embed_query = embed_query
        self.dense_weight = default("dense_weight", dense_weight)
        self.bm25_weight = default("bm25_weight", bm25_weight)
        self.rrf_k = default("rrf_k", rrf_k)
        self._lexical: Optional[LexicalIndex] = None
        self._fingerprint: object = None  # the store's fingerprint when the index was built
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        """Forget the BM25 index (the store was written to)."""
        with self._lock:
            self._lexical = None

    def fingerprint(self) -> object:
        """The store's version (or, for a store without one, its size)."""
        version = getattr(self.store, "version", None)
        return version() if version else self.store.count()

    def lexical(self) -> LexicalIndex:
        """The BM25 index, rebuilt when the store's contents changed since it was built."""
        current = self.fingerprint()
        with self._lock:
            if self._lexical is None or current != self._fingerprint:
                # Read before the snapshot: a write landing in between only costs one more
                # rebuild, never a stale index believed current.
                self._lexical = LexicalIndex(*self.store.all_chunks())
                self._fingerprint = current
            return self._lexical

    def dense(self, query: str, k: int) -> list[Passage]:
        return self.store.query(self.embed_query(query), k)

    def bm25(self, query: str, k: int) -> list[Passage]:
        lex = self.lexical()
        return [_passage(lex, row, score) for row, score in lex.search(query, k)]

    def retrieve(self, query: str, k: int = 4, candidates: int = 30) -> list[Passage]:
        """The ``k`` best passages by weighted reciprocal-rank fusion of dense and BM25 results."""
        if not query.strip():
            return []
        # The BM25 index is kept in step with the store's version, so its size is the store's:
        # no count query (Chroma counts its rows, about 17 ms at 100k chunks).
        if (len(self.lexical().ids) if self.bm25_weight else self.store.count()) == 0:
            return []
        fused: dict[str, float] = {}
        by_id: dict[str, Passage] = {}
        for weight, hits in (
            (self.dense_weight, self.dense(query, candidates) if self.dense_weight else []),
            (self.bm25_weight, self.bm25(query, candidates) if self.bm25_weight else []),
        ):
            for rank, passage in enumerate(hits):
                fused[passage.id] = fused.get(passage.id, 0.0) + weight / (self.rrf_k + rank + 1)
                by_id.setdefault(passage.id, passage)
        best = sorted(fused, key=lambda i: fused[i], reverse=True)[:k]
        return [_with_score(by_id[i], fused[i]) for i in best]


def _passage(lex: LexicalIndex, row: int, score: float) -> Passage:
    meta = lex.metas[row]
    return Passage(text=lex.texts[row], source=meta["source"], start=int(meta["start"]), end=int(meta["end"]),
                   score=score, id=lex.ids[row], location=meta.get("location", ""))


def _with_score(p: Passage, score: float) -> Passage:
    return Passage(text=p.text, source=p.source, start=p.start, end=p.end, score=score, id=p.id, location=p.location)
