"""Claim-level grounding on a made-up corpus: scripted answers with fabricated and supported
sentences, compound questions, and the real small model on an unanswerable question."""

from dataclasses import replace

import pytest

from assistant import Assistant, Settings
from assistant.claims import claims, names
from assistant.evaluation import unsupported_sentences
from assistant.grounding import final_answer, ground
from assistant.prompting import REFUSAL, is_refusal
from assistant.text import question_parts
from assistant.types import Passage

from .conftest import SMALL_MODEL
from .fakes import HashEmbedder, ScriptedLLM

# A corpus about nothing in the eval sets: a ferry company and its rival.
FERRY = ("Harbor Lights Ltd. opened its third ferry terminal in Porto Verde on Tuesday, May 4. "
         "The terminal cost 85.6 million euros, the company said. "
         "Chief executive Lena Morrow declined to comment on ticket prices.")
RIVAL = ("Rival operator BlueWave runs 12 ferries. Its new catamaran carries 400 passengers. "
         "Shares of BlueWave rose 3.27% on the news.")
SOURCES = {1: Passage(FERRY, "ferry.txt", 0, len(FERRY), 1.0), 2: Passage(RIVAL, "rival.txt", 0, len(RIVAL), 0.9)}


def shown(*texts: str) -> dict:
    """The sources of a prompt that showed these passages, as [1], [2]…"""
    return {n: Passage(text, f"{n}.txt", 0, len(text), 1.0 / n) for n, text in enumerate(texts, 1)}


def check(answer: str, question: str = "What happened?", sources=SOURCES):
    return ground(answer, question, sources, REFUSAL, is_refusal)


NOT_THE_ROLE = "no cited source gives that person the role the question asks about"


def refused_for_the_role(answer: str, question: str, sources) -> bool:
    """Whether ``answer`` is refused because no cited source gives its name the role asked about."""
    got = check(answer, question, sources)
    return got.refused and got.removed[0].reason == NOT_THE_ROLE


@pytest.mark.parametrize("answer", [
    "The terminal cost 85.6 million euros [1].",
    "Shares of BlueWave rose 3% [2].",  # 3.27% at the precision the answer gives
    "Harbor Lights opened the terminal in Porto Verde on Tuesday [1].",
    "Lena Morrow declined to comment on ticket prices [1].",
    "The terminal cost 85.6 million euros [1], while BlueWave runs 12 ferries [2].",  # each side its own source
    "BlueWave's new catamaran carries 400 passengers [2].",
    "Harbor Lights' Porto Verde-based terminal cost 85.6 million euros [1].",  # "-based" is no part of the name
])
def test_supported_claims_stand(answer):
    result = check(answer)
    assert result.text == answer and not result.removed and not result.refused


@pytest.mark.parametrize("answer, reason", [
    ("The terminal cost 85.6 million euros in 2021 [1].", "'2021' is in none of the sources"),  # a year nobody gives
    ("Harbor Lights is listed on the London Stock Exchange [1].", "'London Stock Exchange'"),  # a place nobody names
    ("The terminal opened on Wednesday [1].", "'Wednesday'"),
    ("BlueWave's catamaran carries 12 passengers [2].", "do not stand together"),  # 12 is ferries
    ("BlueWave has 400 ferries [2].", "do not stand together"),  # 400 is passengers
    ("Lena Morrow runs 12 ferries [1][2].", "do not stand together"),  # each word somewhere, not together
    ("BlueWave did not respond to the opening [2].", "do not stand together"),  # a negation no source makes
])
def test_fabricated_claims_are_removed_and_the_answer_refuses(answer, reason):
    result = check(answer)
    assert result.refused and result.text == REFUSAL
    assert [r.sentence for r in result.removed] == [answer]
    assert reason in result.removed[0].reason


def test_a_code_is_a_value_in_any_case():
    fleet = shown("BlueWave's new catamaran, the gv300x, carries 400 passengers. It was built by Estaleiro Norte.")
    kept = check("BlueWave's new catamaran is the gv300x [1].", "Which model is BlueWave's new catamaran?", fleet)
    assert not kept.removed and not kept.refused
    # A code no source holds, whatever its case: here a file name the model copied from a source's label.
    for code in ("gv410x", "001_60b042e0"):
        result = check(f"BlueWave's new catamaran is the {code} [1].", "Which model is BlueWave's new catamaran?", fleet)
        assert result.refused and result.removed[0].reason == f"'{code}' is in none of the sources"
    # Digits with a unit or an ending are numbers, and a word joined to a number is no code.
    assert not check("BlueWave runs 12 ferries [2].", "How many ferries does BlueWave run?").removed
    assert [w for w in ("mid-2024", "top-10", "covid-19", "12m", "1990s", "3rd", "2-for-1", "o1-mini", "a100")
            if names(f"it was {w} then", frozenset())] == ["o1-mini", "a100"]
    # A participle after a hyphen is no part of a name; a model's suffix is.
    assert [w for w, _ in names("its Porto Verde-based and Lisbon-listed GV-3-mini and Wave-2-pro", frozenset())] == [
        "Porto Verde", "Lisbon", "GV-3-mini", "Wave-2-pro"]


def test_a_place_named_by_its_adjective_in_the_source_as_written():
    funds = shown("Chilean pension funds bought 4% of BlueWave this year.")
    assert not check("Pension funds in Chile bought 4% of BlueWave [1].", "Who invests in BlueWave from Chile?",
                     funds).removed
    # The issue's rule reads a name as written: "Chilean" writes "Chile", "Chinese" does not write "China".
    funds = shown("Chinese pension funds bought 4% of BlueWave this year.")
    got = check("Pension funds in China bought 4% of BlueWave [1].", "Who invests in BlueWave from China?", funds)
    assert got.refused and got.removed[0].reason == "'China' is in none of the sources"
    # A title or another name joined to a written name, markup before the first word, a hyphen
    # for a space: each word is written, and the sentence stands.
    minister = shown("Ola Brekke, the finance minister, said on Monday, March 3 that Marlow Hart Foods paid 4% more.")
    for answer in ("According to Finance Minister Ola Brekke, Marlow Hart Foods paid 4% more [1].",
                   "**Answer:** Marlow-Hart Foods paid 4% more on Monday March 3 [1]."):
        assert not check(answer, "How much more did Marlow Hart Foods pay?", minister).removed
    assert check("Pension funds in Peru bought 4% of BlueWave [1].", "Who invests in BlueWave?", funds).refused
    # A first name is no adjective: "Julian" names neither Julia nor July.
    chief = shown("Finance chief Julian Chen said revenue rose 8%.")
    assert check("Finance chief Julia Chen said revenue rose 8% [1].", "Who is BlueWave's finance chief?", chief).refused
    assert check("Revenue rose 8% in July [1].", "How much did revenue rise?", chief).refused


def test_a_part_of_a_question_left_without_its_kind_of_value_takes_only_its_own_sentences():
    sources = shown("Lena Morrow is chief executive of Harbor Lights.",
                    "Ferry strikes were costly for operators last year, Lena Morrow said.")
    question = "Which company does Lena Morrow run, and how much did ferry strikes cost operators last year?"
    got = check("Lena Morrow runs Harbor Lights [1]. Ferry strikes were costly for operators last year [2].",
                question, sources)
    # The firm stands; the sentence for the amount gives none, and the answer says so.
    assert [r.reason for r in got.removed] == ["it gives no amount, which the question asks for"]
    assert got.text.startswith("Lena Morrow runs Harbor Lights [1]. The sources do not cover this part")
    # With no part given its kind of value, nothing stands.
    assert check("Ferry strikes were costly for operators last year [2].", question, sources).refused


def test_a_sentence_that_refers_back_keeps_a_figure_it_gives_another_name():
    adopted = shown("Harbor Lights opened its terminal to every operator. This could speed adoption across the coast, "
                    "where 13 towns have already integrated BlueWave timetables into their apps.")
    got = check("13 towns have integrated Harbor Lights' timetables into their apps [1].",
                "How many towns have integrated Harbor Lights' timetables?", adopted)
    assert got.refused and got.removed[0].reason == "its facts do not stand together in [1]"
    # With no other name in the number's clause, the sentence still refers back to the one before.
    kept = shown("Harbor Lights opened its terminal to every operator. This could speed adoption, "
                 "where 13 towns have already integrated its timetables, BlueWave said.")
    assert not check("13 towns have integrated Harbor Lights' timetables [1].",
                     "How many towns have integrated Harbor Lights' timetables?", kept).removed
    # A name in the number's clause of its own, right after the number too; but in the main clause
    # that refers back, a name after the number is not whose the number is ("sold 13 ferries to …").
    other = shown("Harbor Lights opened its terminal to every operator. This could speed adoption, "
                  "where 13 BlueWave towns use the timetables.")
    assert check("13 towns use Harbor Lights' timetables [1].", "How many towns use Harbor Lights' timetables?",
                 other).refused
    sold = shown("Harbor Lights builds ferries on the coast. It sold 13 ferries to BlueWave last year.")
    assert not check("Harbor Lights sold 13 ferries [1].", "How many ferries did Harbor Lights sell?", sold).removed


def test_a_percentage_or_a_count_is_answered_by_one():
    supply = shown("BlueWave, which runs the ferries of the south coast, sent 180 extra crossings on Tuesday night. "
                   "About 70% of stranded passengers were home by Wednesday, including those from the village of Lisk.")
    # Asked for a percentage, a figure of another kind is no answer.
    got = check("BlueWave's shares rose by 180 extra crossings on Tuesday night [1].",
                "By what percentage did BlueWave's shares rise?", supply)
    assert got.refused and got.removed[0].reason == "it gives no percentage, which the question asks for"
    # Asked how many (or a population), a percentage is no count, also once the sentence is pointed
    # at the source that holds it.
    got = check("The village of Lisk has a population of about 70% of stranded passengers [2].",
                "What is the population of the village of Lisk?", shown(RIVAL, supply[1].text))
    assert got.refused and got.removed[0].reason == "'70%' is not a count, which the question asks for"
    assert not check("About 70% of stranded passengers were home by Wednesday [1].",
                     "What share of stranded passengers were home by Wednesday?", supply).removed
    assert not check("BlueWave sent 180 extra crossings on Tuesday night [1].",
                     "How many extra crossings did BlueWave send?", supply).removed
    # A share in words answers a percentage; a percentage answers how fast a population grew, and
    # a sum answers "how many euros".
    shares = shown("Two-thirds of BlueWave's ferries were late in May, and one in five was cancelled. "
                   "The population of Porto Verde grew 2% a year. Each delayed passenger receives €60.")
    for answer in ("Two-thirds of BlueWave's ferries were late in May [1].", "One in five was cancelled [1]."):
        assert not check(answer, "What percentage of BlueWave's ferries were late in May?", shares).removed
    assert not check("The population of Porto Verde grew 2% a year [1].",
                     "How fast did the population of Porto Verde grow?", shares).removed
    assert not check("Each delayed passenger receives €60 [1].", "How many euros does each delayed passenger receive?",
                     shares).removed


def test_a_name_alone_for_who_holds_a_role_at_a_body_must_stand_with_that_body():
    column = shown("To its credit, Harbor Lights has reacted quickly. It has promised new ferries. Chief executive "
                   "Lena Morrow has been visible and contrite. But promises are cheap. What matters is whether the "
                   "supplier of its engines, Kestrel Marine, can explain what went wrong.")
    got = check("Lena Morrow [1].", "Who is the chief executive of Kestrel Marine?", column)
    assert got.refused and got.removed[0].reason == "no source gives 'Lena Morrow' that role at Kestrel Marine"
    # "What is the name of…?" asks for a name as "who" does.
    assert check("Lena Morrow [1].", "What is the name of Kestrel Marine's chief executive?", column).refused
    # At the body the window refers back to, she holds it; and by the short name a source defines for it.
    assert not check("Lena Morrow [1].", "Who is the chief executive of Harbor Lights?", column).removed
    notice = shown('Harbor Lights Ferries plc ("Harbor Lights" or "the Company") runs the coast ferries. '
                   "Harbor Lights chief executive Lena Morrow apologised.")
    assert not check("Lena Morrow [1].", "Who is the chief executive of Harbor Lights Ferries?", notice).removed


def test_a_sum_for_each_and_a_name_the_sources_define_short():
    notice = shown('Harbor Lights Ferries plc ("Harbor Lights" or "the Company") runs the coast ferries. '
                   "Harbor Lights has said passengers delayed for more than 3 hours will receive €60, paid automatically. "
                   "Harbor Lights chief executive Lena Morrow apologised.")
    question = "How much will Harbor Lights Ferries pay each passenger delayed for more than 3 hours?"
    # "each" says how the sum is shared, not what it counts; the span beside the sum is no price.
    assert not check("Harbor Lights Ferries will pay €60 each passenger delayed for more than 3 hours [1].",
                     question, notice).removed
    # The name the question gives stands by the short one the notice defines for it.
    assert not check("Lena Morrow is the chief executive of Harbor Lights Ferries [1].",
                     "Who is the chief executive of Harbor Lights Ferries?", notice).removed
    assert check("Lena Morrow is the chief executive of BlueWave Ferries [1].",
                 "Who is the chief executive of BlueWave Ferries?", notice).refused


def test_a_follow_up_that_refers_back_is_not_answered_with_another_subjects_count():
    # "it" is BlueWave, named in the exchange before (the follow-up's search query names it).
    got = ground("Harbor Lights runs 3 terminals [1].", "How many terminals does it run?",
                 shown("In Porto Verde, Harbor Lights runs 3 terminals.", RIVAL), REFUSAL, is_refusal,
                 context="BlueWave Porto Verde How many terminals does it run?")
    assert got.refused and got.removed[0].reason == "its number is Harbor Lights's, and the question asks about another"
    assert not ground("BlueWave runs 12 ferries [2].", "How many ferries does it run?",
                      shown("In Porto Verde, Harbor Lights runs 3 terminals.", RIVAL), REFUSAL, is_refusal,
                      context="BlueWave How many ferries does it run?").removed
    # "that company" refers back as "it" does.
    got = ground("Harbor Lights runs 3 terminals [1].", "And how many terminals does that company run?",
                 shown("In Porto Verde, Harbor Lights runs 3 terminals.", RIVAL), REFUSAL, is_refusal,
                 context="Which BlueWave boat is the fastest? And how many terminals does that company run?")
    assert got.refused


def test_what_a_source_gives_as_possible_or_planned_is_not_stated_as_done():
    law = shown("Could Harbor Lights be fined? The law allows us to impose a fine of up to 10 per cent of its "
                "turnover. BlueWave said it would offer 40 extra crossings, and it cut fares by 5 per cent.")
    got = check("The regulator imposed a fine of up to 10 per cent of its turnover [1].",
                "How large was the fine the regulator imposed on Harbor Lights?", law)
    assert got.refused and got.removed[0].reason == "its source gives 'imposed' only as possible or planned"
    # "said it would" reports a commitment; a verb stated as done is done.
    assert not check("BlueWave offered 40 extra crossings [1].", "How many extra crossings did BlueWave offer?",
                     law).removed
    assert not check("BlueWave cut fares by 5 per cent [1].", "By what percentage did BlueWave cut fares?",
                     law).removed
    # A word of plan as an adjective puts nothing in the planned: these submissions were received.
    test = shown("The regulator ran a market test of the proposed commitments and received 640 written submissions.")
    assert not check("The regulator received 640 written submissions [1].", "How many submissions did it receive?",
                     test).removed
    for plan in ("BlueWave is considering closing 12 ferry routes.", "BlueWave plans on closing 12 ferry routes.",
                 "BlueWave could, analysts said, close 12 ferry routes.",
                 "BlueWave might be forced to close 12 ferry routes."):
        assert check("BlueWave closed 12 ferry routes [1].", "How many routes did BlueWave close?", shown(plan)).refused
    # "May" the month is no modal.
    assert not check("BlueWave closed 12 ferry routes [1].", "How many routes did BlueWave close?",
                     shown("In May BlueWave closed 12 ferry routes.")).removed


