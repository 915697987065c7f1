"""The pipeline on honest fakes (hash embedder, scripted LLM) over a real Chroma store."""

import pytest

from assistant import Answer, Assistant, AssistantError, Sources, Token
from assistant.prompting import EXAMPLES, REFUSAL, SYSTEM_PROMPT

from .fakes import HashEmbedder, ScriptedLLM


def test_first_use_builds_the_index_from_the_corpus(make_assistant):
    a = make_assistant()
    passages = a.retrieve("Who is Scott Singer?", k=3)
    assert 1 <= len(passages) <= 3
    assert passages[0].source.endswith("003_5ecbd052469d47e5.txt")
    assert "Carnegie" in passages[0].text
    doc = (a.settings.corpus[0] / "003_5ecbd052469d47e5.txt").read_text()
    assert " ".join(doc[passages[0].start : passages[0].end].split()) == passages[0].text


def test_ask_cites_only_what_the_answer_cites(make_assistant):
    a = make_assistant("Singer is a visiting scholar at the Carnegie Endowment [1].")
    answer = a.ask("Where is Scott Singer a visiting scholar?")
    assert answer.text == "Singer is a visiting scholar at the Carnegie Endowment [1]."
    assert not answer.refused
    assert [c.n for c in answer.citations] == [1]
    assert answer.citations[0].source.endswith("003_5ecbd052469d47e5.txt")
    assert answer.citations[0].text == answer.passages[0].text
    prompt = a.llm.prompts[0]
    assert prompt[0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert "[1] (003_5ecbd052469d47e5.txt)" in prompt[-1]["content"]
    assert prompt[-1]["content"].endswith("Question: Where is Scott Singer a visiting scholar?")


def test_stream_yields_sources_tokens_then_the_answer(make_assistant):
    a = make_assistant("<think>Source 1 names Carnegie.</think>Carnegie [1].")
    events = list(a.stream("Where is Scott Singer a visiting scholar?"))
    assert isinstance(events[0], Sources) and events[0].passages
    assert isinstance(events[-1], Answer)
    tokens = [e for e in events if isinstance(e, Token)]
    assert len(tokens) > 3  # streamed in pieces
    assert "".join(t.text for t in tokens if t.kind == "answer") == "Carnegie [1]."
    final = events[-1]
    assert final.text == "Carnegie [1]." and final.thinking == "Source 1 names Carnegie."
    assert [c.n for c in final.citations] == [1]


def test_citations_in_the_thinking_are_not_citations(make_assistant):
    a = make_assistant("<think>maybe [2] or [3]</think>The sources do not contain the answer.")
    answer = a.ask("What is the context window length of QwQ-32B?")
    assert answer.refused and answer.citations == [] and "[2]" not in answer.text


def test_a_refusal_has_no_citations(make_assistant):
    a = make_assistant(REFUSAL + " [1]")
    answer = a.ask("Which GPUs were used to train QwQ-32B?")
    assert answer.refused and answer.citations == []


def test_follow_up_retrieves_with_the_conversation_and_replays_the_first_prompt(make_assistant):
    a = make_assistant("Alibaba released QwQ-32B [1].")
    first = a.ask("What model did Alibaba release?")
    follow = a.ask("How much did its shares rise?", history=[("What model did Alibaba release?", first.text)])
    assert any("Alibaba" in p.text for p in follow.passages)
    p1, p2 = a.llm.prompts
    assert p2[: len(p1)] == p1  # the earlier turn is sent byte for byte: llama.cpp's cache covers it
    assert p2[len(p1)] == {"role": "assistant", "content": first.text}
    new_sources = [line for line in p2[-1]["content"].splitlines() if line[:1] == "["]
    assert len(new_sources) <= a.settings.followup_sources  # the first question's sources are still there


def test_a_follow_up_is_grounded_with_what_it_was_searched_with(make_assistant, monkeypatch):
    import assistant.grounding as grounding

    contexts = []
    real = grounding.final_answer
    monkeypatch.setattr(grounding, "final_answer", lambda *a, **k: contexts.append(k.get("context")) or real(*a, **k))
    a = make_assistant("Alibaba released QwQ-32B [1].")
    first = a.ask("What model did Alibaba release?")
    a.ask("How much did its shares rise?", history=[("What model did Alibaba release?", first.text)])
    assert contexts[0] == ""  # a first question is its own context
    assert "Alibaba" in contexts[1] and contexts[1].endswith("How much did its shares rise?")


def test_history_as_chat_messages(make_assistant):
    a = make_assistant("8% [1].")
    history = [{"role": "user", "content": "Tell me about Alibaba."},
               {"role": "assistant", "content": "thinking…", "metadata": {"title": "Thinking"}},
               {"role": "assistant", "content": "Alibaba is a company [1]."}]
    a.ask("How much did its shares rise?", history=history)
    sent = a.llm.prompts[0][1 + 2 * len(EXAMPLES):]  # after the system prompt and worked examples
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert sent[1]["content"] == "Alibaba is a company [1]."


@pytest.mark.parametrize("question", ["", "   ", "?!?..."])
def test_empty_or_wordless_questions_get_a_clear_error(make_assistant, question):
    with pytest.raises(AssistantError, match="question"):
        make_assistant().ask(question)


def test_very_long_question_is_refused_not_crashed(make_assistant):
    with pytest.raises(AssistantError, match="question: too long"):
        make_assistant().ask("Alibaba " * 10_000)


def test_close_frees_its_own_backends_but_not_borrowed_ones(settings):
    llm = ScriptedLLM()
    with Assistant(settings, embedder=HashEmbedder(), llm=llm) as a:
        a.ask("Who is the CEO of Futurum Group?")
        own_store = a.store
    assert not llm.closed  # the caller passed it in and may share it
    assert own_store._collection is None and own_store._closed  # the store the Assistant opened itself is closed


def test_an_answer_about_something_no_source_mentions_is_withheld(make_assistant):
    # What the 1.5B once said to an unanswerable question: a sourced number for an absent fact.
    a = make_assistant("The context window length of QwQ-32B is 32 billion parameters [1].")
    answer = a.ask("What is the context window length of QwQ-32B?")
    assert answer.refused and answer.text == REFUSAL and answer.citations == []
    assert answer.withheld and answer.changed  # front ends show the refusal, not what streamed


def test_the_final_answer_says_whether_it_differs_from_what_streamed(make_assistant):
    moved = make_assistant("Scott Singer is a visiting scholar at the Carnegie Endowment for International Peace.")
    answer = moved.ask("Where is Scott Singer a visiting scholar?")
    assert "[" in answer.text and answer.changed and not answer.withheld  # the check added the [n]
    kept = make_assistant("The sources do not contain the answer.").ask("Where is Scott Singer a visiting scholar?")
    assert kept.refused and not kept.changed and not kept.withheld


def test_a_supported_answer_in_other_words_than_the_question_is_kept(make_assistant):
    # "boss" is in no source, but the sentence's other words are: that is an answer, not a gap.
    a = make_assistant("The boss of Futurum Group is Dan Newman [1].")
    answer = a.ask("Who is the boss of Futurum Group?")
    assert not answer.refused and answer.text.startswith("The boss of Futurum Group is Dan Newman")


class _LoadingLLM(ScriptedLLM):
    """A model still loading in its child process: ``n_ctx`` waits for it (and fails, when ``error``)."""

    def __init__(self, events: list, error: str = "") -> None:
        super().__init__("Carnegie [1].")
        self.events, self.error = events, error

    @property
    def n_ctx(self) -> int:
        self.events.append("model awaited")
        if self.error:
            raise AssistantError(self.error)
        return 4096

    @n_ctx.setter
    def n_ctx(self, value: int) -> None:
        pass


def test_a_new_process_searches_while_its_model_loads_and_a_bad_model_is_still_reported_first(settings, tmp_path):
    events: list = []
    a = Assistant(settings, embedder=HashEmbedder(), llm=_LoadingLLM(events))
    search = a.retrieve
    a.retrieve = lambda *args, **kw: events.append("searched") or search(*args, **kw)
    with a:
        first = next(iter(a.stream("Where is Scott Singer a visiting scholar?")))
    assert isinstance(first, Sources) and events[:2] == ["searched", "model awaited"]

    empty = settings.model_copy(update={"index_dir": tmp_path / "empty", "corpus": []})
    with Assistant(empty, embedder=HashEmbedder(), llm=_LoadingLLM([], "model: not a GGUF file")) as bad:
        with pytest.raises(AssistantError, match="not a GGUF"):  # not "index is empty"
            bad.ask("Where is Scott Singer a visiting scholar?")


def test_a_bad_model_fails_before_a_first_run_ingests_the_corpus(settings):
    with Assistant(settings, embedder=HashEmbedder(), llm=_LoadingLLM([], "model: not a GGUF file")) as bad:
        with pytest.raises(AssistantError, match="not a GGUF"):
            bad.ask("Where is Scott Singer a visiting scholar?")
        assert bad.store.count() == 0  # the corpus was not ingested for an answer that cannot come
