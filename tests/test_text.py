"""assistant.text: the one place for sentences, words, terms, citation markers and trimming."""

import pytest

from assistant import text


def test_sentences_keep_abbreviations_initials_and_decimals_whole():
    s = "Shares rose 8.39% in the U.S. market on Jan. 5. Dr. Smith agreed. J. Doe did not! Then it fell?"
    assert text.sentences(s) == ["Shares rose 8.39% in the U.S. market on Jan. 5.", "Dr. Smith agreed.",
                                 "J. Doe did not!", "Then it fell?"]


def test_sentence_spans_are_offsets_into_the_text_and_a_line_break_ends_one():
    s = "  Title line\nFirst one.  Second one.  "
    spans = text.sentence_spans(s)
    assert [s[a:b] for a, b in spans] == ["Title line", "First one.", "Second one."]
    assert text.sentence_spans(s, 13, 24) == [(13, 23)]


def test_dots_that_lead_to_a_figure_keep_a_table_row_whole():
    table = "Final result\n   HALE, Ada (Harbour Party) ........ 19,203\n   MOSS, Ilan ... 4,029\nMajority: 38"
    assert text.sentences(table) == ["Final result", "HALE, Ada (Harbour Party) ........ 19,203",
                                     "MOSS, Ilan ... 4,029", "Majority: 38"]
    assert text.sentences("She paused... Then she left.") == ["She paused...", "Then she left."]


def test_a_citation_marker_after_the_full_stop_belongs_to_the_sentence_before():
    assert text.sentences("It rose 8%. [1] It fell [2]. Then [3][4] nothing.") == [
        "It rose 8%. [1]", "It fell [2].", "Then [3][4] nothing."]


def test_colon_ends_a_sentence_only_when_asked():
    s = "IMPORTANT: ignore it. Parking is free."
    assert text.sentences(s) == ["IMPORTANT: ignore it.", "Parking is free."]
    assert text.sentences(s, colon=True) == ["IMPORTANT:", "ignore it.", "Parking is free."]


def test_words_and_terms():
    assert text.words("The U.S.-listed QwQ-32B rose 2.5%.") == ["The", "U.S.-listed", "QwQ-32B", "rose", "2.5%."]
    assert text.terms("The U.S.-listed stocks rose 2.5% in techniques identified") == [
        "u.s.-listed", "stock", "rise", "2.5%", "techniqu", "identify"]
    assert text.stem("technique") == text.stem("techniques")
    assert [text.stem(w) for w in ("runs", "owns", "days", "uses", "news", "bias", "plus")] == [
        "run", "own", "day", "use", "news", "bias", "plus"]
    assert "the" in text.STOPWORDS and not text.terms("the of and")


def test_citation_markers():
    s = "A [3]. B [1][3]. C [Source 2, 4]. D 【5】. Not a marker [x]."
    assert text.cited_numbers(s) == [3, 1, 3, 2, 4, 5]
    assert [text.marker_numbers(m) for m in text.CITE.finditer("[1; 2] [sources 7]")] == [[1, 2], [7]]
    assert text.strip_citations("Fact [1].") == "Fact ."


def test_trim():
    assert text.trim("  ab c \n", 0, 8) == (2, 6)
    assert text.trim("   ", 0, 3) == (3, 3)


def test_common_irregular_past_forms_stem_to_their_verb():
    from assistant.text import terms

    assert terms("R1 stood out; shares rose") == terms("R1 stands out; shares rise")
    assert terms("left the room") == ["left", "room"]  # a form that is also an everyday word stays


def test_a_place_named_by_its_adjective():
    pairs = [("China", "Chinese"), ("Japan", "Japanese"), ("Canada", "Canadian"), ("Italy", "Italian"),
             ("Russia", "Russian"), ("Europe", "European"), ("Korea", "Korean"), ("Mexico", "Mexican"),
             ("America", "American"), ("Israel", "Israeli"), ("Brazil", "Brazilian")]
    for place, adjective in pairs:
        assert place.lower() in text.places_named(f"the {adjective} market"), adjective
    # Not a first name before a surname, nor a word of a name, nor the place itself.
    assert text.places_named("Julian Chen and Indian Motors said so in China.") == []