def test_a_count_of_another_subject_does_not_answer_how_many():
    # True sentences, their numbers beside their own names, but about another subject than asked.
    result = check("BlueWave runs 12 ferries [2].", "How many ferries does Harbor Lights run?")
    assert result.refused and result.removed[0].reason == "its number is BlueWave's, and the question asks about another"
    result = check("The terminal cost 85.6 million euros [1]. BlueWave runs 12 ferries [2].",
                   "How much did the terminal cost, and how many ferries does Harbor Lights run?")
    assert result.text.startswith("The terminal cost 85.6 million euros [1].") and "do not cover" in result.text
    assert [r.sentence for r in result.removed] == ["BlueWave runs 12 ferries [2]."]
    # The count beside the question's subject in the source only by the sentence before ("This…").
    region = shown("Harbor Lights released its timetable. This change contrasts with the region, where 12 ferries "
                   "run on BlueWave software.")
    assert check("12 ferries run on BlueWave software [1].", "How many ferries run on Harbor Lights software?",
                 region).refused
    # The source's one sentence holds both subjects' numbers, each in its own clause.
    both = shown("Rival operator BlueWave runs 12 ferries, while Harbor Lights runs 9 on the same routes.")
    assert check("BlueWave runs 12 ferries [1].", "How many ferries does Harbor Lights run?", both).refused
    # Kept: a source naming the asked subject with the count (in the count's clause, or in the
    # sentence when that clause names no one or refers back); part of its name; a month; a year.
    for answer, question, sources in [
        ("Harbor Lights runs 9 ferries [1].", "How many ferries does Harbor Lights run?", both),
        ("It runs 9 ferries [1].", "How many ferries does Harbor Lights run?", both),
        ("12 ferries, according to Reuters [1].", "How many ferries does BlueWave run?",
         shown("Harbor Lights bought BlueWave, which runs 12 ferries, Reuters reported.")),
        ("12 ferries, according to Reuters [1].", "How many ferries does BlueWave run?",
         shown("BlueWave grew fast, but its fleet of 12 ferries is old, Reuters reported.")),
        # One figure in the sentence: its clauses are not read apart.
        ("In Porto Verde, travellers took 40,000 trips [1].", "How many trips did BlueWave sell?",
         shown("Rival operator BlueWave saw bookings fall, while in Porto Verde travellers took 40,000 trips.")),
        ("12 ferries, according to Reuters [1].", "How many ferries does BlueWave run?",
         shown("BlueWave runs 12 ferries, Reuters reported.")),
        ("BlueWave runs 12 ferries [1].", "How many ferries does BlueWave Lines run?", shown("BlueWave runs 12 ferries.")),
        ("There were 12 ferries in service in March [1].", "How many ferries does BlueWave run?",
         shown("BlueWave had 12 ferries in service in March.")),
        ("Marta Quintas founded the company in 1998 [1].", "Who founded BlueWave, and how many ferries does it run?",
         shown("Marta Quintas founded the company in 1998. BlueWave now runs 12 ferries.")),
    ]:
        assert not check(answer, question, sources).removed, answer
    for answer, question in [
        ("BlueWave runs 12 ferries [2].", "How many ferries does BlueWave run?"),  # the subject asked
        ("Its new catamaran carries 400 passengers [2].", "How many passengers does the catamaran carry?"),  # no name asked
        ("Lena Morrow declined to comment [1].", "Who spoke for Harbor Lights?"),  # no number asked for
    ]:
        assert not check(answer, question).removed, answer


def test_a_part_asking_a_number_left_uncovered_gets_the_sources_sentence_that_states_it():
    # The model gave the other subject's figure from a sentence holding both: removed, and the
    # source's own sentence answers the part instead, word for word.
    both = shown("Lena Morrow leads Harbor Lights.",
                 "Rival operator BlueWave runs 12 ferries, while Harbor Lights runs 9 on the same routes.")
    result = check("Lena Morrow leads Harbor Lights [1]. BlueWave runs 12 ferries [2].",
                   "Who leads Harbor Lights, and how many ferries does Harbor Lights run?", both)
    assert result.text == ("Lena Morrow leads Harbor Lights [1]. Rival operator BlueWave runs 12 ferries, while "
                           "Harbor Lights runs 9 on the same routes [2].")
    assert [r.sentence for r in result.removed] == ["BlueWave runs 12 ferries [2]."]
    # Not quoted: a day of a date ("May 4") for a count, and a single question (the refusal stands).
    result = check("Lena Morrow declined to comment [1]. Harbor Lights runs 20 ferries [1].",
                   "Who spoke for Harbor Lights, and how many ferries does Harbor Lights run?")
    assert result.removed and "do not cover this part" in result.text
    assert check("BlueWave runs 12 ferries [1].", "How many ferries does Harbor Lights run?", both).refused


def test_a_figure_over_another_span_of_time_does_not_answer():
    # True figures, cited right, but changes over another span than the question asks about.
    shares = shown("Since January, shares of BlueWave have climbed 18%. Harbor Lights rose 4% on Tuesday.",
                   "BlueWave's ridership grew 6% in the past month.",
                   "Last month, BlueWave pledged 52 million euros to new routes. BlueWave said on Monday it "
                   "expects ridership to grow 9%.",
                   "BlueWave fell 3% on Friday, its worst session since March. Its fares rose 5% compared with "
                   "last year. Ridership has fallen 35% over the past year, and 10% this week alone.")
    result = check("BlueWave shares rose 18% [1].", "How much did BlueWave shares rise on the day of the launch?",
                   shares)
    assert result.refused and result.removed[0].reason == (
        '[1] gives 18% over "Since January", and the question asks about "on the day"')
    result = check("BlueWave's ridership grew 6% in the past month [2].",
                   "How much has BlueWave's ridership grown since the start of the year?", shares)
    assert result.refused and result.removed[0].reason == (
        'it gives 6% over "in the past month", and the question asks about "since the start of the year"')
    for answer, question in [
        ("BlueWave shares rose 18% on the day [1].", "By what percentage did BlueWave shares rise on Tuesday?"),
        ("BlueWave shares have climbed 18% since January [1].", "How much did BlueWave shares rise on the day?"),
        ("BlueWave's ridership grew 6% [2].", "How much has BlueWave's ridership grown this year?"),
        ("Ridership has fallen 10% [4].", "How much has ridership fallen in the past year?"),  # this week's
    ]:
        assert check(answer, question, shares).refused, (answer, question)
    for answer, question in [
        ("BlueWave shares have climbed 18% [1].", "How much have BlueWave shares climbed so far this year?"),
        ("BlueWave shares have climbed 18% [1].", "How much have BlueWave shares climbed year-to-date?"),
        ("Harbor Lights rose 4% [1].", "How much did Harbor Lights rise on the day of the launch?"),  # Tuesday
        ("BlueWave shares have climbed 18% [1].", "How much have BlueWave shares climbed?"),  # no span asked
        ("BlueWave's ridership grew 6% [2].", "How much did BlueWave's ridership grow over the last 30 days?"),
        ("Ridership has fallen 35% [4].", "How much has ridership fallen in the last twelve months?"),
        # Not the figure's span: an amount, a statement's date, a record, a comparison's baseline.
        ("BlueWave pledged 52 million euros [3].", "How much did BlueWave pledge this year?"),
        ("BlueWave expects ridership to grow 9% [3].", "How much does BlueWave expect ridership to grow this year?"),
        ("BlueWave fell 3% [4].", "How much did BlueWave fall on the day?"),
        ("Its fares rose 5% [4].", "How much did BlueWave's fares rise this year?"),
    ]:
        assert not check(answer, question, shares).removed, (answer, question)
    # A part asking about one span is not answered with another span's sentence either.
    result = check("Lena Morrow leads BlueWave [1]. BlueWave shares rose 18% [1].",
                   "Who leads BlueWave, and how much did BlueWave shares rise on the day of the launch?",
                   shown("Lena Morrow leads BlueWave. Since January, shares of BlueWave have climbed 18%."))
    assert result.text == ('Lena Morrow leads BlueWave [1]. The sources do not cover this part of the question: '
                           '"how much did BlueWave shares rise on the day of the launch".')


def test_a_figure_asked_of_someone_is_theirs_or_is_replaced_by_theirs():
    # "according to X": another source's true figure is not what X said; X's own sentence is.
    sources = shown("BlueWave's ridership has grown over 20% in the past year, while Harbor Lights grew 9%.",
                    "Ticket sales were strong. As Rita Okafor, chief analyst at Marlin Research, put it, "
                    "\u201cwith BWV up 23% over the past year, the rest of the market looks slow.\u201d",
                    "Marlin Research was founded in 1998 and employs 40 people.")
    question = "How much has BlueWave's ridership grown over the past year, according to Marlin Research's chief analyst?"
    okafor = ("As Rita Okafor, chief analyst at Marlin Research, put it, \u201cwith BWV up 23% over the past year, "
              "the rest of the market looks slow.\u201d [2]")
    result = check("BlueWave's ridership has grown over 20% in the past year [1].", question, sources)
    assert result.text == okafor and not result.refused
    assert result.removed[0].reason == ("the question asks for Marlin Research's chief analyst's word, and its source "
                                        "does not give the figure as theirs")
    # Written both ways by the model: their sentence once.
    assert check(f"BlueWave's ridership has grown over 20% [1]. {okafor}", question, sources).text == okafor
    # Their figure, cited to them, stays; so does any figure when the question names no one, or
    # names someone no shown sentence gives a figure for.
    assert not check("BWV is up 23% over the past year, Rita Okafor said [2].", question, sources).removed
    assert not check("BlueWave's ridership has grown over 20% [1].", "How much has BlueWave's ridership grown?",
                     sources).removed
    assert not check("BlueWave's ridership has grown over 20% [1].",
                     "How much has BlueWave's ridership grown, according to Porto Verde's mayor?", sources).removed
    # Someone the sources name, but never with a figure: the figure is someone else's.
    named = {1: sources[1], 2: Passage("Porto Verde's mayor, Ana Ruiz, praised the new routes.", "m.txt", 0, 9, 0.5)}
    result = check("BlueWave's ridership has grown over 20% [1].",
                   "How much has BlueWave's ridership grown, according to Ana Ruiz?", named)
    assert result.refused and result.removed[0].reason == (
        "the question asks for Ana Ruiz's word, and the sources that name them give no such figure")
    assert not check("BlueWave's ridership has grown over 20% [1].",
                     "How much has BlueWave's ridership grown, according to the reports?", sources).removed


def test_a_move_before_the_open_or_after_the_close_is_not_the_days():
    # The parts of a trading day are spans too: a premarket rise is not the day's gain.
    shares = shown("BlueWave's U.S.-listed shares rose 2.5% in premarket trading.",
                   "Harbor Lights fell 4% in after-hours trading. It had closed up 1% at the close.")
    for answer, question in [
        ("BlueWave's U.S.-listed shares gained 2.5% by the close of regular trading [1].",
         "How much did BlueWave's U.S.-listed shares gain by the close of regular trading that day?"),
        ("BlueWave's shares rose 2.5% [1].", "How much did BlueWave's shares rise on the day of the launch?"),
        ("Harbor Lights fell 4% [2].", "How much did Harbor Lights fall during regular trading?"),
    ]:
        assert check(answer, question, shares).refused, (answer, question)
    for answer, question in [
        ("BlueWave's shares rose 2.5% [1].", "How much did BlueWave's shares rise before the opening bell?"),
        ("Harbor Lights fell 4% [2].", "How much did Harbor Lights fall in extended trading?"),
        ("BlueWave's shares rose 2.5% [1].", "How much did BlueWave's shares rise?"),  # no span asked
    ]:
        assert not check(answer, question, shares).removed, (answer, question)


def test_a_figure_over_the_same_period_as_another_is_over_that_period():
    # The answer copies "the same period" and the span it names stands earlier in the sentence.
    sources = shown("BlueWave's shares rose 12% in the past month, while Harbor Lights gained 8% in the same period.")
    answer = "Harbor Lights gained 8% in the same period [1]."
    assert check(answer, "How much has Harbor Lights gained since the start of the year?", sources).refused
    assert not check(answer, "How much did Harbor Lights gain over the past month?", sources).removed


def test_a_figure_over_a_span_on_the_other_side_of_now_does_not_answer():
    # Any figure, amounts too: what is planned over the next years was not spent over the past ones.
    plans = shown("Last week, BlueWave announced plans to invest 300 million euros in new ferries over the next "
                  "three years, more than it spent over the past decade.",
                  "Last month, BlueWave spent 12 million euros on a new terminal.")
    question = "How much did BlueWave invest in new ferries over the past decade?"
    result = check("BlueWave invested 300 million euros in new ferries over the past decade [1].", question, plans)
    assert result.refused and result.removed[0].reason == (
        '[1] gives 300 million over "over the next three years", and the question asks about '
        '"over the past decade"')
    result = check("BlueWave spent 12 million euros [2].", "How much will BlueWave spend over the coming two years?",
                   plans)
    assert result.refused and "over \"Last month\"" in result.removed[0].reason
    for answer, question in [
        ("BlueWave will invest 300 million euros [1].", "How much will BlueWave invest over the next three years?"),
        ("BlueWave spent 12 million euros [2].", "How much did BlueWave spend in the past year?"),  # within it
        # "Last week" dates the announcement, not the plan; the decade is the comparison's.
        ("BlueWave announced 300 million euros [1].", "How much did BlueWave announce last week?"),
        ("BlueWave will invest 300 million euros [1].", "How much will BlueWave invest this year?"),
        # "this month" may be what has happened or what is planned.
        ("BlueWave spent 12 million euros [2].", "How much will BlueWave spend this month?"),
    ]:
        assert not check(answer, question, plans).removed, (answer, question)
    # A committee is not a plan; a decision at a time is asked about as a plan is.
    assert check("BlueWave invested 300 million euros [1].", "How much did the BlueWave committee invest over the "
                 "past decade?", plans).refused
    assert not check("BlueWave will invest 300 million euros [1].", "How much did BlueWave approve over the past "
                     "decade?", plans).removed
    # A sentence whose source gives one of its figures over the asked side answers, whatever it compares it with.
    riders = shown("BlueWave expects 20 million passengers over the next five years, up from 9 million over the "
                   "past three years.")
    answer = "BlueWave expects 20 million passengers over the next five years, up from 9 million over the past " \
             "three years [1]."
    assert not check(answer, "How many passengers will BlueWave carry over the next five years?", riders).removed
    assert check("BlueWave carried 9 million passengers [1].", "How many passengers will BlueWave carry over the "
                 "next five years?", riders).refused
    # … but not a figure the answer itself puts on the asked side while its source gives it over the other.
    jobs = shown("The plant created 1,200 jobs over the past decade and will create 800 more over the next five years.")
    assert check("The plant will create 1,200 jobs over the next five years, on top of 800 others [1].",
                 "How many jobs will the plant create over the next five years?", jobs).refused
    # "this past year" lies behind; "According to the report" asks no plan.
    past = shown("BlueWave carried 4 million passengers this past year.")
    assert check("BlueWave will carry 4 million passengers over the next three years [1].",
                 "How many passengers will BlueWave carry over the next three years?", past).refused
    assert check("BlueWave will carry 4 million passengers over the next three years [1].",
                 "According to the report, how many passengers will BlueWave carry over the next three years?",
                 past).refused
    # "2,000" is a count, not a year; "2023," is still a year.
    from assistant.asked import counts_in
    assert [n.value for n in counts_in("It hired 2,000 crew in 1999.")] == [2000]
    assert counts_in("Revenue rose in 2023, the company said.") == []


def test_an_unsupported_sentence_goes_and_the_rest_stands():
    result = check("The terminal cost 85.6 million euros [1]. Its chief executive is Tom Reyes [1].")
    assert result.text == "The terminal cost 85.6 million euros [1]."
    assert [r.sentence for r in result.removed] == ["Its chief executive is Tom Reyes [1]."]
    assert not result.refused


def test_a_compound_question_says_which_part_the_sources_do_not_cover():
    question = "How much did the terminal cost, and what was BlueWave's revenue last year?"
    assert len(question_parts(question)) == 2
    result = check("The terminal cost 85.6 million euros [1]. BlueWave's revenue was 5 billion euros [2].", question)
    assert result.text.startswith("The terminal cost 85.6 million euros [1].")
    assert "do not cover this part of the question" in result.text and "revenue" in result.text
    assert not result.refused


def test_a_single_question_gets_no_part_note():
    result = check("The terminal cost 85.6 million euros [1]. It opened in 1999 [1].", "How much did it cost?")
    assert result.text == "The terminal cost 85.6 million euros [1]."


def test_a_refusal_is_left_alone_and_citations_are_repointed_first():
    assert final_answer(REFUSAL, "q", SOURCES).refused
    # Cited [2] but the claim is in [1]: the citation check re-points it, then it stands.
    result = final_answer("The terminal cost 85.6 million euros [2].", "How much did it cost?", SOURCES)
    assert result.text == "The terminal cost 85.6 million euros [1]." and not result.removed


def test_a_claim_the_citation_check_leaves_on_the_wrong_source_is_repointed_by_the_claim_check():
    # The words of the claim are in both passages, so the citation check keeps [2]; only [1] holds
    # its name and its words together, and the answer shows [1] even when nothing is removed.
    sources = shown("Harbor Lights: night crossings drew record crowds.",
                    "Night crossings drew record crowds in Porto Verde, BlueWave said.")
    result = final_answer("Night crossings drew record crowds at Harbor Lights [2].",
                          "What drew record crowds at Harbor Lights?", sources, check_conflicts=False)
    assert result.text == "Night crossings drew record crowds at Harbor Lights [1]." and not result.removed


def test_a_person_introduced_by_their_role_speaks_for_the_body_the_question_names():
    # "Lena Morrow, chief executive of Harbor Lights Ltd.," in one passage; "Morrow said…" in another.
    sources = shown("Lena Morrow, chief executive of Harbor Lights Ltd., spoke in Porto Verde on Tuesday.",
                    "Morrow said the future of the company lies in night crossings.")
    result = check("The chief executive of Harbor Lights said the future lies in night crossings [2].",
                   "What did the chief executive of Harbor Lights say the future lies in?", sources)
    assert not result.removed
    # Not for another body, nor for a name the question does not give.
    assert check("The chief executive of BlueWave said the future lies in night crossings [2].",
                 "What did the chief executive of BlueWave say the future lies in?", sources).refused
    assert check("Harbor Lights said the future lies in night crossings [2].",
                 "What does the company say the future lies in?", sources).refused


def test_the_independent_rule_counts_values_that_no_shown_passage_has():
    passages = list(SOURCES.values())
    assert unsupported_sentences("The terminal cost 85.6 million euros [1].", passages) == []
    assert unsupported_sentences("It opened in 2021 [1]. Shares rose [2].", passages) == ["It opened in 2021 ."]
    assert unsupported_sentences(REFUSAL, passages) == []


