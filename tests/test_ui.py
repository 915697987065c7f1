"""The browser chat's server side, driven through gradio_client against the app running in-process
on fake backends (HashEmbedder, ScriptedLLM) over a real Chroma store."""

from __future__ import annotations

import re
import time

import pytest

from assistant import Assistant, AssistantError
from assistant.ui import link_citations, parse_auth

from .conftest import SINGER, SINGER_REPLY, client, last_messages, running, text_of
from .fakes import CountingLLM, HashEmbedder, ScriptedLLM

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import handle_file  # noqa: E402


# The /ask API ---------------------------------------------------------------------------------------


def test_ask_endpoint_returns_exactly_answer_to_dict(make_assistant):
    a = make_assistant(SINGER_REPLY)
    with running(a) as (url, _):
        got = client(url).predict(SINGER, api_name="/ask")
    assert set(got) == {"answer", "citations", "refused", "thinking", "removed", "conflicts"}
    assert got == a.ask(SINGER).to_dict()  # the scripted model is deterministic
    assert got["answer"] == SINGER_REPLY and got["refused"] is False
    first = got["citations"][0]
    assert set(first) == {"n", "source", "text", "start", "end", "shown"} and first["n"] == 1
    assert first["source"].endswith("003_5ecbd052469d47e5.txt") and "Scott Singer" in first["text"]
    assert 0 <= first["start"] < first["end"]


def test_ask_endpoint_reports_user_errors(make_assistant):
    with running(make_assistant()) as (url, _):
        with pytest.raises(Exception, match="question: empty"):
            client(url).predict("   ", api_name="/ask")


# The chat -------------------------------------------------------------------------------------------


def test_chat_streams_then_links_citations_to_the_sources_panel(make_assistant, settings):
    a = make_assistant(SINGER_REPLY)
    with running(a) as (url, _):
        job = client(url).submit(SINGER, api_name="/chat")
        final = job.result()
        updates = job.outputs()
    partial = [text_of(last_messages(u[1])[1]) for u in updates[:-1]]
    grown = [t for t in partial if t and SINGER_REPLY.startswith(t) and t != SINGER_REPLY]
    assert len(set(grown)) >= 5, partial  # token by token, growing
    _, answer = last_messages(final[1])
    shown = text_of(answer)
    assert 'href="#cite-1-1"' in shown and "[1]" in shown
    panel = final[2]
    assert 'id="cite-1-1"' in panel and "003_5ecbd052469d47e5.txt" in panel
    assert "<mark>" in panel and "Carnegie Endowment for International Peace" in panel
    assert re.search(r"characters [\d,]+–[\d,]+", panel)
    assert str(settings.index_dir.parent) not in panel  # no absolute paths outside the project


def test_follow_up_sends_the_answer_text_as_history_and_never_the_thinking(settings):
    replies = iter(["<think>secret pondering</think>Singer is at Carnegie [1].", "He studies AI in China [1]."])
    llm = CountingLLM(lambda messages: next(replies))
    with Assistant(settings, embedder=HashEmbedder(), llm=llm) as a, running(a) as (url, _):
        c = client(url)
        first = c.predict(SINGER, api_name="/chat")
        thinking, answer = last_messages(first[1])
        assert [text_of(m) for m in thinking] == ["secret pondering"]
        assert thinking[0]["metadata"]["status"] == "done"  # collapsed
        assert "secret" not in text_of(answer) and "Singer is at Carnegie" in text_of(answer)
        second = c.predict("What does he study?", first[1], api_name="/chat")
        assert "He studies AI" in text_of(last_messages(second[1])[1])
    sent = llm.prompts[1]
    assert any(m["role"] == "assistant" and m["content"] == "Singer is at Carnegie [1]." for m in sent), sent
    assert not any("secret pondering" in str(m["content"]) for m in sent)
    assert '<a href' not in str(sent)  # the page's links are not part of the history


def test_text_streamed_before_a_lone_close_tag_moves_to_thinking(make_assistant):
    a = make_assistant("First I look at the sources.</think>Carnegie Endowment [1].")
    with running(a) as (url, _):
        job = client(url).submit(SINGER, api_name="/chat")
        final = job.result()
        updates = job.outputs()
    assert any("First I look" in text_of(last_messages(u[1])[1]) for u in updates)  # streamed as answer…
    thinking, answer = last_messages(final[1])
    assert [text_of(m) for m in thinking] == ["First I look at the sources."]  # …then moved
    assert "First I look" not in text_of(answer) and "Carnegie Endowment" in text_of(answer)


