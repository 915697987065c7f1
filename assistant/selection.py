"""Stage 5: choose what the model reads. From the best retrieved passages, keep the sentences
that bear on the question, each with the sentence before it, best first, until a token budget
is spent; order the passages by their best sentence (a reranking).

Prefill is the user's wait and costs per token, so the model reads a few hundred tokens of the
right sentences rather than whole passages, and the budget reaches further down the ranking:
an answer that ranked fifth, or a second source that gives another date, gets shown.

A sentence's score adds up what is cheap to know, dense and lexical evidence weighted as
retrieval's rank fusion weighs them (Settings' dense_weight and bm25_weight):
- its cosine similarity to the query (MiniLM, one batch for the candidate sentences: all those of
  the best few passages, and below them those that share a word with the question);
- the share of the query's terms it holds, each weighted by how rare it is among the candidates
  (a term no candidate has cannot tell them apart, so it does not count);
- the rank of its passage in retrieval, a little: it only breaks near-ties;
- whether it holds the kind of value the question asks for: a date for "when", much (a sentence
  without one can only be context, and the sentence before each chosen one is shown anyway);
  a number for "how many" or a name the question does not give for "who", a little (numbers
  and names are in most sentences of a report, dates in few; and the answer to "who" is often
  a role or a firm).
A sentence scoring under half the best one's is not shown even when the budget has room: it
would be noise, not context. Each part of a compound question has its own best (``above_floor``).
Beyond the budget, the sentence over the floor whose words cover the question's best by meaning,
word piece by word piece (``meaning_overlap``), is shown too if it is not already: a paraphrase
of the question ("…credit for its better fuel results?" for "…attributed its improved efficiency
to…") shares no word with it, and its cosine may be no higher than that of sentences that only
name the question's subject.

Sentences come from the chunk's sentence map, so those shown keep their exact offsets in the
file. A passage without one (an index written before the maps were kept) is read whole.
"""

from __future__ import annotations

import bisect
import math
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Callable, Optional, Sequence

import numpy as np

from . import text as txt
from .config import default
from .embedding import Pieces
from .types import Passage