def test_five_letter_past_forms_meet_their_verb():
    assert [text.stem(w) for w in ("owned", "added", "aimed", "based", "named", "voted")] == [
        text.stem(w) for w in ("owns", "adds", "aims", "bases", "names", "votes")]
    assert [text.stem(w) for w in ("speed", "embed", "shred")] == [text.stem(w) for w in ("speeds", "embeds", "shreds")]


def test_question_kinds():
    assert text.asks_yes_no("Did it open?") and text.asks_yes_no("And isn't it open?")
    assert text.asks_yes_no("Which came first, the ferry or the terminal?")
    assert text.asks_yes_no("Who founded it, and did it open a terminal?")
    assert not text.asks_yes_no("Who founded it?") and not text.asks_yes_no("Discuss the terminal.")
    assert text.asks_who_where_why("Who opened it?") and text.asks_who_where_why("And where, and why?")
    assert not text.asks_who_where_why("Who opened it, and when?")
    assert not text.asks_who_where_why("When did it open?") and not text.asks_who_where_why("Which company opened it?")
    # "What is the name of…?" asks for a name, as "who" does.
    assert all(text.asks_who_where_why(q) for q in ("What is the name of its chief executive?",
                                                     "What are the names of the two administrators?",
                                                     "What’s the name of the town?"))
    assert not text.asks_who_where_why("What is the population of the town?")
    assert text.asks_date("When did the ferry start?") and text.asks_date("On which day did it open?")
    assert not text.asks_date("Who opened it?")
    # "When" that opens a clause inside the question asks no date.
    assert text.asks_date("It opened in May, and when did it close?") and text.asks_date("Since when has it run?")
    assert not text.asks_date("How many ferries ran when the strike began?")
    assert not text.asks_date("Which symbol do the articles use when comparing the two firms?")
    assert text.asks_date("Can you tell me when the terminal opened?")
    assert not text.asks_date("How many staff did it have in 2019, when it opened the terminal?")
    # a word that narrows the date may stand between; a determiner or a verb may not
    assert text.asks_date("On what calendar date did the ferry start?") and text.asks_date("At what local time did it sail?")
    assert not text.asks_date("What did the day bring for the ferry?") and not text.asks_date("What share of the year?")
    assert text.asks_where("Where was the Gaivota built?") and text.asks_where("From where does it sail?")
    assert not text.asks_where("Who knows where it sails?")
    assert text.asks_number("How many boats does it run?") and text.asks_number("What percentage rose?")
    assert not text.asks_number("Which boats does it run?")
    assert text.asks_price("How much does a ticket cost?") and text.asks_price("What is the fare to Porto Verde?")
    assert not text.asks_price("How much faster is it?")
    # What a thing is worth, or was valued at, is a sum of money too.
    for q in ("How much is the ferry contract worth?", "What is the Porto Verde deal worth?",
              "How much was BlueWave valued at?"):
        assert text.asks_price(q) and text.asks_amount(q), q
    assert not text.asks_amount("How much of the fleet is worth repairing?")
    assert text.asks_amount("What was BlueWave's revenue in 2024?") and text.asks_amount("How much did it cost?")
    assert not text.asks_amount("What is the main cost of running a ferry?")
    # "What <sum> did…?" asks one as "What was…?" does; "What … growth drove…?" asks none.
    assert text.asks_amount("What revenue did BlueWave report for 2024?") and text.asks_amount(
        "What price per ticket does BlueWave charge?")
    assert not text.asks_amount("What revenue growth drove the results?")
    for q in ("How much funding has the city pledged?", "How much revenue did the unit bring in?",
              "How much foreign investment has it attracted?", "How much money did BlueWave raise?"):
        assert text.asks_amount(q) and not text.asks_figure(q), q  # a comparison may answer "how much"
    assert not text.asks_amount("How much faster is the new ferry?")
    assert not text.asks_amount("What was the revenue growth driven by?")
    assert text.asks_figure("What was BlueWave's revenue in 2024?") and text.asks_figure("What is the fare to Porto Verde?")
    assert not text.asks_figure("How much has it risen?") and not text.asks_figure("What share of revenue is it?")
    # What something cost is a figure: "far less than its rivals" says no more how much than "8% more".
    assert text.asks_figure("How much did it cost?") and text.asks_figure("How much did it cost DeepSeek to train R1?")
    assert not text.asks_figure("How much more did it cost than planned?")
    assert not text.asks_figure("How much cheaper is the fare than the bus?")
    for q in ("At what price did the shares close?", "For what price was the terminal sold?",
              "What fare does BlueWave charge?", "At what share price did the stock close?",
              "What ticket price will the operator charge?"):
        assert text.asks_price(q) and text.asks_figure(q), q
    assert not text.asks_price("At what time did the terminal open?")


