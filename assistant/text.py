"""Text handling shared by every stage: sentences, words, terms (stemmed, stopwords dropped),
citation markers and span trimming. Chunking, retrieval, prompting (the citation and
grounding checks) and the page all read text through these functions, so a sentence or a
word means the same thing everywhere.

    sentence_spans(text, start, end)  -> [(start, end), ...]  offsets into ``text``
    sentences(text)                   -> ["First one.", "Dr. Smith agreed.", ...]
    words(text)                       -> ["Shares", "rose", "8.39%", ...]   (case kept)
    terms(text)                       -> ["share", "rose", "8.39%", ...]    (lower, stemmed, no stopwords)
    CITE, cited_numbers(text), marker_numbers(match)    the [n] citation markers
    trim(text, start, end)            -> (start, end) without surrounding whitespace
    question_parts(question)          -> ["Who founded it", "when"]  the parts of a compound question
    asks_yes_no, offers_choice, asks_who_where_why, asks_where, asks_date, asks_when, asks_day, asks_year,
    asks_number, asks_price, asks_amount, asks_figure, asks_rate(question), states_rate(sentence)
                                      -> bool  what kind of answer a question wants
    asked_kind(question)              -> ["TV", "network"]  the words naming the kind asked for
    asks_country, asked_place_below_country(question)  which country, or which city, town…
    nationality(word)                 -> bool  a country's adjective ("Chinese"), no name of its own
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Iterable

# Citation markers -----------------------------------------------------------------------------

#: A citation marker: "[1]", "[1, 2]", "[Source 3]", "[sources 1; 2]" or "【1】".
CITE = re.compile(r"\[(?:sources?\s*)?(\d{1,3}(?:\s*[,;]\s*(?:sources?\s*)?\d{1,3})*)\]|【(\d{1,3})】", re.IGNORECASE)


# Sentences -------------------------------------------------------------------------------------

# Words whose trailing period does not end a sentence.
ABBREVIATIONS = frozenset({
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "inc", "ltd", "co", "corp", "no",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "fig", "approx",
    "e.g", "i.e", "u.s", "u.k", "u.n", "a.m", "p.m",
})
_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)|\n")
_END_OR_COLON = re.compile(r"[.!?…:]+[\"'”’)\]]*(?=\s)|\n")
_LEADING_MARKERS = re.compile(rf"(?:\s*(?:{CITE.pattern}))+", re.IGNORECASE)
# Dots before a figure lead to it, as in a results table or a price list ("FERRABEE, Tomas ........
# 19,203"): the row goes on.
_LEADER = re.compile(r"(?:\.{2,}|…)[ \t]+[\d€$£]")


def trim(text: str, start: int, end: int) -> tuple[int, int]:
    """``(start, end)`` moved inwards past any whitespace at either end."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def sentence_spans(text: str, start: int = 0, end: int | None = None, colon: bool = False) -> list[tuple[int, int]]:
    """Sentence spans of ``text[start:end]`` as absolute (start, end) offsets, whitespace trimmed.

    A sentence ends at ``. ! ? …`` (with closing quotes or brackets) before whitespace, or at a
    line break; not after an abbreviation ("U.S.", "Jan.", "Dr.") or a single capital ("J. Smith"),
    nor at dots that lead to a figure on the same line.
    Citation markers that open a sentence ("Fact. [1] Next") belong to the sentence before.
    With ``colon``, ": " ends a sentence too (a label before what it introduces).
    """
    end = len(text) if end is None else end
    ends = _END_OR_COLON if colon else _END
    spans: list[tuple[int, int]] = []
    sent_start = start
    for m in ends.finditer(text, start, end):
        if m.group() != "\n" and (_is_abbreviation(text, sent_start, m.start()) or _LEADER.match(text, m.start(), end)):
            continue
        stop = m.end()
        if m.group() != "\n":
            lead = _LEADING_MARKERS.match(text, stop, end)
            if lead:
                stop = lead.end()
        spans.append((sent_start, stop))
        sent_start = stop
    spans.append((sent_start, end))
    return [s for s in (trim(text, a, b) for a, b in spans) if s[1] > s[0]]


def sentences(text: str, colon: bool = False) -> list[str]:
    """The sentences of ``text`` (see ``sentence_spans``)."""
    return [text[a:b] for a, b in sentence_spans(text, colon=colon)]


def _is_abbreviation(text: str, sent_start: int, dot: int) -> bool:
    word = re.search(r"([\w.]+)$", text[sent_start:dot])
    if not word:
        return False
    w = word.group(1).lower()
    # Single capitals ("J. Smith") and known abbreviations ("U.S.", "Jan.") keep the sentence going.
    return w in ABBREVIATIONS or (len(w) == 1 and w.isalpha())


# Words and terms --------------------------------------------------------------------------------

STOPWORDS = frozenset(
    """a an and are as at be been but by did do does for from had has have how i if in into is it its
    of on or so than that the their them then there these they this to was were what when where which
    who whom why will with would about after before over under up down out his her he she we you your
    our can could should may might must much many more most also any all some such no not only own same
    too very just s t""".split()
)
WORD = re.compile(r"[\w][\w.\-%$]*")  # a word as written (``words``)


def words(text: str) -> list[str]:
    """The words of ``text`` as written: "8.39%", "U.S.-listed" and "QwQ-32B" are one word each."""
    return WORD.findall(text)


def terms(text: str) -> list[str]:
    """Lower-cased words, stopwords dropped, plurals and simple inflections folded (``stem``):
    what BM25 indexes and what the citation and grounding checks compare."""
    out = []
    for word in words(text.lower()):
        word = word.strip(".-")
        if word and word not in STOPWORDS:
            out.append(stem(word))
    return out


