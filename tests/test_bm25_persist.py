"""The BM25 index is saved next to the store and reused by the next process; it is rebuilt
when another writer changed the store, and a damaged or half-written one is never trusted."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Optional

import numpy as np
import pytest

from assistant import Assistant
from assistant import retrieval

from .fakes import HashEmbedder, ScriptedLLM

QUESTION = "Where is Scott Singer a visiting scholar?"


def saved(a: Assistant) -> list[Path]:
    """The saved index folders of an Assistant's store (temporary ones left out)."""
    folder = a.store.cache_dir
    return sorted(p for p in folder.iterdir() if not p.name.startswith(".")) if folder.exists() else []


@pytest.fixture
def open_assistant(settings):
    made: list[Assistant] = []

    def make() -> Assistant:
        a = Assistant(settings, embedder=HashEmbedder(), llm=ScriptedLLM())
        made.append(a)
        return a

    yield make
    for a in made:
        a.close()


def test_saved_index_is_reused_by_a_new_assistant(open_assistant):
    first = open_assistant()
    expected = first.retrieve(QUESTION)  # builds the index from the corpus, then saves it
    assert first.retriever.builds == 1
    (folder,) = saved(first)
    mtimes = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}

    second = open_assistant()  # as a new process would: its own store and retriever
    assert second.retrieve(QUESTION) == expected
    assert [p.text for p in second.retriever.bm25("Carnegie Endowment", 3)] == \
        [p.text for p in first.retriever.bm25("Carnegie Endowment", 3)]
    assert second.retriever.builds == 0  # loaded, not rebuilt
    assert saved(second) == [folder] and {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == mtimes
    assert isinstance(second.retriever.lexical().rows, retrieval._MappedRows)  # rows read on demand


def test_another_writer_makes_it_rebuild_and_merely_opening_does_not(open_assistant, tmp_path):
    reader = open_assistant()
    reader.retrieve(QUESTION)
    (old,) = saved(reader)

    open_assistant().documents()  # another instance only opens the store (Chroma writes its file)
    reader.retrieve(QUESTION)
    assert reader.retriever.builds == 1  # same contents: no rebuild

    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "zebra.txt").write_text("Zebracorn sightings doubled near the old lighthouse last spring.\n")
    writer = open_assistant()
    writer.ingest([notes])  # another instance writes into the same index folder

    hits = reader.retriever.bm25("zebracorn lighthouse", 5)
    assert hits[0].text.startswith("Zebracorn") and hits[0].source.endswith("zebra.txt")
    assert reader.retriever.builds == 2
    (new,) = saved(reader)  # the new contents replace the old folder
    assert new != old and not old.exists()

    late = open_assistant()
    assert late.retriever.bm25("zebracorn lighthouse", 1)[0].text.startswith("Zebracorn")
    assert late.retriever.builds == 0