# Through the Assistant, on fakes: what the user sees --------------------------------------------


@pytest.fixture
def ferry_settings(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "ferry.txt").write_text(FERRY + "\n")
    (corpus / "rival.txt").write_text(RIVAL + "\n")
    return Settings(index_dir=tmp_path / "index", corpus=[corpus], models_dir=tmp_path / "models")


def test_the_answer_records_what_was_removed_and_why(ferry_settings):
    reply = "The terminal cost 85.6 million euros [1]. It was designed by Arup Studio [1]."
    with Assistant(ferry_settings, embedder=HashEmbedder(), llm=ScriptedLLM(reply)) as a:
        answer = a.ask("How much did the Porto Verde terminal cost?")
    assert answer.text == "The terminal cost 85.6 million euros [1]."
    assert answer.changed and not answer.refused and not answer.withheld
    assert [(r.sentence, r.reason) for r in answer.removed] == [
        ("It was designed by Arup Studio [1].", "'Arup Studio' is in none of the sources")]
    assert answer.to_dict()["removed"] == [{"sentence": "It was designed by Arup Studio [1].",
                                            "reason": "'Arup Studio' is in none of the sources"}]


def test_a_fully_fabricated_answer_becomes_the_refusal(ferry_settings):
    with Assistant(ferry_settings, embedder=HashEmbedder(), llm=ScriptedLLM("BlueWave's CEO is Lena Morrow [2].")) as a:
        answer = a.ask("Who is the CEO of BlueWave?")
    assert answer.refused and answer.withheld and answer.text == REFUSAL and answer.citations == []
    assert answer.removed


def test_grounding_is_a_setting(ferry_settings):
    reply = "The terminal cost 85.6 million euros in 2021 [1]."
    with Assistant(ferry_settings, embedder=HashEmbedder(), llm=ScriptedLLM(reply), ground_claims=False) as a:
        assert a.ask("How much did the terminal cost?").text == reply


def test_the_cli_shows_what_was_removed(ferry_settings):
    import io

    from assistant.cli import _print_stream

    reply = "The terminal cost 85.6 million euros [1]. It opened in 2021 [1]."
    buffer = io.StringIO()
    with Assistant(ferry_settings, embedder=HashEmbedder(), llm=ScriptedLLM(reply)) as a:
        _print_stream(a, "How much did the terminal cost?", [], out=buffer)
    out = buffer.getvalue()
    assert "removed, not in the sources ('2021' is in none of the sources): It opened in 2021 [1]." in out


def test_the_api_carries_what_was_removed(ferry_settings):
    from fastapi.testclient import TestClient

    from assistant.server import create_app

    reply = "The terminal cost 85.6 million euros [1]. It opened in 2021 [1]."
    with Assistant(ferry_settings, embedder=HashEmbedder(), llm=ScriptedLLM(reply)) as a:
        client = TestClient(create_app(a))
        body = client.post("/v1/chat/completions", json={
            "messages": [{"role": "user", "content": "How much did the terminal cost?"}]}).json()
    assert body["removed"] == [{"sentence": "It opened in 2021 [1].", "reason": "'2021' is in none of the sources"}]
    assert body["choices"][0]["message"]["content"] == "The terminal cost 85.6 million euros [1]."


# The real small model -------------------------------------------------------------------------------


@pytest.mark.slow
def test_real_model_never_leaves_a_value_no_source_has(ferry_settings):
    """On-topic but unanswerable: whatever the 0.5B writes, no sentence with an unsourced value survives."""
    settings = ferry_settings.replace(model=str(SMALL_MODEL), n_ctx=2048)
    with Assistant(settings) as a:
        for question in ("What is BlueWave's annual revenue?", "Who designed the Porto Verde terminal?",
                         "How much did the terminal cost?"):
            answer = a.ask(question)
            assert unsupported_sentences(answer.text, answer.passages) == [], (question, answer)


# Sources that disagree -----------------------------------------------------------------------------

from assistant.conflicts import add_note, find as find_conflicts  # noqa: E402

OPENING = {
    1: Passage("Harbor Lights opened its Porto Verde terminal on Tuesday, May 4. The terminal cost 85.6 million "
               "euros.", "a.txt", 0, 100, 1.0),
    2: Passage("Harbor Lights opened the Porto Verde terminal on Wednesday, May 5, the city said. Harbor Lights "
               "shares rose 3.27%.", "b.txt", 0, 100, 0.9),
    3: Passage("Harbor Lights shares rose 3% after the terminal opened. The terminal cost 86 million euros, or "
               "7 billion rupees, and $93.2 million.", "c.txt", 0, 100, 0.8),
}


@pytest.mark.parametrize("answer, values", [
    ("Harbor Lights opened the Porto Verde terminal on May 4 [1].", ["May 4", "May 5"]),
    ("Harbor Lights opened the terminal on Tuesday [1].", ["Tuesday", "Wednesday"]),
])
def test_true_conflicts_are_found_with_each_source(answer, values):
    conflicts = find_conflicts(answer, "When did the terminal open?", OPENING)
    assert [c.value for c in conflicts] == values
    assert [c.n for c in conflicts] == [1, 2]
    assert all(c.value in c.passage for c in conflicts)
    assert add_note(answer, conflicts).endswith(f"The sources differ: {values[0]} [1], {values[1]} [2].")


@pytest.mark.parametrize("answer", [
    "The terminal cost 7 billion rupees [3].",  # one amount in three currencies
    "The terminal cost $93.2 million [3].",
])
def test_no_false_alarm_on_one_fact_said_differently(answer):
    assert find_conflicts(answer, "How much?", OPENING) == []


@pytest.mark.parametrize("answer, values", [
    ("Harbor Lights shares rose 3% [3].", ["3%", "3.27%"]),  # one source rounds: the reader sees both
    ("Harbor Lights shares rose 3.27% [2].", ["3.27%", "3%"]),
])
def test_a_figure_one_source_rounds_is_given_with_the_other(answer, values):
    found = find_conflicts(answer, "How much?", OPENING)
    assert sorted(c.value for c in found) == sorted(values) and len({c.source for c in found}) == 2


def test_a_rounding_alone_does_not_stand_as_the_answer():
    from assistant.grounding import nothing_supported

    rounded = find_conflicts("Harbor Lights shares rose 3% [3].", "How much?", OPENING)
    assert nothing_supported("How much did the shares rise?", [], rounded).refused
    paid = shown("Harbor Lights paid 85.6 million euros for the terminal.",
                 "Harbor Lights paid 86 million euros for the terminal, filings show.")
    assert final_answer("Harbor Lights paid 86 million euros for the terminal in 2019 [1].",  # no source has 2019
                        "How much did Harbor Lights pay for the terminal?", paid).refused
    dates = find_conflicts("Harbor Lights opened the Porto Verde terminal on May 4 [1].", "When?", OPENING)
    assert nothing_supported("When did the terminal open?", [], dates).text == "The sources differ: May 4 [1], May 5 [2]."


def test_a_currency_sign_and_its_word_are_one_currency():
    deal = shown("Halmgrund is paying €1.4bn for Korva, the companies said.",
                 "Halmgrund is paying 1.25 billion euros for Korva, by my count.")
    found = find_conflicts("Halmgrund is paying €1.4bn for Korva [1].", "How much is Halmgrund paying for Korva?",
                           deal)
    assert [c.value for c in found] == ["€1.4bn", "1.25 billion euros"]  # a note says what each counts


def test_no_false_alarm_on_a_documents_own_date_or_another_events():
    notice = {
        1: Passage("PORTO VERDE, Tuesday, May 4, 2021 (Ferry Wire) - Harbor Lights opened its Porto Verde terminal on "
                   "Tuesday.", "a.txt", 0, 100, 1.0),
        2: Passage("Ferry Weekly Thursday, May 6, 2021 Two days after Harbor Lights opened its terminal, we spoke to "
                   "its chief executive.", "b.txt", 0, 100, 0.9),
        3: Passage("The council had approved the plan on Monday, after a long debate.", "c.txt", 0, 100, 0.8),
    }
    # May 6 is when the second document was written, not another opening date.
    assert find_conflicts("Harbor Lights opened its terminal on Tuesday, May 4 [1].", "When did the terminal open?",
                          notice) == []
    # A date stated of no name is the question's subject's: the council's Monday is another event's.
    assert find_conflicts("It opened on Tuesday [1].", "When did the Harbor Lights terminal open?", notice) == []
    # Only the dateline itself is the document's: the same weekday in its body is a value.
    column = {1: Passage("FERRY COLUMN Friday, May 7, 2021 BlueWave withdrew its bid on Friday, April 30.", "c.txt",
                         0, 80, 1.0),
              2: Passage("BlueWave withdrew its bid on Thursday, the council said.", "d.txt", 0, 60, 0.9)}
    found = find_conflicts("BlueWave withdrew its bid on Friday [1].", "When did BlueWave withdraw its bid?", column)
    assert [c.value for c in found] == ["Friday", "Thursday"]


def test_an_answer_that_already_gives_both_values_is_left_alone():
    answer = "It opened on May 4 [1] or May 5 [2]."
    conflicts = find_conflicts("Harbor Lights opened the terminal on May 4 [1].", "When?", OPENING)
    assert add_note(answer, conflicts) == answer


def test_the_differing_values_stand_as_the_answer_only_for_a_question_a_value_answers():
    answer = "Harbor Lights opened the €30 million Porto Verde terminal on May 4 [1]."  # no source has €30 million
    when = final_answer(answer, "When did the terminal open?", OPENING)
    assert when.text == "The sources differ: May 4 [1], May 5 [2]." and not when.refused
    for question in ("Who opened the terminal?", "Where did Harbor Lights open a terminal?"):
        other = final_answer(answer, question, OPENING)  # the dates do not say who or where
        assert other.refused and other.text == REFUSAL and other.removed


def test_the_answer_carries_conflicts_everywhere(ferry_settings, tmp_path):
    corpus = ferry_settings.corpus[0]
    (corpus / "city.txt").write_text("Harbor Lights opened the Porto Verde terminal on Wednesday, the city said.\n")
    reply = "Harbor Lights opened the Porto Verde terminal on Tuesday [1]."
    with Assistant(ferry_settings, embedder=HashEmbedder(), llm=ScriptedLLM(reply)) as a:
        answer = a.ask("On which day did Harbor Lights open the Porto Verde terminal?")
    assert {c.value for c in answer.conflicts} == {"Tuesday", "Wednesday"}
    assert "The sources differ:" in answer.text and len({c.source for c in answer.citations}) == 2
    assert {d["value"] for d in answer.to_dict()["conflicts"]} == {"Tuesday", "Wednesday"}


# Follow-ups resolve "he" with the last answer ---------------------------------------------------


def test_a_follow_up_query_carries_the_last_answer():
    from assistant.assistant import condense_query

    turns = [("Who runs Harbor Lights?", "Chief executive Lena Morrow runs it [1].")]
    query = condense_query("What did she say about prices?", turns)
    assert "Lena Morrow" in query and "[1]" not in query and query.endswith("What did she say about prices?")
    assert condense_query("What did she say?", [("Who?", REFUSAL)]) == "Who? What did she say?"
    assert condense_query("How much did the terminal cost?", turns) == "How much did the terminal cost?"


@pytest.mark.parametrize("answer, values", [
    ("Harbor Lights runs 12 ferries on the bay [1].", ["12 ferries", "Fourteen ferries"]),
    ("Harbor Lights runs fourteen ferries on the bay [2].", ["12 ferries", "Fourteen ferries"]),
])
def test_a_count_written_as_a_word_is_a_value_that_may_differ(answer, values):
    sources = shown("Harbor Lights runs 12 ferries on the bay, the company said.",
                    "Fourteen ferries of Harbor Lights now run on the bay, the city said.")
    found = find_conflicts(answer, "How many ferries does Harbor Lights run?", sources)
    assert sorted(c.value for c in found) == sorted(values)


def test_an_amount_claimed_of_no_name_is_compared_by_most_of_its_words():
    sources = shown("The boil-water notice covered 19,300 households, the utility said.",
                    "The boil-water notice covered about 21,000 households, the council said.",
                    "Some 3,000 households live in the old town, where the notice was first posted.")
    found = find_conflicts("The boil-water notice covered 19,300 households [1].", "How many households?", sources)
    assert [c.value for c in found] == ["19,300 households", "21,000 households"]  # not the old town's 3,000
    # One word in common says too little: the network's length is not the length flushed.
    mains = shown("Crews flushed 86 kilometres of water mains.", "The works send water into 340 kilometres of mains.")
    assert find_conflicts("Crews flushed 86 kilometres of water mains [1].", "How much?", mains) == []
    # The answer's own figure must be among them: two other figures that share its words may measure
    # two other things. Not so for dates, which are the question's subject's.
    assert find_conflicts("The notice covered 18,000 households [1].", "How many households?", sources) == []
    lifted = shown("The boil-water notice was lifted on 24 September, the utility said.",
                   "The notice was lifted on 25 September, the council said.")
    found = find_conflicts("The notice was lifted on 26 September [1].", "When was the notice lifted?", lifted)
    assert [c.value for c in found] == ["24 September", "25 September"]


def test_a_bound_is_no_value_that_differs():
    sources = shown("Harbor Lights cancelled 3,412 crossings during the strike.",
                    "Harbor Lights cancelled more than 3,000 crossings during the strike, the union said.",
                    "Harbor Lights cancelled 2,950 crossings during the strike, the city said.")
    found = find_conflicts("Harbor Lights cancelled 3,412 crossings during the strike [1].", "How many?", sources)
    assert [c.value for c in found] == ["3,412 crossings", "2,950 crossings"]
    # "over" is as often a verb's, and "up to" a second estimate more than a rounding.
    for other in ("The city handed over 12 hectares to Harbor Lights for the depot.",
                  "The city will hand up to 12 hectares to Harbor Lights for the depot."):
        land = shown("The city handed 14 hectares to Harbor Lights for the depot.", other)
        found = find_conflicts("The city handed 14 hectares to Harbor Lights for the depot [1].", "How much land?", land)
        assert [c.value for c in found] == ["14 hectares", "12 hectares"], other


def test_a_figure_of_another_time_is_no_second_value():
    sources = shown("Harbor Lights carried 410,000 passengers in 2024, the company said.",
                    "Harbor Lights carried 380,000 passengers in 2023.",
                    "Harbor Lights carried 395,000 passengers, by the port's count.")
    found = find_conflicts("Harbor Lights carried 410,000 passengers in 2024 [1].", "How many passengers?", sources)
    assert [c.value for c in found] == ["410,000 passengers", "395,000 passengers"]  # a figure with no time may be
    assert find_conflicts("Harbor Lights carried 410,000 passengers this year [1].", "How many?",
                          shown(sources[1].text, sources[3].text)) == []


def test_a_kept_sentence_s_figure_is_its_cited_source_s_own():
    # The release gives the figure in words the answer's claim shares little of; the claim check found
    # it there, so another outlet's figure for the same pledge is a second value.
    sources = shown("Harbor Lights pledged $2.4 billion over five years, the company said in its release.",
                    "Investors cheered Harbor Lights' pledge to spend $2.6 billion on a new terminal in Faro.")
    answer = "Harbor Lights pledged $2.4 billion for its new terminal [1]."
    question = "How much has Harbor Lights pledged for its new terminal in Faro?"
    assert find_conflicts(answer, question, sources) == []  # a sentence the check did not keep
    kept = ("Harbor Lights pledged $2.4 billion for its new terminal.",)
    assert [(c.value, c.n) for c in find_conflicts(answer, question, sources, kept)] == [("$2.4 billion", 1),
                                                                                        ("$2.6 billion", 2)]
    assert "The sources differ: $2.4 billion [1], $2.6 billion [2]." in final_answer(answer, question, sources).text
    # A sentence left for the judge lends its cited passage nothing: the judge may still drop it.
    pay = shown("An entry-level deckhand will be on €19.25 an hour by 2027 under the deal.",
                "Newly hired deckhands will earn €20.10 an hour by 2027, the union says.")
    doubted = final_answer("A newly hired deckhand will earn €19.25 an hour by 2027 [1].",
                           "What will a newly hired deckhand earn per hour?", pay, doubts=True)
    assert doubted.doubtful and not doubted.conflicts
    # A source sentence that compares two figures of its kind states neither as the answer's.
    compared = shown("Harbor Lights pledged $2.4 billion, against BlueWave's $1.1 billion.", sources[2].text)
    assert find_conflicts(answer, question, compared, kept) == []


def test_a_currency_written_after_its_sign_is_no_claim_word():
    deal = shown("The takeover values Korva at 1.25 billion euros, Halmgrund said.",
                 "Regulators cleared Halmgrund's €1.4bn takeover of Korva on Monday.")
    found = find_conflicts("The value of Halmgrund's takeover of Korva is €1.25 billion euros [1].",
                           "What is the value of Halmgrund's takeover of Korva?", deal)
    assert [c.value for c in found] == ["1.25 billion euros", "€1.4bn"]
    # Only right after the sum: "the euro fund" is what the sum is of.
    fund = shown("Portugal took €26 billion from the euro fund.", "Portugal's loan from the IMF's fund was €12 billion.")
    assert find_conflicts("Portugal took €26 billion from the euro fund [1].", "How much?", fund) == []


