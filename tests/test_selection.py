"""Sentence selection: the model reads the sentences that bear on the question, with exact offsets."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from assistant import Assistant, Settings
from assistant.chunking import chunk_document
from assistant.prompting import build_prompt, parse_citations, user_message
from assistant.selection import (KIND, SOURCE_COST, VALUE, DENSE_PASSAGES, Candidate, above_floor, candidates, excerpt,
                                 plan, score, select, worth_embedding)
from assistant.store import decode_sentences, encode_sentences
from assistant.types import Document, Passage
from assistant.ui import highlight

from .fakes import HashEmbedder, ScriptedLLM

# A made-up document with the whitespace of a real file: runs of spaces, line breaks, a blank line.
FERRY = """Harbor Lights opened its third   terminal in Porto Verde on Tuesday.
The terminal cost 48 million euros.  It has four berths.

BlueWave runs 12 ferries.   Its new catamaran, the Gaivota, enters service in July.
The Gaivota carries 400 passengers."""


def _doc(text: str = FERRY, path: str = "/corpus/ferry.txt") -> Document:
    return Document(path=path, source="ferry.txt", text=text, sha256="x", blocks=((0, len(text)),))


def _words(text: str) -> int:
    return len(text.split())


def test_every_sentence_of_a_chunk_maps_exactly_to_the_file():
    doc = _doc()
    chunks = chunk_document(doc, _words, max_tokens=14, overlap=1)
    assert len(chunks) > 2
    for c in chunks:
        assert c.sentences, c
        for a, b, fa, fb in c.sentences:
            assert c.text[a:b] == " ".join(doc.text[fa:fb].split())
        assert " ".join(c.text[a:b] for a, b, _, _ in c.sentences) == c.text


def test_the_sentence_map_survives_the_store_and_a_broken_one_is_ignored():
    spans = ((0, 10, 5, 15), (11, 30, 17, 40))
    assert decode_sentences(encode_sentences(spans)) == spans
    assert decode_sentences("") == () and decode_sentences(None) == ()
    assert decode_sentences("1,2,3") == () and decode_sentences("a,b,c,d") == ()


def _passages() -> list[Passage]:
    doc = _doc()
    return [Passage(c.text, c.source, c.start, c.end, 1.0, c.id, sentences=c.sentences)
            for c in chunk_document(doc, _words, max_tokens=14, overlap=1)]


def test_select_keeps_the_answering_sentence_and_the_one_it_refers_back_to():
    chosen = select("How many berths does the terminal have?", _passages(), HashEmbedder().embed, _words, 40, 4)
    shown = " ".join(excerpt(p) for p in chosen)
    assert "four berths" in shown
    # "It has four berths." refers back: the sentence before it, which names the terminal, comes too.
    assert "The terminal cost 48 million euros. It has four berths." in shown
    assert "catamaran" not in shown  # nothing about the question, and the budget is small


def test_select_orders_passages_by_their_best_sentence_and_caps_them():
    passages = _passages()
    chosen = select("When does the Gaivota catamaran enter service?", passages, HashEmbedder().embed, _words, 60, 2)
    assert 1 <= len(chosen) <= 2
    assert "enters service in July" in excerpt(chosen[0])
    # A chosen passage is the retrieved one, whole, with the sentences shown marked on it.
    original = next(p for p in passages if p.id == chosen[0].id)
    assert chosen[0].text == original.text and set(chosen[0].shown) <= set(original.sentences)


def test_a_compound_question_gets_a_sentence_for_each_part():
    chosen = select("How many ferries does BlueWave run, and when will its catamaran enter service?",
                    _passages(), HashEmbedder().embed, _words, 60, 4)
    shown = " ".join(excerpt(p) for p in chosen)
    assert "12 ferries" in shown and "July" in shown


def test_each_part_of_a_question_has_the_budget_of_a_question():
    # 25 word pieces hold one part's sentence and its source's number, not both parts'.
    chosen = select("How many ferries does BlueWave run, and when will its catamaran enter service?",
                    _passages(), HashEmbedder().embed, _words, 25, 4)
    shown = " ".join(excerpt(p) for p in chosen)
    assert "12 ferries" in shown and "July" in shown
    assert 25 < sum(_words(excerpt(p)) + SOURCE_COST for p in chosen) <= 50


def test_a_question_asking_who_favours_a_sentence_giving_a_name_it_does_not():
    import numpy as np

    pool = [Candidate(0, 0, "The Harbor committee met on Tuesday."), Candidate(0, 1, "Chair: Rui Albano MP"),
            Candidate(0, 2, "The chair of the Harbor committee is elected.")]
    # The same words asked two ways: only "who" adds the bonus, and only to the sentence giving a
    # name the question does not ("Harbor" it gives; "Tuesday" is no one).
    who = score("Who chairs the Harbor committee?", pool, np.zeros(3))
    what = score("What chairs the Harbor committee?", pool, np.zeros(3))
    assert [round(a.score - b.score, 6) for a, b in zip(who, what)] == [0.0, KIND, 0.0]


def test_a_question_asking_a_date_shows_the_sentences_that_give_one_first():
    import numpy as np

    pool = [Candidate(0, 0, "The committee approved the timetable."),
            Candidate(1, 0, "The committee approved the timetable on 4 May."),
            Candidate(2, 0, "The committee approved the timetable by 7 votes to 2.")]
    # A sentence without the date asked for can only be context: one that gives it outranks one
    # a little closer to the question in meaning (0.5 × 0.5 of cosine, here).
    similarity = np.array([0.5, 0.0, 0.0])
    when = score("When did the committee approve the timetable?", pool, similarity)
    assert max(when, key=lambda c: c.score).passage == 1
    # A number is in most sentences of a report: asked how many, it tips only near-ties.
    many = score("How many votes did the committee's timetable get?", pool, similarity)
    assert round(many[2].score - score("What did the committee's timetable get?", pool, similarity)[2].score, 6) == KIND
    assert VALUE > KIND


def test_the_budget_and_the_floor_hold():
    pool = [Candidate(0, 0, "alpha beta", 1.0), Candidate(1, 0, "gamma delta", 0.9), Candidate(2, 0, "noise", 0.3)]
    cost = lambda passage, index: 5  # noqa: E731
    assert above_floor(pool) == pool[:2]  # under half the best: never shown
    assert plan(above_floor(pool), cost, budget=100, k=4) == {0: [0], 1: [0]}
    assert plan(pool, cost, budget=16, k=4) == {0: [0]}  # 5 + 1 + a source's 10
    assert plan(pool, cost, budget=100, k=1) == {0: [0]}


def test_each_part_of_a_question_has_its_own_floor():
    # "Who runs the terminal, and how large does she think the fund should be?": the second
    # part's best sentence scores under half the first part's best, yet it is shown.
    texts = ["Lena Morrow runs the terminal.", "I would set the fund at 14 million.", "Gulls nest on the pier."]
    who = [Candidate(n, 0, t, score) for n, (t, score) in enumerate(zip(texts, (1.4, 0.3, 0.2)))]
    fund = [replace(c, score=score) for c, score in zip(who, (0.2, 0.6, 0.1))]
    merged = [max(pair, key=lambda c: c.score) for pair in zip(who, fund)]
    assert [c.text for c in above_floor(merged)] == texts[:1]
    assert [c.text for c in above_floor(merged, [who, fund])] == texts[:2]


def test_below_the_best_passages_only_sentences_sharing_a_word_with_the_question_are_embedded():
    pool = [Candidate(i, 0, text) for i, text in enumerate(
        ["The crossing is quick.", "Boats leave hourly.", "Tickets are cheap.",  # the best passages: all
         "Gulls nest on the pier.", "The Gaivota ferry is new.", "A ferry sank in 1990."][: DENSE_PASSAGES + 3])]
    worth = worth_embedding(pool, ["How fast is the Gaivota ferry?"])
    assert worth == [*range(DENSE_PASSAGES), DENSE_PASSAGES + 1, DENSE_PASSAGES + 2]
    embedded: list[str] = []

    def embed(texts):
        embedded.extend(texts)
        return HashEmbedder().embed(texts)

    select("How many berths does the terminal have?", _passages(), embed, _words, 40, 4)
    question_terms = {"berth", "terminal"}
    far = [c.text for c in candidates(_passages()) if c.passage >= DENSE_PASSAGES]
    assert all(t in embedded for t in far if any(w in t.lower() for w in question_terms))
    assert not any(t in embedded for t in far if not any(w in t.lower() for w in question_terms))


def test_a_sentence_that_refers_back_brings_the_one_before():
    pool = [Candidate(0, 3, "It has four berths.", 1.0)]
    assert plan(pool, lambda p, n: 5, budget=100, k=4) == {0: [2, 3]}


def test_a_sentence_is_taken_from_the_passage_where_the_one_before_it_is_too():
    a = Passage("It has four berths. More.", "f.txt", 0, 25, 1.0, "a", sentences=((0, 19, 0, 19), (20, 25, 20, 25)))
    b = Passage("The terminal opened. It has four berths.", "f.txt", 0, 40, 0.9, "b",
                sentences=((0, 20, 0, 20), (21, 40, 21, 40)))
    pool = candidates([a, b])
    berths = next(c for c in pool if c.text == "It has four berths.")
    assert (berths.passage, berths.index) == (1, 1)


def test_repeated_sentences_of_overlapping_chunks_are_candidates_once():
    pool = candidates(_passages())
    texts = [c.text for c in pool]
    assert len(texts) == len(set(texts))


def test_a_passage_without_a_sentence_map_is_read_whole():
    old = [Passage("Old index text. Two sentences.", "a.txt", 0, 30, 1.0, "a"),
           Passage("Another one.", "b.txt", 0, 12, 0.5, "b")]
    assert select("old text", old, HashEmbedder().embed, _words, 50, 1) == old[:1]
    assert excerpt(old[0]) == old[0].text


def test_the_prompt_reads_the_excerpt_and_citations_carry_the_shown_offsets():
    chosen = select("How many berths does the terminal have?", _passages(), HashEmbedder().embed, _words, 40, 4)
    prompt = build_prompt("How many berths?", chosen, [], lambda t: len(t) // 4 + 1, 3000)
    last = prompt.messages[-1]["content"]
    assert excerpt(chosen[0]) in last and "catamaran" not in last
    citation = parse_citations("It has four berths [1].", prompt.numbers)[0]
    assert citation.shown == chosen[0].shown and citation.text == chosen[0].text
    doc = _doc()
    for a, b, fa, fb in citation.shown:
        assert citation.text[a:b] == " ".join(doc.text[fa:fb].split())


def test_gaps_between_shown_sentences_are_marked():
    p = next(p for p in _passages() if len(p.sentences) >= 3)
    first, third = p.sentences[0], p.sentences[2]
    shown = Passage(p.text, p.source, p.start, p.end, 1.0, p.id, sentences=p.sentences, shown=(first, third))
    assert excerpt(shown) == f"{p.text[first[0]:first[1]]} … {p.text[third[0]:third[1]]}"
    assert user_message("q", [(1, shown)]).count("…") == 1


def test_the_sources_panel_highlights_the_sentences_the_model_read():
    p = next(p for p in _passages() if len(p.sentences) >= 2)
    shown = p.sentences[1:2]
    out = highlight(p.text, "", shown)
    a, b = shown[0][0], shown[0][1]
    assert f'<span class="read">{p.text[a:b]}</span>' in out
    assert out.count('class="read"') == 1


def test_the_pipeline_shows_sentences_with_exact_offsets_and_json_carries_them(tmp_path: Path, corpus: Path):
    settings = Settings(index_dir=tmp_path / "index", corpus=[corpus], models_dir=tmp_path / "models")
    reply = "Scott Singer is a visiting scholar at the Carnegie Endowment for International Peace [1]."
    with Assistant(settings, embedder=HashEmbedder(), llm=ScriptedLLM(reply)) as a:
        answer = a.ask("Where is Scott Singer a visiting scholar?")
    assert answer.passages and all(p.shown for p in answer.passages)
    c = answer.citations[0]
    doc = (corpus / Path(c.source).name).read_text()
    for a_, b, fa, fb in c.shown:
        assert c.text[a_:b] == " ".join(doc[fa:fb].split())
    shown = answer.to_dict()["citations"][0]["shown"]
    assert [s["text"] for s in shown] == [c.text[a_:b] for a_, b, _, _ in c.shown]
    assert any("Carnegie" in s["text"] for s in shown)


def test_an_index_written_before_sentence_maps_is_ingested_again(tmp_path: Path, corpus: Path):
    settings = Settings(index_dir=tmp_path / "index", corpus=[corpus], models_dir=tmp_path / "models")
    with Assistant(settings, embedder=HashEmbedder(), llm=ScriptedLLM()) as a:
        a.ensure_index()
        col = a.store._col
        got = col.get(include=["metadatas"])
        old = [{k: v for k, v in m.items() if k != "sentences"} for m in got["metadatas"]]
        col.update(ids=got["ids"], metadatas=old)  # Chroma merges metadata: remove the key outright
        for cid in got["ids"]:
            col.update(ids=[cid], metadatas=[{"sentences": None}])
        assert not any(p.sentences for p in a.retriever.retrieve("Scott Singer", 3))
        report = a.ingest(settings.corpus)
        assert report.updated > 0 and report.failed == 0
        assert all(p.sentences for p in a.retriever.retrieve("Scott Singer", 3))


@pytest.mark.parametrize("k", [1, 3])
def test_retrieve_gives_at_most_k_passages(make_assistant, k):
    assert 1 <= len(make_assistant().retrieve("Who is Scott Singer?", k=k)) <= k


def test_eval_ranks_the_answer_by_what_the_model_reads_of_the_first_passages():
    from assistant.evaluation import answer_rank

    a = Passage("Monica unveiled Manus. Unrelated tail.", "a.txt", 0, 40, 1.0, "a",
                sentences=((0, 22, 0, 22), (23, 38, 23, 38)), shown=((23, 38, 23, 38),))
    b = Passage("Alibaba released QwQ a day later.", "b.txt", 0, 33, 0.9, "b")
    c = Passage("Manus is an agent.", "c.txt", 0, 18, 0.8, "c")
    assert answer_rank([b, c], [["Manus"], ["QwQ"]]) == 2  # two passages together hold both parts
    assert answer_rank([a, b], [["Manus"], ["QwQ"]]) is None  # the model never read "Manus" in [a]
    assert answer_rank([b], [["QwQ"]]) == 1


def _pieces(text: str, vectors: dict[str, list[float]]):
    """One piece per word of ``text``, its vector from ``vectors`` (unit, or zero for a word not given)."""
    import re

    from assistant.embedding import Pieces

    spans = [(m.start(), m.end()) for m in re.finditer(r"\S+?(?=[?.]?(?:\s|$))|[?.]", text)]
    rows = [vectors.get(text[a:b].lower(), [0.0, 0.0, 0.0]) for a, b in spans]
    return Pieces(tuple(spans), np.array(rows, dtype=np.float16))


def test_the_meaning_overlap_reads_the_questions_words_but_its_names_numbers_and_stopwords():
    from assistant.selection import meaning_overlap

    v = {"credit": [1.0, 0, 0], "attributed": [1.0, 0, 0], "wins": [0, 1.0, 0], "victories": [0, 1.0, 0],
         "ana": [0, 0, 1.0], "12": [0, 0, 1.0], "what": [0, 0, 1.0], "the": [0, 0, 1.0]}
    question = "What did Ana credit for the 12 wins?"
    texts = ["Ana attributed the victories to training.", "Ana won 12 times.", "The wins came late."]
    got = meaning_overlap(question, _pieces(question, v), texts, [_pieces(t, v) for t in texts])
    # "credit" and "wins" are what is asked; "Ana", "12", "what", "the" count for nothing
    assert got.tolist() == pytest.approx([1.0, 0.0, 0.5])
    only_names = "What did Ana do in 2019?"  # nothing left to read by meaning
    assert meaning_overlap(only_names, _pieces(only_names, v), texts, [_pieces(t, v) for t in texts]).tolist() == [0, 0, 0]


def test_the_sentence_closest_in_meaning_is_shown_beyond_the_budget():
    from assistant.selection import Candidate, _with_closest

    v = {"credit": [1.0, 0, 0], "attributed": [1.0, 0, 0], "wins": [0, 1.0, 0], "victories": [0, 1.0, 0]}
    pool = [Candidate(0, 1, "Ana has many wins."), Candidate(2, 3, "Ana attributed the victories to training.")]

    def pieces(texts):
        return [_pieces(t, v) for t in texts]

    question = "What did Ana credit for her wins?"
    # shown with the sentence before it, the rest as it was
    assert _with_closest(question, pool, {0: [0, 1]}, pieces, 6) == {0: [0, 1], 2: [2, 3]}
    assert _with_closest(question, pool, {2: [3]}, pieces, 6) == {2: [3]}  # already shown
    assert _with_closest(question, pool, {0: [0, 1]}, pieces, 1) == {0: [0, 1]}  # no room for a passage
    assert _with_closest("Who is Ana?", pool, {0: [0, 1]}, pieces, 6) == {0: [0, 1]}  # no words but names


def test_pieces_come_from_the_same_pass_as_the_vectors_and_are_kept_with_them():
    from assistant.selection import CachedEmbed

    inner = HashEmbedder()
    calls = []

    def embed_pieces(texts):
        calls.append(list(texts))
        return inner.embed(texts), [_pieces(t, {}) for t in texts]

    embed = CachedEmbed(inner.embed, embed_pieces=embed_pieces)
    embed(["a b", "c d"])
    assert [p.spans for p in embed.pieces(["c d", "a b"])] == [((0, 1), (2, 3))] * 2
    assert calls == [["a b", "c d"]] and inner.calls == [2]  # once, through embed_pieces


def test_candidate_sentences_are_embedded_once_per_process():
    from assistant.selection import CachedEmbed

    inner = HashEmbedder()
    embed = CachedEmbed(inner.embed, size=3)
    first = embed(["a b", "c d"])
    again = embed(["c d", "a b", "e f"])
    assert inner.calls == [2, 1]  # only "e f" was new
    assert (again[1] == first[0]).all() and (again[0] == first[1]).all()
    embed(["g h"])  # over the size: the least recently used ("c d") goes
    embed(["c d"])
    assert inner.calls[-1] == 1


def test_a_follow_up_shows_a_passage_again_when_it_needs_other_sentences_of_it():
    from dataclasses import replace as with_

    count = lambda t: len(t) // 4 + 1  # noqa: E731
    p = next(p for p in _passages() if len(p.sentences) >= 2)
    first = build_prompt("Q1?", [with_(p, shown=p.sentences[:1])], [], count, 3000)
    turn = with_(first.turn, answer="A1 [1].")
    same = build_prompt("Q2?", [with_(p, shown=p.sentences[:1])], [turn], count, 3000)
    assert "Sources shown earlier that also apply: [1]." in same.messages[-1]["content"]
    other = build_prompt("Q2?", [with_(p, shown=p.sentences[1:2])], [turn], count, 3000)
    last = other.messages[-1]["content"]
    assert "[2] (ferry.txt)" in last and p.text[p.sentences[1][0]:p.sentences[1][1]] in last
