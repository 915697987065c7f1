"""Document heads: a later passage of a column, an interview or a statement carries its document's
opening lines (title, byline, dateline), which say who "I" or "we" is. On a made-up corpus."""

from dataclasses import replace
from pathlib import Path

from assistant import Assistant, Settings
from assistant.chunking import chunk_document, head, head_title
from assistant.evaluation import unsupported_sentences
from assistant.grounding import ground
from assistant.prompting import REFUSAL, is_refusal, user_message
from assistant.types import Document, Passage

from .fakes import HashEmbedder, ScriptedLLM

COLUMN = """OPINION

Why BlueWave will win the strait

By Marta Quill, senior analyst at Porto Capital

I have followed the ferry trade on this coast for twenty years. Harbor Lights has the terminals, but BlueWave has the boats.
Its new catamaran is faster than anything Harbor Lights runs. I expect BlueWave to carry 1.2 million passengers next year.
We have raised our price target for BlueWave to 14 euros.
"""


def _doc(text: str, path: str = "/corpus/column.txt") -> Document:
    return Document(path=path, source=Path(path).name, text=text, sha256="x", blocks=((0, len(text)),))


def _words(text: str) -> int:
    return len(text.split())


def test_the_head_is_the_title_byline_and_dateline_before_the_body():
    text, end = head(_doc(COLUMN), 200)
    assert text == "OPINION | Why BlueWave will win the strait | By Marta Quill, senior analyst at Porto Capital"
    assert COLUMN[end:].lstrip().startswith("I have followed")
    # Whole lines only, up to the limit; a first line longer than it is cut at a word.
    assert head(_doc(COLUMN), 45)[0] == "OPINION | Why BlueWave will win the strait"
    assert head(_doc("A very long title that runs on and on\n\nBody text here."), 20)[0] == "A very long title…"
    assert head(_doc(COLUMN), 0) == ("", 0)


def test_a_document_that_opens_with_its_body_has_no_head_and_a_title_may_ask():
    assert head(_doc("Harbor Lights opened a terminal. It cost 85.6 million euros."), 200) == ("", 0)
    assert head(_doc("Key facts\n\nThe terminal cost 85.6 million euros.\n"), 200)[0] == "Key facts"
    # A paragraph is read whole: one that ends as a sentence does is the body, however it wraps.
    assert head(_doc("Key facts\nThe terminal cost 85.6 million euros.\n"), 200) == ("", 0)
    wrapped = ("The Wenlock Harbour Trust board met on 4 May to review the dredging\nprogramme and agreed that "
               "Tessa Halloran would lead it.\n\nMore text.")
    assert head(_doc(wrapped, "/corpus/minutes.pdf"), 200) == ("", 0)
    assert head(_doc("- Revenue rose\n- Costs fell\n\nThe year was good."), 200) == ("", 0)
    asks = "Explainer: is the new catamaran safe?\n\nThe Gaivota passed its sea trials in May."
    assert head(_doc(asks), 200)[0] == "Explainer: is the new catamaran safe?"
    # A question that runs on into the body is the body.
    assert head(_doc("Is the catamaran safe?\nThe Gaivota passed its sea trials in May."), 200) == ("", 0)
    assert head(_doc(asks.replace("\n", "\r\n")), 200)[0] == "Explainer: is the new catamaran safe?"
    # A table's first rows are data, not a title.
    table = "vessel,owner,tonnage\nAster,BlueWave,1200\nBrisa,Harbor Lights,900\n" * 3
    assert head(_doc(table, "/corpus/fleet.csv"), 200) == ("", 0)