def test_a_word_that_opens_with_a_months_name_is_no_date():
    from assistant.conflicts import values
    from assistant.text import calendar_word

    assert [v.kind for v in values("The 23 deckhands and 3 mayors met on 4 Dec. and Sept. 5.")] == [
        "date", "date", "amount:deckhand:1.0", "amount:mayor:1.0"]
    assert calendar_word("Sept.") and not calendar_word("Mayor")


def test_only_a_currency_sign_makes_a_bare_number_an_amount():
    from assistant.conflicts import values

    # A number opening a sentence has no sign before it, and "₹" is a sign like "$".
    assert values("2024 was a good year for the ferries.") == []
    assert [v.kind for v in values("The fare is ₹450 and the old one was $6.")] == ["amount:rupe:1.0", "amount:dollar:1.0"]


def test_a_percentage_in_words_is_compared_with_one_in_a_sign():
    # "percent" ends in "t", which is no trillion: "91 percent" and "87%" are values of one kind.
    sources = shown("Harbor Lights said 91 percent of its crossings left on time.",
                    "The port authority found that 87% of Harbor Lights crossings left on time.")
    found = find_conflicts("Harbor Lights said 91 percent of its crossings left on time [1].",
                           "What share of crossings left on time?", sources)
    assert sorted(c.value for c in found) == ["87%", "91 percent"]


def test_a_sum_of_money_is_compared_in_its_currency_whatever_it_pays_for():
    # "€97.2m" is 97.2 million, not 97; "the €85.6 million terminal" is in euros, like "cost €85.6 million".
    sources = shown("The €85.6 million terminal of Harbor Lights opened in May.",
                    "Council papers put the Harbor Lights terminal bill at €97.2m.")
    found = find_conflicts("The Harbor Lights terminal cost €85.6 million [1].",
                           "How much did the Harbor Lights terminal cost?", sources)
    assert [(c.value, c.n) for c in found] == [("€85.6 million", 1), ("€97.2m", 2)]


def test_a_count_written_as_a_word_agrees_with_its_digits():
    sources = shown("Harbor Lights runs 12 ferries on the bay.", "Harbor Lights now runs twelve ferries on the bay.",
                    "Harbor Lights also owns two tugboats.")
    assert find_conflicts("Harbor Lights runs 12 ferries on the bay [1].", "How many?", sources) == []


def test_a_sentence_comparing_two_values_is_no_conflict():
    sources = shown("BlueWave's catamaran carries 400 passengers, against 250 passengers for the old ferry.",
                    "BlueWave's catamaran carries 400 passengers.")
    assert find_conflicts("BlueWave's catamaran carries 400 passengers [2].", "How many?", sources) == []


def test_one_documents_dated_list_is_a_timeline_not_sources_that_differ():
    timeline = ("16 May – The harbour board is appointed. 20 May – The board orders a crane. "
                "15 June – The new crane is due to arrive.")
    one = {1: Passage(timeline, "feature.txt", 0, len(timeline), 1.0)}
    assert find_conflicts("The new crane is due to arrive on 15 June [1].", "When is the new crane due?", one) == []
    # Two documents that give two days for it do differ.
    two = {**one, 2: Passage("The new crane is now due to arrive on 18 June, late.", "wire.txt", 0, 50, 0.5)}
    assert [c.value for c in find_conflicts("The new crane is due to arrive on 15 June [1].",
                                            "When is the new crane due?", two)] == ["15 June", "18 June"]
    # A date stated of no name is the claim's only in a sentence with half its words.
    other = {**one, 2: Passage("A crane driver starts on 3 March.", "wire.txt", 0, 33, 0.5)}
    assert find_conflicts("The new crane is due to arrive on 15 June [1].", "When is the new crane due?", other) == []


def test_a_date_of_another_event_in_the_sentence_is_no_conflict():
    # "issued on 3 May has been lifted": 3 May dates the issuing.
    sources = shown("Kelby Water said the notice issued on 3 May has been lifted for all homes.",
                    "5 May – The notice is lifted across the town.")
    question = "On what date was the notice lifted?"
    assert find_conflicts("The notice was lifted on 5 May [2].", question, sources) == []
    # Another verb for the same event still dates it.
    sources = shown("Kelby Water withdrew the notice on 4 May, after two clear tests.", "5 May – The notice is lifted across the town.")
    assert [c.value for c in find_conflicts("The notice was lifted on 5 May [2].", question, sources)] == [
        "4 May", "5 May"]


def test_a_date_a_share_of_the_claim_was_measured_on_is_no_conflict():
    # Each outlet reports how far along it was on its own day: a series, not a disagreement.
    sources = shown("By Friday the Tarn Fire was 91 percent contained, though smoke still rose.",
                    "Fire officials said on Monday evening that the Tarn Fire was 78 percent contained.")
    question = "When is the Tarn Fire expected to be fully contained?"
    assert find_conflicts("The Tarn Fire is expected to be fully contained by Friday [1].", question, sources) == []
    # A day stated of the event itself still differs.
    sources = shown("The Tarn Fire was fully contained on Friday.", "The Tarn Fire was fully contained on Monday.")
    assert [c.value for c in find_conflicts("The Tarn Fire was fully contained on Friday [1].", question,
                                            sources)] == ["Friday", "Monday"]
    # A share of a thing is what the claim is about, not how far along it was.
    stake = shown("BlueWave bought a 40 percent stake in Harbor Lights on 4 May last year.",
                  "BlueWave bought a 40 percent stake in Harbor Lights on 6 May last year.")
    assert [c.value for c in find_conflicts("BlueWave bought a 40 percent stake in Harbor Lights on 4 May [1].",
                                            "When did BlueWave buy its stake in Harbor Lights?", stake)] == [
        "4 May", "6 May"]


def test_the_question_subject_may_be_referred_to_as_the_company():
    text = ("Harbor Lights Ltd. was founded by two sisters. They sold their first boat in a year of storms and "
            "poor harvests. The company later opened a terminal in Porto Verde in May.")
    sources = shown(text)
    answer = "Harbor Lights opened a terminal in Porto Verde in May [1]."
    assert not check(answer, "When did Harbor Lights open its Porto Verde terminal?", sources).removed
    # Not for a name the question does not ask about: that one must stand in the window.
    other = "BlueWave opened a terminal in Porto Verde in May [1]."
    assert check(other, "When did BlueWave open its Porto Verde terminal?", sources).removed


def test_a_gap_filled_with_a_real_number_is_removed():
    # The sources give 400 passengers, never a "deck area": the model fills the gap with it.
    result = check("The catamaran's deck area is 400 passengers [2].", "What is the catamaran's deck area?")
    assert result.refused


def test_a_capitalised_common_word_opening_the_answer_is_no_name():
    result = check("Besides the terminal, Harbor Lights said it cost 85.6 million euros [1].")
    assert not result.removed


def test_when_every_sentence_goes_but_the_sources_disagree_the_answer_is_the_disagreement():
    # "€30 million" is in no source, so the sentence goes; the dates the sources give remain.
    result = final_answer("Harbor Lights opened the €30 million Porto Verde terminal on May 4 [1].",
                          "When did the Porto Verde terminal open?", OPENING)
    assert not result.refused and result.removed
    assert result.text == "The sources differ: May 4 [1], May 5 [2]."
    assert [c.value for c in result.conflicts] == ["May 4", "May 5"]


@pytest.mark.parametrize("answer", [
    "Harbor Lights opened the Porto Verde terminal on May 4, 2020 [1].",  # a year from elsewhere
    "Harbor Lights opened the Porto Verde terminal on 4 May 2021 [1].",  # or from the question
])
def test_a_year_the_sources_do_not_give_a_date_is_taken_off_it(answer):
    result = final_answer(answer, "When did the Porto Verde terminal open in 2021?", OPENING)
    assert result.text.startswith("Harbor Lights opened the Porto Verde terminal on ")
    assert "20" not in result.text.split("[1]")[0] and not result.refused
    assert [r.sentence for r in result.removed] == [answer] and "kept without it" in result.removed[0].reason
    assert result.text.endswith("The sources differ: May 4 [1], May 5 [2].")


def test_a_year_is_not_taken_off_when_the_year_is_what_was_asked():
    launched = shown("The Porto Verde ferry line was launched on March 5, 2021 with two boats.")
    got = final_answer("The Porto Verde ferry line was launched on March 5, 2019 [1].",
                       "In which year was the Porto Verde ferry line launched?", launched)
    assert got.refused


def test_a_year_is_not_taken_off_a_sentence_that_does_not_stand_without_it():
    result = check("BlueWave has 400 ferries since May 4, 2020 [2].")  # 400 is passengers either way
    assert result.refused and "2020" in result.removed[0].sentence


def test_a_noun_the_answer_adds_to_a_number_its_source_gives_bare_is_taken_off():
    ground_ = shown("Porto Verde's new stadium holds 24,300, more than most grounds in the league.",
                    "BlueWave runs 12 ferries on 400 routes. Its terminal was upgraded in 2011, and in 2021 a new "
                    "ramp was added at a cost of €3 million.",
                    "A new 3.4-kilometre haul road will link the terminal to the highway.")
    got = check("The stadium in Porto Verde holds 24,300 seats [1].", "What is the capacity of Porto Verde's stadium?",
                ground_)
    assert got.text == "The stadium in Porto Verde holds 24,300 [1]." and not got.refused
    assert [r.sentence for r in got.removed] == ["The stadium in Porto Verde holds 24,300 seats [1]."]
    assert "the number is kept without 'seats'" in got.removed[0].reason
    # Not where a source counts something with the number, or the number is a year.
    for answer, question in (("BlueWave has 400 employees [2].", "How many employees does BlueWave have?"),
                             ("The new haul road will cost approximately 3.4 kilometers [3].", "How much will the haul road cost?"),
                             ("The 2011 upgrade of BlueWave's terminal cost €3 million [2].",
                              "How much did the 2011 upgrade of BlueWave's terminal cost?")):
        assert check(answer, question, ground_).refused, answer
    # Nor where the source's number is a label, or its noun is left out after a comma.
    berth = shown("The Kell shipyard lies at berth 12 on the north quay.",
                  "BlueWave carries 3 million passengers a year, 40 on the night route.")
    assert check("The Kell shipyard has 12 cranes on the north quay [1].", "What equipment does the Kell shipyard have?",
                 berth).refused
    assert check("BlueWave operates 40 ferries [2].", "How large is BlueWave's fleet?", berth).refused


def test_an_amount_for_another_period_is_no_conflict():
    sources = shown("Harbor Lights shares rose 4.2% on Tuesday after the terminal opened.",
                    "Harbor Lights shares have gained 31% so far this year.")
    assert find_conflicts("Harbor Lights shares rose 4.2% after the terminal opened [1].", "How much?", sources) == []


def test_each_side_of_a_contrast_keeps_its_own_numbers():
    sources = shown("Harbor Lights shares rose 40% in May, while BlueWave shares fell 2% in the same month.")
    assert check("BlueWave shares rose 40% in May [1].", "What happened?", sources).removed
    assert not check("Harbor Lights shares rose 40% in May [1].", "What happened?", sources).removed
    # A side that opens with "its" speaks of the sentence's subject; a place or a speaker in it owns nothing.
    for source in ("BlueWave's revenue rose 8%, while its profit fell 12% on weak demand in Porto Verde.",
                   "BlueWave's revenue rose 8%; its profit fell 12%, Chief Financial Officer Ana Reis said."):
        got = check("BlueWave's profit fell 12% [1].", "How much did BlueWave's profit fall?", shown(source))
        assert not got.removed


def test_a_clause_of_two_may_stand_on_another_source_than_the_first():
    sources = shown("Harbor Lights chief executive Lena Morrow apologised on Friday.",
                    "Harbor Lights, which runs 3 terminals, said the ferries would sail again.",
                    "Harbor Lights shares rose 40% in May, while BlueWave shares fell 2% in the same month.")
    got = check("Harbor Lights' chief executive is Lena Morrow, and it runs 3 terminals [1].",
                "Who runs Harbor Lights, and how many terminals does Harbor Lights run?", sources)
    assert not got.removed
    assert got.text == "Harbor Lights' chief executive is Lena Morrow, and it runs 3 terminals [1][2]."
    # A clause that names nothing the question names may not take another's count from another source.
    rival = shown("Harbor Lights chief executive Lena Morrow apologised on Friday.", "BlueWave runs 3 terminals.")
    for answer in ("Harbor Lights' chief executive is Lena Morrow, and the company runs 3 terminals [1].",
                   "Harbor Lights' chief executive is Lena Morrow, which runs 3 terminals [1].",
                   "Harbor Lights' chief executive is Lena Morrow, and in Porto Verde it runs 3 terminals [1]."):
        assert check(answer, "Who runs Harbor Lights, and how many terminals does Harbor Lights run?", rival).refused
    # "its" is BlueWave, the name the question gives: 40% is Harbor Lights', not BlueWave's.
    got = check("BlueWave's ferry is the Gaivota, and its shares rose 40% in May [3].",
                "What is BlueWave's ferry, and how much did BlueWave shares rise in May?", sources)
    assert got.refused


def test_a_description_led_by_a_countrys_adjective_refers_back():
    # "The Italian operator" is Harbor Lights, named in the sentence before.
    sources = shown("Harbor Lights unveiled a new boat on Friday. The Italian operator's catamaran carries "
                    "400 passengers.")
    assert not check("Harbor Lights' catamaran carries 400 passengers [1].", "What happened?", sources).removed
    # A capitalised word that is no country's adjective does not: "The Gaivota" is a name.
    other = shown("Harbor Lights unveiled a new boat on Friday. The Gaivota crew carries 400 passengers.")
    assert check("Harbor Lights' crew carries 400 passengers [1].", "What happened?", other).removed


def test_a_sentence_that_names_no_one_speaks_of_its_passages_subject():
    # "Fuel use fell by 14%…" names no one ("fuel" is a word its passage writes in lower case): it
    # is about the test its passage named before.
    text = "Harbor Lights Ltd. tested a new hull to save fuel last year. Fuel use fell by 14% over the summer."
    question = "By how much did fuel use fall in Harbor Lights' hull test?"
    assert not check("Fuel use fell by 14% in Harbor Lights' hull test [1].", question, shown(text)).removed
    # Not where the figure's sentence names someone else, or opens with a name the passage writes.
    rival = "Harbor Lights Ltd. tested a new hull last year. BlueWave saw fuel use fall by 14% over the summer."
    assert check("Fuel use fell by 14% in Harbor Lights' hull test [1].", question, shown(rival)).refused
    named = ("Harbor Lights Ltd. tested a new hull last year, as did Gaivota Lines. Gaivota fuel use fell by 14% "
             "over the summer.")
    assert check("Fuel use fell by 14% in Harbor Lights' hull test [1].", question, shown(named)).refused


def test_a_list_items_first_word_is_no_name():
    # A statement's key facts as a list: "- Fuel use fell…" opens an item, as a sentence opens after
    # a full stop, so the item names no one and speaks of what its passage is about.
    text = ("Harbor Lights Ltd. tested a new hull to save fuel last year. - Fuel use fell by 14% over the summer. "
            "- The hull is 40 metres long.")
    question = "By how much did fuel use fall in Harbor Lights' hull test?"
    assert not check("Fuel use fell by 14% in Harbor Lights' hull test [1].", question, shown(text)).removed
    # An item that names someone else still does not.
    rival = ("Harbor Lights Ltd. tested a new hull to save fuel last year. - Fuel use at BlueWave fell by 14% over "
             "the summer. - The hull is 40 metres long.")
    assert check("Fuel use fell by 14% in Harbor Lights' hull test [1].", question, shown(rival)).refused


def test_a_bare_answer_is_said_of_the_questions_names():
    # "212 crew [1]." answers the question about the Gaivota: a source that never names the Gaivota,
    # and calls another boat "the ferry", speaks of that one.
    other = shown("The Aurora, Harbor Lights' oldest boat, was withdrawn on Monday. The ferry had 212 crew.")
    result = check("212 crew [1].", "How many crew did the Gaivota ferry have?", other)
    assert result.refused and result.removed[0].reason == "the sources it cites never name Gaivota"
    # Named once, then called by its kind, or named only in its document's title: it stands.
    named = shown("The Gaivota was withdrawn on Monday. Harbor Lights said the ferry had 212 crew.")
    assert not check("212 crew [1].", "How many crew did the Gaivota have?", named).removed
    titled = {1: replace(shown("Harbor Lights said the ferry had 212 crew.")[1], title="Gaivota withdrawn")}
    assert not check("212 crew [1].", "How many crew did the Gaivota have?", titled).removed
    # "The terminal" is the Porto Verde Terminal where the source names no other terminal.
    kind = shown("Harbor Lights said 3,400 passengers used the terminal on its first day.")
    question = "How many passengers used the Porto Verde Terminal on its first day?"
    assert not check("3,400 passengers [1].", question, kind).removed
    # By surname, by the short form it uses as an owner, by initials, or as "the bank" for a name
    # written over "of"; a qualifier (a place, a country) need not be named.
    for text, question, answer in [
            ("Ms Dusch, 54, has led the chain since 2019.", "How old is Lena M. Dusch?", "She is 54 [1]."),
            ("Corvana's fleet has 11 aircraft, the airline said.", "How many aircraft does Corvana Air fly?",
             "11 aircraft [1]."),
            ("CRTA, the regional operator, runs 300 buses.", "How many buses does the Calvarra Roads and Transit "
             "Agency run?", "It runs 300 buses [1]."),
            ("The bank set its rate at 4.5% on Thursday.", "What rate did the Bank of Ostria set?", "4.5% [1]."),
            ("The Tamsel Creek Fire burned for nine days. 520 firefighters fought it.",
             "How many firefighters fought the Tamsel Creek Fire in Ostria?", "520 firefighters [1].")]:
        assert not check(answer, question, shown(text)).removed, text
    # Of a question in two parts, the names of one part will do: the second part names no one.
    two = shown("BlueWave runs 12 ferries on the Porto Verde route.")
    assert not check("It runs 12 ferries [1].", "Who owns the Gaivota, and how many ferries does BlueWave run?",
                     two).refused