def test_a_question_asks_when_at_its_opening_and_a_day_in_more_ways():
    # asks_when: asks_date in the first two words, whatever narrows the date between
    assert text.asks_when("When did the ferry start?") and text.asks_when("By what date must it sail?")
    assert text.asks_when("At what local time did it sail?") and text.asks_when("On what calendar date did it start?")
    assert not text.asks_when("It opened in May, and when did it close?")
    assert not text.asks_when("How many bats did they count when they surveyed the caves?")
    # asks_day: what a date can answer, as against an amount
    assert text.asks_day("What was the date of the vote?") and text.asks_day("By what deadline must it pay?")
    assert text.asks_day("How many staff did it have when it opened?") and text.asks_day("When did it open?")
    assert not text.asks_day("By what percentage did it drop on the day of the failure?")
    assert not text.asks_day("What was the share price before the breach?")


def test_questions_for_one_named_thing_and_for_how_long():
    for q in ("Which ferry operator was the first?", "Who is the founder of BlueWave?",
              "What is the name of BlueWave's chief executive?", "Which firm's analysts expect more routes?",
              "Who has been appointed interim director?", "Who was named chief executive?"):
        assert text.asks_name(q), q
    for q in ("Which operators were first?", "Which training method did they use?", "Who benefits from it?",
              "Who leads the transport committee?", "Who founded the cooperative?",
              "Who is Marta Quintas?", "Which company runs it, and when did it start?"):
        assert not text.asks_name(q), q
    assert text.asks_how_long("How long did the crossing take?") and not text.asks_how_long("How far is it?")


def test_which_city_asks_a_place_below_a_country_and_countries_come_from_the_tz_table():
    assert text.asked_place_below_country("In which city is BlueWave based?") == "city"
    assert text.asked_place_below_country("Which Portuguese town has the terminal?") == "town"
    for q in ("Where is BlueWave based?", "Which country is it in?", "Which state-owned firms use it?"):
        assert not text.asked_place_below_country(q), q
    assert {"portugal", "china", "united states", "u.s.", "uk", "south korea"} <= text.countries()
    assert not {"singapore", "hong kong", "monaco", "faro"} & text.countries()


@pytest.mark.parametrize("phrase, key", [
    ("So far this year", "year to date"), ("year-to-date", "year to date"), ("Since January", "year to date"),
    ("since the start of the year", "year to date"), ("so far in 2025", "year to date"), ("on the day", "one day"),
    ("on Wednesday", "one day"), ("by the end of the day", "one day"), ("in the past 24 hours", "one day"),
    ("in the previous session", "one day"), ("in the past month", "past month"), ("last month", "past month"),
    ("this month", "past month"), ("over the past two weeks", "past 2 week"), ("in the last 2 weeks", "past 2 week"),
    ("since March", "since march"), ("since January 2020", "since 2020"), ("in the last twelve months", "past year"),
    ("over the past 52 weeks", "past year"), ("in the past three months", "past quarter"),
    ("over the past decade", "past 10 year"), ("in the past ten years", "past 10 year"),
    ("over the next three years", "next 3 year"), ("in the coming two decades", "next 20 year"),
    ("over the next few months", "next few month"), ("in premarket trading", "before the open"),
    ("before the opening bell", "before the open"), ("in after-hours trading", "after the close"),
    ("in extended trading", "after the close"), ("by the close of regular trading", "one day"),
    ("at the close", "one day"), ("during regular trading", "one day"),
])
def test_periods_give_one_key_to_one_span_said_in_different_words(phrase, key):
    assert text.periods(f"Shares rose 4% {phrase}.") == {key: phrase}


def test_periods_find_nothing_in_a_sentence_without_a_span():
    assert text.periods("Shares rose 4% after the launch in Porto Verde.") == {}
    assert text.periods("Most of the gain came on the last day of trading.") == {}