def test_refusal_is_shown_plainly_without_citations(make_assistant):
    a = make_assistant("The sources do not contain the answer.")
    with running(a) as (url, _):
        final = client(url).predict("What colour is the moon's cheese?", api_name="/chat")
    _, answer = last_messages(final[1])
    assert text_of(answer) == "The sources do not contain the answer."
    assert "cite-link" not in text_of(answer)
    assert "No sources" in final[2] and "cite-card" not in final[2]


def test_settings_reach_the_model(settings):
    llm = CountingLLM("Carnegie [1].")
    with Assistant(settings, embedder=HashEmbedder(), llm=llm) as a, running(a) as (url, _):
        c = client(url)
        job = c.submit(SINGER, [], 2, 0.7, 64, api_name="/chat")
        job.result()
        panels = [u[2] for u in job.outputs() if isinstance(u[2], str)]
    assert llm.options == [(64, 0.7)]
    assert any(re.search(r"Reading [12] passages?\b", p) for p in panels)  # top-k 2: at most 2 (sentence selection)


def test_stop_cancels_the_generation_and_frees_the_queue(settings):
    llm = CountingLLM("word " * 200, delay=0.05)
    with Assistant(settings, embedder=HashEmbedder(), llm=llm) as a, running(a) as (url, _):
        c = client(url)
        job = c.submit(SINGER, api_name="/chat")
        deadline = time.time() + 20
        while llm.active == 0 and time.time() < deadline:
            time.sleep(0.05)
        job.cancel()
        deadline = time.time() + 10
        while llm.closed_streams == 0 and time.time() < deadline:
            time.sleep(0.05)
        assert llm.closed_streams == 1  # the llama.cpp stream was closed, not left running
        llm.script, llm.delay = SINGER_REPLY, 0.0
        assert client(url).predict(SINGER, api_name="/ask")["answer"] == SINGER_REPLY


def test_generation_is_queued_one_at_a_time_across_sessions(settings):
    llm = CountingLLM(SINGER_REPLY, delay=0.01)
    with Assistant(settings, embedder=HashEmbedder(), llm=llm) as a, running(a) as (url, _):
        clients = [client(url) for _ in range(3)]
        jobs = [clients[0].submit(SINGER, api_name="/chat"), clients[1].submit(SINGER, api_name="/ask"),
                clients[2].submit(SINGER, api_name="/chat")]
        results = [j.result(timeout=60) for j in jobs]
    assert results[1]["answer"] == SINGER_REPLY
    assert all(SINGER_REPLY.split(" [")[0] in text_of(last_messages(r[1])[1]) for r in (results[0], results[2]))
    assert llm.max_active == 1 and len(llm.prompts) == 3


# Documents ------------------------------------------------------------------------------------------


def test_upload_ingests_into_the_upload_folder_reports_bad_files_and_answers(make_assistant, settings, tmp_path):
    a = make_assistant("The Zorblax Institute's secret code is PURPLE-7741 [1].")
    good = tmp_path / "zorblax notes.md"
    good.write_text("# Zorblax\n\nThe secret code of the Zorblax Institute is PURPLE-7741, chosen in 1987.\n")
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.4 this is not really a pdf")
    other = tmp_path / "tool.exe"
    other.write_bytes(b"MZ\x00\x01")
    with running(a) as (url, _):
        c = client(url)
        status, table, *_ = c.predict([handle_file(str(p)) for p in (good, bad, other)], api_name="/ingest")
        answer = c.predict("What is the secret code of the Zorblax Institute?", api_name="/ask")
    uploads = settings.index_dir / "uploads"
    assert (uploads / "zorblax notes.md").read_text() == good.read_text()
    assert sorted(p.name for p in uploads.iterdir()) == ["zorblax notes.md"]  # only what is indexed
    assert "Indexed uploads/zorblax notes.md" in status
    assert re.search(r"✗ uploads/broken\.pdf: .*PDF", status), status
    assert "tool.exe: not a supported type" in status
    assert str(tmp_path) not in status  # names, not absolute paths
    shown = [row[0] for row in table["data"]]
    assert "uploads/zorblax notes.md" in shown and "003_5ecbd052469d47e5.txt" in shown
    assert "uploads/broken.pdf" not in shown and len(shown) == 6  # the articles are all still there
    assert answer["citations"][0]["source"].endswith("uploads/zorblax notes.md")
    assert "PURPLE-7741" in answer["citations"][0]["text"]