def test_a_name_that_opens_a_list_item_is_still_a_name():
    # "Ostvik" opens an item but is never written in lower case: it names a unit, so the 200 jobs
    # are Halvik's, not Ostvik's.
    text = "Korva Ltd. announced job cuts at two units. - Halvik will cut 200 jobs. - Ostvik will cut 50 jobs."
    assert check("Ostvik will cut 200 jobs [1].", "Which unit of Korva will cut 200 jobs?", shown(text)).refused


def test_a_number_belongs_to_the_names_of_its_own_sentence():
    text = ("BlueWave, the smaller rival of Harbor Lights, has a new catamaran. The Gaivota reaches a top speed "
            "of 38 knots. The new boat carries 400 passengers.")
    sources = shown(text)
    # 38 knots is the Gaivota's: Harbor Lights is only in the sentence before, which it does not refer to.
    assert check("Harbor Lights' fastest ferry reaches 38 knots [1].", "How fast is Harbor Lights' ferry?",
                      sources).refused
    # "The new boat" refers back: the Gaivota, named in the sentence before, carries 400 passengers.
    assert not check("The Gaivota carries 400 passengers [1].", "How many passengers?", sources).removed


def test_a_count_keeps_the_noun_its_source_gives_it():
    interviews = shown("Police said they had interviewed 23 people: staff of Harbor Lights, including the deckhands "
                       "on duty that night, and contractors.", "The port hospital treated 41 ferry passengers, "
                       "9 of them in intensive care.", "BlueWave laid off 12 of its deckhands.")
    question = "How many deckhands were on duty that night?"
    # 23 counts people, not deckhands, though "deckhands" stands in the same sentence.
    got = check("There were 23 deckhands on duty that night [1].", question, interviews)
    assert got.refused and "do not stand together" in got.removed[0].reason
    # A word between the count and its noun, or "of the", still lets the noun be the count's.
    for answer in ("The port hospital treated 41 passengers [2].", "BlueWave laid off 12 deckhands [3]."):
        assert check(answer, "How many?", interviews).text == answer
    # A currency sign before the number says what it counts, whatever words follow.
    order = shown("BlueWave signed a contract worth €890m for 24 new ferries in 2021.")
    answer = "BlueWave's contract was worth 890 million euros [1]."
    assert check(answer, "How much was BlueWave's contract worth?", order).text == answer


def test_a_negated_restatement_of_the_question_is_still_a_claim():
    result = check("BlueWave did not respond to the terminal's opening [2].",
                   "How did BlueWave respond to the terminal's opening?")
    assert result.refused


def test_a_number_in_the_clause_of_a_compared_name_is_that_names():
    fleet = shown("BlueWave launched the Gaivota in May. The new ferry carries 400 passengers, far fewer than "
                  "Harbor Lights' Titan, which seats 1,200 passengers, with 300 in cabins.")
    question = "How many passengers does the Gaivota carry in cabins?"
    result = check("The Gaivota carries 300 passengers in cabins [1].", question, fleet)
    assert result.refused and "do not stand together" in result.removed[0].reason
    for answer in ("The Gaivota carries 400 passengers [1].", "The Titan seats 1,200 passengers, 300 in cabins [1]."):
        assert check(answer, "How many passengers do the ferries carry?", fleet).text == answer


def test_a_percentage_takes_no_unit_from_the_word_after_it():
    # "since" after "71%" is not what the figure counts; the source writes "71%," before its span.
    gains = shown("So far this year, BlueWave's shares in Lisbon have jumped nearly 71%, underscoring its lead.")
    answer = "BlueWave's Lisbon-listed shares have gained nearly 71% since the start of the year [1]."
    assert check(answer, "How much have BlueWave's Lisbon shares gained since the start of the year?", gains).text \
        == answer
    assert check("BlueWave's shares have gained nearly 17% since the start of the year [1].", "How much have "
                 "BlueWave's shares gained since the start of the year?", gains).refused


def test_a_price_question_answered_with_another_unit_is_refused():
    crossing = shown("Chief executive Lena Morrow said the terminal would cut crossing times to Santa Clara "
                     "from 55 minutes to 40 minutes. Morrow declined to comment on ticket prices.")
    question = "How much does a ticket to Santa Clara cost?"
    got = check("The ticket to Santa Clara costs 55 minutes [1].", question, crossing)
    assert got.refused and "not an amount of money" in got.removed[0].reason
    # An amount of money, or a number whose unit the answer left out, is not judged by this rule.
    assert not check("The terminal cost 85.6 million euros [1].", "How much did the terminal cost?").removed
    assert not check("The terminal cost 85.6 million [1].", "How much did the terminal cost?").removed
    # Nor is a question that asks for no price.
    assert not check("It cuts the crossing to 40 minutes [1].", "How much faster is the crossing?", crossing).removed
    # What a contract is worth is a sum of money: a volume does not answer it, crowns do.
    works = shown("The dredgers will remove 4.8 million cubic metres of sand. The harbour fund is worth 17.4 million "
                  "crowns.")
    got = check("The dredging contract is worth 4.8 million cubic metres of sand [1].",
                "How much is the dredging contract worth?", works)
    assert got.refused and "not an amount of money" in got.removed[0].reason
    assert not check("The harbour fund is worth 17.4 million crowns [1].", "How much is the harbour fund worth?",
                     works).removed
    # "How much revenue…?" asks a sum of money too; in a question of two parts, each part judges its own.
    strike = shown("During the BlueWave strike 9,800 ferry bookings were lost. Its cost is still being assessed.")
    got = check("BlueWave lost 9,800 ferry bookings [1].", "How much revenue did BlueWave lose in the strike?", strike)
    assert got.refused and "not an amount of money" in got.removed[0].reason
    assert not check("BlueWave lost 9,800 ferry bookings [1].", "How many bookings did BlueWave lose, and how much "
                     "revenue did it lose?", strike).refused
    assert not check("BlueWave lost 9,800 ferry bookings [1].", "How much revenue and how many bookings did BlueWave "
                     "lose?", strike).refused
    # Sales may be counted.
    tickets = shown("BlueWave sold 12,000 tickets in May.")
    assert not check("BlueWave sold 12,000 tickets in May [1].", "What were BlueWave's ticket sales in May?",
                     tickets).removed


def test_an_amount_claimed_of_no_named_subject_is_compared_with_nothing():
    sources = shown("Harbor Lights opened its terminal. Its shares rose 4.2% on the Lisbon exchange.",
                    "BlueWave's shares fell 1.5% on the news.")
    # "Its" is Harbor Lights; a lexical check cannot tell that BlueWave's 1.5% is another company's.
    assert find_conflicts("Its shares rose 4.2% [1].", "By how much did its shares rise?", sources) == []


def test_a_question_for_a_sum_of_money_answered_without_one_is_refused():
    profit = shown("Its cloud unit was a key contributor to the company's robust profit growth in the June quarter, "
                   "and the CEO predicted that AI-driven revenue growth will accelerate.")
    # Every word stands in the passage, but "robust" is what it says of profit growth: no revenue is given.
    got = check("The company's revenue in the June quarter was robust [1].",
                "What was the company's revenue in the June quarter?", profit)
    assert got.refused and got.removed[0].reason == "it gives no amount, which the question asks for"
    # An amount answers it; one sentence with the amount is enough for the answer.
    sales = shown("BlueWave's revenue was 12 million euros last year, up from 9 million. Growth was strong.")
    kept = check("BlueWave's revenue was 12 million euros last year [1]. Growth was strong [1].",
                 "What was BlueWave's revenue last year?", sales)
    assert not kept.removed and not kept.refused
    # A comparison says how much more or less something cost, not how much it cost.
    cheap = shown("R1 cost far less to train than its Western rivals.")
    got = check("R1 cost far less to train than its rivals [1].", "How much did R1 cost to train?", cheap)
    assert got.refused and got.removed[0].reason == "it gives no amount, which the question asks for"
    assert not check("R1 cost far less to train than its rivals [1].", "How much cheaper was R1 to train?",
                     cheap).removed
    # Questions about a sum's causes or its main item are not asking for an amount.
    assert not check("Demand for cloud services drove it [1].", "What was the revenue growth driven by?",
                     shown("Demand for cloud services drove revenue growth.")).removed


def test_what_a_price_was_is_not_answered_by_how_it_moved():
    moved = shown("Harbor Lights shares closed 8% higher in Lisbon after the opening, at a record high.")
    got = check("Harbor Lights shares closed 8% higher [1].", "What was Harbor Lights' closing share price?", moved)
    assert got.refused and got.removed[0].reason == "it gives no amount, which the question asks for"
    # Nor does a percentage written out, or the year the question gives.
    for moved_by in ("8 per cent higher in 2024", "8 percentage points higher in 2024"):
        said = shown(f"Harbor Lights shares closed {moved_by}.")
        assert check(f"Harbor Lights shares closed {moved_by} [1].",
                     "What was Harbor Lights' closing share price in 2024?", said).refused
    # Asked "at what price", the price is still the thing asked for; a price answers it.
    got = check("Harbor Lights shares closed 8% higher [1].", "At what price did Harbor Lights shares close?", moved)
    assert got.refused and got.removed[0].reason == "it gives no amount, which the question asks for"
    priced = shown("Harbor Lights shares closed at 14.20 euros in Lisbon, 8% higher.")
    assert not check("Harbor Lights shares closed at 14.20 euros [1].", "At what price did Harbor Lights shares close?",
                     priced).removed
    # A percentage answers how much a price moved, or what share something is.
    assert not check("Harbor Lights shares closed 8% higher [1].", "How much did the share price rise?", moved).removed
    assert not check("BlueWave's revenue increased 8% [1].", "What was the increase in BlueWave's revenue?",
                     shown("BlueWave's revenue increased 8% last year.")).removed
    share = shown("Ferries bring in 40% of BlueWave's revenue.")
    assert not check("Ferries bring in 40% of BlueWave's revenue [1].", "What share of BlueWave's revenue do ferries "
                     "bring in?", share).removed


def test_a_date_must_stand_as_a_date_not_as_a_number_inside_a_name():
    # "G2" holds a 2 beside "July", but no source gives July 2.
    service = shown("The Gaivota will enter service on July 14. It was built in Aveiro.",
                    "BlueWave's G2 ferry starts in July, the company said.")
    got = check("BlueWave's G2 ferry starts on July 2 [2].", "When does BlueWave's G2 ferry start?", service)
    assert got.refused and got.removed[0].reason == "'July 2' is in none of the sources"
    # The date as the source writes it, in either order, stands; cited elsewhere, it cites its source.
    for answer in ("The Gaivota enters service on July 14 [1].", "The Gaivota enters service on 14 July [1]."):
        assert not check(answer, "When does the Gaivota enter service?", service).removed, answer
    moved = check("The Gaivota enters service on July 14 [2].", "When does the Gaivota enter service?", service)
    assert moved.text == "The Gaivota enters service on July 14 [1]." and not moved.removed


def test_how_long_is_not_answered_by_a_sum_of_money():
    built = shown("BlueWave spent 12 million euros on the Gaivota. Building it took two years.")
    got = check("BlueWave spent 12 million euros on the Gaivota [1].", "How long did BlueWave spend building the Gaivota?",
                built)
    assert got.refused and got.removed[0].reason == (
        "'12 million' is not a span of time or a length, which the question asks for")
    for answer in ("Building it took two years [1].", "It took 2 years [1]."):
        assert not check(answer, "How long did building the Gaivota take?", shown(
            "The Gaivota is BlueWave's new ferry. Building it took two years, or 2 years by the yard's count.")
                         ).removed, answer


def test_a_question_for_one_named_thing_is_not_answered_without_a_name():
    first = shown("Some of the city's ferry operators were among the first to sell tickets online. "
                  "Marlin Research tracks their sales.")
    question = "Which ferry operator was the first to sell tickets online?"
    got = check("Some of the city's ferry operators were among the first to sell tickets online [1].", question, first)
    assert got.refused and got.removed[0].reason == "it gives no name, which the question asks for"
    # A name answers it, also one that the sources write only at a sentence's start.
    # A title written as letters names no one.
    chief = shown("BlueWave's CEO said fuel costs were the main constraint on its growth.")
    got = check("BlueWave's CEO said fuel costs were the main constraint [1].",
                "What is the name of BlueWave's chief executive, who spoke about fuel costs?", chief)
    assert got.refused and got.removed[0].reason == "it gives no name, which the question asks for"
    named = shown("Harbor Lights was the first operator to sell tickets online.")
    assert not check("Harbor Lights was the first [1].", question, named).removed
    analysts = shown("Baixa analysts expect more routes.")
    assert not check("Baixa analysts [1].", "Which firm's analysts expect more routes?", analysts).removed
    # Plural kinds, and kinds answered by ordinary words, are left alone.
    assert not check("Some of the city's ferry operators were [1].", "Which operators were the first to sell "
                     "tickets online?", first).removed


def test_a_sentence_giving_the_subject_as_its_own_agent_answers_nothing():
    ferries = shown("Rival operator BlueWave, a Portuguese startup, runs 12 ferries.",
                    "BlueWave was founded by Marta Kell, a former pilot, in 2009.")
    for answer in ("BlueWave was founded by the Portuguese startup BlueWave [1].",
                   "BlueWave was founded by the pilot's firm BlueWave in 2009 [2].",
                   "BlueWave is run by the rival operator BlueWave [1]."):
        got = check(answer, "Who founded BlueWave, the rival operator?", ferries)
        assert got.refused, answer
        assert got.removed[-1].reason == "it gives what the question asks about as its own answer", answer
    # Someone else after "by" is an answer, even beside the subject's name.
    for answer in ("BlueWave was founded by Marta Kell [2].", "BlueWave was founded by BlueWave's pilot Marta Kell [2].",
                   "BlueWave was founded by Marta Kell, who later led BlueWave [2]."):
        assert not check(answer, "Who founded BlueWave?", ferries).removed, answer
    # A name the question does not give is not the question's subject.
    assert not check("Its ferries are run by BlueWave [1].", "Who runs the ferries?", ferries).removed
    # A company named after its founder: the phrase ends on a person's whole name.
    kell = shown("Kell Ferries was founded by Marta Kell in 2009.")
    assert not check("Kell Ferries was founded by Marta Kell in 2009 [1].", "Who founded Kell Ferries?", kell).removed


def test_a_question_asking_which_city_is_not_answered_by_a_country():
    founded = shown("The Portuguese operator BlueWave was founded in 2009. Its offices are in Faro, Portugal.")
    got = check("BlueWave is based in Portugal [1].", "In which city is BlueWave based?", founded)
    assert got.refused and got.removed[0].reason == "'Portugal' is a country, and the question asks which city"
    # A city, with or without its country, answers it; a country answers a question asking which country.
    for answer in ("BlueWave is based in Faro [1].", "BlueWave is based in Faro, Portugal [1]."):
        assert not check(answer, "In which city is BlueWave based?", founded).removed, answer
    assert not check("BlueWave is based in Portugal [1].", "In which country is BlueWave based?", founded).removed
    # A city-state is a city too.
    port = shown("Marlin Research has its office in Singapore.")
    assert not check("It is based in Singapore [1].", "Which city is Marlin Research based in?", port).removed


def test_a_sentence_made_of_the_questions_own_words_answers_nothing():
    for answer, question in (("BlueWave is led by BlueWave [2].", "Who leads BlueWave?"),
                             ("BlueWave is run by BlueWave [2].", "Who runs BlueWave?")):
        got = check(answer, question)
        assert got.refused and got.removed[0].reason == "it only restates the question"
    # A new name or word is an answer, and a yes/no question is answered by restating it.
    assert not check("Rival operator BlueWave runs 12 ferries [2].", "Who runs 12 ferries?").removed
    assert not check("Harbor Lights opened a terminal in Porto Verde [1].",
                     "Did Harbor Lights open a terminal in Porto Verde?").removed
    # Nor is a negation, a choice between options, or a yes/no question however it starts.
    assert not check("BlueWave did not comment on the terminal [2].",
                     "How did BlueWave comment on the terminal?", shown("BlueWave did not comment on the terminal.")).removed
    for question in ("Which opened first, the terminal or the catamaran?", "Tell me whether the terminal opened first",
                     "And did the terminal open first?", "Isn't it true the terminal opened first?"):
        assert not check("The terminal opened first [1].", question,
                         shown("The terminal opened first, a year before the catamaran.")).removed, question
    # A restated clause before the answer's own clause stays (the second clause answers).
    assert not check("BlueWave could win passengers because its new catamaran carries 400 passengers [2].",
                     "Why could BlueWave win passengers?").removed


