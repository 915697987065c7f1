"""The model as a second judge (verify_claims): on a made-up corpus with a scripted yes/no judge,
and the real small model's yes/no check in process and in the engine's child."""

import logging
import math

import pytest

from assistant import Assistant
from assistant.generation import yes_probability
from assistant.grounding import Grounded, final_answer
from assistant.prompting import REFUSAL
from assistant.types import Passage
from assistant.verify import verify

from .conftest import SMALL_MODEL
from .fakes import HashEmbedder, JudgingLLM, ScriptedLLM

# A made-up corpus: names and a relation in one sentence, so the lexical check cannot tell who is who.
FERRY = ("Lena Morrow, chief executive of Harbor Lights, said rival BlueWave would lose passengers. "
         "Harbor Lights opened a terminal in Porto Verde.")
SOURCES = {1: Passage(FERRY, "ferry.txt", 0, len(FERRY), 1.0)}
RIVAL = "BlueWave expects to lose passengers this year, its chief executive Marta Quintas said."
WRONG = "BlueWave opened a terminal in Porto Verde [1]."  # the passage says Harbor Lights did
RIGHT = "Harbor Lights opened a terminal in Porto Verde [1]."


def checked(answer: str, llm, question: str = "Who runs BlueWave?", sources=SOURCES) -> Grounded:
    return verify(final_answer(answer, question, sources), question, sources, llm)


def test_the_lexical_check_alone_lets_the_wrong_relation_through():
    assert final_answer(WRONG, "Who runs BlueWave?", SOURCES).text == WRONG


def test_a_sentence_the_model_rejects_is_removed_and_nothing_left_is_the_refusal():
    result = checked(WRONG, JudgingLLM(verdicts={"BlueWave opened": 0.1}))
    assert result.refused and result.withheld and result.text == REFUSAL
    assert [(r.sentence, r.reason) for r in result.removed] == [(WRONG, "the model judged [1] does not state it")]


def test_a_supported_sentence_is_kept_beside_a_removed_one():
    result = checked(f"{RIGHT} {WRONG}", JudgingLLM(verdicts={"BlueWave opened": 0.3}))
    assert result.text == RIGHT and not result.refused
    assert [r.sentence for r in result.removed] == [WRONG]


def test_each_check_is_the_cited_passage_then_the_claim_without_the_question():
    llm = JudgingLLM(default=0.8)
    result = checked(f"{RIGHT} {WRONG}", llm)
    assert result.text == f"{RIGHT} {WRONG}" and not result.removed
    assert len(llm.checks) == 2
    for check, claim in zip(llm.checks, (RIGHT, WRONG)):
        assert len(check) == 1 and check[0]["role"] == "user"  # a fresh conversation, not the answer's
        asked = check[0]["content"]
        assert asked.startswith(f"Text: {FERRY}") and claim.replace(" [1]", "") in asked
        assert "BlueWave?" not in asked and "[1]" not in asked  # nor the question, nor markers


def test_a_claim_its_source_does_not_state_cites_the_shown_source_that_does():
    sources = {1: SOURCES[1], 2: Passage(RIVAL, "rival.txt", 0, len(RIVAL), 0.9)}
    claim = "BlueWave's chief executive said it would lose passengers [1]."  # [1] has the words, not the claim
    llm = JudgingLLM(verdicts={("Text: Lena", "Statement"): 0.2, ("Text: BlueWave expects", "Statement"): 0.9})
    assert final_answer(claim, "What did BlueWave's chief executive say?", sources).text == claim
    result = checked(claim, llm, "What did BlueWave's chief executive say?", sources)
    assert result.text == "BlueWave's chief executive said it would lose passengers [2]." and not result.removed
    assert len(llm.checks) == 2


def test_refusals_and_the_checks_own_notes_are_not_judged():
    llm = JudgingLLM(default=0.0)
    assert checked(REFUSAL, llm).text == REFUSAL and not llm.checks
    note = 'The sources do not cover this part of the question: "where".'
    result = verify(Grounded(f"{RIGHT} {note}", (), False), "What opened, and where?", SOURCES, llm)
    assert len(llm.checks) == 1 and "Porto Verde" in llm.checks[0][-1]["content"]
    assert result.refused  # the note alone is no answer