def test_a_span_lies_before_now_after_it_or_either():
    assert [text.span_direction(k) for k in ("past month", "since 2020", "next 3 year", "year to date", "one day")] \
        == ["past", "past", "next", "", ""]
    # "the next day" and "the next year" most often tell what happened after an event.
    assert text.periods("The next day, shares fell 3%. The next year it opened two routes.") == {}


def test_a_span_that_is_two_spans_has_both_keys():
    assert text.periods("It has risen 25% since June last year.") == {"since june": "since June last year",
                                                                       "past year": "since June last year"}


def test_the_same_period_is_the_span_named_before_it():
    spans = text.period_spans("BlueWave rose 12% in the past month, while Harbor Lights gained 8% in the same period.")
    assert [(key, phrase) for _, _, key, phrase in spans] == [("past month", "in the past month"),
                                                              ("past month", "the same period")]
    assert text.periods("Harbor Lights gained 8% in the same period.") == {}  # nothing before it to name
    assert text.periods("At the same time, Harbor Lights gained 8% this year.") == {"year to date": "this year"}


def test_attribution_is_whose_word_a_question_asks_for():
    assert text.attribution("How much did it rise, according to Marlin Research's chief analyst?") == \
        "Marlin Research's chief analyst"
    assert text.attribution("According to the mayor, when will the bridge open?") == "the mayor"
    assert text.attribution("How much did it rise?") == ""


def test_a_countrys_adjective_is_told_from_a_name():
    from assistant.text import nationality

    assert all(nationality(w) for w in ("Chinese", "American", "Israeli", "Brazilian", "Japanese"))
    assert not any(nationality(w) for w in ("Monica", "Julian", "Brian", "Alibaba", "chinese"))


def test_a_rate_is_asked_and_given_as_a_ratio():
    from assistant.text import asks_rate, states_rate

    assert asks_rate("What interest rate does the museum pay on its loan?") and asks_rate("At what rate did it grow?")
    assert not asks_rate("How much did the rate cut save?") and not asks_rate("Who set the rates?")
    assert all(states_rate(s) for s in ("It pays 4.5% a year.", "Staff earn €20 an hour.", "7.2 yuan to the dollar",
                                        "1.3 children per woman", "a rise of 50 basis points",
                                        "Cases doubled every three days."))
    assert not states_rate("It took a short-term loan of €4m from the city in October 2024.")


def test_a_question_may_name_its_subject_by_a_pronoun():
    from assistant.text import refers_back

    assert refers_back("On which TV programme did he make those comments?") and refers_back("What levy is she proposing?")
    assert not refers_back("Which BlueWave ferry is the fastest?") and not refers_back("Where is the ship?")
    assert not refers_back("Which BlueWave ferry is the fastest in its fleet?")  # "its" points inside the question
    assert refers_back("How far has that company's stock climbed?") and refers_back("What does this model cost?")
    assert not refers_back("Which firm said that prices would rise?")
    assert not refers_back("Which minister said that banks should pay a levy?")
    assert refers_back("What did those companies say?")


def test_a_value_is_read_as_written():
    shown = "Alibaba said the Chinese market grew 8% in 2024. Its chief executive, Eddie Wu, spoke.".lower()
    assert text.unwritten_value("Eddie Wu said the market grew 8% [1].", shown) == ""
    assert text.unwritten_value("The market in China grew 8% [1].", shown) == "China"  # a term, not written
    assert text.unwritten_value("Sales grew 9% at Alibaba [1].", shown) == "9"
    assert text.unwritten_value("Sales grew 9% at Alibaba [1].", shown, names_only=True) == ""
    assert text.unwritten_value("Alibaba CEO Eddie Wu spoke [1].", shown) == "CEO"  # capitals stand alone
    assert text.unwritten_value("Zhipu grew [1].", shown) == ""  # the first word is capitalised anyway
    assert text.unwritten_value("**Note:** Alibaba grew [1].", shown) == ""  # after any markup
    # Word by word, a title joined to a name is written; a country for its adjective is not.
    assert text.unwritten_value("Said Chief Executive Eddie Wu [1].", shown, by_word=True) == ""
    assert text.unwritten_value("Sales in China rose [1].", shown, by_word=True) == "China"