def test_a_count_the_source_writes_in_words_supports_the_answers_digits():
    """Style guides spell out small counts; a model answers in digits. Each must still be the
    count of what the source says it counts."""
    deaths = shown("Officials said 312 people had been infected in Porto Verde and that five people had died. "
                   "Twenty-two berths are now open.")
    question = "How many people have died in Porto Verde?"
    assert not check("5 people have died in Porto Verde [1].", question, deaths).removed
    assert not check("22 berths are now open [1].", "How many berths are open?", deaths).removed
    assert check("7 people have died in Porto Verde [1].", question, deaths).refused
    assert check("5 berths are open [1].", "How many berths are open?", deaths).refused  # five is people


def test_a_document_names_its_subject_once_and_a_later_passage_refers_to_it():
    """Two passages of one document: the first names the union, the second says "the union".
    The later passage stands for the union only where it names no one else."""
    first = "The Porto Verde Dockworkers' Union (PVDU) announced a 24-hour strike on Friday."
    later = "\"They will not be written out of its future,\" said Ana Silva, the union's general secretary. " \
            "Harbor Lights published its summer timetable on Monday."
    sources = {1: Passage(first, "news.txt", 0, len(first), 1.0),
               2: Passage(later, "news.txt", 400, 400 + len(later), 0.9)}
    question = "Who is the general secretary of the Porto Verde Dockworkers' Union?"
    answer = "Ana Silva is the general secretary of the Porto Verde Dockworkers' Union [2]."
    assert not check(answer, question, sources).removed
    # The same passage shown first, before the one that names the union: nothing to refer back to.
    swapped = {1: replace(sources[1], start=800, end=800 + len(first)), 2: replace(sources[2], start=0)}
    assert check(answer, question, swapped).refused
    # A window that names another company speaks of that company.
    assert check("The Porto Verde Dockworkers' Union published its summer timetable on Monday [2].",
                 "When did the Porto Verde Dockworkers' Union publish its timetable?", sources).refused


def test_a_currency_sign_in_the_source_is_the_currency_an_answer_names():
    deal = shown("BlueWave ordered two catamarans in 2021 under a contract worth €89m (£76m).")
    question = "How much is BlueWave's catamaran contract worth?"
    for answer in ("BlueWave's contract is worth 89 million euros [1].", "BlueWave's contract is worth €89 million [1].",
                   "BlueWave's contract is worth 76 million pounds [1]."):
        assert not check(answer, question, deal).removed, answer
    assert check("BlueWave's contract is worth 89 million dollars [1].", question, deal).refused


def test_a_currency_written_in_letters_is_no_part_of_the_name_before_it():
    assert names("The court awarded Korvel CHF 612,000 and Rs 3.5 million.", frozenset({"Korvel"})) == [
        ("Korvel", ("korvel",)), ("CHF", ("chf",)), ("Rs", ("rs",))]
    assert names("It lifted off from Launch Pad 2.", frozenset()) == [("Launch Pad", ("launch", "pad"))]
    # Before a bare number, letters are a model's name: only a sum's shape makes them a currency.
    assert names("It sells the Brennick XRT 300 for 4,000 euros.", frozenset()) == [
        ("Brennick XRT", ("brennick", "xrt"))]
    award = shown("Korvel Bakeries sued its supplier. It was awarded CHF 612,000 for wasted expenditure by the court.")
    question = "How much did the court award Korvel for wasted expenditure?"
    assert not check("The court awarded Korvel CHF 612,000 for wasted expenditure [1].", question, award).removed
    # The currency stays a name the source must give.
    assert check("The court awarded Korvel EUR 612,000 for wasted expenditure [1].", question, award).refused
    # Letters in lower case too; each word of a name need only be written somewhere shown.
    lower = shown("Korvel Bakeries sued its supplier. It was awarded Tl 612,000 for wasted expenditure by the court.")
    assert not check("The court awarded Korvel Tl 612,000 for wasted expenditure [1].", question, lower).removed


@pytest.mark.parametrize("answer, kept", [
    ("The second terminal is scheduled to open later [1].", False),  # that it will, not when
    ("The second terminal will open soon [1].", False),
    ("The second terminal may open later [1].", False),
    ("The second terminal is scheduled to open after the council's review [1].", True),  # beside another event
    ("The second terminal is scheduled to open in 2027 [1].", True),
])
def test_a_question_asking_when_needs_an_answer_that_says_when(answer, kept):
    plans = shown("Harbor Lights said the second terminal is scheduled to open later, after the council's review, "
                  "and may open soon in 2027.")
    result = check(answer, "When is the second terminal scheduled to open?", plans)
    assert result.refused != kept
    if not kept:
        assert result.removed[0].reason == "it does not say when, which the question asks"
    # "when" inside a clause asks no time
    assert not check("Harbor Lights said the second terminal will open soon [1].",
                     "What did Harbor Lights say when the council met?", plans).refused


@pytest.mark.parametrize("answer, kept", [
    ("BlueWave's chief executive is Lena Morrow [1].", False),  # the sources give her Harbor Lights
    ("Lena Morrow is the chief executive of BlueWave [1].", False),
    ("Harbor Lights chief executive Lena Morrow said fares would stay below BlueWave's [1].", True),
    ("Lena Morrow said fares would stay below BlueWave's [1].", True),  # no role given
    ("The chief executive, Lena Morrow, said fares would stay below BlueWave's [1].", True),  # no body given
    ("Its chief executive Lena Morrow said fares would stay below BlueWave's [1].", True),
    ("The chief executive of BlueWave is Lena Morrow [1].", False),
])
def test_a_person_keeps_the_role_the_sources_give_them(answer, kept):
    said = shown("Harbor Lights chief executive Lena Morrow said fares would stay below BlueWave's.")
    result = check(answer, "What was said about BlueWave?", said)
    assert result.refused != kept
    if not kept:
        assert "holds that role elsewhere in the sources, not at BlueWave" in result.removed[0].reason


def test_who_was_given_a_post_is_answered_by_a_name():
    sources = shown("BlueWave will name an interim director in the coming weeks. Harbor Lights has appointed Lena "
                    "Morrow as its director. The route is led by the mayor.")
    result = check("BlueWave's interim director will be named in the coming weeks [1].",
                   "Who has been appointed BlueWave's interim director?", sources)
    assert result.refused and result.removed[0].reason == "it gives no name, which the question asks for"
    assert not check("Harbor Lights has appointed Lena Morrow as its director [1].",
                     "Who has been appointed director of Harbor Lights?", sources).removed
    # "Who leads…?" may be answered by a role, and "Who benefits…?" by a kind of people.
    assert not check("The route is led by the mayor [1].", "Who leads the route?", sources).removed
    assert not check("The mayor benefits from the route [1].", "Who benefits from the route?",
                     shown("The mayor benefits from the route, the council said.")).removed


def test_a_countrys_adjective_is_no_name_unless_a_country_is_asked():
    sources = shown("BlueWave, the Brazilian ferry company, runs 12 ferries.")
    result = check("BlueWave was founded by a Brazilian company [1].", "Who is the founder of BlueWave?",
                   sources)
    assert result.refused and result.removed[0].reason == "it gives no name, which the question asks for"
    assert not check("BlueWave is a Brazilian company [1].", "Which country is BlueWave from?", sources).refused


@pytest.mark.parametrize("answer, question, kept", [
    ("Porto Verde has banned diesel ferries from the harbour [1].", "Has Porto Verde banned BlueWave's catamaran?",
     False),  # of Porto Verde, not of BlueWave's catamaran
    ("Yes, Porto Verde has banned it [1].", "Has Porto Verde banned BlueWave's catamaran?", True),  # refers back
    ("Porto Verde has banned diesel ferries from the harbour [1].",
     "Has Porto Verde banned BlueWave's catamaran or diesel ferries?", True),  # a choice: one option answers
    ("Porto Verde has banned diesel ferries from the harbour [2].",
     "Has Porto Verde banned diesel ferries since the Harbor Lights terminal opened?", True),  # [2] names it
])
def test_a_yes_no_answer_speaks_of_every_name_the_question_asks_about(answer, question, kept):
    sources = shown("Porto Verde has banned diesel ferries from the harbour.",
                    "The Harbor Lights terminal opened in May. Porto Verde has banned diesel ferries from the harbour.",
                    "BlueWave's catamaran runs on batteries.")
    result = check(answer, question, sources)
    assert result.refused != kept
    if not kept:
        assert result.removed[0].reason == "'BlueWave', which the question asks about, is not in it"


def test_a_rate_is_not_answered_by_an_amount():
    sources = shown("Harbor Lights took a loan of 20 million euros from the city, at 4.5% a year.")
    result = check("Harbor Lights took a loan of 20 million euros [1].", "What interest rate does Harbor Lights pay?",
                   sources)
    assert result.refused and result.removed[0].reason == "it gives no rate, which the question asks for"
    assert not check("Harbor Lights took its loan at 4.5% a year [1].", "What interest rate does Harbor Lights pay?",
                     sources).refused


def test_a_count_an_answer_writes_in_words_is_a_value_to_support():
    berths = shown("Harbor Lights opened a terminal. It has eight berths.", "Rival BlueWave runs a terminal in Porto Verde.")
    assert check("The BlueWave terminal has eight berths [2].", "How many berths does the BlueWave terminal have?",
                 berths).refused  # Harbor Lights' eight, not BlueWave's
    assert not check("Harbor Lights' terminal has eight berths [1].", "How many berths does the terminal have?",
                     berths).refused
    # "The two terminals" points back, it does not count.
    assert not check("The two terminals opened in May [1].", "When did the terminals open?",
                     shown("Both terminals opened in May.")).refused
    # A count the question gives is given: "the three months to December" needs no source.
    quarter = shown("Its cloud unit drove profit growth in the December quarter.")
    assert not check("The cloud unit drove profit growth in the three months to December [1].",
                     "What drove profit growth in the three months to December?", quarter).refused


INTERVIEW = "Lena Morrow, chief executive of Harbor Lights, praised the rise of sea crossings on Radio Verde's Morning Show."
TALKED = "On which programme did the head of Harbor Lights talk about how fast ferry travel is growing?"


def test_names_in_one_source_sentence_carry_a_claim_that_restates_the_question():
    answer = "Lena Morrow of Harbor Lights talked about how fast ferry travel is growing on Radio Verde's Morning Show [1]."
    assert not check(answer, TALKED, shown(INTERVIEW)).refused  # the question's words left to the judge


def test_names_in_two_sentences_do_not():
    apart = shown("Lena Morrow runs Harbor Lights. Radio Verde's Morning Show praised the rise of sea crossings.")
    answer = "Lena Morrow of Harbor Lights talked about how fast ferry travel is growing on Radio Verde's Morning Show [1]."
    assert check(answer, TALKED, apart).refused


def test_a_person_named_by_surname_alone_keeps_their_role_too():
    # "Lena" opens every sentence that has it, so only "Morrow" reads as a name.
    said = shown("Lena Morrow, chief executive of Harbor Lights, said rival BlueWave would lose passengers.")
    result = check("Lena Morrow is the chief executive of BlueWave [1].", "What was said about BlueWave?", said)
    assert result.refused and "'Morrow' holds that role elsewhere in the sources, not at BlueWave" in result.removed[0].reason


@pytest.mark.parametrize("answer, kept", [
    ("Lena Morrow [1].", False),  # the sources introduce her at Harbor Lights only
    ("Lena Morrow, chief executive at Harbor Lights, said fares would stay below BlueWave's [1].", False),
    ("Lena Morrow said fares would stay below BlueWave's, according to Rui Albano [1].", True),  # may be him
    ("BlueWave chief executive Marta Quintas said so [2].", True),  # introduced at BlueWave
])
def test_who_holds_a_role_is_not_answered_with_someone_the_sources_place_elsewhere(answer, kept):
    said = shown("Lena Morrow, chief executive at Harbor Lights, said fares would stay below BlueWave's. "
                 "Rui Albano agreed.", "BlueWave chief executive Marta Quintas said so.")
    result = check(answer, "Who is BlueWave's chief executive?", said)
    assert result.refused != kept
    if not kept:
        assert "'Morrow' holds a role at another body in the sources, not at BlueWave" in result.removed[0].reason


def test_a_name_the_question_gives_stands_in_the_short_form_the_sources_use():
    fleet = shown("Porto Verde Ferries was founded in 1987. All of Porto Verde's 14 boats were refitted last year.",
                  "Harbor Lights Ltd. and Harbor Lights Cargo share a quay. The quay opened in May. "
                  "Harbor Lights runs 9 boats.")
    assert not check("Porto Verde Ferries runs 14 boats [1].", "How many boats does Porto Verde Ferries run?",
                     fleet).refused
    # "Harbor Lights" alone may be either of two names: it stands for neither.
    assert check("Harbor Lights Cargo runs 9 boats [2].", "How many boats does Harbor Lights Cargo run?",
                 fleet).refused
    # Nor does a name for one whose words left out hold a code ("DeepSeek R1" is a model of DeepSeek's).
    models = shown("Analysts compared DeepSeek R1 with its rivals. The model came out in January. "
                   "Analysts said DeepSeek has 160 staff.")
    assert check("DeepSeek R1 has 160 staff [1].", "How many staff does DeepSeek R1 have?", models).refused
    # Nor does a name the sources describe as a thing of its own: "Porto Verde, a town…" is the town.
    town = shown("Porto Verde Airport reopened. The closure hit Porto Verde, a town of about 31,000 people, hard.")
    assert check("Porto Verde Airport employs about 31,000 people [1].", "How many people does Porto Verde Airport "
                 "employ?", town).refused


def test_a_role_given_in_a_whose_clause_is_at_that_body():
    said = shown("The obvious winner is BlueWave, whose chief executive Marta Quintas wants more routes. "
                 "Harbor Lights Ltd. stopped sailing on Tuesday.")
    result = check("The chief executive of Harbor Lights Ltd. is Marta Quintas [1].",
                   "Who is the chief executive of Harbor Lights Ltd.?", said)
    assert result.refused and "holds that role elsewhere in the sources" in result.removed[0].reason


def test_a_size_an_apposition_gives_a_name_is_that_names():
    town = shown("The closure is a blow to Porto Verde, a town of about 31,000 people where BlueWave was based.")
    assert check("BlueWave employed about 31,000 people [1].", "How many people did BlueWave employ?",
                 town).refused
    assert not check("Porto Verde has about 31,000 people [1].", "How many people live in Porto Verde?",
                     town).refused


def test_a_name_a_document_defines_for_the_subject_is_no_other_subject():
    notice = shown('Harbor Lights Ltd. ("Harbor Lights" or "the Company") entered administration on Monday. '
                   "The administrators said 40 staff were kept on to help with the sale of the Company's boats.")
    result = check("40 staff were kept on to help with the sale of the Company's boats [1].",
                   "How many Harbor Lights staff were kept on?", notice)
    assert not result.refused
    # A name it does not define is another subject still.
    other = shown("BlueWave's shareholders met on Monday. The administrators said 40 staff were kept on "
                  "to help with the sale of BlueWave's boats.")
    assert check("40 staff were kept on to help with the sale of BlueWave's boats [1].",
                 "How many Harbor Lights staff were kept on?", other).refused


def test_a_figure_in_a_document_by_the_body_asked_about_is_theirs():
    top = "Ferry column: why Harbor Lights slowed By Rui Albano, ferry analyst, Baixa Capital Friday, May 7 Ferries are busy."
    body = "Harbor Lights filled 71% of its seats last year. Its rival BlueWave filled 80%, Marta Quintas said."
    question = "What share of its seats did Harbor Lights fill last year, according to Baixa Capital?"
    column = {1: Passage(body, "column.txt", 900, 900 + len(body), 1.0), 2: Passage(top, "column.txt", 0, len(top), 0.5)}
    assert not check("Harbor Lights filled 71% of its seats last year [1].", question, column).removed
    # A byline of someone else does not make the figure Baixa Capital's.
    other = {1: column[1], 2: Passage(top.replace("Baixa Capital", "Porto Research"), "column.txt", 0, len(top), 0.5),
             3: Passage("Baixa Capital analysts expect more routes.", "note.txt", 0, 40, 0.4)}
    assert check("Harbor Lights filled 71% of its seats last year [1].", question, other).removed


def test_a_count_of_a_list_counts_its_last_item_too():
    users = shown("Its booking app is used by 1,140 general practices, dental surgeries and physiotherapy clinics.")
    assert not check("The booking app is used by 1,140 clinics [1].", "How many clinics use the booking app?",
                     users).refused
    fleet = shown("BlueWave runs 12 ferries, 3 tugs and 40 deckhands.")
    assert check("BlueWave has 12 deckhands [1].", "How many deckhands does BlueWave have?", fleet).refused


def test_review_cases_of_this_sessions_rules():
    from assistant.asked import written_by
    from assistant.claims import counted
    # A long list with no "and" after it: the pattern has one way to read it (it backtracked
    # without end when a word could be split across its repeats).
    places = ", ".join(f"Place{chr(65 + i)}" for i in range(20))
    assert counted(f"It flew 11 aircraft to {places}.", 10) == {"aircraft", "placea"}
    # A byline ends where the article starts: "The Calloway breach…" is no part of it.
    top = ("By Priya Castellan, Head of Threat Intelligence, Northgate Threat Labs The Calloway breach was a door "
           "left open.")
    opening = {1: Passage(top, "col.txt", 0, len(top), 1.0)}
    assert written_by("col.txt", [("northgat", "threat", "lab")], opening)
    assert not written_by("col.txt", [("calloway",)], opening)
    # A share or a sum after "a … of" is no size: "Carvo, a reduction of 40%".
    cut = shown("Corvana Air cut its flights to Carvo, a reduction of 40%, last year.")
    assert not check("Corvana Air cut its flights by 40% [1].", "By how much did Corvana Air cut its flights?",
                     cut).refused
    # A defined name counts as the subject only if it is defined for the asked name itself.
    other = shown('Skarne Air Holdings ("Skarne") bought the slots. In the end Skarne kept on 40 staff.')
    assert check("In the end Skarne kept on 40 staff [1].", "How many Corvana Air staff were kept on?", other).refused