def test_a_same_size_replacement_by_another_writer_is_seen(open_assistant, tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    note = notes / "note.txt"
    note.write_text("The quarterly meeting moved to the blue room on the third floor.\n")
    writer = open_assistant()
    writer.ingest([notes])
    reader = open_assistant()
    assert reader.retriever.bm25("blue room", 1)[0].text.startswith("The quarterly")
    count = reader.store.count()
    note.write_text("Zebracorn sightings doubled near the old lighthouse last spring.\n")
    open_assistant().ingest([notes])  # a third instance: same path, one chunk again
    assert reader.store.count() == count
    assert reader.retriever.bm25("zebracorn", 1)[0].text.startswith("Zebracorn")
    assert reader.retriever.bm25("blue room", 5) == []


@pytest.mark.parametrize("damage", ["truncate-scores", "row-numbers", "term-numbers", "garbage-rows", "offsets", "meta",
                                    "vocab", "vectors"])
def test_a_damaged_saved_index_is_ignored_logged_and_rebuilt(open_assistant, caplog, damage):
    first = open_assistant()
    expected = first.retrieve(QUESTION)
    (folder,) = saved(first)
    if damage == "truncate-scores":
        path = folder / "scores.data.npy"
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "row-numbers":  # scores for rows the index does not have
        path = folder / "scores.indices.npy"
        np.save(path, np.load(path) + 1000)
    elif damage == "term-numbers":  # a term pointing past the score matrix's columns
        vocab = json.loads((folder / "vocab.json").read_text())
        (folder / "vocab.json").write_text(json.dumps({t: i + len(vocab) for t, i in vocab.items()}))
    elif damage == "garbage-rows":
        path = folder / "rows.jsonl"
        path.write_bytes(b"\x00garbage" * 10)
    elif damage == "offsets":
        np.save(folder / "rows.offsets.npy", np.arange(3, dtype=np.int64))
    elif damage == "meta":
        (folder / "meta.json").write_text("{not json")
    elif damage == "vectors":
        np.save(folder / "vectors.npy", np.zeros((2, 3), dtype=np.float32))
    else:
        (folder / "vocab.json").write_text("")

    with caplog.at_level(logging.WARNING, logger="assistant.retrieval"):
        second = open_assistant()
        assert second.retrieve(QUESTION) == expected
    assert second.retriever.builds == 1
    assert any("saved BM25 index" in r.getMessage() and "rebuilding" in r.getMessage() for r in caplog.records)
    assert len(saved(second)) == 1  # saved again, whole
    third = open_assistant()
    assert third.retrieve(QUESTION) == expected and third.retriever.builds == 0


def test_a_save_cut_short_leaves_nothing_trusted(open_assistant, monkeypatch):
    real_save = np.save

    def crash(path, *args, **kwargs):  # the crash lands after the score matrix, before the rows index
        if str(path).endswith("rows.offsets.npy"):
            raise OSError("disk full")
        return real_save(path, *args, **kwargs)

    monkeypatch.setattr(retrieval.np, "save", crash)
    first = open_assistant()
    expected = first.retrieve(QUESTION)  # still answers from the index built in memory
    assert first.retriever.builds == 1 and saved(first) == []
    assert not any(first.store.cache_dir.iterdir())  # the temporary folder went too
    monkeypatch.setattr(retrieval.np, "save", real_save)

    # A crashed process's temporary folder (no rename happened) is never read.
    tmp = first.store.cache_dir / ".tmp-99999-deadbeef"
    tmp.mkdir()
    (tmp / "meta.json").write_text("{}")
    second = open_assistant()
    assert second.retrieve(QUESTION) == expected and second.retriever.builds == 1
    assert len(saved(second)) == 1


def test_an_index_saved_by_another_tokenizer_is_rebuilt(open_assistant, monkeypatch):
    open_assistant().retrieve(QUESTION)
    monkeypatch.setattr(retrieval, "_tokenizer_id", lambda: "another-version")
    second = open_assistant()
    second.retrieve(QUESTION)
    assert second.retriever.builds == 1


def test_a_store_that_cannot_name_its_contents_is_rebuilt_per_process(open_assistant, monkeypatch):
    first = open_assistant()
    monkeypatch.setattr(type(first.store), "content_key", lambda self, version=None: None)
    first.retrieve(QUESTION)
    assert first.retriever.builds == 1 and saved(first) == []
    first.retrieve(QUESTION)
    assert first.retriever.builds == 1  # unchanged version: kept in memory as before


def in_new_process(settings, body: str, answer: Optional[str] = None) -> str:
    """What ``body`` prints, run in a new Python process with an Assistant ``a`` on ``settings``'
    index (the fake embedder, and a scripted model giving ``answer``, or its default one)."""
    import subprocess
    import sys
    import textwrap

    from assistant.config import PROJECT_ROOT

    llm = "ScriptedLLM()" if answer is None else f"ScriptedLLM({answer!r})"
    script = (
        "import json, sys; from assistant import Assistant, Settings; from tests.fakes import HashEmbedder, ScriptedLLM\n"
        f"s = Settings(index_dir={str(settings.index_dir)!r}, corpus=[])\n"
        f"with Assistant(s, embedder=HashEmbedder(), llm={llm}) as a:\n"
        + textwrap.indent(body, "    ")
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_an_ingest_by_another_process_is_seen_and_its_save_reused(open_assistant, settings, tmp_path):
    reader = open_assistant()
    reader.retrieve(QUESTION)
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "zebra.txt").write_text("Zebracorn sightings doubled near the old lighthouse last spring.\n")
    out = in_new_process(settings, f"a.ingest([{str(notes)!r}])\n"
                                   "assert a.retriever.bm25('zebracorn', 1)[0].text.startswith('Zebracorn')\n"
                                   "print(a.retriever.builds)\n")
    assert out.split() == ["1"]  # the other process built (and saved) the new contents
    assert reader.retriever.bm25("zebracorn lighthouse", 1)[0].text.startswith("Zebracorn")
    assert reader.retriever.builds == 1  # ...which this one loaded instead of rebuilding


# The saved copy of a small index's vectors --------------------------------------------------------

OTHER_QUESTIONS = ["Who is the CEO of Futurum Group?", "How many parameters does QwQ-32B have?",
                   "What did Alibaba pledge to invest in AI?"]


def test_a_small_index_is_searched_exactly_from_its_saved_vectors_with_chroma_s_results(open_assistant):
    a = open_assistant()
    a.retrieve(QUESTION)
    (folder,) = saved(a)
    assert (folder / "vectors.npy").exists() and json.loads((folder / "meta.json").read_text())["embedder"] == \
        HashEmbedder().name
    fresh = open_assistant()  # loads the saved copy
    for question in [QUESTION, *OTHER_QUESTIONS]:
        vector = fresh.retriever.embed_query(question)
        from_copy = fresh.retriever.dense(question, 8)
        from_chroma = fresh.store.query(vector, 8)
        assert [p.id for p in from_copy] == [p.id for p in from_chroma]
        assert [p.score for p in from_copy] == pytest.approx([p.score for p in from_chroma], abs=1e-5)
        assert [(p.text, p.source, p.start, p.end) for p in from_copy] == \
            [(p.text, p.source, p.start, p.end) for p in from_chroma]


def test_a_new_process_answers_from_the_saved_index_without_importing_chromadb_or_bm25s(open_assistant, settings):
    a = open_assistant()
    expected = [p.id for p in a.retrieve(QUESTION)]
    printed = in_new_process(settings, (
        f"answer = a.ask({QUESTION!r})\n"
        f"print(json.dumps({{'ids': [p.id for p in a.retrieve({QUESTION!r})], 'answer': answer.text, "
        "'chromadb': 'chromadb' in sys.modules, 'bm25s': 'bm25s' in sys.modules, 'scipy': 'scipy' in sys.modules, "
        "'builds': a.retriever.builds}))\n"), answer="Carnegie [1].")
    out = json.loads(printed.strip().splitlines()[-1])
    assert out == {"ids": expected, "answer": "Carnegie [1].", "chromadb": False, "bm25s": False, "scipy": False,
                   "builds": 0}


def test_a_larger_index_keeps_no_vector_copy_and_is_searched_by_chroma(settings):
    small = settings.model_copy(update={"exact_search_max": 10})
    with Assistant(small, embedder=HashEmbedder(), llm=ScriptedLLM()) as a:
        assert a.retrieve(QUESTION) and a.retriever.size() > 10
        (folder,) = saved(a)
        assert not (folder / "vectors.npy").exists() and a.retriever.lexical().vectors is None
        vector = a.retriever.embed_query(QUESTION)
        assert [p.id for p in a.retriever.dense(QUESTION, 5)] == [p.id for p in a.store.query(vector, 5)]


def test_another_embedder_is_refused_even_when_the_saved_copy_would_answer(open_assistant, settings):
    from assistant import AssistantError

    open_assistant().retrieve(QUESTION)
    with Assistant(settings, embedder=HashEmbedder(name="another-embedder"), llm=ScriptedLLM()) as other:
        with pytest.raises(AssistantError, match="was built with embedder 'hash-embedder'"):
            other.ask(QUESTION)


def test_another_embedder_is_refused_without_dense_search_too(open_assistant, settings):
    from assistant import AssistantError

    open_assistant().retrieve(QUESTION)
    lexical_only = settings.model_copy(update={"dense_weight": 0.0})
    with Assistant(lexical_only, embedder=HashEmbedder(name="another-embedder"), llm=ScriptedLLM()) as other:
        with pytest.raises(AssistantError, match="was built with embedder 'hash-embedder'"):
            other.retrieve(QUESTION)


def test_vectors_the_store_cannot_give_leave_the_search_to_it_and_nothing_saved(open_assistant, caplog):
    from assistant import AssistantError

    a = open_assistant()
    a.store.vectors = lambda ids: (_ for _ in ()).throw(AssistantError("3 of 49 chunks have no vector yet"))
    with caplog.at_level(logging.WARNING, logger="assistant.retrieval"):
        found = a.retrieve(QUESTION)
    assert found and a.retriever.lexical().vectors is None and saved(a) == []
    assert any("cannot read every stored vector" in r.getMessage() for r in caplog.records)
    vector = a.retriever.embed_query(QUESTION)
    assert [p.id for p in a.retriever.dense(QUESTION, 5)] == [p.id for p in a.store.query(vector, 5)]
    later = open_assistant()  # the next process builds again, and this time saves the copy
    assert later.retrieve(QUESTION) == found and later.retriever.builds == 1
    (folder,) = saved(later)
    assert (folder / "vectors.npy").exists()


def test_a_store_opened_again_in_a_process_sees_another_process_s_write_before_its_own(open_assistant, settings,
                                                                                     tmp_path):
    """Chroma keeps one client per folder for the whole process, so a store opened late may be
    handed an index an earlier store loaded; it refreshes before writing (as a store opened at
    construction did), and neither process's vectors are lost from Chroma's vector index."""
    import subprocess
    import sys

    from assistant.config import PROJECT_ROOT

    first = open_assistant()
    first.retrieve(QUESTION)
    first.store.query(first.retriever.embed_query(QUESTION), 3)  # this process's client loads the vector index
    first.close()
    theirs, ours = tmp_path / "theirs", tmp_path / "ours"
    theirs.mkdir()
    ours.mkdir()
    (theirs / "zebra.txt").write_text("Zebracorn sightings doubled near the old lighthouse last spring.\n")
    (ours / "kestrel.txt").write_text("Kestrel nests were counted on the northern cliffs in early June.\n")
    script = (
        "from assistant import Assistant, Settings; from tests.fakes import HashEmbedder, ScriptedLLM\n"
        f"s = Settings(index_dir={str(settings.index_dir)!r}, corpus=[])\n"
        "with Assistant(s, embedder=HashEmbedder(), llm=ScriptedLLM()) as a:\n"
        f"    a.ingest([{str(theirs)!r}])\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    second = open_assistant()
    second.ingest([ours])
    check = open_assistant()
    for text in ("Zebracorn sightings doubled", "Kestrel nests were counted"):
        hits = check.store.query(HashEmbedder().embed([text])[0], 3)  # through Chroma's vector index
        assert any(p.text.startswith(text) for p in hits), text


def test_a_store_that_keeps_no_vectors_to_give_still_gets_its_bm25_index_saved(open_assistant):
    a = open_assistant()
    a.store.vectors = None  # as a VectorStore without the method
    assert a.retrieve(QUESTION)
    (folder,) = saved(a)
    assert not (folder / "vectors.npy").exists() and a.retriever.lexical().vectors is None


# The search of the saved score matrix --------------------------------------------------------------

def test_the_score_matrix_search_gives_bm25s_s_own_scores_and_rows():
    import random

    import bm25s

    from assistant.text import terms

    rng = random.Random(7)
    words = ("harbour ferry lantern quarry orchard tariff glacier council budget bridge pilot harvest canal "
             "festival mayor winter").split()
    texts = [" ".join(rng.choices(words, k=rng.randint(3, 25))) for _ in range(300)]
    term_lists = [terms(t) for t in texts]
    ours = retrieval._Scores.build(term_lists)
    theirs = bm25s.BM25(method=retrieval._Scores.METHOD)
    theirs.index(term_lists, show_progress=False)
    for _ in range(60):
        query = terms(" ".join(rng.sample(words, rng.randint(1, 4))) + " unknownword")
        got = ours.search(query, 20)
        rows, scores = theirs.retrieve([query], k=20, show_progress=False)
        want = [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if s > 0]
        assert [s for _, s in got] == pytest.approx([s for _, s in want], rel=1e-6)
        full = theirs.get_scores(query)
        assert all(full[r] == pytest.approx(s, rel=1e-6) for r, s in got)  # ties may be listed in another order
        assert got == sorted(got, key=lambda rs: (-rs[1], rs[0]))  # ours: in row order, the same every time
    assert ours.search(terms("unknownword"), 5) == [] and ours.search([], 5) == []


def test_equal_scores_are_listed_in_row_order_also_where_the_top_k_cuts_them():
    scores = retrieval._Scores.build([["ferry"]] * 3 + [["ferry", "harbour"]] * 50)
    assert [row for row, _ in scores.search(["ferry"], 5)] == [0, 1, 2, 3, 4]