def test_a_model_without_the_check_is_skipped_with_one_log_line(caplog):
    llm = ScriptedLLM()
    llm.name = "no-check-server"
    with caplog.at_level(logging.INFO, logger="assistant.verify"):
        assert checked(WRONG, llm).text == WRONG
        assert checked(WRONG, llm).text == WRONG
    assert [r.message for r in caplog.records if "offers no yes/no check" in r.message] == [
        "verify_claims: model no-check-server offers no yes/no check; answers are not verified by it"]


def test_a_failing_check_leaves_the_answer_as_the_lexical_check_did(caplog):
    with caplog.at_level(logging.WARNING, logger="assistant.verify"):
        assert checked(WRONG, JudgingLLM(fail=True)).text == WRONG
    assert "the yes/no check failed" in caplog.text


def test_the_setting_runs_the_judge_after_generation(settings, tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "ferry.txt").write_text(FERRY)
    # Words support the sentence; only the judge (scripted to say no) can remove it.
    llm = JudgingLLM(RIGHT, verdicts={"opened a terminal": 0.2})
    s = settings.replace(corpus=[tmp_path / "docs"], verify_claims=True)
    with Assistant(s, embedder=HashEmbedder(), llm=llm) as a:
        answer = a.ask("What did Harbor Lights open in Porto Verde?")
        assert answer.refused and answer.withheld and [r.sentence for r in answer.removed] == [RIGHT]
        assert llm.checks
    with Assistant(s.replace(verify_claims=False), embedder=HashEmbedder(), llm=JudgingLLM(RIGHT, default=0.0)) as a:
        assert a.ask("What did Harbor Lights open in Porto Verde?").text == RIGHT


# The default: only sentences that take a question word their sources lack --------------------------

CATAMARAN = "BlueWave said on Wednesday that its new catamaran, the Gaivota, will enter service in July."
YARD = "The Gaivota was built by the Estaleiros Norte yard for BlueWave."
BOATS = {1: Passage(CATAMARAN, "bluewave.txt", 0, len(CATAMARAN), 1.0),
         2: Passage(RIVAL, "rival.txt", 0, len(RIVAL), 0.9),
         3: Passage(YARD, "yard.txt", 0, len(YARD), 0.8)}
BUILT = "BlueWave built the Gaivota [1]."  # the passage names both and says nothing of building


def unstated_checked(answer: str, llm, question: str, sources=BOATS) -> Grounded:
    return verify(final_answer(answer, question, sources), question, sources, llm, only_unstated=True)


def test_the_question_relation_no_cited_source_states_goes_to_the_judge():
    from assistant.verify import unstated

    assert final_answer(BUILT, "Who built the Gaivota?", {1: BOATS[1]}).text == BUILT  # the words pass
    assert unstated("Who built the Gaivota?", BUILT, BOATS) == ["build"]
    result = unstated_checked(BUILT, JudgingLLM(default=0.2), "Who built the Gaivota?", {1: BOATS[1]})
    assert result.refused and result.text == REFUSAL
    assert [(r.sentence, r.reason) for r in result.removed] == [
        (BUILT, "the model judged [1] does not state it (it takes 'built' from the question)")]


def test_the_question_relation_away_from_the_name_the_answer_adds_goes_to_the_judge():
    from assistant.verify import unstated

    text = ("BlueWave runs 12 ferries between Porto Verde and the islands. Chief executive Marta Quintas "
            "expects 1.4 million passengers. Analysts at Baixa Capital said the operators compete on speed. "
            "BlueWave's shares fell 1.5% on the news.")
    source = {1: Passage(text, "bluewave.txt", 0, len(text), 1.0)}
    wrong, right = "BlueWave is run by Baixa Capital [1].", "Marta Quintas runs BlueWave [1]."
    # The names stand in two adjacent sentences, the second about BlueWave's shares, and "runs" in
    # neither: the words remove it before any judge is asked.
    assert final_answer(wrong, "Who runs BlueWave?", source).refused
    # "runs" is in the passage, but in no window that holds Baixa Capital; it is in the one with Quintas.
    assert unstated("Who runs BlueWave?", wrong, source) == ["run"]
    assert unstated("Who runs BlueWave?", right, source) == []
    assert unstated("Does BlueWave run ferries?", "BlueWave runs 12 ferries [1].", source) == []  # adds no name
    result = unstated_checked(wrong, JudgingLLM(default=0.1), "Who runs BlueWave?", source)
    assert result.refused and [r.sentence for r in result.removed] == [wrong]