def test_an_age_set_off_by_commas_after_a_name_is_an_age():
    quote = shown('"The catch always came back," said Rui Albano, 64, who has fished from Porto Verde for 40 years.')
    assert not check("Rui Albano is 64 years old [1].", "How old is Rui Albano?", quote).refused
    # Only a number set off by commas: a count after a place ("In Porto Verde, 64 boats…") is no age.
    count = shown("In Porto Verde, 64 boats were waiting for a berth.")
    assert check("The mayor is 64 years old [1].", "How old is the mayor?", count).refused


def test_who_holds_a_role_is_not_answered_by_that_role_at_another_body():
    said = shown("Lena Morrow, chief executive of Harbor Lights, spoke first. BlueWave's fares stay low, she said.")
    result = check("BlueWave's chief executive is the chief executive of Harbor Lights [1].",
                   "What is the name of BlueWave's chief executive?", said)
    assert result.refused
    assert result.removed[0].reason == "it gives that role at another body than the question asks about"
    # A title before the role is no body: "Chief Market Analyst at Porto Capital" is Porto Capital's.
    quoted = shown("Rui Albano, Chief Market Analyst at Porto Capital, said BlueWave's fares would stay low.")
    assert not check("Rui Albano, Chief Market Analyst at Porto Capital, said fares would stay low [1].",
                     "Which analyst at Porto Capital spoke about BlueWave's fares?", quoted).refused


def test_a_name_that_only_opens_sentences_is_known_by_its_possessive():
    # "BlueWave" is never written inside a sentence here, but "BlueWave’s" owns something: a name,
    # so the answer's figure is BlueWave's, not the one asked about.
    stocks = shown("BlueWave’s new boat is the fastest. BlueWave stock has risen 40% this month, while "
                   "Harbor Lights stock has climbed 30% in the same period.")
    result = check("BlueWave stock has risen 40% this month [1].", "How much has Harbor Lights stock climbed this month?",
                   stocks)
    assert result.removed and result.removed[0].reason == "its number is BlueWave's, and the question asks about another"


def test_who_holds_a_narrowed_role_needs_that_whole_role_beside_the_name():
    question = "Who has been appointed interim finance director of Harbor Lights?"
    answer = "The interim finance director of Harbor Lights is Lena Morrow [1]."
    later = shown("Harbor Lights named Lena Morrow as its director in May. The board met on Friday. An interim "
                  "finance director will be named in the coming weeks.")
    assert refused_for_the_role(answer, question, later)
    named = shown("Harbor Lights named Lena Morrow as its interim finance director in May.")
    assert not check(answer, question, named).refused


def test_a_one_word_holder_needs_the_role_beside_it_too():
    # A company given as who holds a person's role: the source names it as the agent's maker only.
    agent = shown("A day earlier another company unveiled Pellet, a general AI agent. The startup Orvik is behind "
                  "Pellet.")
    question = "Who is the chief executive of the company behind the Pellet agent?"
    assert refused_for_the_role("Orvik is the chief executive of the company behind Pellet [1].", question, agent)
    # A surname the source gives the role beside stands.
    led = shown("The startup Orvik is behind Pellet. Its chief executive, Lind, founded it in 2021.")
    assert not check("Lind is the chief executive of the company behind Pellet [1].", question, led).removed


def test_a_person_called_by_surname_after_the_full_name_is_that_person():
    street = shown("On the last street before the ridge, Rui Albano keeps a notebook. \"Nine since May,\" says "
                   "Mr Albano, 64, a retired teacher.")
    assert not check("Rui Albano is 64 years old [1].", "How old is Rui Albano?", street).refused
    # Two people of one surname: "Mr Albano" is neither of them.
    family = shown("Rui Albano runs the café and Ana Albano the smokehouse. \"Nine since May,\" says Mr Albano, 64.")
    assert check("Ana Albano is 64 years old [1].", "How old is Ana Albano?", family).refused


def test_years_old_is_an_age_not_a_span():
    led = shown("Rui Albano, who has led BlueWave for seven years, spoke to us.")
    result = check("Rui Albano is 7 years old [1].", "How old is Rui Albano?", led)
    assert result.refused
    for source in ("The skipper Rui Albano, aged 71, fished.", "A 71-year-old skipper, Rui Albano, fished.",
                   "Rui Albano is 71 years old."):
        assert not check("Rui Albano is 71 years old [1].", "How old is Rui Albano?", shown(source)).refused, source


def test_review_cases_of_the_eighteenth_session():
    from assistant.grounding import nothing_supported
    from assistant.types import Conflict

    # An age is no span: "Oskar Tamberlin, 71," gives no "fished for 71 years".
    aged = shown("The river is quiet now, said Oskar Tamberlin, 71, who has fished from it all his life.")
    assert check("Oskar Tamberlin has fished for 71 years [1].", "How long has Oskar Tamberlin fished?", aged).refused
    # A place before a number set off by commas is no person: "Oslo, 64," is no age.
    turnout = shown("Turnout in Oslo, 64, was the highest in the country.")
    assert check("Oslo is 64 years old [1].", "How old is Oslo?", turnout).refused
    # A lower-case word is no place: "the logo" gives no "Logan".
    logo = shown("The new logo cost the club 5,000 euros.")
    assert check("The logo was designed by Logan for 5,000 euros [1].", "Who designed the club's logo?", logo).refused
    # A sum asked by a word that is no measure, or one the window does not contrast, stands.
    fined = shown("Regulators fined Acme Bank €5 million on Monday.")
    assert not check("The fine was €5 million [1].", "What was the amount of the fine?", fined).refused
    assert not check("Acme Bank was fined €5 million [1].", "What was the fine imposed on Acme Bank?", fined).refused
    # The role at another body beside someone named: the person answers (other rules judge them).
    from assistant.asked import role_of_another
    proper = frozenset({"DeepSeek", "Liang", "Wenfeng", "High-Flyer"})
    assert not role_of_another("DeepSeek's CEO is Liang Wenfeng, the former CEO of High-Flyer [1].",
                               "Who is DeepSeek's CEO?", proper)
    # "current" and "named" do not narrow the role asked about.
    named = shown("Acme Corp appointed Jo Lindqvist as chief executive in May.")
    assert not check("Jo Lindqvist [1].", "Who was named chief executive of Acme Corp?", named).refused
    assert not check("Jo Lindqvist is Acme Corp's chief executive [1].",
                     "Who is the current chief executive of Acme Corp?", named).refused
    # Differing dates still answer a question for a date that "when" does not open.
    dates = [Conflict("May 4", "a.txt", "The vote was on May 4.", 1), Conflict("May 5", "b.txt", "It was May 5.", 2)]
    assert not nothing_supported("What was the date of the vote?", [], dates).refused


def test_a_longer_names_last_word_after_the_refers_back():
    # "the Trust's reserves" is Harwell Heritage Trust's, named in the sentence before.
    trust = shown("Clara Moss, treasurer of Harwell Heritage Trust, said: \"The sale lets us repair the roof. "
                  "Proceeds will also rebuild the Trust's reserves, which stood at £1.2 million last year.\"")
    assert not check("Harwell Heritage Trust's reserves stood at £1.2 million last year [1].",
                     "What were Harwell Heritage Trust's reserves last year?", trust).removed
    # "The Group" opening a sentence, after the name it shortens.
    group = shown("Highcairn Leisure Group sold the ski area. The Group's net debt rose to 40 million euros.")
    assert not check("Highcairn Leisure Group's net debt rose to 40 million euros [1].",
                     "What was Highcairn Leisure Group's net debt?", group).refused
    # A place after "the" is no name written short, and a count before a name is no description.
    visitors = shown("Harbor Lights opened a terminal in Porto Verde. Tourism to the Algarve grew to 3 million visitors.")
    assert check("Harbor Lights had 3 million visitors [1].", "How many visitors did Harbor Lights have?",
                 visitors).refused
    pay = shown("Lena Morrow joined Harbor Lights in 2019. The 40-year-old Marco Villa earns 2 million euros a year.")
    assert check("Lena Morrow earns 2 million euros a year [1].", "How much does Lena Morrow earn?", pay).refused


def test_the_short_form_of_a_name_an_earlier_passage_gave_refers_back_whoever_else_it_names():
    """A feature names "the Marden Treatment Works" early on and "The works" pages later, in a
    sentence that also names who built it."""
    first = "For most of its 57 years, the Marden Treatment Works has drawn water from the river."
    later = "The works opened in 1967, built by the old Kelby Water Board to replace a cluster of wells."
    sources = {1: Passage(first, "feature.txt", 0, len(first), 1.0),
               2: Passage(later, "feature.txt", 900, 900 + len(later), 0.5)}
    assert not check("The Marden Treatment Works opened in 1967 [2].",
                     "In what year did the Marden Treatment Works open?", sources).removed
    # Its last word is not another name's: "the works" is not the Kelby Pumping Station.
    assert check("The Kelby Pumping Station opened in 1967 [2].",
                 "In what year did the Kelby Pumping Station open?", sources).refused
    # Nor does a passage of another document lend its names.
    other = {1: sources[1], 2: replace(sources[2], source="wire.txt")}
    assert check("The Marden Treatment Works opened in 1967 [2].",
                 "In what year did the Marden Treatment Works open?", other).refused


def test_a_head_names_the_subject_a_later_sentence_refers_to():
    """A title is shown before its passage: "Q&A with Ashby Quay's harbour master" names what "it"
    is in a passage that never names it."""
    text = "Will the fees go up? No. A mooring costs £30 a night now and it will cost £30 next summer."
    head = "Q&A with Ashby Quay's harbour master | Coastal Times, 3 May"
    question = "How much will a mooring at Ashby Quay cost next summer?"
    answer = "A mooring at Ashby Quay will cost £30 next summer [1]."
    titled = {1: Passage(text, "qa.txt", 900, 900 + len(text), 1.0, head=head)}
    assert not check(answer, question, titled).removed
    untitled = {1: Passage(text, "qa.txt", 900, 900 + len(text), 1.0)}
    assert check(answer, question, untitled).refused
    # A byline names who writes, not what about.
    column = "I spent a week with the ferry crews. The chief executive earns 2 million euros a year."
    bylined = {1: Passage(column, "col.txt", 0, len(column), 1.0, head="Life on the ferries | By Lena Morrow")}
    assert check("Lena Morrow earns 2 million euros a year [1].", "How much does Lena Morrow earn?", bylined).refused


def test_the_independent_count_reads_a_title_in_capitals_apart_from_the_name_after_it():
    passages = shown("Dan Berg, CEO of Marlow Freight, spoke on Tuesday.")
    assert unsupported_sentences("Marlow Freight's CEO Dan Berg spoke on Tuesday [1].", list(passages.values())) == []
    assert unsupported_sentences("Marlow Freight's CFO Ann Berg spoke [1].", list(passages.values()))


def test_how_many_or_how_heavy_is_not_answered_without_a_number():
    tower = shown("The inspectorate has a team on the inquiry. The mast weighed 412 kilograms and fell in a storm.")
    got = check("The mast fell in a storm [1].", "How heavy was the mast that fell?", tower)
    assert got.refused and got.removed[0].reason == "it gives no number, which the question asks for"
    assert check("The inspectorate has a team on the inquiry [1].", "How many inspectors are on the inquiry?",
                 tower).refused
    # A number in words, a quantity or a comparison may answer.
    crowd = shown("Dozens of residents and nine councillors came to the meeting, far fewer than last year.")
    for answer in ("Dozens of residents came to the meeting [1].", "Nine councillors came to the meeting [1].",
                   "Far fewer came than last year [1]."):
        assert not check(answer, "How many people came to the meeting?", crowd).refused, answer


def test_a_date_does_not_answer_how_much():
    tank = shown("Inspectors opened an inquiry on 16 May. The tank held 40 litres of fuel when the leak was found.")
    got = check("The inspectors opened an inquiry on 16 May [1].", "How much fuel was left in the tank when the leak "
                "was found?", tank)
    assert got.refused and got.removed[0].reason == "it gives a date, not the number the question asks for"
    closure = shown("The bridge was closed from 3 May to 9 May for repairs.")
    assert not check("The bridge was closed from 3 May to 9 May [1].", "How many days was the bridge closed?",
                     closure).removed
    # Nor does a year, with its month or after "in" or "since", say how many, unless asked how long.
    outage = shown("The ordering system failed in March 2022. Dozens of shops, forty-one, ran short in March 2022. "
                   "Ana Brel has worked at the bakery since 1996, and 2022 people signed the petition.")
    for answer in ("The ordering system failed in March 2022 [1].", "The ordering system failed in 2022 [1]."):
        got = check(answer, "How many shops were affected when the ordering system failed?", outage)
        assert got.refused and got.removed[0].reason == "it gives a date, not the number the question asks for"
    assert not check("Ana Brel has worked at the bakery since 1996 [1].", "How long has Ana Brel worked at the "
                     "bakery?", outage).removed
    assert not check("In 2022 people signed the petition [1].", "How many people signed the petition?",
                     outage).removed
    for answer in ("Forty-one shops ran short in March 2022 [1].", "Dozens of shops ran short in 2022 [1]."):
        assert not check(answer, "How many shops ran short?", outage).refused, answer  # a count in words


def test_a_club_manager_a_mayor_or_an_investigator_is_a_role_too():
    # A title news gives a person before the name, like "Chief executive": a report on one club does
    # not tell who manages another.
    sale = shown("Halden Rovers, who beat Dunholt Athletic on Saturday, agree sale to a Lowmere group. Manager Ivo "
                 "Brask, in charge since 2022, was told of the sale on Sunday, according to a club official.")
    got = check("Ivo Brask [1].", "Who is Dunholt Athletic's manager?", sale)
    assert got.refused and "'Ivo Brask'" in got.removed[0].reason
    assert not check("Ivo Brask [1].", "Who is Halden Rovers' manager?", sale).removed
    town = shown("The Tarnholm bridge reopened on Monday. Repairs cost two million euros. In Brenna, Mayor Ilse "
                 "Brandauer said Brenna would pay half.")
    assert check("Ilse Brandauer [1].", "Who is the mayor of Tarnholm?", town).refused
    assert not check("Ilse Brandauer [1].", "Who is the mayor of Brenna?", town).removed
    # An investigator is a role too: a body the cited source names beside no one so titled is no answer.
    inquiry = shown("The Karvenian Rail Safety Board (KRSB) opened an inquiry into the brakes.",
                    "The Board's lead investigator tested 17 returned brakes.")
    question = "What is the name of the KRSB's lead investigator?"
    assert check("The KRSB's lead investigator is the Board [1].", question, inquiry).refused


def test_who_holds_a_role_is_answered_by_someone_a_source_gives_that_whole_role():
    ceo = shown("Ada Lind, Chief Executive Officer of Norrow Freight, said the quarter was hard.")
    assert refused_for_the_role("Norrow Freight's chief financial officer is Ada Lind [1].",
                                "What is the name of Norrow Freight's chief financial officer?", ceo)
    inquiry = shown("Dr Ola Brekke, who chairs the inquiry, said the port authority would publish its logs.")
    assert check("The port authority's head of marine operations is Dr Ola Brekke [1].",
                 "Who is the port authority's head of marine operations?", inquiry).refused
    # A title's letters are its words.
    assert not check("Ada Lind is Norrow Freight's chief executive [1].", "Who is Norrow Freight's CEO?", ceo).removed
    initials = shown("Norrow Freight CEO Ada Lind said the quarter was hard.")
    assert not check("Norrow Freight's chief executive officer is Ada Lind [1].",
                     "Who is Norrow Freight's chief executive officer?", initials).removed


def test_the_words_that_narrow_a_role_count_however_the_question_asks_for_its_holder():
    # "What is the name of …'s deputy chair?" asks for the deputy, not the chair a source names.
    chair = shown("Odra Venn, who has chaired the Harlow Election Board since 2017, read the result.",
                  "She was joined by the board's deputy chair, who did not speak to the press.")
    question = "What is the name of the election board's deputy chair?"
    assert refused_for_the_role("The deputy chair of the election board is Odra Venn [1].", question, chair)
    deputy = shown("Deputy chair Ilan Moss handled the agents' questions at the Harlow Election Board.")
    assert not check("The deputy chair of the election board is Ilan Moss [1].", question, deputy).removed
    # A verb before the role is no rank ("who became mayor"), nor is where the role is held.
    hale = shown("Ada Hale was elected mayor of Harlow in May. Harlow Rovers named Ilan Moss captain.")
    assert not check("Ada Hale [1].", "What is the name of the woman who became mayor of Harlow?", hale).removed
    assert not check("Ilan Moss [1].", "What is the name of the team captain?", hale).removed
    # A role alone, or in capitals, is narrowed by nothing the question does not write in lower case.
    assert not check("Odra Venn chairs the board [1].", "What is the name of the board's chair?", chair).removed
    assert not check("Odra Venn [1].", "Who was declared Chair of the Harlow Election Board?", chair).removed


