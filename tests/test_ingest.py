"""Incremental ingestion over a real Chroma store, with a counting fake embedder."""

import os

import pytest

from assistant import Assistant, AssistantError

from .fakes import HashEmbedder, ScriptedLLM


def test_reingesting_an_unchanged_corpus_embeds_nothing(settings, corpus):
    emb = HashEmbedder()
    with Assistant(settings, embedder=emb, llm=ScriptedLLM()) as a:
        first = a.ingest([corpus])
        assert (first.added, first.failed) == (5, 0) and first.chunks > 10
        embedded = sum(emb.calls)
        again = a.ingest([corpus])
        assert (again.added, again.updated, again.unchanged, again.chunks) == (0, 0, 5, 0)
        assert sum(emb.calls) == embedded


def test_changed_file_replaces_its_chunks_and_deleted_file_is_synced_away(settings, corpus):
    with Assistant(settings, embedder=HashEmbedder(), llm=ScriptedLLM()) as a:
        a.ingest([corpus])
        target = corpus / "003_5ecbd052469d47e5.txt"
        target.write_text("Scott Singer moved to the Hoover Institution in 2026.\n")
        (corpus / "004_4668c2a17b702a69.txt").unlink()
        report = a.ingest([corpus])
        assert (report.updated, report.removed, report.unchanged) == (1, 1, 3)
        docs = {d["source"].rsplit("/", 1)[-1]: d for d in a.documents()}
        assert "004_4668c2a17b702a69.txt" not in docs
        assert docs["003_5ecbd052469d47e5.txt"]["chunks"] == 1
        texts = [p.text for p in a.retrieve("Scott Singer Carnegie Hoover", k=10)]
        assert not any("Carnegie Endowment" in t for t in texts)
        assert any("Hoover" in t for t in texts)


def test_a_bad_file_is_named_and_the_rest_of_the_batch_and_the_index_survive(settings, corpus, tmp_path):
    with Assistant(settings, embedder=HashEmbedder(), llm=ScriptedLLM()) as a:
        a.ingest([corpus])
        before = a.store.count()
        extra = tmp_path / "extra"
        extra.mkdir()
        (extra / "empty.txt").write_text("")
        (extra / "bin.txt").write_bytes(os.urandom(4096).replace(b"\x00", b"\x01") + b"\x00")
        (extra / "good.md").write_text("# Note\nThe office cat is called Marmalade.")
        report = a.ingest([extra, tmp_path / "missing.pdf"])
        assert report.added == 1 and report.failed == 3
        assert any("empty.txt" in k and "no text" in v for k, v in report.errors.items())
        assert any("bin.txt" in k for k in report.errors)
        assert any("missing.pdf" in v for v in report.errors.values())
        assert a.store.count() > before
        assert "Marmalade" in a.retrieve("What is the office cat called?", k=1)[0].text
        assert "Carnegie" in " ".join(p.text for p in a.retrieve("Scott Singer visiting scholar", k=3))


def test_remove_a_document(settings, corpus):
    with Assistant(settings, embedder=HashEmbedder(), llm=ScriptedLLM()) as a:
        a.ingest([corpus])
        source = a.documents()[0]["source"]
        assert a.remove(source) > 0
        assert source not in [d["source"] for d in a.documents()]
        with pytest.raises(AssistantError, match="not in the index"):
            a.remove(source)


def test_an_index_from_another_embedder_is_refused_with_how_to_rebuild(settings, corpus):
    with Assistant(settings, embedder=HashEmbedder(dim=256, name="hash-a"), llm=ScriptedLLM()) as a:
        a.ingest([corpus])
    with Assistant(settings, embedder=HashEmbedder(dim=128, name="hash-b"), llm=ScriptedLLM()) as b:
        with pytest.raises(AssistantError) as err:
            b.retrieve("anything")
    message = str(err.value)
    assert "hash-a" in message and "hash-b" in message and "Rebuild" in message


def test_an_empty_index_with_no_corpus_says_so(settings):
    with Assistant(settings.replace(corpus=[]), embedder=HashEmbedder(), llm=ScriptedLLM()) as a:
        with pytest.raises(AssistantError, match="index is empty"):
            a.ask("anything at all?")


def test_bm25_sees_what_another_writer_added_to_a_local_index(settings, tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.txt").write_text("The quarterly meeting moved to the blue room.\n")
    with Assistant(settings, embedder=HashEmbedder(), llm=ScriptedLLM()) as reader, \
            Assistant(settings, embedder=HashEmbedder(), llm=ScriptedLLM()) as writer:
        writer.ingest([notes])
        assert reader.retriever.bm25("blue room", 3)[0].text.startswith("The quarterly meeting")
        (notes / "a.txt").write_text("Zebracorn sightings doubled near the lighthouse.\n")
        writer.ingest([notes])  # same path, same chunk count
        assert reader.retriever.bm25("zebracorn lighthouse", 3)[0].text.startswith("Zebracorn")
        assert reader.retriever.bm25("blue room", 3) == []