def test_a_byline_and_the_standfirst_above_it_are_the_head_whatever_they_end_with():
    # A standfirst ends as a sentence does; the byline under it shows it is no body paragraph.
    standfirst = ("Tessaport Courier | Opinion\n\nI was under that roof. Here is what I want to know.\n\n"
                  "By Agnes Mulvane\n\nI have been to every festival since 2011.\n")
    text, end = head(_doc(standfirst), 300)
    assert text == ("Tessaport Courier | Opinion | I was under that roof. Here is what I want to know. | "
                    "By Agnes Mulvane")
    assert standfirst[end:].lstrip().startswith("I have been")
    # A byline that ends on an abbreviation is still a byline.
    analyst = "MARKET VIEW\n\nBy Felix Marchbank, head of research, Greyfell & Co.\n\nTwo numbers matter.\n"
    assert head(_doc(analyst), 300)[0] == "MARKET VIEW | By Felix Marchbank, head of research, Greyfell & Co."
    # A body paragraph that opens "By the…" is no byline, nor is it one before a paragraph that does.
    body = "Harbour news\n\nThe terminal opened in May.\n\nBy the end of June it had 40 ships.\n"
    assert head(_doc(body), 300) == ("Harbour news", len("Harbour news\n"))
    assert head(_doc("Harbour news\n\nBy the end of June it had 40 ships.\n"), 300)[0] == "Harbour news"
    for opening in ("By Monday, 40 swimmers had signed.", "By Christmas Eve, the pool had closed.",
                    "By Ana Lisk, a resident for 30 years, it was called a betrayal."):
        assert head(_doc(f"Pool to close\n\nThe council voted.\n\n{opening}\n\nMore.\n"), 300)[0] == "Pool to close"
    # Under a byline, a paragraph is the body's, whatever opens the next one.
    strike = "Strike ends\n\nBy Maren Atterbury\n\nWorkers returned.\n\nBy Friday Noon\n\nMore.\n"
    assert head(_doc(strike), 300)[0] == "Strike ends | By Maren Atterbury"


def test_the_head_leaves_out_the_lines_cleaning_dropped():
    text = "Subscribe to our newsletter today\nFerries: a strait divided\n\nBlueWave runs 12 ferries."
    doc = _doc(text)
    doc = replace(doc, blocks=((text.index("Ferries"), len(text)),))  # the promotional line is not kept
    assert head(doc, 200)[0] == "Ferries: a strait divided"


def test_the_chunks_after_the_head_carry_it_and_the_first_does_not():
    chunks = chunk_document(_doc(COLUMN), _words, max_tokens=30, overlap=0, head_chars=200)
    assert len(chunks) > 1
    assert chunks[0].head == "" and "By Marta Quill" in chunks[0].text
    assert all(c.head.endswith("senior analyst at Porto Capital") for c in chunks[1:])
    assert not any(c.head for c in chunk_document(_doc(COLUMN), _words, max_tokens=30, overlap=0, head_chars=0))


def _column_corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "column.txt").write_text(COLUMN * 3)  # long enough for chunks after the head
    return folder


def test_the_head_survives_the_store_and_is_shown_with_its_passage(tmp_path: Path):
    corpus = _column_corpus(tmp_path)
    settings = Settings(index_dir=tmp_path / "index", corpus=[corpus], models_dir=tmp_path / "models", chunk_tokens=32)
    with Assistant(settings, embedder=HashEmbedder(), llm=ScriptedLLM()) as a:
        a.ensure_index()
        passages = a.retriever.retrieve("price target for BlueWave", 10)
        later = [p for p in passages if p.head]
        assert later and all("By Marta Quill" in p.head for p in later)
        assert all(p.start > 0 for p in later)
        message = user_message("What is the price target?", [(1, later[0])])
        assert "[1] (column.txt: OPINION | Why BlueWave will win the strait | By Marta Quill" in message


def test_an_index_of_an_older_layout_is_written_again_with_its_vectors(tmp_path: Path):
    corpus = _column_corpus(tmp_path)
    settings = Settings(index_dir=tmp_path / "index", corpus=[corpus], models_dir=tmp_path / "models", chunk_tokens=32)
    embedder = HashEmbedder()
    with Assistant(settings, embedder=embedder, llm=ScriptedLLM()) as a:
        a.ensure_index()
        col = a.store._col
        ids = col.get()["ids"]
        for cid in ids:
            col.update(ids=[cid], metadatas=[{"head": None, "layout": None}])  # Chroma removes a key set to None
        assert not any(p.head for p in a.retriever.retrieve("price target for BlueWave", 10))
        embedded = list(embedder.calls)
        report = a.ingest(settings.corpus)
        assert report.updated > 0 and report.failed == 0 and report.chunks == 0  # chunks embedded
        assert embedder.calls == embedded  # the same chunks: their vectors are kept, none embedded again
        assert any(p.head for p in a.retriever.retrieve("price target for BlueWave", 10))


BODY = "Its new catamaran is faster than anything Harbor Lights runs. I expect BlueWave to carry 1.2 million " \
       "passengers next year."
HEAD = "OPINION | Why BlueWave will win the strait | By Marta Quill, senior analyst at Porto Capital"


def _check(answer: str, question: str, *passages: Passage):
    return ground(answer, question, dict(enumerate(passages, 1)), REFUSAL, is_refusal)