def test_a_sentence_in_its_sources_words_is_not_judged():
    llm = JudgingLLM(default=0.0)
    answer = "The Gaivota will enter service in July [1]."
    assert unstated_checked(answer, llm, "When will the Gaivota enter service?").text == answer
    assert not llm.checks


def test_a_paraphrase_of_the_question_the_judge_accepts_is_kept():
    source = {1: Passage("Harbor Lights was founded in 1987 by the brothers Tomas and Rui Albano.", "h.txt", 0, 70, 1.0)}
    answer = "The brothers Tomas and Rui Albano started Harbor Lights [1]."
    llm = JudgingLLM(default=0.9)
    assert unstated_checked(answer, llm, "Who started Harbor Lights?", source).text == answer
    assert len(llm.checks) == 1  # "started": the passage says "founded"


def test_it_is_re_cited_only_to_a_source_that_has_the_missing_word():
    llm = JudgingLLM(verdicts={"Text: BlueWave said": 0.1, "Text: The Gaivota was built": 0.9}, default=0.5)
    result = unstated_checked(BUILT, llm, "Who built the Gaivota?")
    assert result.text == "BlueWave built the Gaivota [3]." and not result.removed
    assert [c[0]["content"].split(".")[0] for c in llm.checks] == [
        "Text: BlueWave said on Wednesday that its new catamaran, the Gaivota, will enter service in July",
        "Text: The Gaivota was built by the Estaleiros Norte yard for BlueWave"]  # [2] lacks "built": not asked


def test_the_setting_defaults_to_unstated_and_reads_the_old_flag(settings):
    from pydantic import ValidationError

    from assistant import Settings

    assert Settings().verify_claims == "unstated"
    for value, mode in ((True, "all"), ("yes", "all"), (" On", "all"), ("1", "all"), (False, "off"), ("false", "off"),
                        ("n", "off"), ("All", "all"), ("unstated", "unstated")):
        assert settings.replace(verify_claims=value).verify_claims == mode, value
    with pytest.raises(ValidationError):
        settings.replace(verify_claims="maybe")


def test_unstated_mode_skips_refusals_and_notes_and_logs_nothing_when_nothing_is_judged(caplog):
    llm = ScriptedLLM()
    llm.name = "quiet-server"
    note = 'The sources do not cover this part of the question: "who built it".'
    with caplog.at_level(logging.INFO, logger="assistant.verify"):
        for text in (REFUSAL, f"The Gaivota will enter service in July [1]. {note}"):
            grounded = Grounded(text, (), text == REFUSAL)
            assert verify(grounded, "Who built the Gaivota, and when will it enter service?", BOATS, llm,
                          only_unstated=True) is grounded
    assert not caplog.records  # the model's lack of a yes/no check matters only when one is needed


def test_the_sources_differing_values_do_not_answer_who_when_the_judge_removes_everything():
    from assistant.types import Conflict

    differ = (Conflict("May 4", "a.txt", "It opened on May 4.", 1), Conflict("May 5", "b.txt", "It opened on May 5.", 2))
    grounded = Grounded("BlueWave opened it on May 4 [1].", (), False, conflicts=differ)
    for question, refused in (("Who opened the terminal?", True), ("When did the terminal open?", False)):
        result = verify(grounded, question, {1: BOATS[1], 2: BOATS[2]}, JudgingLLM(default=0.1))
        assert result.refused is refused and (refused or result.text.startswith("The sources differ:")), question


# A name the source gives otherwise: words cannot tell an alias from another subject ----------------

MARKET = ("Ferry operators had a hard quarter. Analyst Rita Sousa said, “With HLX down 12% since May, BlueWave "
          "looks cheap by comparison.” Fuel costs rose again.")
LISTED = {1: Passage(MARKET, "market.txt", 0, len(MARKET), 1.0), 2: SOURCES[1]}
TICKER_Q = "Which ticker do the sources use for Harbor Lights when comparing it with BlueWave?"
TICKER = "The sources use the ticker HLX for Harbor Lights."  # "HLX" and "Harbor Lights" never stand together


