"""MiniLM in NumPy (the query path of a new process, without torch): the same vectors, token
counts and top-k as sentence-transformers on the corpus."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from assistant.config import PROJECT_ROOT

from .conftest import ARTICLES

pytestmark = pytest.mark.slow  # loads MiniLM twice


def _sentences() -> list[str]:
    out: list[str] = []
    for f in sorted(ARTICLES.glob("*.txt")):
        out += [s for s in re.split(r"(?<=[.!?])\s+", f.read_text(encoding="utf-8")) if s.strip()]
    return out


@pytest.fixture(scope="module")
def both():
    from assistant.embedding import SentenceTransformerEmbedder
    from assistant.minilm import NumpyMiniLM

    return NumpyMiniLM("all-MiniLM-L6-v2"), SentenceTransformerEmbedder("all-MiniLM-L6-v2")


def test_the_vectors_and_token_counts_are_sentence_transformers(both):
    fast, torch = both
    texts = [*_sentences()[:60], "x", "", "Where is Scott Singer a visiting scholar?",
             " ".join(_sentences())]  # the last is cut at 256 word pieces by both
    a, b = fast.embed(texts), torch.embed(texts)
    assert a.shape == b.shape == (len(texts), 384) and a.dtype == np.float32
    assert np.abs(a - b).max() < 1e-5
    assert [fast.count_tokens(t) for t in texts] == [torch.count_tokens(t) for t in texts]
    assert fast.embed([]).shape == (0, 384)


def test_the_word_pieces_are_sentence_transformers(both):
    fast, torch = both
    texts = [*_sentences()[:20], "", "Alibaba's shares rose 8.39% on Thursday.", " ".join(_sentences())]
    (va, pa), (vb, pb) = fast.embed_pieces(texts), torch.embed_pieces(texts)
    assert np.abs(va - fast.embed(texts)).max() == 0 and np.abs(va - vb).max() < 1e-5
    for text, a, b in zip(texts, pa, pb):
        assert a.spans == b.spans and a.vectors.dtype == np.float16 and a.vectors.shape == (len(a.spans), 384)
        assert np.allclose(a.vectors.astype(np.float32), b.vectors.astype(np.float32), atol=1e-3)
        assert all(0 <= x < y <= len(text) for x, y in a.spans)  # [CLS] and [SEP] have no span: left out
    assert [texts[-2][x:y] for x, y in pa[-2].spans][:4] == ["Ali", "ba", "ba", "'"]
    assert len(pa[-1].spans) == 254  # cut at 256 word pieces, as the vectors are


def test_a_paraphrase_covers_the_questions_words_by_meaning(both):
    from assistant.selection import meaning_overlap

    question = "What change did the people who built the Gaivota credit for its better fuel results?"
    sentences = ["The team behind the Gaivota attributed its improved efficiency to a redesigned hull.",
                 "BlueWave says the Gaivota has delivered impressive results since its launch in May.",
                 "The Gaivota is part of a broader push by ferry operators to modernise their fleets.",
                 "Fuel prices rose sharply last year."]
    for model in both:
        _, pieces = model.embed_pieces([question, *sentences])
        overlap = meaning_overlap(question, pieces[0], sentences, pieces[1:])
        # the one sentence that answers shares no word with the question but the name
        assert overlap.argmax() == 0 and overlap[0] > max(overlap[1:]) + 0.05, overlap


def test_the_same_top_k_over_the_corpus(both):
    fast, torch = both
    corpus = _sentences()
    questions = [q for q in corpus[::7]] + ["Who released QwQ-32B?", "How many parameters does it have?"]
    for model in (fast, torch):
        model.corpus = model.embed(corpus)
    for q in questions:
        tops = [np.argsort(-(m.corpus @ m.embed([q])[0]))[:5].tolist() for m in (fast, torch)]
        assert tops[0] == tops[1], q


def test_a_folder_it_cannot_compute_is_refused(tmp_path):
    from assistant.minilm import NumpyMiniLM

    (tmp_path / "modules.json").write_text(json.dumps([{"type": "sentence_transformers.models.Transformer"}]))
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "roberta"}))
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True}))
    with pytest.raises(ValueError, match="not a mean-pooled"):
        NumpyMiniLM(str(tmp_path))


def test_a_question_is_answered_without_importing_torch(tmp_path):
    # A new process over an index built by another, as `assistant ask` runs before the model answers.
    index = str(tmp_path / "index")
    ingest = f"from assistant import Assistant, Settings; Assistant(Settings(index_dir={index!r})).ingest([{str(ARTICLES)!r}])"
    ask = (f"import sys; from assistant import Assistant, Settings\n"
           f"print(Assistant(Settings(index_dir={index!r}, corpus=[])).retrieve('Where is Scott Singer?')[0].source)\n"
           "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'sentence_transformers'}))\n")
    for code in (ingest, ask):
        run = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr
    lines = run.stdout.strip().splitlines()
    assert lines[-1] == "[]" and lines[-2].endswith(".txt")