# Counts written as words, as style guides have small numbers ("five people", "twenty-two
# berths"). "one" is left out: it is a pronoun as often as a number ("one of the first").
_UNITS = "one two three four five six seven eight nine".split()
_TEENS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
SPELLED_NUMBER = re.compile(rf"\b(?:({'|'.join(_TENS)})(?:[-\s]({'|'.join(_UNITS)}))?|"
                            rf"({'|'.join(_UNITS[1:] + _TEENS)}))\b", re.IGNORECASE)


def spelled_value(m: re.Match) -> int:
    """The value of a ``SPELLED_NUMBER`` match: "twenty-two" is 22, "seven" 7."""
    tens, unit, small = (g.lower() if g else g for g in m.groups())
    if small:
        return _UNITS.index(small) + 1 if small in _UNITS else _TEENS.index(small) + 10
    return (_TENS.index(tens) + 2) * 10 + (_UNITS.index(unit) + 1 if unit else 0)


# A place's adjective and the place: "Chinese"/China, "Japanese"/Japan, "Canadian"/Canada,
# "Italian"/Italy, "European"/Europe, "Korean"/Korea, "Mexican"/Mexico, "Israeli"/Israel.
# English forms the adjective from the place by one of these endings, in place of the place's own
# (the tails). A source writes "the Chinese market" where a question says "into China".
_DEMONYMS = {"ese": ("", "a"), "ian": ("", "a", "y", "ia"), "ean": ("e", "ea"), "an": ("a", "o"), "i": ("",)}
# Such an adjective before a lowercase word ("Chinese market"): not a first name before a surname
# ("Julian Chen") nor part of a name ("Indian Motors").
_ADJECTIVE = re.compile(r"\b([A-Z][a-z]{3,})\s+(?=[a-z])")


def places_named(text: str) -> list[str]:
    """The places ``text`` names by their adjective, lower-cased: "the Chinese market" gives "china"
    (and "chin"): candidates, of which only the real name will ever meet another text's."""
    return [place for m in _ADJECTIVE.finditer(text) for place in _places_of(m.group(1))]


def nationality(word: str) -> bool:
    """Whether ``word`` is a country's adjective ("Chinese", "American", "Israeli"): it names a
    country, not a person or a company."""
    return word[:1].isupper() and any(place in countries() for place in _places_of(word))


def _places_of(adjective: str) -> list[str]:
    """The places an adjective may be formed from, lower-cased: "Chinese" gives "chin" and "china"."""
    low = adjective.lower()
    return [low[:-len(ending)] + tail for ending, tails in _DEMONYMS.items()
            if low.endswith(ending) and len(low) - len(ending) >= 3 for tail in tails]


# Common irregular past forms, to their verb: "stood out" restates "stand out", "rose" is "rise".
# (Forms that are also everyday nouns or adjectives, such as "left", "saw" or "found", are not here.)
_IRREGULAR = {form: verb for verb, forms in {
    "stand": "stood", "understand": "understood", "rise": "rose risen", "fall": "fell fallen", "grow": "grew grown",
    "make": "made", "say": "said", "take": "took taken", "give": "gave given", "go": "went gone", "come": "came",
    "see": "seen", "tell": "told", "hold": "held", "lead": "led", "build": "built", "sell": "sold", "buy": "bought",
    "pay": "paid", "lose": "lost", "spend": "spent", "bring": "brought", "think": "thought", "write": "wrote written",
    "run": "ran", "meet": "met", "keep": "kept", "begin": "began begun", "choose": "chose chosen",
    "drive": "drove driven", "know": "knew known", "seek": "sought", "strike": "struck", "send": "sent",
    "mean": "meant", "hear": "heard", "become": "became", "fight": "fought", "teach": "taught", "catch": "caught",
    "draw": "drew drawn", "fly": "flew flown", "speak": "spoke spoken", "break": "broke broken", "steal": "stole stolen",
    "shake": "shook shaken", "swim": "swam", "sink": "sank sunk",
}.items() for form in forms.split()}


_NOT_PLURAL = ("ss", "us", "is", "as", "os", "ews")
_VOWELS = frozenset("aeiouy")
_NOT_PAST = frozenset({"embed", "shred", "naked"})  # words that merely end in "ed"