def test_a_value_beside_the_questions_other_name_is_doubtful_not_removed():
    assert final_answer(TICKER, TICKER_Q, LISTED).refused  # the lexical check alone removes it
    grounded = final_answer(TICKER, TICKER_Q, LISTED, doubts=True)
    assert grounded.text == "The sources use the ticker HLX for Harbor Lights [1]." and not grounded.removed
    assert [d.sentence for d in grounded.doubtful] == [grounded.text]


def test_the_judge_keeps_a_doubtful_sentence_it_accepts_and_removes_one_it_rejects():
    grounded = final_answer(TICKER, TICKER_Q, LISTED, doubts=True)
    llm = JudgingLLM(default=0.9)
    kept = verify(grounded, TICKER_Q, LISTED, llm, only_unstated=True)
    assert kept.text == grounded.text and not kept.removed and not kept.doubtful
    assert len(llm.checks) == 1 and llm.checks[0][0]["content"].startswith(f"Text: {MARKET}")
    llm = JudgingLLM(default=0.2)
    gone = verify(grounded, TICKER_Q, LISTED, llm, only_unstated=True)
    assert gone.refused and len(llm.checks) == 1  # judged on its source alone, never moved
    assert [r.reason for r in gone.removed] == [
        "its facts do not stand together in any source, and the model judged [1] does not state it"]


def test_without_a_judge_a_doubtful_sentence_is_removed(caplog):
    grounded = final_answer(TICKER, TICKER_Q, LISTED, doubts=True)
    with caplog.at_level(logging.WARNING, logger="assistant.verify"):
        for llm in (ScriptedLLM(), JudgingLLM(fail=True)):
            result = verify(grounded, TICKER_Q, LISTED, llm, only_unstated=True)
            assert result.refused and [r.reason for r in result.removed] == [
                "its facts do not stand together in any source"]


def test_no_doubt_for_a_claim_in_the_questions_words_or_a_number():
    # The question's relation filled with a value near its subject is what fabrication looks
    # like ("The context window of QwQ-32B is 32"): the lexical check alone decides it.
    question = "When does the Gaivota start operating?"  # the source: "will enter service in July"
    answer = "The Gaivota starts operating in July [1]."
    assert not final_answer(answer, question, {1: BOATS[1]}, doubts=True).doubtful
    question = "What is the crew size of the Gaivota?"
    assert not final_answer("The crew size of the Gaivota is 38 [1].", question,
                            {1: Passage("The Gaivota reaches 38 knots.", "g.txt", 0, 29, 1.0)}, doubts=True).doubtful


CROSSING = ("The Gaivota entered service on Monday. The new boat cuts the fastest journey between the two "
            "islands from 95 minutes to 40 minutes, and it carries 400 passengers.")
FAST = {1: Passage(CROSSING, "crossing.txt", 0, len(CROSSING), 1.0)}


def test_a_value_with_its_noun_in_the_questions_own_words_is_doubtful():
    # The answer words it as the question did ("quickest trip"), the source otherwise ("fastest
    # journey"): the values and their nouns stand together, only the question's words are missing.
    question = "Now that the Gaivota runs, how long does the quickest trip between the islands take?"
    answer = "The quickest trip between the islands now takes 40 minutes [1]."
    assert final_answer(answer, question, FAST).refused  # the lexical check alone removes it
    grounded = final_answer(answer, question, FAST, doubts=True)
    assert grounded.text == answer and [d.sentence for d in grounded.doubtful] == [answer]
    assert verify(grounded, question, FAST, JudgingLLM(default=0.9), only_unstated=True).text == answer
    gone = verify(grounded, question, FAST, JudgingLLM(default=0.2), only_unstated=True)
    assert gone.refused and gone.removed[0].reason.endswith("and the model judged [1] does not state it")


def test_a_doubtful_sentence_keeps_its_own_source_when_that_holds_it():
    # Two sources hold the values; the judge reads the one the model answered from.
    report = "The report asks why the Gaivota's crew were not told until 40 minutes after the first alarm."
    both = {1: Passage(report, "report.txt", 0, len(report), 1.0), 2: FAST[1]}
    question = "Now that the Gaivota runs, how long does the quickest trip between the islands take?"
    answer = "The quickest trip between the islands now takes 40 minutes [2]."
    assert [d.sentence for d in final_answer(answer, question, both, doubts=True).doubtful] == [answer]