def test_a_first_person_figure_is_the_speaker_its_head_names():
    later = Passage(BODY, "column.txt", 300, 300 + len(BODY), 1.0, head=HEAD)
    question = "How many passengers does Porto Capital's analyst expect BlueWave to carry next year?"
    answer = "Marta Quill of Porto Capital expects BlueWave to carry 1.2 million passengers next year [1]."
    assert not _check(answer, question, later).removed
    # Without the head, the passage never says who "I" is: the name is in no source.
    got = _check(answer, question, replace(later, head=""))
    assert got.refused and "is in none of the sources" in got.removed[0].reason
    # The head is shown with the passage, so the independent count finds the name there.
    assert unsupported_sentences(answer, [later]) == []
    assert len(unsupported_sentences(answer, [replace(later, head="")])) == 1


def test_quoted_words_and_numerals_are_not_the_heads_voice():
    question = "How many sailings a week will be added from June?"
    quoted = Passage('"We will add 40 sailings a week from June," a union official said after the vote.', "s.txt",
                     300, 380, 1.0, head="Ferry strike ends | By Lena Morrow, Porto Courier")
    assert _check("Lena Morrow will add 40 sailings a week from June [1].", question, quoted).refused
    phase = Passage("Enrolment in Phase I reached 40 patients at three sites, the sponsor Velmora Bio said.", "t.txt",
                    300, 390, 1.0, head="Trial update | By Dr Sela Varn, Ostmark Institute")
    assert _check("Sela Varn enrolled 40 patients in Phase I [1].", "How many patients did Sela Varn enrol?",
                  phase).refused


def test_a_sentence_that_refers_back_may_stand_for_two_subjects_named_before():
    text = ("Korvald Marine signed a charter deal with Norrstad Ferries in March. The charter runs to 2030. It is worth "
            "40 million crowns.")
    deal = Passage(text, "deal.txt", 0, len(text), 1.0)
    answer = "The charter deal between Korvald Marine and Norrstad Ferries is worth 40 million crowns [1]."
    assert not _check(answer, "How much is the Korvald Marine and Norrstad Ferries charter deal worth?", deal).removed
    # "We" and "it": the bank's loan to the ferry firm named two sentences back.
    loan = "Tessaro Lines ordered two ferries this year. The yard is in Gdansk. We lent it 30 million euros for them."
    statement = Passage(loan, "bank.txt", 300, 300 + len(loan), 1.0, head="Statement | Kelmar Bank")
    assert not _check("Kelmar Bank lent Tessaro Lines 30 million euros [1].", "How much did Kelmar Bank lend Tessaro "
                      "Lines?", statement).removed


def test_a_first_person_sentence_stands_for_one_subject_named_before_it():
    text = ("Harbor Lights Ltd. hired the marine surveyors Keel Partners after the fire. The survey will take a year. "
            "We have set aside 2 million euros to cover the survey and the repairs.")
    notice = Passage(text, "notice.txt", 0, len(text), 1.0)
    kept = "Harbor Lights has set aside 2 million euros to cover the survey and the repairs [1]."
    assert not _check(kept, "How much has Harbor Lights set aside for the survey?", notice).removed
    # "We" is Harbor Lights, not the surveyors as well: what it pays them is not said.
    paid = "Harbor Lights is paying Keel Partners 2 million euros for the survey [1]."
    assert _check(paid, "How much is Harbor Lights paying Keel Partners for the survey?", notice).refused


def test_the_cli_the_json_and_the_page_show_the_head_of_a_cited_passage(tmp_path: Path):
    import io

    from assistant.cli import _print_stream
    from assistant.ui import _Names, answer_markdown, chat_record, read_record, render_sources

    corpus = _column_corpus(tmp_path)
    settings = Settings(index_dir=tmp_path / "index", corpus=[corpus], models_dir=tmp_path / "models", chunk_tokens=32,
                        top_k=1, select_sentences=False, verify_claims="off")
    script = "Marta Quill expects BlueWave to carry 1.2 million passengers next year [1]."
    with Assistant(settings, embedder=HashEmbedder(), llm=ScriptedLLM(script)) as a:
        a.ensure_index()
        out = io.StringIO()
        answer = _print_stream(a, "How many passengers does Marta Quill expect BlueWave to carry next year?", [], out)
    cited = answer.citations[0]
    assert not answer.refused and cited.head == HEAD
    assert f"column.txt [{HEAD}] (chars" in out.getvalue()
    assert answer.to_dict()["citations"][0]["head"] == HEAD
    turn = {"question": "q", "answer": answer.text, "citations": answer.citations, "refused": False, "removed": [],
            "passages": [Passage(cited.text, cited.source, cited.start, cited.end, 1.0, head=cited.head)]}
    _, _, turns = read_record(chat_record("c", [{"role": "user", "content": "q"}], [turn]))
    panel = render_sources(turns, _Names(tmp_path / "uploads"))
    assert panel.count('<div class="head">OPINION | Why BlueWave will win the strait | By Marta Quill') == 2
    assert f"column.txt ({HEAD}) — characters" in answer_markdown(turns[0], _Names(tmp_path / "uploads"))


