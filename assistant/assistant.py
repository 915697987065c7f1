"""Stage 8: the Assistant ties the stages together. This is the public Python API that the
CLI, the web UI and the HTTP API all call.

    with Assistant() as a:
        a.ingest(["articles/"])
        answer = a.ask("Where is Scott Singer a visiting scholar?")
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Optional, Sequence, Union

from . import prompting
from . import text as txt
from .config import Settings, configure
from .errors import AssistantError
from .types import Answer, IngestReport, Passage, Sources, StreamEvent

if TYPE_CHECKING:  # these load when first needed (ingest's, NumPy, the checks): a new process spawns its model sooner
    from .grounding import Grounded
    from .indexing import Progress

History = Sequence[Union[tuple[str, str], dict[str, Any]]]

# Follow-up questions lean on the conversation ("How much did its shares rise?").
_REFERRING = re.compile(
    r"\b(it|its|it's|they|them|their|theirs|this|that|these|those|he|him|his|she|her|there|the company|"
    r"the model|the firm|same|also|too|else|other|then)\b",
    re.IGNORECASE,
)

log = logging.getLogger(__name__)


class Assistant:
    """Local question answering over your documents, with cited answers.

    Models load on first use and are freed by ``close()`` (or leaving a ``with`` block).
    Backends can be passed in (tests pass fakes); otherwise the settings pick them.
    """

    def __init__(
        self,
        settings: Optional[Settings] = None,
        *,
        embedder: Any = None,
        store: Any = None,
        llm: Any = None,
        **overrides: Any,
    ) -> None:
        configure()  # offline, no telemetry, thread policy: before any model library loads
        settings = settings or Settings()
        self.settings = settings.replace(**overrides) if overrides else settings
        self._embedder = embedder
        self._store = store
        self._llm = llm
        # Backends passed in belong to the caller, who may share them; close() frees only ours.
        self._borrowed = {id(b) for b in (embedder, store, llm) if b is not None}
        self._retriever = None
        self._query_embedder = None  # embeds questions: the NumPy MiniLM, or `embedder`
        self._sentence_embed = None  # the query embedder, remembering the vectors of queries and sentences
        self._index_checked = False
        self._lock = threading.RLock()
        # Each answered question's turn exactly as sent, replayed in later history so llama.cpp's
        # prefix cache covers the whole earlier conversation.
        self._sent: OrderedDict[tuple[str, str], prompting.Turn] = OrderedDict()

    # Lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> "Assistant":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Free the models and the store this Assistant loaded (not those passed in)."""
        with self._lock:
            for backend in (self._llm, self._embedder, self._store, self._query_embedder):
                if backend is not None and id(backend) not in self._borrowed:
                    backend.close()
            self._llm = self._embedder = self._store = self._retriever = self._query_embedder = self._sentence_embed = None

    # Backends, created on first use ----------------------------------------------------------

    @property
    def embedder(self):
        with self._lock:
            if self._embedder is None:
                from .embedding import create_embedder

                self._embedder = create_embedder(self.settings.embedder)
            return self._embedder

    @property
    def query_embedder(self):
        """What embeds questions and scores sentences: MiniLM in NumPy (the same vectors, and no
        torch import in a new process) where it can compute the model, else ``embedder``."""
        with self._lock:
            if self._query_embedder is None:
                self._query_embedder = self._embedder
                if self._embedder is None and self.settings.numpy_queries:
                    from .minilm import NumpyMiniLM

                    try:
                        self._query_embedder = NumpyMiniLM(self.settings.embedder)
                    except ValueError as exc:
                        log.info("questions embedded with sentence-transformers: %s", exc)
                self._query_embedder = self._query_embedder or self.embedder
            return self._query_embedder

    @property
    def store(self):
        with self._lock:
            if self._store is None:
                from .embedding import describe
                from .store import create_store

                if self._embedder is not None:
                    name, dim = self._embedder.name, self._embedder.dim
                else:
                    name, dim = describe(self.settings.embedder)  # no need to load the model yet
                self._store = create_store(self.settings, name, dim)
            return self._store

    @property
    def llm(self):
        with self._lock:
            if self._llm is None:
                from .generation import create_llm

                path = None
                if not self.settings.llm_url:
                    from .models import resolve

                    path = resolve(self.settings.model, self.settings.models_dir)
                self._llm = create_llm(self.settings, path)
            return self._llm

    @property
    def retriever(self):
        with self._lock:
            if self._retriever is None:
                from .retrieval import Retriever

                s = self.settings
                self._retriever = Retriever(
                    self.store, lambda q: self._sentence_vectors()([q])[0], s.dense_weight, s.bm25_weight, s.rrf_k,
                    s.exact_search_max,
                )
            return self._retriever

    # Ingestion ---------------------------------------------------------------------------

    def ingest(self, paths: Iterable[Union[str, Path]], progress: Optional[Progress] = None) -> IngestReport:
        """Index files and folders incrementally.

        Unchanged files cost a hash and no embedding; a changed file's chunks are replaced;
        files that disappeared from an ingested folder are removed. A file that fails is
        reported in ``report.errors`` by name and leaves the rest of the batch, and whatever
        was indexed before, untouched.

        A file with the same bytes as a document already indexed (or met earlier in the batch)
        is not embedded or stored again: its path is recorded as an alias of that document
        (``documents()`` lists both names; removing one keeps the other). It counts as added.
        """
        from . import indexing

        report = indexing.ingest(self.store, lambda: self.embedder, paths, self.settings, progress)
        self.retriever.invalidate()
        self._index_checked = True
        return report

    def remove(self, source: str) -> int:
        """Remove a document (by source name or path) from the index; returns the chunks removed.

        A document stored once under several names (duplicate files) loses only the name given,
        and its chunks (0 returned) stay for the others."""
        from . import indexing

        store = self.store
        with store.writer():
            for doc in store.documents().values():
                for path, name in indexing.names(doc):
                    if source in (path, name):
                        removed = indexing.drop_names(store, doc, {path})
                        self.retriever.invalidate()
                        return removed
        raise AssistantError(f"document {source!r}: not in the index")

    def documents(self) -> list[dict[str, Any]]:
        """The indexed documents: source, path, chunks, sha256; sorted by source.

        Files with the same bytes are stored once and listed under each of their names, each
        entry with ``same_as``: the sources of the other names (passages cite the first one)."""
        from . import indexing

        out = []
        for d in self.store.documents().values():
            names = indexing.names(d)
            for path, source in names:
                entry: dict[str, Any] = {"source": source, "path": path, "chunks": d.chunks, "sha256": d.sha256}
                if len(names) > 1:
                    entry["same_as"] = [s for p, s in names if p != path]
                out.append(entry)
        return sorted(out, key=lambda e: e["source"])

    def ensure_index(self) -> None:
        """Build the index from ``settings.corpus`` if it is empty (first use after install)."""
        if self._index_checked:
            return
        if self.retriever.size() == 0 and self.settings.corpus:
            if self._llm is not None:
                self._llm.n_ctx  # a broken model fails before the whole corpus is ingested
            report = self.ingest(self.settings.corpus)
            if self.retriever.size() == 0:
                raise AssistantError(
                    "index is empty and the corpus gave no text: "
                    + ("; ".join(report.errors.values()) or ", ".join(map(str, self.settings.corpus)))
                )
        self._index_checked = True

    # Questions ---------------------------------------------------------------------------

    def retrieve(self, query: str, k: Optional[int] = None, question: Optional[str] = None) -> list[Passage]:
        """The passages the model is given for ``query``, best first (dense + BM25, fused).

        With ``select_sentences``, the best ``select_from`` are cut to the sentences that bear on
        ``question`` (default: ``query``; a follow-up is searched with the names of the exchange
        before it, but its own words say which sentences answer it) and re-ordered by them
        (``Passage.shown``); otherwise the best ``k`` are given whole."""
        self.ensure_index()
        if self.retriever.size() == 0:
            raise AssistantError("index is empty: run `assistant ingest PATH` first")
        s = self.settings
        from .selection import select, voiced

        if not s.select_sentences:
            return [voiced(p) for p in self.retriever.retrieve(query, k or s.top_k)]
        found = self.retriever.retrieve(query, max(s.select_from, k or 0))
        vectors = self._sentence_vectors()
        return [voiced(p) for p in select(question or query, found, vectors, self.query_embedder.count_tokens,
                                          s.select_tokens, k or s.top_k, also=[query] if question else [],
                                          pieces=vectors.pieces if vectors.embed_pieces else None)]

    def _sentence_vectors(self):
        """The query embedder behind a cache: the search and sentence selection both embed the
        query, and a chat's questions bring back the same sentences."""
        from .embedding import PieceEmbedder
        from .selection import CachedEmbed

        with self._lock:
            if self._sentence_embed is None:
                embedder = self.query_embedder
                pieces = embedder.embed_pieces if isinstance(embedder, PieceEmbedder) else None
                self._sentence_embed = CachedEmbed(embedder.embed, embed_pieces=pieces)
            return self._sentence_embed

    def ask(self, question: str, history: Optional[History] = None, **options: Any) -> Answer:
        """Answer ``question`` from the indexed documents, citing them. See ``stream`` for options."""
        answer = None
        for event in self.stream(question, history, **options):
            if isinstance(event, Answer):
                answer = event
        assert answer is not None
        return answer

    def stream(
        self,
        question: str,
        history: Optional[History] = None,
        *,
        k: Optional[int] = None,
        temperature: Optional[float] = None,
        max_tokens: Optional[int] = None,
    ) -> Iterator[StreamEvent]:
        """Yield ``Sources`` (the passages shown to the model), then ``Token``s as the model writes,
        then the final ``Answer``. ``history`` is earlier (question, answer) pairs, or chat messages
        as {"role", "content"} dicts."""
        question = _check_question(question)
        turns = _pairs(history or [])
        s = self.settings
        llm = self.llm  # a child process loads the model (isolate_engine) while this one searches
        query = condense_query(question, turns)
        try:
            passages = self.retrieve(query, k, question)
        except AssistantError:
            llm.n_ctx  # a bad model is reported before an index error
            raise
        llm.n_ctx  # … and fails here, before any source is shown
        answer_tokens = (max_tokens or s.max_tokens) + (s.think_tokens if llm.reasoning else 0)
        answer_tokens = min(answer_tokens, llm.n_ctx // 2)
        # Turns this Assistant answered are replayed exactly as sent, sources and numbers included;
        # others (another process's history) as the bare question.
        replay = [self._sent.get((q, a)) or prompting.Turn(prompting.user_message(q), a) for q, a in turns]
        # A question that leans on the last one continues its topic: the sources already shown
        # stay in the conversation, so it adds only the best new ones (its first token comes
        # about twice as fast as a fresh question's).
        prompt = prompting.build_prompt(question, passages, replay, llm.count_tokens, llm.n_ctx - answer_tokens - 8,
                                        note_missing=True,
                                        follow_up_new=s.followup_sources if query != question else None)
        yield Sources(prompt.current)
        if not prompt.current:
            yield Answer(prompting.REFUSAL, [], True, "", [], changed=True)
            return
        from .generation import ThinkParser

        parser = ThinkParser(llm.opens_think)
        pieces = llm.stream(prompt.messages, answer_tokens, s.temperature if temperature is None else temperature,
                            s.seed)
        try:
            for piece in pieces:
                yield from parser.feed(piece)
            yield from parser.finish()
        finally:
            close = getattr(pieces, "close", None)
            if close:
                close()
        streamed, thinking = parser.answer.strip(), parser.thinking.strip()
        text = streamed
        if not text and thinking:
            text = "(The model spent its whole token budget thinking and gave no answer; raise max_tokens.)"
        final = self._checked(text, question, query, prompt.numbers, llm)
        citations = [] if final.refused else prompting.parse_citations(final.text, prompt.numbers)
        self._remember(question, final.text, prompt.turn)
        yield Answer(final.text, citations, final.refused, thinking, prompt.passages, changed=final.text != streamed,
                     withheld=final.withheld, removed=list(final.removed), conflicts=list(final.conflicts))

    def _checked(self, text: str, question: str, query: str, numbers: dict[int, Passage], llm: Any) -> "Grounded":
        """What is left of the model's ``text`` once every sentence is checked against the sources it
        cites (``grounding``), the loaded model judging what words cannot tell (``verify``)."""
        from .grounding import final_answer
        from .verify import available, verify

        s = self.settings
        judging = s.verify_claims != "off" and s.check_citations and available(llm, quiet=True)
        final = final_answer(text, question, numbers, s.ground_claims, s.check_citations, s.check_conflicts,
                             doubts=judging, context=query if query != question else "")
        if judging:  # the model as a second judge of what the lexical checks kept
            final = verify(final, question, numbers, llm, only_unstated=s.verify_claims == "unstated")
        for gone in final.removed:
            log.info("removed from the answer (%s): %r", gone.reason, gone.sentence)
        return final

    def _remember(self, question: str, answer: str, turn: "prompting.Turn") -> None:
        from dataclasses import replace

        with self._lock:
            self._sent[(question, answer)] = replace(turn, answer=answer)
            self._sent.move_to_end((question, answer))
            while len(self._sent) > 256:
                self._sent.popitem(last=False)


def condense_query(question: str, turns: Sequence[tuple[str, str]]) -> str:
    """The retrieval query: a follow-up that refers back ("its shares", "where does he…") is
    searched with the names of the last exchange, its question and its answer. The answer names
    who "he" is ("Dan Newman is Futurum's CEO"); the names alone, not the last question's other
    words ("CEO"), keep the search on that person rather than on whoever else is a CEO."""
    if not turns or not (_REFERRING.search(question) or len(question.split()) <= 4):
        return question
    from .claims import names

    last_question, last_answer = turns[-1]
    said = "" if prompting.is_refusal(last_answer) else txt.strip_citations(last_answer)
    exchange = f"{last_question} {said}"
    found = [n for s in txt.sentences(exchange) for n, _ in names(s, frozenset(txt.words(exchange)))]
    if not found:
        return f"{last_question} {question}"
    return " ".join(dict.fromkeys(found)) + " " + question


def _check_question(question: str) -> str:
    if not isinstance(question, str) or not question.strip():
        raise AssistantError("question: empty; ask something about your documents")
    question = " ".join(question.split())
    if not re.search(r"\w", question):
        raise AssistantError("question: has no words in it")
    return question


def _pairs(history: History) -> list[tuple[str, str]]:
    """(question, answer) pairs from tuples or {"role", "content"} messages."""
    pairs: list[tuple[str, str]] = []
    pending_user: Optional[str] = None
    for item in history:
        if isinstance(item, dict):
            role, content = item.get("role"), item.get("content")
            if not isinstance(content, str):
                continue  # gradio puts files and components in content; they carry no text turn
            if role == "user":
                pending_user = " ".join(content.split())
            elif role == "assistant" and pending_user is not None:
                if (item.get("metadata") or {}).get("title"):
                    continue  # a UI's collapsible "Thinking" bubble is not the answer
                pairs.append((pending_user, content))
                pending_user = None
        else:
            question, answer = item
            if isinstance(answer, Answer):
                answer = answer.text
            pairs.append((" ".join(str(question).split()), str(answer)))
    return pairs