def test_a_sum_of_money_in_the_questions_own_words_is_doubtful_too():
    # A currency says what the number measures, as a noun does.
    fund = {1: Passage("The company has set aside €6.5m for its response to the outage.", "f.txt", 0, 60, 1.0)}
    question = "How much has the ferry operator put aside to pay for dealing with the outage?"
    answer = "The ferry operator has put aside €6.5 million [1]."
    assert final_answer(answer, question, fund).refused
    assert [d.sentence for d in final_answer(answer, question, fund, doubts=True).doubtful] == [answer]
    assert not final_answer("The ferry operator has put aside 6.5 [1].", question, fund, doubts=True).doubtful


def test_a_year_beside_a_sum_in_the_questions_own_words_is_doubtful_too():
    # "by 2027" says what it is, as a currency does; a bare count beside it still says nothing.
    deal = {1: Passage("An entry-level deckhand now paid €17.20 an hour will be on €19.25 an hour by 2027.",
                       "d.txt", 0, 80, 1.0)}
    question = "Once the deal is in place, what will a newly hired deckhand earn per hour?"
    answer = "A newly hired deckhand will earn €19.25 an hour by 2027 [1]."
    assert final_answer(answer, question, deal).refused
    assert [d.sentence for d in final_answer(answer, question, deal, doubts=True).doubtful] == [answer]
    assert not final_answer("A newly hired deckhand will earn 19.25 by 2027 [1].", question, deal,
                            doubts=True).doubtful


def test_no_doubt_for_a_paraphrase_with_a_bare_number_another_name_or_words_of_its_own():
    question = "How long does the quickest trip between the islands take?"
    for answer in ("The quickest trip between the islands takes 40 [1].",  # what 40 counts, the source says
                   "The quickest trip between the islands takes 40 minutes on BlueWave's boats [1].",  # a name
                   "The quickest trip between the islands is delayed by 40 minutes in winter storms [1]."):
        assert not final_answer(answer, question, FAST, doubts=True).doubtful, answer
    asked = "How long does Harbor Lights' quickest trip between the islands take?"  # no window names it
    assert not final_answer("Harbor Lights' quickest trip takes 40 minutes [1].", asked, FAST, doubts=True).doubtful


def test_no_doubt_for_a_value_bound_to_another_subject():
    rival = {1: Passage("BlueWave, the rival of Harbor Lights, has a new boat. The Gaivota reaches 38 knots.",
                        "rival.txt", 0, 80, 1.0)}
    question = "What is the top speed of Harbor Lights' fastest ferry?"
    answer = "The top speed of Harbor Lights' fastest ferry is 38 knots [1]."  # the Gaivota's, BlueWave's boat
    result = final_answer(answer, question, rival, doubts=True)
    assert result.refused and not result.doubtful


def test_no_doubt_when_the_window_is_about_another_subject_or_adds_nothing():
    # The 12% stands beside BlueWave, which the question does not name: another subject, removed.
    question = "How far have Harbor Lights shares fallen since May?"
    assert final_answer("Harbor Lights shares have fallen 12% since May [1].", question, LISTED, doubts=True).refused
    # Only the question's names: nothing of its own that a source could hold.
    assert not final_answer("Harbor Lights is compared with BlueWave [1].", TICKER_Q, LISTED, doubts=True).doubtful


def test_the_assistant_lets_the_judge_decide_doubts_only_when_it_has_one(settings, tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "market.txt").write_text(MARKET)
    (tmp_path / "docs" / "ferry.txt").write_text(FERRY)
    s = settings.replace(corpus=[tmp_path / "docs"], select_sentences=False)  # both passages whole
    with Assistant(s, embedder=HashEmbedder(), llm=JudgingLLM(TICKER, default=0.9)) as a:
        answer = a.ask(TICKER_Q)
        assert not answer.refused and "HLX" in answer.text and answer.citations
    for llm, mode in ((ScriptedLLM(TICKER), "unstated"), (JudgingLLM(TICKER, default=0.9), "off")):
        with Assistant(s.replace(verify_claims=mode), embedder=HashEmbedder(), llm=llm) as a:
            assert a.ask(TICKER_Q).refused, mode


# A claim said of another name in the sentence beside: the window passes it, the judge decides ----

ROUTES = ("Harbor Lights carried two million passengers last year. Even BlueWave, which has struggled to fill "
          "its boats, opened a route to Santa Clara. Passengers praised Harbor Lights for its terminal.")