def test_a_head_line_supports_what_it_says_but_not_a_role_the_question_gives():
    later = Passage(BODY, "column.txt", 300, 300 + len(BODY), 1.0, head=HEAD)
    byline = "Marta Quill, a senior analyst at Porto Capital, wrote the column [1]."
    assert not _check(byline, "Who wrote the column on BlueWave?", later).removed
    # A byline names a paper and its reporter together; that does not make her anyone's spokesperson.
    story = Passage("Two boats sank in the storm, a harbour spokesperson told the paper.", "story.txt", 400, 470,
                    1.0, head="Storm hits the strait | By Lena Morrow, Porto Courier")
    question = "What is the name of the harbour spokesperson who told the Porto Courier that two boats had sunk?"
    answer = "The harbour spokesperson who told the Porto Courier that two boats had sunk is Lena Morrow [1]."
    assert _check(answer, question, story).refused


def test_the_head_is_given_only_with_a_passage_that_speaks_in_the_first_person():
    from assistant.selection import voiced

    speaking = Passage(BODY, "column.txt", 300, 300 + len(BODY), 1.0, head=HEAD)
    assert voiced(speaking).head == HEAD
    reported = Passage("BlueWave runs 12 ferries. \u201cWe will add four,\u201d a spokesman said.", "r.txt", 300, 360,
                       1.0, head="Ferries | By Lena Morrow")
    assert voiced(reported).head == ""  # its "we" is quoted: the byline is not who speaks
    # What the model reads decides: a first-person sentence it was not shown does not count.
    text = "BlueWave runs 12 ferries. I expect it to run 14."
    shown = Passage(text, "s.txt", 300, 300 + len(text), 1.0, sentences=((0, 25, 300, 325), (26, 48, 326, 348)),
                    shown=((0, 25, 300, 325),), head=HEAD)
    assert voiced(shown).head == "" and voiced(replace(shown, shown=())).head == HEAD


INTERVIEW = """"We will not cut a single route": the man who runs BlueWave

Porto Verde Gazette, Friday, May 9

Interview by Ana Reis

Rui Albano, 58, is chief executive of BlueWave Ferries, the company that runs the strait's fast boats under a licence from the Porto Verde council. He spoke to us at the terminal.

Q: Will fares rise this summer?

A: No. We will carry 1.2 million passengers and keep every fare where it is.

Q: And the new catamaran?

A: I expect it in service by July.

Q: Will you hire more crew?

A: Forty deckhands by the autumn.
"""