@pytest.mark.parametrize("before, kept", [
    ("Harbor Lights Ltd. fell 3.2% and BlueWave slipped 1.8%.", False),  # BlueWave only in passing
    ("BlueWave runs 12 ferries between Porto Verde and the islands.", True),  # what the sentence is about
    ("Harbor Lights Ltd. opened a terminal.", True),  # BlueWave not there at all: not this rule's to say
])
def test_a_title_with_no_body_is_held_where_the_sentence_before_is_about(before, kept):
    said = shown(f"{before} Chief executive Marta Quintas told reporters that fares would fall.")
    got = check("Marta Quintas [1].", "Who is the chief executive of BlueWave?", said)
    reasons = [r.reason for r in got.removed]
    assert ("the sentence giving 'Marta Quintas' the role follows one about Harbor Lights Ltd" in reasons) != kept
    # A body in the title's own sentence is other rules' to read.
    assert not check("Marta Quintas [1].", "Who is the chief executive of BlueWave?",
                     shown("Harbor Lights Ltd. fell 3.2% and BlueWave slipped 1.8%. BlueWave chief executive Marta "
                           "Quintas told reporters that fares would fall.")).removed


def test_where_is_answered_by_a_place_or_a_name():
    said = shown("Lena Morrow reappeared in public alongside the mayor and other business leaders. "
                 "The meeting was held at the old customs house in Porto Verde.")
    question = "Where did Lena Morrow reappear alongside the mayor?"
    got = check("Lena Morrow reappeared alongside the mayor and other business leaders [1].", question, said)
    assert got.refused and got.removed[0].reason == "it does not say where, which the question asks"
    assert not check("Lena Morrow reappeared in Porto Verde [1].", question, said).removed
    assert not check("She reappeared at the old customs house [1].", question, said).removed


def test_a_figure_for_another_year_does_not_answer():
    staff = shown("By 2019 Norrow Freight had 85 employees. Today it employs 340 people.")
    got = check("Norrow Freight had 85 employees in 2019 [1].", "How many employees did Norrow Freight have in 2022?",
                staff)
    assert got.refused and got.removed[0].reason == "it gives a figure for 2019, and the question asks about 2022"
    assert not check("Norrow Freight had 85 employees in 2019 [1].",
                     "How many employees did Norrow Freight have in 2019?", staff).removed


def test_a_figure_nothing_dates_does_not_answer_for_the_year_asked():
    # A passage from inside a report on this year's vote gives no turnout for the last one, even
    # where another cited passage, one that opens its document, writes the year asked.
    text = "In Harlow an independent came third. Turnout was 58.2 percent, the highest in a decade."
    count = {1: Passage(text, "1.txt", 900, 900 + len(text), 1.0),
             2: Passage("Ada Hale was first elected mayor of Harlow in 2019.", "2.txt", 0, 51, 0.5)}
    question = "What was the turnout in the 2019 Harlow mayoral election?"
    got = check("Turnout was 58.2 percent [1][2].", question, count)
    assert got.refused and got.removed[0].reason == "no cited source says its figure is for 2019"
    # Written into the answer, the year is a value the claim check holds to the figure.
    assert check("Turnout in the 2019 election was 58.2 percent [1].", question, count).refused
    # The year in the passage that states the figure, or on its document's head (a dateline in
    # the first lines of a passage that opens it), stands; so does a season that ends in it.
    for said in ("The 2019 Harlow mayoral election was held on 2 May. Ada Hale won. Turnout was 51.9 percent.",
                 "Harlow Gazette\nFriday, 3 May 2019\n\nAda Hale won easily. Many stayed at home. Turnout was 51.9 percent."):
        assert not check("Turnout was 51.9 percent [1].", question, shown(said)).removed
    season = shown("Ilan Moss scored 14 goals in the 2022-23 season.")
    assert not check("Ilan Moss scored 14 goals [1].", "How many goals did Ilan Moss score in 2023?", season).removed
    # A figure its own sentence dates otherwise ("last year" may be the year asked) is left alone,
    # as is a year that dates a clause of the question, not what it asks.
    sales = shown("Norrow Freight reported sales of 1.2 billion euros last year.")
    assert not check("Norrow Freight reported sales of 1.2 billion euros [1].",
                     "What sales did Norrow Freight report for 2024?", sales).removed
    staff = {1: Passage("Norrow Freight has 340 employees.", "1.txt", 500, 533, 1.0)}
    assert not check("Norrow Freight has 340 employees [1].",
                     "How many employees does Norrow Freight, founded in 1998, have?", staff).removed


def test_who_holds_a_role_is_not_answered_by_where_it_is_held():
    motion = shown("Brackley Borough Council's finance chair proposed the motion, which passed by 20 votes to 5.")
    got = check("The council finance chair who proposed the motion is the finance chair of Brackley Borough Council [1].",
                "What is the name of the council finance chair who proposed the motion?", motion)
    assert got.refused and got.removed[0].reason == "it names where that role is held, not who holds it"
    # Asked which body, the body answers; asked who, a name does.
    ceo = shown("The chief executive of Norrow Freight, Ada Lind, resigned on Monday.")
    assert not check("The chief executive of Norrow Freight resigned on Monday [1].",
                     "Which firm's chief executive resigned on Monday?", ceo).removed
    assert not check("Ada Lind, the chief executive of Norrow Freight, resigned on Monday [1].",
                     "Who resigned as chief executive on Monday?", ceo).removed


def test_a_year_counts_nothing_and_a_number_a_verb_follows_counts_the_noun_said_before():
    # "added in 2011 cost €2.4 million": 2011 is a year, not 2011 "costs".
    roof = shown("The depot was rebuilt in 1998, and in 2011 a solar roof was added at a cost of €2.4 million.")
    assert not check("The solar roof added in 2011 cost €2.4 million [1].",
                     "How much did the solar roof added in 2011 cost?", roof).removed
    # … and "the Harbor Fire of 2011 destroyed": the year of a name, not 2011 "destroyed".
    fire = shown("The Tarn Fire of 2011 was smaller, burning 3,900 hectares, but it came closer. Within "
                 "36 hours it had destroyed 41 homes.")
    assert not check("The Tarn Fire of 2011 destroyed 41 homes [1].", "How many homes were destroyed in the 2011 "
                     "Tarn Fire?", fire).removed
    # … but a count after "a total of" still counts what follows it.
    routes = shown("BlueWave cut a total of 1800 routes last year.")
    assert check("BlueWave cut a total of 1800 jobs last year [1].", "How many jobs did BlueWave cut?", routes).refused
    # "…140 people fell ill and 22 were admitted": 22 people, as the sentence says.
    ill = shown("Officials say 140 people fell ill during the outbreak and 22 were admitted to Kelby General Hospital.")
    assert not check("22 people were admitted to hospital during the outbreak [1].",
                     "How many people were admitted to hospital during the outbreak?", ill).removed
    # "engine number 4 gave way": 4 is a label, not a count of what follows.
    pump = shown("The board's leading hypothesis remains a bearing failure in the pump of engine number 4.")
    assert not check("The board thinks the bearing failure in the pump of engine number 4 gave way [1].",
                     "Which part does the board think gave way?", pump).removed
    staff = shown("The plant runs 140 machines and 22 were replaced this year.")
    assert check("22 people were replaced this year [1].", "How many people were replaced this year?", staff).refused


def test_a_likeness_suffix_after_a_hyphen_is_no_part_of_the_name():
    """"A Velto-style app" names Velto, as the source's "Velto-like app" does, for the grounding
    and for the independent count; a made-up name is still one."""
    passages = shown("In 2021 Marlow Freight launched its Velto-like tracking app, Cargopath.")
    question = "What was Marlow Freight's Velto-style tracking app called?"
    assert not check("Marlow Freight's Velto-style tracking app was Cargopath [1].", question, passages).removed
    assert unsupported_sentences("Marlow Freight's Velto-style app was Cargopath [1].", list(passages.values())) == []
    assert check("Marlow Freight's Orbo-style tracking app was Cargopath [1].", question, passages).refused
    assert unsupported_sentences("Marlow Freight's Orbo-style app was Cargopath [1].", list(passages.values()))


def test_a_measure_is_no_count_unless_the_question_asks_in_it_however_written():
    depth = shown("Snow at Ashby Fell's top station has thinned from 120 centimetres to 80 centimetres since 2000.")
    got = check("Snow at Ashby Fell's top station has thinned from 120 centimetres to 80 centimetres [1].",
                "How many people visited Ashby Fell last summer?", depth)
    assert got.refused and got.removed[0].reason == "'120' is not a count, which the question asks for"
    assert not check("Snow at Ashby Fell's top station has thinned from 120 centimetres to 80 centimetres [1].",
                     "How many centimetres of snow has Ashby Fell's top station lost since 2000?", depth).refused
    pistes = shown("The resort has 40 km of pistes and 14 lifts.")
    assert not check("The resort has 40 km of pistes [1].", "How many kilometres of pistes does the resort have?",
                     pistes).refused


def test_a_duration_or_a_time_of_day_is_no_count_of_what_is_asked():
    ferry = shown("The temporary ferry runs every 15 minutes between 6 a.m. and midnight.")
    got = check("The ferry runs every 15 minutes between 6 a.m. and midnight [1].",
                "How many passengers use the temporary ferry each day?", ferry)
    assert got.refused and got.removed[0].reason == "'15' is not a count, which the question asks for"
    assert not check("The ferry runs every 15 minutes between 6 a.m. and midnight [1].",
                     "How many minutes apart does the temporary ferry run?", ferry).refused


def test_a_figure_dated_by_its_source_sentence_is_of_that_year():
    sources = shown("In 2021, the Corvane Bridge's last inspection recommended new bearings. The estimated cost "
                    "was €6.3m.", "The Corvane Bridge opened in 1968. It cost €4.1m to build.")
    question = "How much did it cost to build the Corvane Bridge in 1968?"
    got = check("The Corvane Bridge cost €6.3m [1].", question, sources)
    assert got.refused and got.removed[0].reason == "it gives a figure for 2021, and the question asks about 1968"
    assert not check("The Corvane Bridge cost €4.1m to build [2].", question, sources).removed


def test_the_independent_count_reads_model_names_whole():
    passages = list(shown("OpenAI released GPT-4o in May.").values())
    assert unsupported_sentences("Later OpenAI released GPT-5o [1].", passages)
    assert not unsupported_sentences("OpenAI released GPT-4o in May [1].", passages)


def test_a_sum_the_source_gives_as_another_kind_of_sum_does_not_answer():
    # (Restored: the eighteenth session's review commit dropped it with the withdrawn place rule's test.)
    profit = shown("BlueWave made a pre-tax profit of €19.6 million last year, the company said.")
    question = "What was BlueWave's annual turnover last year?"
    result = check("BlueWave's annual turnover last year was €19.6 million [1].", question, profit)
    assert result.refused
    assert result.removed[0].reason == "no cited source gives that sum as the turnover asked about"
    turnover = shown("BlueWave's turnover was €19.6 million last year, the company said.")
    assert not check("BlueWave's annual turnover last year was €19.6 million [1].", question, turnover).refused
    # Two sums asked together: each sentence gives its own.
    both = shown("BlueWave reported revenue of €142m. Its net loss widened to €19.4m.")
    assert not check("Its net loss widened to €19.4m [1].", "What were BlueWave's revenue and net loss?",
                     both).refused
    # The same thing asked as "What <thing> does X…?", and not where the question asks two things.
    cost = shown("BlueWave has put the cost of its new terminal at 87 million euros.")
    result = check("BlueWave charges €87 million [1].", "What price per crossing does BlueWave charge?", cost)
    assert result.refused and result.removed[0].reason == "no cited source gives that sum as the price asked about"
    assert not check("BlueWave's new terminal costs €87 million [1].", "What cost does BlueWave give for its new "
                     "terminal, and when will it open?", cost).refused
    # … or as "How much <thing> did X…?"
    result = check("BlueWave had revenue of €19.6 million [1].", "How much debt did BlueWave have last year?",
                   shown("BlueWave had just been promoted and had revenue of €19.6 million."))
    assert result.refused and result.removed[0].reason == "no cited source gives that sum as the debt asked about"
    # "How much of its budget…?" asks a part of it, not the budget.
    fuel = shown("BlueWave spent €2 million on fuel last year, against revenue of €19 million.")
    assert not check("BlueWave spent €2 million on fuel last year [1].",
                     "How much of its budget did BlueWave spend on fuel last year?", fuel).removed
    # The noun asked for is the phrase's head: "cost savings" are savings, no cost.
    saving = shown("BlueWave said the merger will save 10 million euros a year, lifting its profit.")
    assert not check("The merger will save BlueWave 10 million euros a year [1].",
                     "What cost savings will the merger bring BlueWave?", saving).refused


def test_when_nothing_is_left_the_sources_differing_days_do_not_answer_another_question():
    from assistant.grounding import nothing_supported
    from assistant.types import Conflict

    days = [Conflict("Monday", "a.txt", "The shares fell on Monday.", 1),
            Conflict("Tuesday", "b.txt", "The shares fell on Tuesday.", 2)]
    assert nothing_supported("What was BlueWave's share price before the news?", [], days).refused
    assert not nothing_supported("On which day did BlueWave's shares fall?", [], days).refused
    # "on the day of…" dates what is asked; it asks no day.
    assert nothing_supported("By what percentage did BlueWave's shares fall on the day of the storm?", [], days).refused
    assert not nothing_supported("What was the date of BlueWave's share fall?", [], days).refused


def test_two_names_in_adjacent_sentences_without_the_word_that_relates_them_do_not_stand():
    # "founded" is in neither sentence: the names are side by side, not related.
    sources = shown("The new catamaran arrived a week after the startup Velmora launched its ferry app. "
                    "Harbor Lights has pledged 20 million euros for new berths.",
                    "Velmora's app, Tidewise, books crossings for commuters.")
    result = check("Velmora was founded by Harbor Lights [1].", "Who founded Velmora, the startup behind Tidewise?",
                   sources)
    assert result.refused and "do not stand together" in result.removed[0].reason
    # The same two names in one sentence, or with the word that relates them, still stand.
    assert not check("Velmora was founded by Harbor Lights [1].", "Who founded Velmora?",
                     shown("Velmora was founded by Harbor Lights in 2019.")).removed
    kept = check("Harbor Lights founded Velmora [1].", "Who founded Velmora?",
                 shown("Velmora is a startup. Harbor Lights founded it in 2019."))
    assert not kept.removed
    # Nor does a name the window only refers back to: "its" is Harbor Lights' own.
    later = shown("The startup Velmora launched its ferry app. Its app books crossings for commuters. "
                  "Last week, Harbor Lights announced plans to double its fleet.")
    assert check("Velmora was founded by Harbor Lights [1].", "Who founded Velmora?", later).refused


def test_a_source_that_writes_the_questions_name_does_not_call_it_by_another():
    # Velmora is written in [1]: "Harbor Lights" beside Tidewise in another sentence is no alias for it.
    sources = shown("Just a day before Harbor Lights' launch, another firm unveiled Tidewise, a booking app. "
                    "Tidewise can plan a whole trip. The startup Velmora is behind Tidewise.")
    result = final_answer("Velmora was founded by Harbor Lights [1].", "Who founded Velmora, the startup behind Tidewise?",
                          sources, doubts=True)
    assert result.refused and not result.doubtful


def test_a_subject_called_by_the_questions_description_stands_through_the_name_it_describes():
    sources = shown("Harbor Lights, the company behind the Porto Verde and Ilha Nova terminals, was founded in 1998.",
                    "Harbor Lights built the Gaivota, its fastest ferry, in 2021.")
    question = "The company that built the Gaivota also runs which terminals?"
    answer = "The company that built the Gaivota also runs the Porto Verde and Ilha Nova terminals [2]."
    result = check(answer, question, sources)
    assert not result.removed and result.text == answer.replace("[2]", "[1]")  # the rest stands on [1]
    # Not when no shown passage puts the described name (the Gaivota) with the terminals' company.
    alone = shown(sources[1].text, "BlueWave built the Gaivota in 2021.")
    assert check(answer.replace("[2]", "[1]"), question, alone).refused
    # Nor when the rest adds nothing: the description restated is no answer.
    assert check("The company that built the Gaivota also runs terminals [1].", question, sources).refused
    # Nor when the description is what the question asks to name.
    rival = shown(sources[1].text + " BlueWave runs 12 ferries.", sources[2].text)
    assert check("The rival of the Gaivota's builder is BlueWave [1].",
                 "Which operator is the rival of the Gaivota's builder?", rival).refused
    # Nor when the question names its subject rather than describing it.
    named = check("Velmora's Gaivota ferry serves the Porto Verde and Ilha Nova terminals [1].",
                  "Which terminals does Velmora's Gaivota ferry serve?",
                  shown(sources[1].text, "Harbor Lights built the Gaivota for Velmora in 2021."))
    assert named.refused


def test_a_year_before_a_name_counts_nothing():
    # "the 2024 Harbour Regatta": 2024 dates the regatta; it is no count of "harbour"s.
    year = claims("The 2024 Harbour Regatta will run on 12 July.", frozenset({"Harbour", "Regatta", "July"}))[0].numbers[0]
    assert year.text == "2024" and year.unit == ""
    assert claims("It sold 2024 tickets.", frozenset())[0].numbers[0].unit == "ticket"