def test_documents_can_be_removed_by_their_shown_name(make_assistant, settings, tmp_path):
    a = make_assistant()
    note = tmp_path / "note.txt"
    note.write_text("A short note about the Zorblax Institute and its purple code.")
    with running(a) as (url, _):
        c = client(url)
        c.predict([handle_file(str(note))], api_name="/ingest")
        assert (settings.index_dir / "uploads" / "note.txt").exists()
        status, table, _ = c.predict("uploads/note.txt", api_name="/remove")
        assert status.startswith("Removed uploads/note.txt")
        assert not (settings.index_dir / "uploads" / "note.txt").exists()  # our copy goes too
        status, table, _ = c.predict("001_60b042e0a4f50d15.txt", api_name="/remove")
        assert "Removed" in status
        table, _ = c.predict(api_name="/documents")
    shown = [row[0] for row in table["data"]]
    assert "uploads/note.txt" not in shown and "001_60b042e0a4f50d15.txt" not in shown and len(shown) == 4
    assert (settings.corpus[0] / "001_60b042e0a4f50d15.txt").exists()  # files outside uploads are never touched


# Settings, model switch, auth -------------------------------------------------------------------------


def test_switching_model_builds_a_new_assistant_and_closes_the_old_one(settings):
    settings.models_dir.mkdir()
    for name in ("a.gguf", "b.gguf"):
        (settings.models_dir / name).write_bytes(b"GGUF")
    made = []

    def factory(s):
        if s.model == "a.gguf":
            raise AssistantError("model 'a.gguf': not a GGUF file")
        # The scripted answer is not in the sources: only which model answered matters here.
        made.append(Assistant(s, embedder=HashEmbedder(), llm=ScriptedLLM("From model B [1]."), ground_claims=False))
        return made[-1]

    old = Assistant(settings, embedder=HashEmbedder(), llm=ScriptedLLM(SINGER_REPLY))
    with running(old, factory=factory) as (url, demo):
        c = client(url)
        assert "not a GGUF file" in c.predict("a.gguf", api_name="/switch_model")
        assert demo.current.assistant is old and c.predict(SINGER, api_name="/ask")["answer"] == SINGER_REPLY
        assert c.predict("b.gguf", api_name="/switch_model") == "Model: b.gguf (loaded)"
        assert demo.current.assistant is made[0] and made[0].settings.model == "b.gguf"
        assert old._llm is None and old._store is None  # closed
        assert c.predict(SINGER, api_name="/ask")["answer"] == "From model B [1]."
    made[0].close()


def test_auth_protects_the_page_and_its_api(make_assistant):
    assert parse_auth("me:s3cr:et") == ("me", "s3cr:et") and parse_auth(None) is None
    with pytest.raises(AssistantError, match="USER:PASS"):
        parse_auth("nocolon")
    with running(make_assistant(SINGER_REPLY), auth=("me", "pw")) as (url, _):
        with pytest.raises(Exception):
            client(url).predict(SINGER, api_name="/ask")
        assert client(url, auth=("me", "pw")).predict(SINGER, api_name="/ask")["answer"] == SINGER_REPLY


def test_citation_links_only_for_cited_numbers():
    out = link_citations("A [1]. B [2, 3]. C [9].", 4, {1, 3})
    assert '<a href="#cite-4-1" class="cite-link" title="show source 1">[1]</a>' in out
    assert '[2]<a href="#cite-4-3"' in out and "C [9]." in out


def test_a_stored_chat_reads_back_and_copies_with_numbered_sources(tmp_path):
    from assistant.types import Citation, Passage
    from assistant.ui import _Names, answer_markdown, chat_record, history_choices, read_record, render_sources

    names = _Names(tmp_path / "uploads")
    cite = Citation(2, "articles/a.txt", "Singer works at Carnegie.", 10, 35, location="page 3")
    shown = [Passage("Other text.", "articles/b.txt", 0, 11, 0.9, id="b"),
             Passage("Singer works at Carnegie.", "articles/a.txt", 10, 35, 0.8, id="a", location="page 3")]
    turn = {"question": "Where does Singer work?", "answer": "At Carnegie [2].", "citations": [cite],
            "refused": False, "removed": [], "passages": shown}
    messages = [{"role": "user", "content": "Where does Singer work?"}, {"role": "assistant", "content": "At Carnegie"}]
    record = chat_record("abc", messages, [turn])
    assert chat_record("abc", [], []) == ""  # an empty chat is not kept
    cid, got_messages, got_turns = read_record(record)
    assert (cid, got_messages) == ("abc", messages) and got_turns[0]["citations"] == [cite]
    assert got_turns[0]["passages"] == shown
    assert read_record("not json") == ("", [], [])
    assert answer_markdown(got_turns[0], names) == (
        "At Carnegie [2].\n\nSources:\n\n- [2] articles/a.txt — page 3, characters 10–35\n")
    panel = render_sources(got_turns, names)
    assert 'id="cite-1-2"' in panel and "All 2 passages given to the model" in panel
    assert 'id="shown-1-1"' in panel and "#2</span>" in panel and "Other text." in panel
    assert history_choices('[{"id": "x", "title": "Old", "updated": 1}, {"id": "y", "title": "New", "updated": 2}]')[0][1] == "y"