@lru_cache(maxsize=1 << 18)  # words repeat: halves tokenising the corpus for BM25 (5.7 s, not 11, at 100k chunks)
def stem(word: str) -> str:
    """A light, consistent suffix stripper: "techniques"/"technique", "identified"/"identify";
    common irregular past forms go to their verb ("stood"/"stand")."""
    if word in _IRREGULAR:
        return stem(_IRREGULAR[word])
    if len(word) <= 4 or not word.isalpha():
        # A four-letter plural or third person ("runs", "owns", "days", "uses") is its word plus
        # "s"; not "this", "thus", "bias", "news" and the like.
        if len(word) == 4 and word.endswith("s") and word.isalpha() and not word.endswith(_NOT_PLURAL):
            return word[:-1]
        return word
    if word.endswith(("ies", "ied")) and len(word) > 5:
        word = word[:-3] + "y"
    elif word.endswith(("sses", "shes", "ches", "xes", "zes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    elif word.endswith("ing") and len(word) > 6:
        word = word[:-3]
    elif word.endswith("ed") and len(word) > 5:
        word = word[:-2]
    elif word.endswith("ed") and not word.endswith("eed") and word not in _NOT_PAST:
        # Five letters: "owned", "added", "aimed" lose "ed"; after consonant, vowel, consonant
        # the verb ends in e ("based", "named", "voted": "base", "name", "vote"). Not "speed".
        cvc = word[0] not in _VOWELS and word[1] in _VOWELS and word[2] not in _VOWELS
        word = word[:-1] if cvc else word[:-2]
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    return word


# Questions ---------------------------------------------------------------------------------------

_QUESTION_PARTS = re.compile(
    r"\?\s*|;\s*|,?\s+and\s+(?=(?:what|who|whom|whose|when|where|which|why|how|is|are|was|were|did|does|do|"
    r"has|have|had|can|could|will|would)\b)", re.IGNORECASE)


def question_parts(question: str) -> list[str]:
    """The parts of a question that asks several things ("Who…, and when…?"); one part otherwise."""
    return [p for p in _split_question(question) if len(terms(p)) >= 2]


def _split_question(question: str) -> list[str]:
    """Every part of a question, however short ("…, and when?")."""
    return [p for p in (p.strip(" ,.?") for p in _QUESTION_PARTS.split(question)) if p]


# A part of a question, after an optional "and", "so", "but"…: what kind of answer it wants.
_LEAD = r"^\W*(?:(?:and|so|but|then|also|or)\s+)?"
_YES_NO = re.compile(_LEAD + r"(?:is|are|was|were|do|does|did|can|could|will|would|has|have|had|should|may|"
                     r"might|must|shall)(?:n't|n’t)?\b", re.IGNORECASE)
_CHOICE = re.compile(r"\b(?:or|whether|if)\b", re.IGNORECASE)
# "What is the name of…?" asks for a name, as "who" does.
_WHO_WHERE_WHY = re.compile(_LEAD + r"(?:who|whom|whose|where|why|"
                            r"what(?:\s+is|\s+was|\s+are|\s+were|['’]s)\s+the\s+names?\s+of)\b", re.IGNORECASE)


def asks_yes_no(question: str) -> bool:
    """Whether a part of ``question`` asks yes or no, or it offers a choice ("…, X or Y?",
    "whether…"): restating such a question, or one of its options, answers it."""
    return offers_choice(question) or any(_YES_NO.search(p) for p in _split_question(question))


def offers_choice(question: str) -> bool:
    """Whether ``question`` offers options to choose from ("…, X or Y?", "whether…")."""
    return bool(_CHOICE.search(question))


def asks_who_where_why(question: str) -> bool:
    """Whether every part of ``question`` asks for a person, a place or a reason, which no date or
    amount answers."""
    parts = _split_question(question)
    return bool(parts) and all(_WHO_WHERE_WHY.search(p) for p in parts)


# Whose word a question asks for: "…, according to the bank's chief economist?".
_ACCORDING = re.compile(r"\baccording to\s+([^,;?]+)", re.IGNORECASE)


def attribution(question: str) -> str:
    """Whose word ``question`` asks for ("How much did it rise, according to Scope Group's
    analyst?": "Scope Group's analyst"), or ""."""
    m = _ACCORDING.search(question)
    return m.group(1).strip() if m else ""


# "When" asks only as a question word: opening the question or a part of it, before a verb
# ("…, and when did it close?"), or after a verb of telling ("Can you tell me when it opened?");
# "How many bats did they count when they surveyed the caves?" asks none. "What" or "which" asks
# a date before a word for one, a word that narrows it between ("On what calendar date…?", "At
# what local time…?"), not a determiner or a verb ("What did the day bring?").
AUXILIARY = r"(?:did|does|do|is|was|were|are|will|would|has|have|had|can|could|should|must|may|might)"
_ASKS_DATE = re.compile(rf"{_LEAD}when\b|(?:[,;]\s*|\band\s+)when\s*(?:\?|$|{AUXILIARY}\b)|"
                        rf"\bwhen\s+{AUXILIARY}\b|\b(?:tell|know|show|find out|remind)\s+(?:me\s+|us\s+)?when\b|"
                        rf"\b(?:what|which)\s+(?:(?!(?:of|the|a|an|this|that|its|their|his|her|{AUXILIARY})\b)"
                        r"[a-z][\w\-]*\s+)?(?:date|day|year|month|time)\b", re.I)
_ASKS_NUMBER = re.compile(r"\b(?:how (?:many|much|long|large|big|old|far|fast|high|heavy|tall|deep|wide)|"
                          r"what (?:percentage|share|price|number|amount|size|cost|value))\b", re.I)
# What a thing is worth is a sum of money too: "How much is the contract worth?", "What is the deal worth?".
# "How much of the fleet is worth repairing?" asks no sum.
_WORTH = r"(?:worth(?=\s*(?:[?,]|$|to\b|in\b|at\b|now\b|today\b))|valued\b)"
_HOW_MUCH_COST = (rf"\bhow much\b.*\b(?:(?:cost|costs|price|priced|pay|paid|charge|charged|fee|fare)\b|{_WORTH})"
                  rf"|\bwhat (?:is|was|are|were|will)\b.*\b{_WORTH}")
# "At what price did the shares close?", "For what price…", "What fare does it charge?": the price
# is the thing asked for, whatever the verb.
_AT_WHAT_PRICE = (r"\b(?:at|for) what (?:[\w\-]+ )?(?:price|cost|fee|fare)s?\b"
                  r"|\bwhat (?:[\w\-]+ )?(?:price|fee|fare)s? (?:did|does|do|will|would|is|was|are|were|has|have)\b")
_ASKS_PRICE = re.compile(rf"{_HOW_MUCH_COST}|{_AT_WHAT_PRICE}|\bwhat (?:is|was|are|were) the (?:price|cost|fee|fare)\b",
                         re.IGNORECASE)
# The everyday names of sums of money, in any domain; "what is the main cost" asks which item,
# and "what was the revenue growth driven by" no sum.
_MONEY_NOUNS = (r"(?:prices?|costs?|fees?|fares?|revenues?|sales|profits?|income|earnings|turnover|budgets?|"
                r"valuation|salary|salaries|wages?|rents?|debts?|funding)")
_ASKS_AMOUNT = re.compile(rf"{_HOW_MUCH_COST}|{_AT_WHAT_PRICE}|"
                          rf"\bhow much (?:[\w\-]+ )?(?:{_MONEY_NOUNS}|money|investment)\b|\bwhat (?:is|was|are|were) "
                          r"(?:(?!(?:main|biggest|largest|major|key|primary|hidden) )[\w\-.’']+ ){0,4}?"
                          rf"{_MONEY_NOUNS}"
                          r"(?=\s*(?:[?,]|$|(?:of|in|for|to|at|on|per|from|over|during|between|last|this|next)\b))|"
                          # "What revenue did Halvik report…?", "What price per tonne does it charge…?"
                          rf"\bwhat (?:[\w\-]+ ){{0,2}}?{_MONEY_NOUNS}(?: per \w+)? {AUXILIARY}\b",
                          re.IGNORECASE)


def asks_date(question: str) -> bool:
    """Whether ``question`` asks when: a date, a day, a year."""
    return bool(_ASKS_DATE.search(question))


def asks_year(question: str) -> bool:
    """Whether ``question`` asks which year ("In what year…?")."""
    return bool(_ASKS_YEAR.search(question))


_ASKS_YEAR = re.compile(r"\b(?:what|which)\s+year\b", re.IGNORECASE)


# What can say when: a number (a year, a date, "3 weeks"), a month, a weekday, a season, a unit of
# time, a word for a day or a part of it, or a word that places it beside another event ("after
# the launch", "since January", "during the hearing"). "Later", "soon" and "in the future" are
# not in it: they say that something will happen, not when. "May" is the month only as a name
# ("it may open later" says no more).
_TIME = re.compile(r"\d|\b(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|(?-i:May)|june?|july?|aug(?:ust)?|"
                   r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|monday|tuesday|wednesday|"
                   r"thursday|friday|saturday|sunday|spring|summer|autumn|fall|winter|minutes?|hours?|"
                   r"days?|weeks?|weekends?|months?|quarters?|years?|decades?|centur(?:y|ies)|today|tonight|"
                   r"yesterday|tomorrow|morning|afternoon|evening|night|noon|midnight|ago|after|before|since|"
                   r"until|till|during|following|within|once|while|when|earlier|recently|now|currently|"
                   r"already|previously|then|immediately|shortly)\b", re.IGNORECASE)


def asks_where(question: str) -> bool:
    """Whether ``question`` opens by asking where ("Where…?", "From where…?")."""
    return bool(_OPENS_WHERE.match(question))


_OPENS_WHERE = re.compile(r"\W*(?:[A-Za-z]+\s+)?where\b", re.I)


def asks_when(question: str) -> bool:
    """Whether ``question`` opens by asking when (``asks_date`` in its first two words: "When…?",
    "By what date…?", "At what local time…?"), not with "when" further in ("How many bats did
    they count when…?", "…, and when did it close?")."""
    opening = _OPENING.match(question).end()
    return any(m.start() <= opening for m in _ASKS_DATE.finditer(question))


_OPENING = re.compile(r"\W*(?:[A-Za-z]+\s+)?")  # a question's first word, when another follows


def asks_day(question: str) -> bool:
    """Whether a date or a day could answer ``question``: it asks when (``asks_date``), or asks
    for a date, a day or a deadline in other words ("What was the date of the vote?", "…by what
    deadline?"), or says "when" anywhere. Not "By what percentage did it drop on the day of the
    failure?", which asks no day. Wider than ``asks_date``, whose sentence bonus must not go to
    every question that mentions a day; this one only tells a date from an amount."""
    return asks_date(question) or bool(_ASKS_A_DAY.search(question))


_ASKS_A_DAY = re.compile(r"\b(?:what|which)\s+(?:[\w\-]+\s+){0,2}?(?:date|day|deadline)\b|\bdate\s+of\b|\bdeadline\b|"
                         r"\bwhen\b", re.IGNORECASE)


def says_when(sentence: str) -> bool:
    """Whether ``sentence`` says when something happens, in any way at all (``_TIME``)."""
    return bool(_TIME.search(sentence) or SPELLED_NUMBER.search(sentence))


def asks_number(question: str) -> bool:
    """Whether ``question`` asks how many, how much, what percentage…: a number answers it."""
    return bool(_ASKS_NUMBER.search(question))


def asks_number_first(question: str) -> bool:
    """Whether the first question word of ``question`` asks a number: "Patients of how many
    clinics…?", not "On which programme did he talk about how fast ferry travel is growing?"."""
    first = _QUESTION_WORD.search(question)
    return bool(first and _ASKS_NUMBER.match(question, first.start()))


_QUESTION_WORD = re.compile(r"\b(?:who|whom|whose|what|which|where|when|why|how)\b", re.IGNORECASE)


# "By what percentage…", "What percentage of…", "How many percentage points…": a percentage answers it.
_ASKS_PERCENTAGE = re.compile(r"\b(?:what|which|how many)\s+(?:\w+\s+)?(?:percentage|per\s?cent)", re.I)
# "How many…", "What is the population of…", "What was the number of…": a count answers it.
_ASKS_COUNT = re.compile(r"\bhow many\b(?!\s+(?:euros?|dollars?|pounds?|yuan|yen|francs?|kronor|krona|rupees?|"
                         r"times|percent|per\s?cent|percentage))|\bwhat(?:'s|\s+is|\s+was|\s+are|\s+were)\s+the\s+"
                         r"(?:population|number)\b", re.I)
_ASKS_SHARE = re.compile(r"\b(?:what|which)\s+(?:\w+\s+)?(?:share|proportion|fraction)\b", re.I)
# A share as writers give one: "8%", "8 per cent", "8 percent", "half", "doubled", "two-thirds",
# "one in five".
_SHARE = re.compile(r"%|\bper\s?cent|\bpercent|\bbasis points?\b|\b(?:half|halved|doubled?|tripled?|thirds?|"
                    r"quarters?|fifths?|tenths?)\b|\b(?:one|1) in \w+\b", re.I)


def asks_percentage(question: str) -> bool:
    """Whether ``question`` asks for a percentage ("By what percentage did it rise?")."""
    return bool(_ASKS_PERCENTAGE.search(question))


def states_percentage(sentence: str) -> bool:
    """Whether ``sentence`` gives a share: a percentage, or "half", "doubled", "a third"…"""
    return bool(_SHARE.search(sentence))


def asks_count(question: str) -> bool:
    """Whether ``question`` asks how many of something there are (a population too), not what share."""
    return bool(_ASKS_COUNT.search(question)) and not asks_percentage(question) and not _ASKS_SHARE.search(question)


def asks_how_long(question: str) -> bool:
    """Whether ``question`` asks how long: a span of time or a length, never a sum of money."""
    return bool(re.search(r"\bhow long\b", question, re.IGNORECASE))


_ASKS_RATE = re.compile(r"\b(?:what|which)\s+(?:[\w\-]+\s+)?rates?\b|\bat what rate\b", re.IGNORECASE)
# A ratio as writers give one: "4.5%", "3 percent", "€20 an hour", "7.2 yuan to the dollar",
# "1.3 children per woman", "50 basis points", "twice a year".
_RATIO = re.compile(r"%|\bper\b|\bpercent|\bbasis points?\b|\d\s*/\s*\w|\bto the\b|\btimes\b|"
                    r"\b(?:a|an|each|every)\s+(?:\w+\s+)?(?:year|month|week|day|night|hour|minute|second|annum)s?\b",
                    re.IGNORECASE)


def asks_rate(question: str) -> bool:
    """Whether ``question`` asks what a rate is ("What interest rate…?", "At what rate…?"): a
    ratio answers it, not an amount alone."""
    return bool(_ASKS_RATE.search(question))


def states_rate(sentence: str) -> bool:
    """Whether ``sentence`` gives a ratio: a percentage, "per", "an hour", "to the dollar"…"""
    return bool(_RATIO.search(sentence))


def asks_price(question: str) -> bool:
    """Whether ``question`` asks a price or a cost: an amount of money, in a currency, answers it."""
    return bool(_ASKS_PRICE.search(question))


def asks_amount(question: str) -> bool:
    """Whether ``question`` asks a sum of money (what something costs, or a business earns, spends
    or is worth): an amount answers it."""
    return bool(_ASKS_AMOUNT.search(question))


# "Which TV network…", "In what AI model…", "…, and which kind of U.S. exchange…": at the start of
# a question or a part, the words that say what kind of thing the answer is, up to the first
# lowercase word (the kind's noun, most often). "which" inside a clause ("the model which…") is not one.
_ASKED_KIND = re.compile(r"(?:^|[,;]\s*(?:and\s+)?|\band\s+)\W*(?:[A-Za-z]+\s+)?(?i:which|what)\s+"
                         r"(?:(?:kind|type|sort)s?\s+of\s+)?((?:[A-Z0-9][\w.\-’']*\s+){0,3}[a-z][\w\-]*)")


def asked_kind(question: str) -> list[str]:
    """The words of ``question`` that describe the thing asked for ("TV", "network" in "Which TV
    network interviewed him?"): the answer is a value of that kind ("CNBC"), and a source that
    gives the value need not write the kind."""
    return [w.rstrip(".-") for m in _ASKED_KIND.finditer(question) for w in m.group(1).split()
            if w.lower() not in STOPWORDS]


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# A month's name, whole or cut short ("Sept."), not the start of another word ("23 deckhands" gives no "23 Dec").
MONTH = r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|" \
        r"Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?(?![a-z])"
YEAR = re.compile(r"\b(?:1[89]|20)\d\d\b")  # a year as news writes one
WEEKDAY = re.compile(r"\b(" + "|".join(WEEKDAYS) + r")\b", re.IGNORECASE)
# A date with its year, the weekday before it if any ("Tuesday, March 4, 2025", "5 March 2023"):
# group 1 is what joins the year on (", 2025"), group 2 the year.
DATE_AND_YEAR = re.compile(rf"(?:\b(?:{'|'.join(WEEKDAYS)}),?\s+)?\b(?:{MONTH}\s+\d{{1,2}}|\d{{1,2}}\s+{MONTH})"
                           r"(?:st|nd|rd|th)?(,?\s+((?:19|20)\d\d))\b", re.IGNORECASE)


def calendar_word(word: str) -> bool:
    """Whether ``word`` names a month or a weekday ("March", "Sept.", "Thursday")."""
    return bool(re.fullmatch(MONTH, word, re.IGNORECASE) or WEEKDAY.fullmatch(word))


def when_or_where(word: str) -> bool:
    """Whether ``word``, written capitalised, says when or where rather than who: a month, a
    weekday, a country or a country's adjective ("March", "China", "Chinese")."""
    return calendar_word(word) or nationality(word) or word.lower() in countries()


# Pronouns for one subject named before, and for several; those that stand for it, not its
# possessives, are how a question names a subject named earlier ("Which TV programme was he on?").
PRONOUNS_ONE, PRONOUNS_SEVERAL = "it|its|he|his|him|she|her", "they|their|them"
_PERSONAL = re.compile(r"\b(?:he|him|she|it|they|them)\b", re.IGNORECASE)


def refers_back(question: str) -> bool:
    """Whether ``question`` names its subject with a personal pronoun ("On which TV programme did he
    speak?") or a demonstrative before a kind of named thing ("How far has that company's stock
    climbed?"): the subject was named earlier in the conversation. Not a possessive, which points
    inside the question as often ("Which BlueWave ferry is the fastest in its fleet?")."""
    return bool(_PERSONAL.search(question) or _DEMONSTRATIVE.search(question))


# Kinds of thing that are called by a name: "Which Chinese corporation was the first…?" asks for
# one, and "Some of the country's largest corporations…" names none. Kinds that ordinary words
# answer ("Which training method…": "reinforcement learning") are not here.
_NAMED_KINDS = frozenset({
    "company", "corporation", "firm", "startup", "business", "brokerage", "bank", "fund", "investor", "agency",
    "organisation", "organization", "institution", "university", "tank", "network", "broadcaster", "channel",
    "newspaper", "outlet", "publication", "analyst", "executive", "official", "person", "founder", "co-founder",
    "leader", "president", "minister", "scholar", "researcher", "country", "city", "town", "exchange", "operator",
    "rival", "competitor", "subsidiary", "unit", "model", "product", "chatbot", "app", "name"})


def _plural(noun: str) -> str:
    """The regular English plural of ``noun`` ("company" -> "companies", "tax" -> "taxes")."""
    if noun.endswith("y"):
        return noun[:-1] + "ies"
    return noun + ("es" if noun.endswith(("s", "x", "ch")) else "s")


# "that company", "those companies"; not "said that banks…", where "that" opens a clause.
_DEMONSTRATIVE = re.compile(
    rf"\b(?:(?:that|this)\s+(?:{'|'.join(sorted(_NAMED_KINDS))})|"
    rf"(?:these|those)\s+(?:{'|'.join(sorted(map(_plural, _NAMED_KINDS)))}))\b",
    re.IGNORECASE)
_WHO_IS_THE = re.compile(r"^\W*who\s+(?:is|was)\s+(?:the|its|their|his|her)\s+([\w\-]+)", re.IGNORECASE)
# "Which ferry operator was…": the words between "which" and the verb, the last the kind's noun.
_WHICH_BEFORE_VERB = re.compile(r"\W*(?:[A-Za-z]+\s+)?(?:which|what)\s+((?:[\w\-’']+\s+){1,3}?)"
                                r"(?:is|was|are|were|did|does|do|has|have|had|will|would|can|could)\b", re.IGNORECASE)
_SECOND_ASK = re.compile(r"\b(?:and|or)\s+(?:who|what|when|where|which|why|how)\b", re.IGNORECASE)
_NAME_OF = re.compile(r"\bwhat\s+(?:is|was)\s+(?:the|its|their|his|her)\s+name\b", re.IGNORECASE)
# Who was given a post ("Who has been appointed…?", "Who was named…?") is someone by name; "Who
# leads…?" may be "the mayor", "Who founded…?" "a group of fishermen", "Who benefits…?"
# "passengers", and "Who is Dan Newman?" asks what he is.
_WHO_DID = re.compile(r"\W*who\s+(?:(?:has|have|had)\s+been|is|was|were|will\s+be)\s+(?:appointed|named|elected|"
                      r"hired|chosen|picked)\b", re.IGNORECASE)


def asks_name(question: str) -> bool:
    """Whether ``question`` asks for one thing of a kind called by a name: "Which corporation…?",
    "Who is the founder of…?", "Who leads…?", "What is the name of…?". Only a name answers it. A plural kind
    ("Which companies…") or a question with several parts is left alone."""
    if len(_split_question(question)) > 1 or _SECOND_ASK.search(question):
        return False
    phrase = _WHICH_BEFORE_VERB.match(question)
    kinds = phrase.group(1).lower().split() if phrase else [w.lower() for w in asked_kind(question)]
    who = _WHO_IS_THE.search(question)
    return bool((kinds and kinds[-1] in _NAMED_KINDS) or _NAME_OF.search(question) or _WHO_DID.match(question)
                or (who and stem(who.group(1).lower()) == who.group(1).lower() and not who.group(1).endswith("s")))


# Kinds of place smaller than a country: "In which city is it based?" is not answered by "China".
_BELOW_COUNTRY = frozenset({"city", "cities", "town", "towns", "village", "villages", "province", "provinces",
                            "county", "counties", "district", "districts", "municipality", "neighbourhood",
                            "neighborhood", "suburb", "capital"})


def asks_country(question: str) -> bool:
    """Whether ``question`` asks which country ("Which country's regulators…?"): a country's
    adjective ("Chinese") answers it."""
    return any(w.lower() in ("country", "countries", "nation", "nationality") for w in asked_kind(question))


def asked_place_below_country(question: str) -> str:
    """The kind of place smaller than a country ``question`` asks which of ("city"), or ""."""
    return next((w.lower() for w in asked_kind(question) if w.lower() in _BELOW_COUNTRY), "")


@lru_cache(maxsize=1)
def countries() -> frozenset[str]:
    """The names of countries and territories, lower-cased, from the tz database's country table
    (``pytz.country_names``: "China", "Britain (UK)", "Korea (South)"), with the everyday short
    forms of two ("U.S.", "UK"). A country that the tz database names a zone after (Singapore,
    Hong Kong, Monaco, Luxembourg, Kuwait…) is a city too, and is left out."""
    import pytz

    out = {"u.s.", "us", "usa", "u.s.a.", "america", "united states of america", "u.k.", "uk", "united kingdom"}
    for code, name in pytz.country_names.items():
        zones = {z.rsplit("/", 1)[-1].replace("_", " ") for z in pytz.country_timezones.get(code, [])}
        base, _, inner = name.replace("&", "and").partition(" (")
        inner = inner.rstrip(")")
        if base in zones or base.split()[0] in zones:
            continue
        out |= {base.lower(), (inner if inner.isupper() else f"{inner} {base}").lower()} if inner else {base.lower()}
    return frozenset(out)


# Words of a question about a sum that a percentage or a comparison may answer.
_CHANGE = (r"share of|what share(?! price)|percent|percentage|proportion|rate|ratio|margin|changes?|growth|increases?|"
           r"decreases?|rises?|drops?|falls?|declines?|gains?|compared|versus|vs")
_ASKS_CHANGE = re.compile(rf"\b(?:how much|{_CHANGE})\b", re.IGNORECASE)
# Asked what something cost, only a comparison ("how much more…", "how much cheaper…") or a change
# is answered by one.
_ASKS_COST_CHANGE = re.compile(rf"\b(?:how much (?:more|less|\w+er)|{_CHANGE})\b", re.IGNORECASE)


def asks_figure(question: str) -> bool:
    """Whether ``question`` asks what a sum of money is ("What was BlueWave's revenue in 2024?"), or
    what something cost ("How much did the terminal cost?"), not how much something moved, how
    much more it cost, or what share it is: only a figure answers it, never a percentage ("8%
    higher") or a comparison alone ("it cost far less than its rivals" does not say how much)."""
    return asks_amount(question) and not (_ASKS_COST_CHANGE if asks_price(question) else _ASKS_CHANGE).search(question)


# The span of time a figure is over ("risen 71% so far this year", "surged 8% on Wednesday").
_MONTHS = r"(?:january|february|march|april|may|june|july|august|september|october|november|december)"
_COUNTS = {"a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
           "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}
_BEFORE_OPEN = (r"(?:(?:in|during) (?:the )?)?pre-?market(?: trading| session| hours)?"
                r"|before the (?:opening )?bell|before (?:the )?markets? opened")
_AFTER_CLOSE = (r"(?:(?:in|during) (?:the )?)?(?:after[- ]hours(?: trading| session)?|extended trading)"
                r"|after the closing bell")
_REGULAR_HOURS = (r"(?:at|by) the (?:close|closing bell)(?: of (?:regular )?trading)?|(?:in|during) regular trading"
                  r"|the regular (?:trading )?session")
_PERIOD = re.compile(
    r"\b(?:(?:so far )?this year|so far in (?:19|20)\d\d|(?:in )?the year to date|year[- ]to[- ]date"
    r"|since the (?:start|beginning) of the year"
    rf"|since {_MONTHS}(?:,? (?:of )?(?:(?:19|20)\d\d|last year))?|since (?:19|20)\d\d|since last year"
    r"|(?:(?:in|over|during|for) (?:the |this )?(?:past|last|previous)|(?:the |this )?past|(?<!the )last) "
    r"(?:(\w+) )?(hours?|days?|weeks?|months?|quarters?|years?|decades?|sessions?)"
    # Ahead of now only when plural or a decade: "the next day" and "the next year" often tell a story.
    r"|(?:(?:in|over|during|for|within) )?the (?:next|coming) (?:(\w+) )?((?:day|week|month|quarter|year|decade)s|decade)"
    r"|this (week|month|quarter)"
    r"|(?:on|by the end of|at the end of) (?:the|that) (?:same )?day|that day|in (?:a|one) (?:single )?day|intraday"
    # The parts of a trading day: a move before the open or after the close is not the day's.
    rf"|{_BEFORE_OPEN}|{_AFTER_CLOSE}|{_REGULAR_HOURS}"
    rf"|on (?:{'|'.join(WEEKDAYS)}))\b",
    re.IGNORECASE)
# A span named by the one before it: "rose 40% in the past month, while B climbed 30% in the same
# period". Not "at the same time", which usually means "meanwhile".
_SAME_PERIOD = re.compile(r"\b(?:the|that) same (?:period|time ?frame|span|stretch|interval)\b", re.IGNORECASE)
# A span of N units, as the span it is: "the past 52 weeks" is the past year, "24 hours" a day.
_SAME_SPAN = {(12, "month"): "past year", (52, "week"): "past year", (365, "day"): "past year",
              (1, "year"): "past year", (3, "month"): "past quarter", (1, "quarter"): "past quarter",
              (7, "day"): "past week", (1, "week"): "past week", (1, "month"): "past month",
              (30, "day"): "past month", (4, "week"): "past month", (24, "hour"): "one day", (1, "day"): "one day",
              (1, "session"): "one day"}


def period_spans(text: str) -> list[tuple[int, int, str, str]]:
    """Each span of time ``text`` gives a figure over, as (start, end, key, as written): one span said
    in different words has one key ("so far this year", "year-to-date", "since January"; "the past
    52 weeks", "the last twelve months"; "on the day", "on Wednesday", "the previous session"), and
    a span that is two ("since June last year": since June, the past year) is listed with each; "the
    same period" has the key of the span given before it."""
    out = []
    for m in _PERIOD.finditer(text):
        low = m.group().lower()
        if re.search(r"this year|so far in|year[- ]to[- ]date|year to date|of the year", low) or \
                re.fullmatch(r"since january", low):
            key = "year to date"
        elif low.startswith("since") and "last year" in low:  # "since June last year": both spans
            month = re.search(_MONTHS, low)
            if month:
                out.append((m.start(), m.end(), f"since {month.group()}", m.group()))
            key = "past year"
        elif low.startswith("since"):
            key = "since " + next(x.group() for x in (re.search(r"(?:19|20)\d\d", low), re.search(_MONTHS, low)) if x)
        elif m.group(2) or m.group(5):
            key = _length(m.group(1), m.group(2) or m.group(5))
        elif m.group(4):  # a span ahead: "over the next three years"
            key = "next " + _length(m.group(3), m.group(4)).removeprefix("past ")
        elif re.fullmatch(_BEFORE_OPEN, low):
            key = "before the open"
        elif re.fullmatch(_AFTER_CLOSE, low):
            key = "after the close"
        else:
            key = "one day"
        out.append((m.start(), m.end(), key, m.group()))
    for m in _SAME_PERIOD.finditer(text):
        before = [span for span in out if span[1] <= m.start()]
        if before:  # the last span given before it; with none in the text, nothing can be told
            key = max(before, key=lambda span: span[1])[2]
            out.append((m.start(), m.end(), key, m.group()))
    return sorted(out, key=lambda span: span[0])  # in text order; a span that is two keeps its order


def _length(count: str | None, unit: str) -> str:
    """The key of the past span of ``count`` ``unit``s: ("twelve", "months") is "past year", ("a",
    "decade") "past 10 year", ("few", "weeks") "past few week"."""
    unit, count = unit.lower().rstrip("s"), (count or "1").lower()
    n = int(count) if count.isdigit() else _COUNTS.get(count)
    if not n:
        return f"past {count} {unit}"
    if unit == "decade":
        n, unit = 10 * n, "year"
    return _SAME_SPAN.get((n, unit), f"past {n} {unit}")


def span_direction(key: str, phrase: str = "") -> str:
    """"past" for a span that ends now or earlier ("past month", "since 2020"), "next" for one
    ahead ("next 3 year"), "" for one that may be either ("year to date", "one day", a ``phrase``
    "this month": "this year" is both what has happened and what is planned)."""
    if re.match(r"this\s+(?:week|month|quarter)\b", phrase, re.IGNORECASE):
        return ""
    return "past" if key.startswith(("past ", "since ")) else "next" if key.startswith("next ") else ""


def periods(text: str) -> dict[str, str]:
    """The keys of ``period_spans(text)``, each with the first span written so."""
    out: dict[str, str] = {}
    for _, _, key, phrase in period_spans(text):
        out.setdefault(key, phrase)
    return out


def is_weekday_span(phrase: str) -> bool:
    """"on Wednesday": in a source it most often dates a statement ("said on Monday it expects…")."""
    return phrase.lower().removeprefix("on ") in WEEKDAYS


_MOVES = re.compile(r"\b(?:rise[ns]?|rising|rose|f[ae]ll(?:s|en|ing)?|gr[eo]w(?:s|n|ing|th)?|jump\w*|climb\w*|"
                    r"surg\w*|soar\w*|gain\w*|drop\w*|declin\w*|slid\w*|slump\w*|tumbl\w*|plung\w*|rall(?:y|ied|ies)|"
                    r"lost|los(?:e|es|ing)|increas\w*|decreas\w*|up|down|higher|lower)\b", re.IGNORECASE)


def states_change(sentence: str) -> bool:
    """Whether ``sentence`` says something moved (rose, fell, grew, jumped, was up…): a figure in it
    is most likely a change over some span, not a level (a rate, a share of a vote)."""
    return bool(_MOVES.search(sentence))


# Citation markers, continued -------------------------------------------------------------------


def marker_numbers(match: re.Match) -> list[int]:
    """The source numbers of one ``CITE`` match ("[1, 3]" -> [1, 3])."""
    return [int(n) for n in re.findall(r"\d+", match.group(1) or match.group(2))]


def cited_numbers(text: str) -> list[int]:
    """Every source number cited in ``text``, in order, repeats kept."""
    return [n for m in CITE.finditer(text) for n in marker_numbers(m)]


def strip_citations(text: str) -> str:
    """``text`` without its citation markers."""
    return CITE.sub("", text)


def cite(sentence: str, *ns: int) -> str:
    """``sentence`` citing sources ``ns`` only, the markers before its closing punctuation."""
    body = re.sub(r"\s+([.!?])", r"\1", strip_citations(sentence).rstrip())
    end = len(body.rstrip(".!?"))
    return f"{body[:end]} {''.join(f'[{n}]' for n in ns)}{body[end:]}"


# Values as written ------------------------------------------------------------------------------

# A number (with its decimals) or a capitalised name of one or more words; an acronym or title in
# capitals stands alone, since "CEO Dan Newman" is two values, not a name the sources must write whole.
# A part after a hyphen with no capital or digit is not capitalised, so no name: "Velto-style" and
# "Oslo-listed" name Velto and Oslo; "Orbo-X2" and "Marlow-Hart" stay whole.
_ACRONYM = r"[A-Z][A-Z\d\-]*[A-Z\d](?![\w\-])"  # "CEO", "GPT-4", not "GPT-" of "GPT-4o"
_NAME_WORD = r"[A-Z]\w*(?:-\w*[A-Z\d]\w*)*"
_VALUE = re.compile(rf"\d[\d,]*(?:\.\d+)?|{_ACRONYM}|{_NAME_WORD}(?:\s+(?!{_ACRONYM}){_NAME_WORD})*")


def shown_text(passages: Iterable[Any]) -> str:
    """The lower-cased text of ``passages``, each with the document head shown with it: what
    ``unwritten_value`` reads as shown."""
    return " ".join(f"{getattr(p, 'head', '')} {p.text}" for p in passages).lower()


def unwritten_value(sentence: str, shown: str, names_only: bool = False, by_word: bool = False) -> str:
    """The first number, year or capitalised name of ``sentence`` (citations aside) that ``shown``,
    the lower-cased text of the passages shown, does not write, or "". Read as written, not by
    terms: "the Chinese market" does not write "China". A sentence's first word is capitalised
    anyway (after any markup or bracket: "**Answer:**"), and is no value unless a digit. With
    ``names_only``, numbers are left to a reader of their values, for whom "five" writes 5; with
    ``by_word``, each word of a name is looked for alone, since an answer may join a title or
    another name to it ("Finance Minister Ola Brekke" from "Ola Brekke, the finance minister")."""
    plain = re.sub(r"^[\W_]+", "", strip_citations(sentence))
    for m in _VALUE.finditer(plain):
        value = m.group().strip(".,;:-")
        if (m.start() == 0 and not value[:1].isdigit()) or (names_only and value[:1].isdigit()):
            continue
        pieces = [w.strip(".,;:'’") for w in re.split(r"[\s\-–—]+", value)] if by_word else [value]
        if any(piece and piece.lower() not in shown for piece in pieces):
            return value
    return ""