# The small weights of the score's tie-breaking parts, chosen on principle, not searched on the
# eval sets: see bench/RESULTS.md.
RANK, KIND = 0.1, 0.15
VALUE = 0.4  # the kind bonus of a date: see bench/RESULTS.md, "A date's sentence first"
FLOOR = 0.5  # of the best candidate's score
DENSE_PASSAGES = 3  # whose every sentence is embedded; below them, sentences sharing a word with the question
GAP = " … "  # between sentences that are not next to each other in the passage
SOURCE_COST = 10  # tokens a source's number and file name cost in the prompt
_DIGIT = re.compile(r"\d")
_WORD = re.compile(r"[^\W_]+")  # a word's letters and digits, as ``meaning_overlap`` reads pieces
_WHO = re.compile(r"\W*(?:[A-Za-z]+\s+)?(?:who|whom|whose)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Candidate:
    """One sentence of a retrieved passage."""

    passage: int  # index into the retrieved passages
    index: int  # index into that passage's sentences
    text: str
    score: float = 0.0


class CachedEmbed:
    """``embed`` that remembers the vectors of the last ``size`` texts: the candidate sentences
    of a chat's questions overlap (the same passages come back), so each is embedded once. With
    ``embed_pieces`` (``PieceEmbedder``), each text's word pieces are kept too (``pieces``),
    from the same forward pass."""

    # A sentence's pieces take some twenty times its vector's memory: 2,048 sentences with
    # theirs hold a chat's candidates in tens of megabytes.
    def __init__(self, embed: Callable[[Sequence[str]], np.ndarray], size: int = 2048,
                 embed_pieces: Optional[Callable[[Sequence[str]], tuple[np.ndarray, list[Pieces]]]] = None) -> None:
        self.embed, self.size, self.embed_pieces = embed, size, embed_pieces
        self._vectors: OrderedDict[str, tuple[np.ndarray, Optional[Pieces]]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([vector for vector, _ in self._get(texts)])

    def pieces(self, texts: Sequence[str]) -> list[Pieces]:
        """Each text's word pieces (``embed_pieces`` must be given)."""
        assert self.embed_pieces is not None
        return [p for _, p in self._get(texts)]  # type: ignore[misc]

    def _get(self, texts: Sequence[str]) -> list[tuple[np.ndarray, Optional[Pieces]]]:
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
            if missing:
                if self.embed_pieces is not None:
                    vectors, pieces = self.embed_pieces(missing)
                else:
                    vectors, pieces = self.embed(missing), [None] * len(missing)
                for text, vector, piece in zip(missing, vectors, pieces):
                    self._vectors[text] = (vector, piece)
            for text in texts:
                self._vectors.move_to_end(text)
            out = [self._vectors[t] for t in texts]
            while len(self._vectors) > self.size:
                self._vectors.popitem(last=False)
            return out


def excerpt(p: Passage) -> str:
    """What the model reads of ``p``: its shown sentences (gaps marked), or its whole text."""
    return GAP.join(" ".join(run) for run in runs(p))


def runs(p: Passage) -> list[list[str]]:
    """What the model reads of ``p`` in runs of adjacent sentences; its whole text, as one run, when
    it read all of it."""
    if not p.shown:
        return [[p.text]]
    out: list[list[str]] = []
    for i, (a, b, _, _) in enumerate(p.shown):
        if not i or p.shown[i - 1][1] + 1 < a:
            out.append([])
        out[-1].append(p.text[a:b])
    return out


def voiced(p: Passage) -> Passage:
    """``p`` with its document's head only where what the model reads of it says "I" or "we"
    outside quotation marks (``claims.speakers``): there the head (a byline, a letterhead) says
    who that is; elsewhere it would cost prompt tokens, and the grounding needs only its title,
    which the passage keeps (``Passage.title``)."""
    from .chunking import head_title
    from .claims import speakers

    if not p.head or any(speakers(s) for s in txt.sentences(excerpt(p))):
        return p
    return replace(p, head="", title=head_title(p.head))


def candidates(passages: Sequence[Passage]) -> list[Candidate]:
    """Every sentence of the passages that have a sentence map, once. Chunks overlap, so a
    sentence can open one passage and stand inside another: it is taken where the sentence
    before it is there too, since that one is shown with it."""
    where: dict[str, Candidate] = {}
    for i, p in enumerate(passages):
        for n, (a, b, _, _) in enumerate(p.sentences):
            text = p.text[a:b]
            seen = where.get(text.lower())
            if seen is None or (seen.index == 0 and n > 0):
                where[text.lower()] = Candidate(i, n, text)
    return sorted(where.values(), key=lambda c: (c.passage, c.index))


def score(query: str, pool: Sequence[Candidate], similarity: np.ndarray, dense_weight: Optional[float] = None,
          lexical_weight: Optional[float] = None) -> list[Candidate]:
    """``pool`` with scores (see the module's docstring); ``similarity`` is each one's cosine to
    the query. Weights not given are Settings' dense_weight and bm25_weight."""
    dense_weight, lexical_weight = default("dense_weight", dense_weight), default("bm25_weight", lexical_weight)
    terms = [set(txt.terms(c.text)) for c in pool]
    df = {t: sum(t in ts for ts in terms) for t in set(txt.terms(query))}
    idf = {t: math.log(1 + len(pool) / (1 + n)) for t, n in df.items() if n}
    total = sum(idf.values()) or 1.0
    wanted, bonus = _wanted_kind(query) or (None, 0.0)
    return [
        replace(c, score=dense_weight * float(similarity[j]) + lexical_weight * sum(idf.get(t, 0.0) for t in terms[j]
                if t in idf) / total + RANK / (c.passage + 1) + (bonus if wanted and wanted(c.text) else 0.0))
        for j, c in enumerate(pool)
    ]


def meaning_overlap(query: str, asked: Pieces, texts: Sequence[str], pieces: Sequence[Pieces]) -> np.ndarray:
    """For each of ``texts``, how well its words cover the query's by meaning: the mean, over the
    word pieces of the query's words, of the closest cosine a piece of the text's words gives
    (MiniLM's last layer; BERTScore's recall). "What change did the people who built the Gaivota
    credit for its better fuel results?" shares no word but the name with "The team behind the
    Gaivota attributed its improved efficiency to a redesigned hull"; piece by piece, "credit"
    meets "attributed" and "better" "improved". Stopwords are left out on both sides, and
    the query's names and numbers too: the words' share already matches them exactly, and their
    pieces ("ga", "##ivo", "32") would make any sentence naming them close."""
    from .claims import capitalised_inside

    names = [(m.start(), m.end()) for w in capitalised_inside(query) for m in re.finditer(re.escape(w), query)]
    keep = _word_pieces(query, asked, lambda a, word: not any(x <= a < y for x, y in names) and not _DIGIT.search(word))
    if not keep.any():
        return np.zeros(len(texts), dtype=np.float32)
    wanted = asked.vectors[keep].astype(np.float32)
    out = np.zeros(len(texts), dtype=np.float32)
    for j, (text, p) in enumerate(zip(texts, pieces)):
        found = _word_pieces(text, p)
        if found.any():
            out[j] = float((wanted @ p.vectors[found].astype(np.float32).T).max(axis=1).mean())
    return out


def _word_pieces(text: str, pieces: Pieces, also: Callable[[int, str], bool] = lambda a, word: True) -> np.ndarray:
    """Which of ``pieces`` belong to a word of ``text`` that is not a stopword (and, for each
    piece's start and its word, ``also``): not punctuation, not "the"."""
    words = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(text)]
    starts = [a for a, _, _ in words]
    keep = np.zeros(len(pieces.spans), dtype=bool)
    for i, (a, _) in enumerate(pieces.spans):
        k = bisect.bisect_right(starts, a) - 1
        if k >= 0 and a < words[k][1] and words[k][2].lower() not in txt.STOPWORDS and also(a, words[k][2]):
            keep[i] = True
    return keep


def _wanted_kind(query: str) -> Optional[tuple[Callable[[str], bool], float]]:
    """What a sentence that answers ``query`` must hold, when its question word says so, and the
    bonus for holding it."""
    if txt.asks_date(query):
        from .conflicts import values

        return lambda s: bool(txt.YEAR.search(s)) or any(v.kind in ("date", "weekday") for v in values(s)), VALUE
    if txt.asks_number(query):
        return lambda s: bool(_DIGIT.search(s)), KIND
    if txt.asks_name(query) or _WHO.match(query):
        from .claims import capitalised_inside

        # A name the question does not give (not a month or a weekday): "Who chairs the
        # committee?" is answered by "Chair: Johan Eskeland MP", which shares one word with it.
        asked = set(txt.terms(query))
        return lambda s: any(t not in asked for w in capitalised_inside(s) if not txt.calendar_word(w)
                             for t in txt.terms(w)), KIND
    return None


def worth_embedding(pool: Sequence[Candidate], queries: Sequence[str]) -> list[int]:
    """Which candidates to embed (the time before the first token goes mostly to embedding them):
    every sentence of the best ``DENSE_PASSAGES`` passages, where a paraphrase of the question
    ranks on meaning alone, and elsewhere only sentences that hold a term of a query. A
    sentence further down that shares no word with the question could win only on its cosine,
    and the search already ranked its passage low on both meaning and words."""
    wanted = {t for q in queries for t in txt.terms(q)}
    return [j for j, c in enumerate(pool) if c.passage < DENSE_PASSAGES or wanted & set(txt.terms(c.text))]


def above_floor(pool: Sequence[Candidate], parts: Sequence[Sequence[Candidate]] = ()) -> list[Candidate]:
    """The candidates worth showing: those scoring at least ``FLOOR`` of the best, and, for a
    question of several parts, those scoring that share of the best by the question or one of
    its parts (``parts``: the same candidates scored by each). A sentence under half the best
    score would be noise, not context; but the part of a question that its sources word least
    like it ("…, and how large does she think the fund should be?") has its own best, which may
    be under half the other part's, and it must not be left with nothing shown."""
    keep = _above(pool)
    for scores in parts:
        keep |= _above(scores)
    return [c for j, c in enumerate(pool) if j in keep]


def _above(scored: Sequence[Candidate]) -> set[int]:
    floor = FLOOR * max((c.score for c in scored), default=0.0)
    return {j for j, c in enumerate(scored) if c.score >= floor}


def plan(pool: Sequence[Candidate], cost: Callable[[int, int], int], budget: int, k: int) -> dict[int, list[int]]:
    """Which sentences to show, as sentence indices by passage: the best candidates first, each
    with the sentence before it, until ``budget`` tokens (``cost(passage, index)`` a sentence) are
    spent, from ``k`` passages at most (``pool``: the candidates that clear the floor,
    ``above_floor``). The sentence before says who "he", "its" or "the company" is ("BlueWave
    runs 12 ferries. Chief executive Marta Quintas said the company…"), and it is the window
    the grounding check reads a claim in: two adjacent sentences."""
    chosen: dict[int, list[int]] = {}
    used = 0
    for c in sorted(pool, key=lambda c: -c.score):
        add = [c.index - 1, c.index] if c.index else [c.index]
        have = chosen.get(c.passage, [])
        new = [n for n in add if n not in have]
        spend = sum(cost(c.passage, n) + 1 for n in new) + (0 if have else SOURCE_COST)
        if not new or used + spend > budget or (not have and len(chosen) >= k):
            continue  # a shorter sentence further down, or one of a chosen passage, may still fit
        used += spend
        chosen[c.passage] = sorted(have + new)
    return chosen


def _with_closest(query: str, pool: Sequence[Candidate], chosen: dict[int, list[int]],
                  pieces: Callable[[Sequence[str]], Sequence[Pieces]], k: int) -> dict[int, list[int]]:
    """``chosen`` with the candidate of ``pool`` whose words cover the question's best by meaning
    (``meaning_overlap``), and the sentence before it, when it is not shown already: beyond the
    budget, and without taking a passage past the ``k``th. A paraphrase of the question shares
    no word with it and may rank too low to fit; shown beside the rest, it changes nothing else
    the model reads."""
    found = pieces([query, *(c.text for c in pool)])
    overlap = meaning_overlap(query, found[0], [c.text for c in pool], found[1:])
    best = pool[int(overlap.argmax())]
    have = chosen.get(best.passage, [])
    if not overlap.any() or best.index in have or (not have and len(chosen) >= k):
        return chosen  # a question of names alone has no words to read by meaning
    return {**chosen, best.passage: sorted({*have, best.index - 1, best.index} - {-1})}


def select(query: str, passages: Sequence[Passage], embed: Callable[[Sequence[str]], np.ndarray],
           count_tokens: Callable[[str], int], budget: int, k: int, also: Sequence[str] = (),
           pieces: Optional[Callable[[Sequence[str]], Sequence[Pieces]]] = None) -> list[Passage]:
    """At most ``k`` passages to show, best first, each with ``shown`` set to the sentences chosen
    for ``query`` (each sentence scored by its best of ``query``, the parts of a compound
    question, and the queries ``also``), within ``budget`` tokens (for each part of a compound
    question). With ``pieces`` (the texts' word pieces, from the embedder that gave the vectors),
    the sentence closest to ``query`` by meaning is shown too, beyond the budget
    (``_with_closest``). Passages without a sentence map are left out; when none has one (an index written before the maps were kept), the best
    ``k`` are read whole."""
    pool = candidates(passages)
    if not pool:
        return list(passages[:k])
    # A question that asks several things is scored part by part, each sentence by its best
    # part, so that the sentence answering the second part is not crowded out by the first's.
    # A follow-up is also scored with the query it was searched with (``also``: its words plus
    # the names of the exchange before it), since "Over how many years?" alone matches little.
    # Each part has the budget a question has: it needs its own answering sentence, with the one
    # before it, and a part left out of what the model reads cannot be answered.
    parts = txt.question_parts(query)
    budget *= max(1, len(parts))
    queries = list(dict.fromkeys([query, *(parts if len(parts) > 1 else []), *also]))
    worth = worth_embedding(pool, queries)
    vectors = embed([*queries, *(pool[j].text for j in worth)])
    similarity = np.zeros((len(pool), len(queries)), dtype=np.float32)
    similarity[worth] = vectors[len(queries):] @ vectors[: len(queries)].T
    by_query = [score(q, pool, similarity[:, i]) for i, q in enumerate(queries)]  # idf over every candidate
    scored = [[scores[j] for j in worth] for scores in by_query]  # the embedded ones, by each query
    pool = [max(versions, key=lambda c: c.score) for versions in zip(*scored)]

    def cost(i: int, n: int) -> int:
        a, b, _, _ = passages[i].sentences[n]
        return count_tokens(passages[i].text[a:b])

    asked = [scored[queries.index(q)] for q in (query, *parts)] if len(parts) > 1 else []
    shown = above_floor(pool, asked)
    chosen = plan(shown, cost, budget, k)
    if pieces is not None and shown:
        chosen = _with_closest(query, shown, chosen, pieces, k)
    best = {i: max(c.score for c in pool if c.passage == i) for i in chosen}
    return [replace(passages[i], shown=tuple(passages[i].sentences[n] for n in chosen[i]))
            for i in sorted(chosen, key=lambda i: -best[i])]