STRUGGLE = {1: Passage(ROUTES, "routes.txt", 0, len(ROUTES), 1.0)}
STRUGGLE_Q = "Which ferry operator has struggled to fill its boats?"
SWAPPED = "Harbor Lights has struggled to fill its boats [1]."  # BlueWave's, in the sentence beside


def test_a_name_standing_beside_a_claim_said_of_another_is_found():
    from assistant.grounding import said_of_another

    assert final_answer(SWAPPED, STRUGGLE_Q, STRUGGLE).text == SWAPPED  # two adjacent sentences: the words pass
    said = said_of_another(SWAPPED, STRUGGLE, STRUGGLE_Q)
    assert said.other == "BlueWave" and said.given == "Harbor Lights" and ROUTES.startswith(said.window)
    assert said.window.endswith("Santa Clara.")
    assert not said_of_another("BlueWave has struggled to fill its boats [1].", STRUGGLE, STRUGGLE_Q).other
    dated = {1: Passage(ROUTES.replace("Even BlueWave,", "In March, BlueWave,"), "routes.txt", 0, len(ROUTES), 1.0)}
    assert said_of_another(SWAPPED, dated, STRUGGLE_Q).other == "BlueWave"  # a month is not the name
    referred = {1: Passage("Harbor Lights opened a terminal in May. It has struggled to fill its boats since. "
                           "Analysts praised Harbor Lights.", "r.txt", 0, 120, 1.0)}
    assert not said_of_another(SWAPPED, referred, STRUGGLE_Q).other  # "It": no other name, the subject carries on


def test_the_judge_decides_a_claim_said_of_another():
    llm = JudgingLLM(default=0.2)
    result = unstated_checked(SWAPPED, llm, STRUGGLE_Q, STRUGGLE)
    assert result.refused and [r.reason for r in result.removed] == [
        "the model judged [1] does not state it (it says so of 'BlueWave')"]
    assert len(llm.checks) == 2  # on its own source, not moved; then said of BlueWave, not stated either
    assert unstated_checked(SWAPPED, JudgingLLM(default=0.9), STRUGGLE_Q, STRUGGLE).text == SWAPPED
    llm = JudgingLLM(default=0.0)
    right = "BlueWave has struggled to fill its boats [1]."
    assert unstated_checked(right, llm, STRUGGLE_Q, STRUGGLE).text == right and not llm.checks


def test_a_claim_said_of_another_is_given_to_the_name_asked_for_when_the_judge_finds_it_stated():
    right = "BlueWave has struggled to fill its boats [1]."
    llm = JudgingLLM(verdicts={"Statement: BlueWave has struggled": 0.9}, default=0.2)
    result = unstated_checked(SWAPPED, llm, STRUGGLE_Q, STRUGGLE)
    assert result.text == right and not result.refused
    # The choice between the names is judged on the two sentences that hold the claim, not the rest of the passage.
    assert "Even BlueWave" in llm.checks[-1][-1]["content"] and "terminal" not in llm.checks[-1][-1]["content"]
    assert [(r.sentence, r.reason) for r in result.removed] == [(SWAPPED, (
        "the model judged [1] does not state it (it says so of 'BlueWave'); the answer names BlueWave"))]
    who = "Who has struggled to fill its boats?"
    assert unstated_checked(SWAPPED, JudgingLLM(verdicts={"Statement: BlueWave": 0.9}, default=0.2), who,
                            STRUGGLE).text == right
    # Not when the model would rather deny the renamed claim too, however much worse the name as written fares.
    result = unstated_checked(SWAPPED, JudgingLLM(verdicts={"Statement: BlueWave": 0.3}, default=0.05),
                              STRUGGLE_Q, STRUGGLE)
    assert result.refused
    # Not where the swap could garble the sentence: a name written twice, or followed by an apostrophe.
    from assistant.verify import renamed_claim

    assert renamed_claim("Harbor Lights' crews say Harbor Lights has struggled [1].", STRUGGLE_Q, "BlueWave",
                         "Harbor Lights") == ""
    assert renamed_claim("Harbor Lights' boats have struggled [1].", STRUGGLE_Q, "BlueWave", "Harbor Lights") == ""
    assert renamed_claim("Harbor Lights has struggled [1].", STRUGGLE_Q, "BlueWave", "Lights") == ""
    assert renamed_claim(SWAPPED, STRUGGLE_Q, "BlueWave", "Harbor Lights") == (
        "BlueWave has struggled to fill its boats [1].")
    # "Which year…?" asks for a date, not a name.
    assert renamed_claim(SWAPPED, "Which year did the ferry operator struggle to fill its boats?", "BlueWave",
                         "Harbor Lights") == ""
    # Not where the question asks about the name the answer gives, nor for a question that asks no name.
    for question in ("Has Harbor Lights struggled to fill its boats?",
                     "Why has the ferry operator struggled to fill its boats?",
                     "What problems has the ferry operator struggled with?"):
        llm = JudgingLLM(verdicts={"Statement: BlueWave": 0.9}, default=0.2)
        result = unstated_checked(SWAPPED, llm, question, STRUGGLE)
        assert "BlueWave has struggled" not in result.text, question