def test_an_interviews_head_names_who_answers_not_who_asks():
    text, end = head(_doc(INTERVIEW, "/corpus/interview.txt"), 200)
    # The "I" of the answers is the man the opening paragraph introduces (up to the clause that
    # names him and his company), not the byline's interviewer, whose line makes room for him.
    assert text == ('"We will not cut a single route": the man who runs BlueWave | Porto Verde Gazette, Friday, '
                    'May 9 | Rui Albano, 58, is chief executive of BlueWave Ferries')
    assert INTERVIEW[end:].lstrip().startswith("Rui Albano")  # the head ends where it did
    later = Passage("A: No. We will carry 1.2 million passengers and keep every fare where it is.", "interview.txt",
                    400, 480, 1.0, head=text)
    answer = "Rui Albano of BlueWave Ferries expects to carry 1.2 million passengers [1]."
    assert not _check(answer, "How many passengers does Rui Albano expect BlueWave Ferries to carry?", later).removed
    # Without questions standing alone, it is no interview: the head stays as it was.
    profile = INTERVIEW.replace("Q: ", "").replace("?", ".")
    assert head(_doc(profile, "/corpus/profile.txt"), 200)[0].endswith("Interview by Ana Reis")
    # An opening that tells a story gives the name alone; one that opens with something else, nothing.
    story = INTERVIEW.replace("Rui Albano, 58, is chief executive", "Rui Albano first crossed the strait as chief "
                              "executive")
    assert head(_doc(story, "/corpus/story.txt"), 200)[0].endswith("Porto Verde Gazette, Friday, May 9 | Rui Albano")
    # … and so does one that says who they are in apposition ("Rui Albano, the man who…, takes…").
    apposed = INTERVIEW.replace("Rui Albano, 58, is chief executive of BlueWave Ferries, the company",
                                "Rui Albano, the chief executive of BlueWave Ferries, the company")
    assert head(_doc(apposed, "/corpus/apposed.txt"), 200)[0].endswith("May 9 | Rui Albano")
    # … but not the one who asks, whom the byline names.
    asker = INTERVIEW.replace("Rui Albano, 58, is chief executive of BlueWave Ferries, the company",
                              "Ana Reis, the Gazette's editor, met the head of BlueWave Ferries, the company")
    assert head(_doc(asker, "/corpus/asker.txt"), 200)[0].endswith("Interview by Ana Reis")
    scene = INTERVIEW.replace("Rui Albano, 58, is chief executive", "At the terminal, Rui Albano, 58, chief executive")
    assert head(_doc(scene, "/corpus/scene.txt"), 200)[0].endswith("Interview by Ana Reis")
    body = INTERVIEW.replace("Rui Albano, 58, is chief executive", "The Porto Verde council is the owner")
    assert head(_doc(body, "/corpus/body.txt"), 200)[0].endswith("Interview by Ana Reis")  # "The …" is no one


def test_a_heads_title_is_its_first_line_that_is_no_byline_or_label():
    assert head_title("OPINION | Ashby deserves answers | By Marit Olsvang | The Coastal Times") == "Ashby deserves answers"
    assert head_title("By Lena Morrow | Life on the ferries") == "Life on the ferries"
    assert head_title("Interview by Lotte Marwick") == ""
    # What "it" is, from the title: not from a byline that comes first.
    text = "Will the fees go up? No. A mooring costs £30 a night now and it will cost £30 next summer."
    question = "How much will a mooring at Ashby Quay cost next summer?"
    answer = "A mooring at Ashby Quay will cost £30 next summer [1]."
    for shown_head, kept in (("OPINION | Ashby Quay's harbour master speaks | By Ann Berg", True),
                             ("By Ashby Quay staff | Moorings this year", False)):
        passages = {1: Passage(text, "qa.txt", 900, 900 + len(text), 1.0, head=shown_head)}
        assert ground(answer, question, passages, REFUSAL, is_refusal).refused is not kept, shown_head


def test_every_check_reads_a_passage_with_its_heads_title():
    """One reading of a passage for every check: its head's lines first, then its text, whose
    "the Group" refers back to the full name its title gives."""
    from assistant.claims import passage_windows

    text = "The Group's net debt stood at €48.6 million."
    titled = Passage(text, "pr.txt", 0, len(text), 1.0, head="Highcairn Leisure Group sells ski area | Press release")
    read = passage_windows(titled)
    assert all(w.heading for w in read[:-1]) and not read[-1].heading
    assert read[-1].refers and passage_windows(titled, with_head=False) == read[-1:]
    assert not passage_windows(replace(titled, head=""))[-1].refers


def test_a_passage_shown_without_its_head_keeps_its_title_for_the_checks():
    """A head not shown (the passage does not speak in the first person) still says what the
    document is about: "the next festival" in a feature titled "…the Riverlight Festival"."""
    from assistant.selection import voiced

    text = "The company is pressing ahead regardless. The next festival will run from 12 July in Orrin Park."
    feature = Passage(text, "feature.txt", 900, 900 + len(text), 1.0,
                      head="Fifteen years of the Riverlight Festival | By Tobias Renwald")
    read = voiced(feature)
    assert read.head == "" and read.title == "Fifteen years of the Riverlight Festival"
    assert "Renwald" not in user_message("When is the next festival?", [(1, read)])  # nothing more is shown
    # The name must still be in what was shown (here another source gives it), as the independent
    # count of unsupported values demands; the title only says what "the next festival" is.
    other = Passage("The Riverlight Festival drew 42,000 people a day in 2023.", "wire.txt", 0, 56, 0.5)
    question = "When will the Riverlight Festival take place?"
    answer = "The Riverlight Festival will run from 12 July in Orrin Park [1]."
    assert not _check(answer, question, read, other).removed
    assert not unsupported_sentences(answer, [read, other])
    assert _check(answer, question, replace(read, title=""), other).refused