def test_yes_probability_is_a_softmax_over_the_yes_and_no_spellings():
    logits = [0.0, 2.0, 2.0, 9.0]  # yes: 1 and 2 ("yes", " Yes"), no: 0; 3 is another word
    assert yes_probability(logits, [1, 2], [0]) == pytest.approx(2 / (2 + math.exp(-2)))
    assert yes_probability([1.0, 1.0], [0], [1]) == pytest.approx(0.5)


# The real small model ---------------------------------------------------------------------------


def _ask(claim: str) -> list[dict]:
    from assistant.verify import statement_prompt

    return statement_prompt(claim, [SOURCES[1]])


@pytest.fixture
def small_llm():
    """The small GGUF loaded in this process, closed after the test."""
    from assistant.generation import LlamaCppLLM

    llm = LlamaCppLLM(SMALL_MODEL, n_ctx=1024, n_threads=2)
    try:
        yield llm
    finally:
        llm.close()


@pytest.mark.slow
@pytest.mark.skipif(not SMALL_MODEL.exists(), reason="needs make install")
def test_the_small_model_gives_a_probability_and_reuses_its_cache_correctly(small_llm):
    first = small_llm.p_yes(_ask(RIGHT))
    other = small_llm.p_yes(_ask(WRONG))  # shares the passage's tokens
    assert 0.0 <= first <= 1.0 and 0.0 <= other <= 1.0
    assert small_llm.p_yes(_ask(RIGHT)) == pytest.approx(first, abs=1e-3)  # the cache cut back, not mixed


@pytest.mark.slow
@pytest.mark.skipif(not SMALL_MODEL.exists(), reason="needs make install")
def test_the_answers_context_is_put_back_after_the_checks(small_llm):
    question = [{"role": "user", "content": f"{FERRY}\nWho runs Harbor Lights?"}]
    evaluated: list[int] = []
    model_eval = small_llm._llm.eval
    small_llm._llm.eval = lambda tokens: (evaluated.append(len(tokens)), model_eval(tokens))[1]
    first = "".join(small_llm.stream(question, 8, 0.0))
    small_llm.p_yes(_ask(RIGHT))
    evaluated.clear()
    assert "".join(small_llm.stream(question, 8, 0.0)) == first
    assert evaluated[0] <= 2  # the prompt was not evaluated again: only its last token, for fresh logits


@pytest.mark.slow
@pytest.mark.skipif(not SMALL_MODEL.exists(), reason="needs make install")
def test_the_engine_child_serves_the_check():
    from assistant.engine import IsolatedLLM

    llm = IsolatedLLM(SMALL_MODEL, n_ctx=1024, n_threads=2)
    try:
        assert 0.0 <= llm.p_yes(_ask(RIGHT)) <= 1.0
        assert llm.count_tokens("hello") > 0  # the child goes on serving after a check
    finally:
        llm.close()


@pytest.mark.slow
@pytest.mark.skipif(not SMALL_MODEL.exists(), reason="needs make install")
def test_the_small_model_doubts_a_relation_its_passage_does_not_state(small_llm):
    from assistant.verify import statement_prompt

    built = small_llm.p_yes(statement_prompt("BlueWave built the Gaivota.", [BOATS[1]]))
    stated = small_llm.p_yes(statement_prompt("The Gaivota will enter service in July.", [BOATS[1]]))
    assert built < 0.5 < stated
