"""Stage 6b: claim-level grounding. Every sentence of an answer must stand on the passages it cites.

Small models state things the sources do not say, and cite a source for them: a year no source
gives, one model's parameter count given to another, an exchange nobody names. A word-overlap
check passes these, because each word is somewhere in the sources, just not together. Here a
sentence is checked as a claim:

1. Its *values* are found: numbers (amounts, years, percentages, with their scale), and names
   (capitalised words, grouped: "New York Stock Exchange"). A value no shown passage holds is
   never supported ("2023", a name nobody mentions).
2. Its values must stand together, with at least half of its other content words, in one
   *window* of a passage it cites: one sentence or two adjacent ones. Values scattered over
   the passages ("Tencent" in one place, "32 billion" in another) do not support the claim.
   A sentence with "while", "whereas" or ";" is checked clause by clause, so a comparison may
   draw each side from its own passage.
3. A negated claim ("did not respond") needs a negation in its window.
4. A sentence made only of the question's own words answers nothing ("Who runs BlueWave?"
   "BlueWave is run by BlueWave [1]."), unless the question asks yes or no or offers a choice.
5. A date (a month and its day) stands in a cited passage as a date, not as a number inside a
   name ("January 1" is not "R1" beside "January").
6. The answer gives the kind of value the question asks for (``another_kind``, ``not_given``):
   an amount for a sum of money, a figure for a price, a span for "how long", not a country for
   "which city", a name for one named thing ("Which corporation…?"), and a time for "When…?".
   A person keeps the role at the body the sources give them (``role_elsewhere``), and "Who is
   VXR's chief executive?" is not answered with someone they place only at another body
   (``asked_role_elsewhere``). A yes/no question is not answered by a sentence about one of its
   names and not another ("Has the U.S. banned QwQ-32B?": "The U.S. has imposed export controls
   on chips", ``of_another``).

Where a source may name the question's subject otherwise (a ticker, an abbreviation: ``aliased``),
words cannot tell an alias from another subject, and the sentence can instead be kept for the
loaded model to judge (``doubts``; see ``verify``). So can a sentence that words a value in the
question's terms where the source words it otherwise (``paraphrased``).

Unsupported sentences are removed and recorded with the reason. When nothing supported is
left, the answer becomes the refusal. When a question has several parts and a removal leaves
one of them unanswered, the answer says which part the sources do not cover, or, for a part
asking how many or how much, gives the shown sentence that states it (``quoted``).

This is a lexical judge, so it is strict where it can be (values) and lenient where it cannot
tell (a sentence without values passes on word overlap with a cited passage). Numbers match at
the precision the answer gives: "8%" is supported by "8.39%", "52 billion" by "$52.4 billion"
only if rounding agrees.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Callable, Mapping, NamedTuple, Optional, Sequence

from . import text as txt
from .text import question_parts
from .types import Conflict, Passage, Removed

_SCALES = {"thousand": 1e3, "k": 1e3, "million": 1e6, "mn": 1e6, "m": 1e6, "billion": 1e9, "bn": 1e9, "b": 1e9,
           "trillion": 1e12, "tn": 1e12, "t": 1e12}
_SCALE_WORDS = r"thousand|million|billion|trillion|bn|mn|tn"
# A number an answer states: standalone, never a part of a name such as "QwQ-32B" or "R1".
CLAIM_NUMBER = re.compile(
    rf"(?<![\w\-.])\d[\d,]*(?:\.\d+)?(?:st|nd|rd|th)?(?:\s?%|\s?percent)?(?:\s?(?:{_SCALE_WORDS})\b|[bmk](?=\W|$))?"
    r"(?![\w\-])",
    re.IGNORECASE)
# Words that answer "how much" without a number: "it cost far less than its rivals".
_COMPARES = re.compile(r"\b(?:less|more|fewer|lower|higher|cheaper|fraction|half|twice|double|triple|same)\b|"
                       r"\b\w+er than\b", re.IGNORECASE)
_CURRENCIES = frozenset(txt.terms("euros dollars pounds yuan renminbi yen rupees francs cents pence pesos usd eur gbp "
                                  "rmb cny jpy chf kroner krone kronor krona won rand rubles roubles lira reais zloty "
                                  "baht rupiah ringgit dinars dirhams shekels"))
# What a currency sign says in words, as terms: "€890m" is in euros, as an answer may write it.
_SIGN_TERMS = {"$": ("dollar",), "€": ("euro",), "£": ("pound",), "¥": ("yen", "yuan"), "₹": ("rupe",)}
_CURRENCY_SIGN = re.compile(f"[{re.escape(''.join(_SIGN_TERMS))}]")
# Every number a passage holds, also inside names ("Qwen2.5-Max", "32B"): the lenient side.
_ANY_NUMBER = re.compile(rf"\d[\d,]*(?:\.\d+)?(?:\s?(?:{_SCALE_WORDS})\b|[bmkt]\b)?", re.IGNORECASE)
# A code or an identifier: a letter right before a digit, in any case ("gv300x", "a100",
# "o1-mini", "001_60b042e0"). It is a value like a name. "mid-2024", "top-10", "covid-19", "12m",
# "1990s" and "3rd" are not codes: a word and a number, or a number and its unit or ending.
_CODE = re.compile(r"[^\W\d_]\d")
# Pronouns for one subject named before, and for several.
_ONE, _SEVERAL = "it|its|he|his|him|she|her", "they|their|them"
# A sentence that refers back to a subject named before: a pronoun, or "The company…".
_REFERS = re.compile(rf"(?i:\b(?:{_ONE}|{_SEVERAL})\b)|^\W*[Tt]he\s+[a-z]+")
# An answer sentence that may speak of the question's subject without naming it: "it", "he", "The
# company…"; not "they", "them", "their" ("…integrated it into their systems" speaks of the adopters).
_REFERS_TO_ONE = re.compile(rf"(?i:\b(?:{_ONE})\b)|^\W*[Tt]he\s+[a-z]+")
# A passage sentence that carries the subject of the one before on ("This…" most often speaks of
# what the sentence before did, not of who did it).
_OPENS_WITH_ONE = re.compile(r"\W*(?:It|Its|He|His|She|Her|The)\b")
_NEGATION = re.compile(r"\b(?:not|no|never|none|neither|nor|without|cannot)\b|n't\b", re.IGNORECASE)
_APART = "its facts do not stand together in"  # why a claim whose values are apart is removed
_CLAUSES = re.compile(r";\s+|,?\s+(?:while|whereas|but|because)\s+|,\s+(?:and\s+(?=[A-Z0-9$])|which\s+)",
                      re.IGNORECASE)


@dataclass(frozen=True)
class Number:
    """A number as stated: its digits as a float, the decimals given, and its scale (1 if none)."""

    text: str
    value: float
    decimals: int
    scale: float
    unit: str = ""  # the word the answer counts with it ("passengers" in "400 passengers"), as a term
    # In a source: the words right after it, which say what it counts ("23 people: members of…").
    counts: frozenset[str] = frozenset()

    def matches(self, other: "Number") -> bool:
        """Equal at this number's precision: "8%" matches 8.39, "52.4 billion" matches 52.4bn."""
        if self.scale != 1 and other.scale != 1 and self.scale != other.scale:
            return False
        return math.isclose(round(other.value, self.decimals), self.value, abs_tol=10 ** -(self.decimals + 3))


def parse_number(text: str, unit: str = "") -> Number:
    m = re.match(r"\d[\d,]*(?:\.(\d+))?", text)
    assert m is not None
    # The scale word after the number or its letter right on it ("52.4bn", "€890m"), not the end
    # of another word ("91 percent", "1st").
    scale_word = re.search(rf"(?:(?<=[\d\s])(?:{_SCALE_WORDS})|(?<=\d)[bmkt])$", text.strip(), re.IGNORECASE)
    scale = _SCALES.get(scale_word.group().lower(), 1.0) if scale_word else 1.0
    return Number(text, float(m.group().replace(",", "")), len(m.group(1) or ""), scale, unit)


def spelled_numbers(text: str) -> list[tuple[Number, int]]:
    """The counts ``text`` writes as words ("five", "two million"), each with where it ends in
    ``text``, its scale word included."""
    out = []
    for m in txt.SPELLED_NUMBER.finditer(text):
        scale = re.match(rf"\s+({_SCALE_WORDS})\b", text[m.end():], re.IGNORECASE)
        end = m.end() + (scale.end() if scale else 0)
        out.append((Number(text[m.start():end], float(txt.spelled_value(m)), 0,
                           _SCALES[scale.group(1).lower()] if scale else 1.0), end))
    return out


def counted(sentence: str, end: int, start: int = 0) -> frozenset[str]:
    """The terms of the few words right after a number, up to a punctuation mark: what a source
    says it counts ("23 people", "41 Corvane patients", "12 new ferries"); with the currency of a
    sign right before it (``start``): "€890m for 24 trainsets" counts euros."""
    m = re.match(r"\s+((?:[\w\-’']+\s*){1,3})", sentence[end:])
    after = frozenset(txt.terms(m.group(1))) if m else frozenset()
    return after | frozenset(_SIGN_TERMS.get(currency_before(sentence, start), ()))


def currency_before(sentence: str, start: int) -> str:
    """The currency sign right before the number at ``start`` ("€" of "€890m"), or ""."""
    sign = sentence[start - 1:start] if start else ""
    return sign if sign in _SIGN_TERMS else ""


def unit_after(clause: str, end: int) -> str:
    """The noun a claimed number counts, when one follows it at once: "400 passengers" -> "passeng"."""
    m = re.match(r"\s+([A-Za-z][a-z\-]+)", clause[end:])
    if not m or m.group(1).lower() in txt.STOPWORDS:
        return ""
    terms = txt.terms(m.group(1))
    return terms[0] if terms else ""


@dataclass(frozen=True)
class Claim:
    """What a clause asserts: its numbers, its names (each a tuple of word terms) and other words."""

    numbers: tuple[Number, ...]
    names: tuple[tuple[str, tuple[str, ...]], ...]  # (as written, its terms)
    words: frozenset[str]
    negated: bool
    restates: bool = False  # only the question's own words: nothing new to support

    @property
    def has_values(self) -> bool:
        return bool(self.numbers or self.names)


@dataclass(frozen=True)
class Window:
    """One sentence of a passage, or two adjacent ones: where a claim's values must stand together.

    A number with a unit must share one sentence with that unit: in "It runs 12 ferries. Its
    boat carries 400 passengers." 12 is ferries, never passengers. Where the source writes words
    right after the number, the unit must be among them: "interviewed 23 people, including the
    guards" counts people. The names a number is
    claimed of must be in its sentence too, or in the one before when its sentence refers back
    ("The new model has 32 billion parameters"): in "BlueWave, the rival of Harbor Lights, has a
    new boat. The Gaivota reaches 38 knots." 38 knots is never Harbor Lights'."""

    terms: frozenset[str]
    # terms, numbers, refers back, and the numbers stated of a compared name (``compared_numbers``)
    sentences: tuple[tuple[frozenset[str], tuple[Number, ...], bool, tuple[tuple[Number, frozenset[str]], ...]], ...]
    negated: bool
    refers: bool = False  # it opens with "it", "the company"…: it may name its subject only earlier
    earlier: frozenset[str] = frozenset()  # terms of the passage before this window

    def holds_number(self, n: Number, names: Sequence[tuple[str, ...]] = (), subject: frozenset[str] = frozenset()
                     ) -> bool:
        for i, (terms, numbers, refers, compared) in enumerate(self.sentences):
            # The claim's noun in the sentence, and not another noun right after the number in it:
            # "we have interviewed 23 people, … including the guards" does not count 23 guards.
            if not any(n.matches(m) and (not n.unit or n.unit in terms and (not m.counts or n.unit in m.counts))
                       for m in numbers):
                continue
            theirs = [of for m, of in compared if n.matches(m)]
            if names and theirs and len(theirs) >= sum(n.matches(m) for m in numbers) and not any(
                    set(name) <= of for name in names for of in theirs):
                continue  # "fewer than DeepSeek's R1, which boasts 671 billion": R1's, unless claimed of R1
            before = self.sentences[i - 1][0] if i else frozenset()
            if all(self._near(name, terms, refers, before, set(name) <= subject) for name in names):
                return True
        return False

    def _near(self, name: tuple[str, ...], terms: frozenset[str], refers: bool, before: frozenset[str],
              subject: bool) -> bool:
        if all(part in terms for part in name):
            return True
        reach = (before | self.earlier) if subject else before
        return refers and all(part in reach for part in name)

    def holds_name(self, name: tuple[str, ...], subject: bool = False,
                   introduced: Mapping[str, frozenset[str]] = {}) -> bool:
        """The name is here; or, for the question's own subject, the window refers back to it
        ("The company released…") and the passage named it before, or it names someone the
        passages introduced with it (``appositions``: "Newman said…" after "Dan Newman, CEO of
        Futurum Group,")."""
        if all(part in self.terms for part in name):
            return True
        return subject and (self.refers and all(part in self.earlier for part in name) or any(
            who in self.terms and set(name) <= theirs for who, theirs in introduced.items()))


# Reading claims and passages ---------------------------------------------------------------------


def _name_terms(word: str) -> tuple[str, ...]:
    """A name word's terms: the whole ("deepseek-r1") and, for compounds, its parts."""
    return tuple(t for t in txt.terms(word.replace("-", " ")) if t) or tuple(txt.terms(word))


# A name's participle after a hyphen is no part of the name: "Hong Kong-listed shares" name Hong
# Kong, "U.S.-based" and "Anthropic-backed" name U.S. and Anthropic. A model or product name keeps
# its parts ("GPT-4o-mini", "Phi-3-mini", "DeepSeek-R1": a digit in the head, or no participle).
_LOWER_TAIL = re.compile(r"^([A-Z][^\W\d]*(?:[.\-][^\W\d]+)*\.?)-(?:[a-z]+ed|made|born|run|built|wide)$")


def names(sentence: str, proper: frozenset[str]) -> list[tuple[str, tuple[str, ...]]]:
    """Capitalised word groups of ``sentence`` ("New York Stock Exchange", "QwQ-32B", "Thursday"),
    and codes in any case ("gv300x": a model number, a ticker, a file name the model copied).

    A capitalised first word counts only if the passages or the question write it capitalised
    inside a sentence (``proper``): "Besides…" and "Shares rose…" start with common words,
    "Alibaba said…" with a name. Stopwords never count.
    """
    groups: list[list[str]] = []
    previous_end = -2
    for i, m in enumerate(re.finditer(r"[\w][\w\-.]*", sentence)):
        word = _LOWER_TAIL.sub(r"\1", m.group().rstrip(".-")).rstrip(".-")
        low = word.lower()
        capital = word[:1].isupper() or (any(c.isupper() for c in word[1:]) and any(c.isalpha() for c in word))
        code = bool(_CODE.search(word))
        if not (capital or code) or low in txt.STOPWORDS or word.isdigit():
            previous_end = -2
            continue
        if i == 0 and word not in proper and not code:
            continue
        adjacent = sentence[previous_end:m.start()].strip() == "" if previous_end >= 0 else False
        if adjacent and groups:
            groups[-1].append(word)
        else:
            groups.append([word])
        previous_end = m.start() + len(word)
    out = []
    for group in groups:
        terms = tuple(t for w in group for t in _name_terms(w))
        if terms:
            out.append((" ".join(group), terms))
    return out


def claims(sentence: str, proper: frozenset[str], question: frozenset[str] = frozenset()) -> list[Claim]:
    """The clauses of an answer sentence as claims (citation markers left out).

    A clause made only of the ``question``'s terms, with no number, restates what was asked ("X
    could appeal to buyers who want cheaper AI because…"): it is marked, and needs no support
    beyond its names being in the sources."""
    body = txt.strip_citations(sentence)
    out = []
    for _, clause in _clauses(body):
        # "71%" carries its unit: the word after it is not what it counts ("71% since January").
        numbers = tuple(parse_number(m.group(), "" if "%" in m.group() else unit_after(clause, m.end()))
                        for m in CLAIM_NUMBER.finditer(clause)) + _counts_in_words(clause, question)
        found = names(clause, proper)
        named = {t for _, terms in found for t in terms}
        number_words = {t for t in txt.terms(clause) if any(ch.isdigit() for ch in t)}
        units = {n.unit for n in numbers} | {t for n in numbers for t in txt.terms(n.text)}  # checked with them
        words = frozenset(t for t in txt.terms(clause) if t not in named | number_words | units)
        negated = bool(_NEGATION.search(clause))  # "did not respond" answers with the question's words
        restates = not numbers and not negated and bool(words | named) and (words | named) <= question
        out.append(Claim(numbers, tuple(found), words, negated, restates))
    return out


def _counts_in_words(clause: str, question: frozenset[str]) -> tuple[Number, ...]:
    """The counts ``clause`` writes in words ("eight berths"), each with its noun: values to
    support like digits. Not one the question gave ("the three months to December"), nor one
    after "the", "its"…, which points back rather than counts ("the two companies")."""
    return tuple(replace(n, unit=unit_after(clause, end)) for n, end in spelled_numbers(clause)
                 if not set(txt.terms(n.text)) <= question
                 and not _POINTS_BACK.search(clause[:end - len(n.text)]))


_POINTS_BACK = re.compile(r"\b(?:the|these|those|its|their|his|her|our|both)\s+$", re.IGNORECASE)


@lru_cache(maxsize=4096)
def windows(text: str) -> tuple[Window, ...]:
    """Each sentence of a passage, and each pair of adjacent sentences."""
    read = []
    for a, b in txt.sentence_spans(text):
        sentence = text[a:b]
        terms = sentence_terms(sentence) | {t for sign in _CURRENCY_SIGN.findall(sentence) for t in _SIGN_TERMS[sign]}
        # Counts may be written as words in a source ("five people had died") and in digits in an answer.
        numbers = tuple(replace(parse_number(m.group()), counts=counted(sentence, m.end(), m.start()))
                        for m in _ANY_NUMBER.finditer(sentence)) + tuple(
            replace(n, counts=counted(sentence, end)) for n, end in spelled_numbers(sentence))
        read.append((terms, numbers, bool(_NEGATION.search(sentence)), bool(_REFERS.search(sentence)),
                     compared_numbers(sentence)))
    out = []
    for size in (1, 2):
        for i in range(len(read) - size + 1):
            group = read[i:i + size]
            out.append(Window(frozenset().union(*(r[0] for r in group)), tuple((r[0], r[1], r[3], r[4]) for r in group),
                              any(r[2] for r in group), group[0][3], frozenset().union(*(r[0] for r in read[:i]))))
    return tuple(out)


# A name something is compared with, and a clause of its own: "fewer than DeepSeek's R1, which boasts…".
_COMPARED = re.compile(r"\b(?:than|compared (?:with|to)|versus|vs\.?|against|unlike)\s+"
                       r"((?:[A-Z][\w.\-]*(?:[’']s?)?\s+)*[A-Z][\w.\-]*),\s+(?:which|who)\b([^;]*)")


def in_context(n: int, numbers: Mapping[int, Passage], named: frozenset[str], claimed: frozenset[str]
               ) -> list[Window]:
    """The windows of passage ``n``; one that names no one but what is ``claimed`` also knows what
    its document said before it, in the shown passages of the same document that come earlier. A
    document names its subject once ("the Veldanian Federation of Railway Workers") and then
    refers to it ("the union"), often in a later passage. A window that names someone else
    ("Alibaba released it…") most likely refers to them (``named``: the terms of names)."""
    p = numbers[n]
    before = frozenset().union(*(sentence_terms(q.text) for q in numbers.values()
                                 if q.source == p.source and q.start < p.start))
    return [replace(w, earlier=w.earlier | before) if before and (w.terms & named) <= claimed else w
            for w in windows(p.text)]


def compared_numbers(sentence: str) -> tuple[tuple[Number, frozenset[str]], ...]:
    """The numbers of ``sentence`` stated in a clause of a name it compares something with, each
    with that name's terms: in "The model has 32 billion parameters, fewer than DeepSeek's R1, which
    boasts 671 billion parameters, with 37 billion active", 671 and 37 billion are R1's, not the
    model's, though "the model" is the sentence's subject."""
    return tuple((parse_number(n.group()), sentence_terms(m.group(1)))
                 for m in _COMPARED.finditer(sentence) for n in _ANY_NUMBER.finditer(m.group(2)))


def sentence_terms(text: str) -> frozenset[str]:
    """The terms of ``text``, with each compound name's parts too ("DeepSeek-R1": deepseek-r1, deepseek, r1),
    and the places it names by their adjective ("the Chinese market": china)."""
    return (frozenset(txt.terms(text)) | {t for w in txt.words(text) for t in _name_terms(w)}
            | {txt.stem(place) for place in txt.places_named(text)})


def question_terms(question: str) -> frozenset[str]:
    """The terms of ``question``, compound names' parts too: what it gives as known."""
    return frozenset(t for w in txt.words(question) for t in _name_terms(w))


def added_names(sentence: str, proper: frozenset[str], asked: frozenset[str]) -> list[tuple[str, tuple[str, ...]]]:
    """The names of ``sentence`` (citations aside) that the question, whose terms are ``asked``,
    does not give: what the sentence adds."""
    return [(written, terms) for written, terms in names(txt.strip_citations(sentence), proper)
            if not set(terms) <= asked]


def _named_in(names: Sequence[tuple[str, ...]], terms: frozenset[str]) -> bool:
    """Whether ``terms`` hold every term of one of ``names``."""
    return any(set(name) <= terms for name in names)


def refs_of(sentence: str, numbers: Mapping[int, Passage]) -> list[int]:
    """The shown sources a sentence cites; all of them when it cites none."""
    cited = [n for n in dict.fromkeys(txt.cited_numbers(sentence)) if n in numbers]
    return cited or list(numbers)


def proper_words(passages: Sequence[Passage], question: str = "") -> frozenset[str]:
    """Capitalised words the passages or the question write inside a sentence: names, so one of
    these opening an answer sentence is a name too."""
    return frozenset(m.group(1) for text in [question, *(p.text for p in passages)]
                     for m in re.finditer(r"(?<![.!?]\s)(?<!^)\b([A-Z][\w\-]*)", text))


# Judging ------------------------------------------------------------------------------------------


def missing_value(claim: Claim, everywhere: Sequence[Window]) -> str:
    """The first value of ``claim`` that no shown passage holds, as written, or ""."""
    for n in claim.numbers:
        if not any(w.holds_number(replace(n, unit="")) for w in everywhere):
            return n.text.strip()
    for written, terms in claim.names:
        if not any(w.holds_name(terms) for w in everywhere):
            return written
    return ""


def supported(claim: Claim, cited: Sequence[Window], subject: frozenset[str] = frozenset(),
              named: bool = False, introduced: Mapping[str, frozenset[str]] = {}) -> bool:
    """True when one window holds every value of the claim and half its other words (its polarity
    too), or, for a claim of names only, when one sentence names them all (``_named_together``).
    Names of the question's ``subject`` may be referred to ("the company") rather than named,
    or stood for by someone ``introduced`` with them (``Window.holds_name``)."""
    # The values carry the claim, and its other words may be paraphrased: half of them, or, when
    # no name says what the number is about, the larger half ("the deck area is 400 passengers").
    need = len(claim.words) // 2 if claim.names or named else -(-len(claim.words) // 2)
    for w in cited:
        if claim.negated and not w.negated:
            continue
        claimed_of = [t for _, t in claim.names]
        if not all(w.holds_number(n, claimed_of, subject) for n in claim.numbers):
            continue
        if not all(w.holds_name(t, set(t) <= subject, introduced) for _, t in claim.names):
            continue
        if len(claim.words & w.terms) >= need:
            return True
        if claim.names and not claim.numbers and _named_together(claim, w, subject):
            return True
    return False


def _named_together(claim: Claim, w: Window, subject: frozenset[str]) -> bool:
    """Whether a claim of names only stands in ``w`` with the question's words left aside: it
    adds a name to the question's, one sentence of ``w`` names them all and holds a word of the
    question besides, and ``w`` holds half the claim's other words (at least one). The
    question's words restate what was asked, where the source may say it otherwise: "On which
    programme did the head of Futurum Group talk about how quickly AI is advancing?" answered
    "Dan Newman, CEO of Futurum Group, talked about how quickly AI is advancing on CNBC's
    'Squawk Box Europe'" from "Dan Newman, CEO of Futurum Group, highlighted the rapid pace of AI
    innovation during an interview with CNBC's 'Squawk Box Europe.'" One sentence, not two
    adjacent ones, since two sentences name more than one subject far more often. Such a
    sentence takes words from the question that its source lacks, so the judge reads it
    (``verify.unstated``). A number word left among its words ("the two companies", which
    ``claims`` does not take for a count) keeps it from standing on its names alone."""
    own = claim.words - subject
    added = {t for _, name in claim.names if not set(name) <= subject for t in name}
    if not added or txt.SPELLED_NUMBER.search(" ".join(own)):
        return False
    return any(all(set(name) <= terms for _, name in claim.names) and (terms & subject) - added
               for terms, *_ in w.sentences) and len(own & w.terms) >= max(1 if own else 0, len(own) // 2)


def judge(sentence: str, numbers: Mapping[int, Passage], proper: frozenset[str],
          subject: frozenset[str] = frozenset()) -> str:
    """Why ``sentence`` is not supported by the passages it cites, or "" when it is."""
    everywhere = [w for p in numbers.values() for w in windows(p.text)]
    cited_numbers = [n for n in txt.cited_numbers(sentence) if n in numbers]
    refs = refs_of(sentence, numbers)
    name_terms = frozenset(t for word in proper for t in txt.terms(word))
    cited = [w for n in refs for w in in_context(n, numbers, name_terms, sentence_terms(sentence) | subject)]
    found = claims(sentence, proper, subject)
    named = any(c.names for c in found)  # "…DeepSeek's R1, which boasts 671 billion parameters"
    introduced = appositions(tuple(p.text for p in numbers.values()))
    dated = unstated_date(sentence, [numbers[n] for n in refs], numbers)
    if dated:
        return dated
    for claim in found:
        absent = missing_value(claim, everywhere)
        if absent:
            return f"'{absent}' is in none of the sources"
        if claim.restates:
            continue
        if claim.has_values and not supported(claim, cited, subject, named, introduced):
            where = ", ".join(f"[{n}]" for n in dict.fromkeys(cited_numbers)) or "any source"
            return f"{_APART} {where}"
        if not claim.has_values and claim.negated and not supported(claim, cited, subject):
            return "no source says so"
    return ""


def unstated_date(sentence: str, cited: Sequence[Passage], numbers: Mapping[int, Passage]) -> str:
    """Why a date (a month and its day) that ``sentence`` gives is not supported, or "". The day is
    a number, and numbers are read leniently in passages, also inside names: "January 1" would
    stand on "R1" beside "January". A date must stand as a date."""
    given = _dates(txt.strip_citations(sentence))
    for written, day in given.items():
        if not any(day in _dates(p.text).values() for p in numbers.values()):
            return f"'{written}' is in none of the sources"
        if not any(day in _dates(p.text).values() for p in cited):
            return f"its date is not in {', '.join(f'[{n}]' for n in txt.cited_numbers(sentence)) or 'any source'}"
    return ""


@lru_cache(maxsize=1024)
def _dates(text: str) -> dict[str, tuple[int, int]]:
    """The dates ``text`` gives, as written, with their (month, day)."""
    from .conflicts import values

    return {v.text: v.key for v in values(text) if v.kind == "date"}


# A person introduced by a role at a named body: "Dan Newman, CEO of Futurum Group," or "Rita
# Okafor, chief analyst at Marlin Research,". A later "Newman said…" speaks for that body.
_BODY = r"[A-Z][\w&’'.\-]*(?:\s+(?:(?:for|of|and|&)\s+)?[A-Z][\w&’'.\-]*)*"
_APPOSITION = re.compile(r"\b[A-Z][\w’'\-]*\s+([A-Z][\w’'\-]+),\s+(?:(?:a|an|the)\s+)?(?:[\w\-]+\s+){1,4}?"
                         rf"(?:of|at)\s+(?:the\s+)?({_BODY})\s*[,.]")


# The roles a person holds at a body, as news writes them before a name ("Arrowline chief executive
# Rafael Osterhout", "Health Minister Ingrid Solvang") and asks about them.
_ROLE = (r"(?:chief\s+executive(?:\s+officer)?|ceo|chief\s+[a-z]+\s+officer|chair(?:man|woman|person)?|president|"
         r"(?:co-)?founder|(?:managing\s+)?director|(?:general\s+)?secretary|spokes(?:man|woman|person)|minister|"
         r"head|leader|analyst|economist)")
# A body a sentence gives a role at: "VXR's chief executive", "VXR chief executive", "the chief
# executive of VXR"; and a person titled so, by first name and surname.
_BODY_ROLE = rf"\b({_BODY}?)(?:[’']s)?\s+(?i:{_ROLE})"
_ROLE_AT = re.compile(rf"{_BODY_ROLE}\b")
_ROLE_OF = re.compile(rf"(?i:\b{_ROLE})\s+(?:of|at)\s+(?:the\s+)?({_BODY})")
_TITLED = re.compile(rf"{_BODY_ROLE}\s+[A-Z][\w’'\-]*\s+([A-Z][\w’'\-]+)\b")


@lru_cache(maxsize=256)
def appositions(texts: tuple[str, ...]) -> dict[str, frozenset[str]]:
    """Each person the passages introduce by a role at a named body, by their surname's term, with
    that body's terms: {"newman": {"futurum", "group"}} from "Dan Newman, CEO of Futurum Group," or
    {"osterhout": {"arrowline"}} from "Arrowline chief executive Rafael Osterhout"."""
    out: dict[str, frozenset[str]] = {}
    for text in texts:
        found = [(m.group(1), m.group(2)) for m in _APPOSITION.finditer(text)]
        found += [(m.group(2), m.group(1)) for m in _TITLED.finditer(text)]
        for person, body in found:
            for who in txt.terms(person):
                out[who] = out.get(who, frozenset()) | sentence_terms(body)
    return out


def role_bodies(text: str) -> list[str]:
    """The bodies ``text`` gives a role at: "VXR" of "VXR's chief executive" or "the chief executive
    of VXR". A capitalised word that is no name ("The chief executive…", "Its chief…") is no body."""
    return [b for m in [*_ROLE_AT.finditer(text), *_ROLE_OF.finditer(text)]
            for b in [re.sub(r"[’']s?$", "", m.group(1))] if txt.terms(b)]


def role_elsewhere(sentence: str, numbers: Mapping[int, Passage], proper: frozenset[str]) -> str:
    """Why ``sentence`` gives a person a role at a body the sources never give them one at, or "":
    "VXR's chief executive is Rafael Osterhout" where the only source says "Arrowline chief
    executive Rafael Osterhout … anything VXR charges". Only for a sentence that names a role,
    a person the passages introduce with theirs, and another body."""
    plain = txt.strip_citations(sentence)
    claimed = role_bodies(plain)
    if not claimed:
        return ""
    theirs = appositions(tuple(p.text for p in numbers.values()))
    for written, terms in names(plain, proper):
        bodies = theirs.get(terms[-1])  # a full name, or a surname the sources introduce
        if not bodies or bodies & sentence_terms(plain):
            continue
        other = next((b for b in claimed if not set(txt.terms(b)) & (bodies | set(terms[-2:]))), "")
        if other:
            return f"'{written}' holds that role elsewhere in the sources, not at {other}"
    return ""


def asked_role_elsewhere(sentence: str, question: str, numbers: Mapping[int, Passage], proper: frozenset[str]) -> str:
    """Why ``sentence`` answers a question for the holder of a role at a body ("Who is VXR's chief
    executive?") with people the sources introduce only at other bodies ("Rita Okafor, chief
    analyst at Marlin Research"), or "". The question states the role, so the answer need not:
    "Rita Okafor [1]" says she holds it. A person the sources introduce without a body, or with
    the asked one too, may hold it."""
    asked = role_bodies(question)
    if not asked or not txt.asks_who_where_why(question):
        return ""
    wanted = {t for b in asked for t in sentence_terms(b)}
    theirs = appositions(tuple(p.text for p in numbers.values()))
    known = frozenset().union(*theirs.values())
    # Who the sentence names: a full name, or a surname the sources introduce; not a role ("Chief
    # Market Analyst") or a body the sources give someone ("Scope Group").
    added = added_names(sentence, proper, question_terms(question))
    people = [(written, theirs.get(terms[-1])) for written, terms in added
              if (len(terms) > 1 or terms[-1] in theirs) and not re.search(rf"(?i)\b{_ROLE}\b", written)
              and not set(terms) <= known]
    if not people or any(bodies is None or bodies & wanted for _, bodies in people):
        return ""
    return f"'{people[0][0]}' holds a role at another body in the sources, not at {asked[0]}"


@dataclass(frozen=True)
class Grounded:
    """An answer after the checks: the text kept, whether it is a refusal, whether the model's
    answer was withheld (it answered, and nothing of it is supported), and what was removed."""

    text: str
    removed: tuple[Removed, ...]
    refused: bool
    withheld: bool = False
    conflicts: tuple[Conflict, ...] = ()
    doubtful: tuple[Removed, ...] = ()  # kept only if a judge agrees (``aliased``, ``paraphrased``), and why not


def final_answer(answer: str, question: str, numbers: Mapping[int, Passage], ground_claims: bool = True,
                 check_citations: bool = True, check_conflicts: bool = True, doubts: bool = False) -> Grounded:
    """The answer the user sees: citations pointed at the sources that hold each sentence, the
    sentences they do not support removed (``ground_claims``), and a note when the sources give
    different values for what it states (``check_conflicts``). When every sentence is removed
    but the sources disagree on the value it gave, the answer is the note: each value is a
    passage's own, with its source (unless every part of the question asks who, where or why).
    With ``doubts``, sentences a judge may keep are listed in ``doubtful`` instead of removed."""
    from . import conflicts as differ
    from . import prompting

    if prompting.is_refusal(answer):
        return Grounded(answer, (), True)
    if not check_citations:
        return Grounded(answer, (), False)
    answer = prompting.check_citations(answer, numbers)
    found = tuple(differ.find(answer, question, numbers)) if check_conflicts else ()
    checked = ground(answer, question, numbers, prompting.REFUSAL, prompting.is_refusal, doubts) if ground_claims \
        else Grounded(answer, (), False)
    if checked.refused:
        return nothing_supported(question, checked.removed, found)
    return Grounded(differ.add_note(checked.text, found), checked.removed, False, conflicts=found,
                    doubtful=checked.doubtful)


def nothing_supported(question: str, removed: Sequence[Removed], conflicts: Sequence[Conflict]) -> Grounded:
    """The answer when no sentence the model wrote is left: the sources' differing values on what
    it stated (each a passage's own, with its source), unless every part of the question asks
    who, where or why, which a date or an amount does not answer; otherwise the refusal."""
    from . import conflicts as differ
    from .prompting import REFUSAL

    if conflicts and not txt.asks_who_where_why(question):
        return Grounded(differ.note(conflicts), tuple(removed), False, conflicts=tuple(conflicts))
    return Grounded(REFUSAL, tuple(removed), True, withheld=True)


def ground(answer: str, question: str, numbers: Mapping[int, Passage], refusal: str,
           is_refusal=lambda s: False, doubts: bool = False) -> Grounded:
    """Remove the sentences of ``answer`` that its cited passages do not support (see the module
    doc). With ``doubts``, a sentence whose source may name its subject otherwise (``aliased``),
    or word it otherwise (``paraphrased``), is kept and listed in ``doubtful``, for a judge that
    reads meaning to decide."""
    proper = proper_words(list(numbers.values()), question)
    subject = question_terms(question)
    asked = [terms for _, terms in names(question, proper)]
    kept: list[str] = []
    removed: list[Removed] = []
    doubtful: list[Removed] = []
    moved = False  # a sentence now cites the shown passage that holds it
    yes_no, counts = txt.asks_yes_no(question), txt.asks_number(question)
    for sentence in txt.sentences(answer):
        refusing = is_refusal(sentence)
        reason = "" if refusing else judge(sentence, numbers, proper, subject)
        if not reason and not refusing:
            reason = another_kind(sentence, question, proper, subject, numbers)
        if reason and not reason.startswith("'"):  # the values are there: maybe in another source
            other = next((n for n in numbers if not judge(txt.cite(sentence, n), numbers, proper, subject)),
                         None)
            if other is not None:
                sentence, reason, moved = txt.cite(sentence, other), "", True
        if reason and doubts and not reason.startswith("'"):
            source = aliased(sentence, numbers, proper, subject, asked)
            if source is None and reason.startswith(_APART):
                source = paraphrased(sentence, numbers, proper, subject, asked)
            if source is not None:  # kept for the judge to decide
                sentence = txt.cite(sentence, source)
                doubtful.append(Removed(sentence, reason))  # why it goes if the judge says no
                reason = ""
        if not reason and counts and not refusing:
            reason = counted_of_another(sentence, asked, proper, numbers)
        if not reason and not refusing:
            reason = another_span(sentence, question, numbers)
        if not reason and not refusing:
            reason, instead = said_by_another(sentence, question, numbers, proper)
            if reason:  # their own sentence, if any, answers in its place
                removed.append(Removed(sentence, reason))
                kept += [instead] if instead else []
                continue
        if not reason and not yes_no and not refusing and restates_only(sentence, question):
            reason = "it only restates the question"  # no source can help that
        if reason:
            removed.append(Removed(sentence, reason))
        else:
            kept.append(sentence)
    kept = list(dict.fromkeys(kept))  # a sentence put in for another may be one the model wrote too
    stated = [s for s in kept if not is_refusal(s)]
    unanswered = not_given(question, stated, proper, subject) if stated else ""
    if unanswered:
        removed += [Removed(s, unanswered) for s in stated]
        kept = [s for s in kept if s not in stated]
    doubtful = [d for d in doubtful if d.sentence in kept]
    if not removed:
        return Grounded(" ".join(kept) if doubtful or moved else answer, (), False, doubtful=tuple(doubtful))
    if not any(txt.strip_citations(s).strip(" .") and not is_refusal(s) for s in kept):
        return Grounded(refusal, tuple(removed), True)
    text = " ".join([*kept, *cover_notes(question, kept, numbers, proper)])
    return Grounded(text, tuple(removed), False, doubtful=tuple(doubtful))


def aliased(sentence: str, numbers: Mapping[int, Passage], proper: frozenset[str], subject: frozenset[str],
            asked: Sequence[tuple[str, ...]]) -> Optional[int]:
    """The shown source that may call the question's subject by another name ("BABA" for
    Alibaba, a former name, an abbreviation) where ``sentence`` gives a name for it, or None.

    What the question says is taken as given: a name of the question is missing from the
    source, and one window of it holds the names the sentence adds, half its words that the
    question lacks, and another of the question's names (``asked``), so that it speaks of what
    was asked. Only names: a number beside another subject is that subject's number far more
    often than an alias's ("32 billion" beside QwQ-32B, claimed of Hunyuan), and the binding
    rule for numbers (``Window``) stands. Words cannot tell an alias from another subject; a
    judge that reads meaning can."""
    found = claims(sentence, proper, subject)
    given = {terms for c in found for _, terms in c.names if set(terms) <= subject}
    own = [replace(c, names=tuple(x for x in c.names if x[1] not in given), words=c.words - subject) for c in found]
    others = [t for t in asked if t not in given]
    if not given or not others or any(c.numbers for c in own) or not any(c.names for c in own):
        return None
    return _source_holding(own, numbers, subject, lambda w: any(w.holds_name(t) for t in others))


def paraphrased(sentence: str, numbers: Mapping[int, Passage], proper: frozenset[str], subject: frozenset[str],
                asked: Sequence[tuple[str, ...]]) -> Optional[int]:
    """The shown source with a window that holds every value of ``sentence`` together, the
    question's names and half the sentence's words that the question lacks, or None.

    Such a sentence falls short only on the question's own words: the answer restated the
    question ("the quickest trip from the capital takes 1 hour 55 minutes") where the source
    words it otherwise ("cuts the fastest journey between the two cities … to 1 hour 55
    minutes"). Only a claim whose every number counts a noun ("41 months"): such a number stands
    with its noun in one sentence of the window, which says what it is. A bare number or a
    percentage says nothing of what it measures ("The context window is 32 [1]" from "QwQ-32B"),
    and names alone restate the question's relation (see ``verify``). Words cannot tell a
    paraphrase from the same values said of something else; a judge that reads meaning can."""
    found = claims(sentence, proper, subject)
    own = [replace(c, words=c.words - subject) for c in found]
    numbers_of = [n for c in own for n in c.numbers]
    if not numbers_of or not all(n.unit for n in numbers_of):
        return None
    return _source_holding(own, numbers, subject, lambda w: all(w.holds_name(t) for t in asked))


def _source_holding(own: Sequence[Claim], numbers: Mapping[int, Passage], subject: frozenset[str],
                    near: Callable[[Window], bool]) -> Optional[int]:
    """The first shown source whose windows that are ``near`` (about what was asked) support
    every claim of ``own``, or None."""
    for n, passage in numbers.items():
        found = [w for w in windows(passage.text) if near(w)]
        if found and all(not c.has_values or supported(c, found, subject, True) for c in own):
            return n
    return None


class Said(NamedTuple):
    """A claim a passage says of another name: that name, the name the answer gives it as
    written, and the two adjacent sentences that hold the claim."""

    other: str = ""
    given: str = ""
    window: str = ""


def said_of_another(sentence: str, numbers: Mapping[int, Passage], question: str) -> Said:
    """The name a cited passage says ``sentence``'s claim of, when that is not the name the
    sentence gives it (``Said("Baidu", "Alibaba", …)``); ``Said()`` when there is none. The check
    reads two adjacent sentences as one window, so "Alibaba has failed to generate as much AI
    buzz [1]" passes on "Alibaba stock rose 40%. Even Baidu, which has failed to generate the same
    AI buzz…": here the name the sentence adds (not the question's) stands only in the sentence
    beside the one with most of its words, and that one names another ("Baidu"). Words cannot
    tell who did what; a judge that reads can."""
    proper = proper_words(list(numbers.values()), question)
    subject = question_terms(question)
    cited = [numbers[n] for n in refs_of(sentence, numbers)]
    for claim in claims(sentence, proper, subject):
        new = [t for _, t in claim.names if not set(t) <= subject]
        if not new or not claim.words or claim.numbers:
            continue  # a number is bound to its own sentence's names already (Window)
        if supported(claim, [w for p in cited for w in windows(p.text) if len(w.sentences) == 1], subject, True):
            continue
        for p in cited:
            other, window = _named_beside(claim, new, txt.sentences(p.text), proper, subject)
            if other:
                return Said(other, next(w for w, t in claim.names if t in new), window)
    return Said()


def _named_beside(claim: Claim, new: Sequence[tuple[str, ...]], said: Sequence[str], proper: frozenset[str],
                  subject: frozenset[str]) -> tuple[str, str]:
    """For adjacent sentences that hold most of ``claim``'s words, with its ``new`` names only in
    the one without most of them: a name that one gives that the claim does not (no month or
    weekday), and the two sentences; ("", "") when there is none."""
    from .conflicts import calendar_word

    claimed = {t for _, t in claim.names}
    for a, b in zip(said, said[1:]):
        ta, tb = sentence_terms(a), sentence_terms(b)
        if not all(set(t) <= ta | tb for t in new) or 2 * len(claim.words & (ta | tb)) <= len(claim.words):
            continue
        words, terms = (b, tb) if len(claim.words & tb) > len(claim.words & ta) else (a, ta)
        if all(set(t) <= terms for t in new):
            continue
        others = [w for w, t in names(words, proper)
                  if t not in claimed and not set(t) <= subject and not calendar_word(w)]
        if others:
            return others[0], f"{a} {b}"
    return "", ""


def counted_of_another(sentence: str, asked: Sequence[tuple[str, ...]], proper: frozenset[str],
                       numbers: Mapping[int, Passage]) -> str:
    """Why ``sentence``'s count does not answer a question asking how many or how much of a
    subject the question names (``asked``), or "": it names none of the question's names but
    another (no month or weekday, sharing no word with them), does not refer back ("it", "The
    company…"), and no sentence of its cited passages that states the count names the question's
    subject (or opens with "It", "He", "The…" after one that does). "How many city governments
    have adopted QwQ-32B?" answered "13 city governments have adopted DeepSeek models [2]" is a
    true sentence, its number beside its own name, but it counts something else."""
    from .conflicts import calendar_word

    body = txt.strip_citations(sentence)
    counts = _counts(body)
    if not asked or not counts or _REFERS_TO_ONE.search(body):
        return ""
    if _named_in(asked, sentence_terms(body)):
        return ""
    given = {t for name in asked for t in name}
    other = next((written for written, name in names(body, proper)
                  if not set(name) & given and not calendar_word(written)), "")
    cited = [numbers[n].text for n in refs_of(sentence, numbers)]
    if not other or any(_stated_of(n, asked, proper, text) for n in counts for text in cited):
        return ""
    return f"its number is {other}'s, and the question asks about another"


def said_by_another(sentence: str, question: str, numbers: Mapping[int, Passage], proper: frozenset[str]
                    ) -> tuple[str, str]:
    """Why the figure of ``sentence`` is not the one a question asks someone for ("How much has it
    risen, according to Scope Group's analyst?"), and the shown sentence where they give theirs,
    cited, or "" when none of their sentences gives a figure; ("", "") when it is theirs. A figure
    is theirs when a window of a cited passage holds it and names them (or refers back to them:
    "The company said…"). Another source's true figure ("Alibaba stock has risen over 40%") is
    not what they said ("With BABA up 42%…", the analyst). Where none of their sentences has a
    figure, the figure is kept unless the sources name them and no cited passage that holds it
    does: a source never named may be the document itself ("according to the Gazette")."""
    who = txt.attribution(question)
    whose = [terms for _, terms in names(who, proper)]
    counts = _counts(txt.strip_citations(sentence))
    if not whose or not counts:
        return "", ""
    holding = {p: [w for w in windows(numbers[p].text) if any(w.holds_number(n) for n in counts)]
               for p in refs_of(sentence, numbers)}
    if any(w.holds_name(name, subject=True) for held in holding.values() for w in held for name in whose):
        return "", ""
    instead = their_figure(question, who, whose, numbers, proper)
    if instead:
        return f"the question asks for {who}'s word, and its source does not give the figure as theirs", instead
    # None of their sentences has a figure. Where the sources name them, but no cited passage that
    # holds the figure does, it is someone else's; where no source names them, words cannot tell.
    named = {n for n, p in numbers.items() if _named_in(whose, sentence_terms(p.text))}
    held = {p for p, found in holding.items() if found}
    if named and held and not held & named:
        return f"the question asks for {who}'s word, and the sources that name them give no such figure", ""
    return "", ""


def their_figure(question: str, who: str, whose: Sequence[tuple[str, ...]], numbers: Mapping[int, Passage],
                 proper: frozenset[str]) -> str:
    """The shown sentence, cited, where the source a question names (``who``, as written; ``whose``:
    its names' terms) gives a figure: it or the sentence before names them, it holds a number that is not a year
    or a date, over no other span of time than the question asks about, and it shares most of
    the question's other words among such sentences; "" when none does."""
    own = {t for name in whose for t in name} | set(txt.terms(who))
    wanted = set(txt.terms(question)) - own - {t for _, terms in names(question, proper) for t in terms}
    span = txt.periods(question)
    best, score = "", 0
    for n, passage in numbers.items():
        said = txt.sentences(passage.text)
        for i, sentence in enumerate(said):
            counts = _counts(sentence)  # the cheap test first: most sentences hold no number
            if not counts or not _named_in(whose, sentence_terms(" ".join(said[max(0, i - 1):i + 1]))):
                continue
            if span and all(_over_another(span, spans_of(sentence, c)) for c in counts):
                continue  # a figure over another span of time than the question asks about
            shared = len(wanted & sentence_terms(sentence))
            if shared > score:
                best, score = txt.cite(sentence.strip(), n), shared
    return best


def another_span(sentence: str, question: str, numbers: Mapping[int, Passage]) -> str:
    """Why a figure of ``sentence`` is one over another span of time than the question asks about,
    or "": the answer gives it over another span ("rose 30% in the past month" for "since the start
    of the year"), or every cited sentence that holds it does, whatever span the answer copied from
    the question ("By what percentage did the index rise on the day of the launch?" answered "The
    index rose over 30% [2]" from "Since January, the index has surged over 30%"). Like a count of
    another subject, it is a true figure for another question.

    A percentage in a sentence that says something moved is over another span when the spans
    differ: a change over one span is not the change over another. Any other figure only when its
    span lies on the other side of now ("pledged 52 million euros over the next three years" for
    "over the past decade"): a level ("held its rate at 4.5%") or an amount dated by a span
    ("pledged 52 million euros last month") may well hold for the span asked about."""
    asked = txt.periods(question)
    body = txt.strip_citations(sentence)
    if not asked:
        return ""
    change, counts = txt.states_change(body), _counts(body)
    wanted = f'the question asks about "{next(iter(asked.values()))}"'
    held = {n.text: [(p, spans_of(s, n)) for p in refs_of(sentence, numbers) for s in txt.sentences(numbers[p].text)
                     if any(n.matches(parse_number(m.group())) for m in CLAIM_NUMBER.finditer(s))] for n in counts}
    # "expects 20 million over the next five years, up from 9 million over the past three" answers
    # a question about the years ahead: a figure its source gives over the asked side is there.
    sides = _directions(asked) - {""}
    answers = any(_directions(given) & sides for spans in held.values() for _, given in spans)
    for n in counts:
        other = _over_another if change and re.search(r"%|percent", n.text, re.IGNORECASE) else _other_side
        own = spans_of(body, n)
        # A figure the answer itself puts on the asked side is still checked against its source.
        placed = _directions(own) & sides
        if other is _other_side and (_PLANS.search(question) or (answers and not placed)):
            continue  # "How much did it pledge last week?": the span asked is the pledge's, not the figure's
        if other(asked, own):
            return f'it gives {n.text.strip()} over "{next(iter(own.values()))}", and {wanted}'
        spans = held[n.text]
        if spans and all(other(asked, given) for _, given in spans):
            where, given = spans[0]
            return f'[{where}] gives {n.text.strip()} over "{next(iter(given.values()))}", and {wanted}'
    return ""


# Words between a figure and a span that make the span another figure's, a comparison's or the
# statement's: "…12%, compared with last year", "the highest since 2021", "said last week".
_BASELINE = re.compile(r"\b(?:compared|than|versus|vs|against|from|after|before|same)\b", re.IGNORECASE)
_RECORD = re.compile(r"\b(?:\w+est|best|worst|most|least|first|record|where it has been|has kept|kept)\b", re.I)
# Where a sentence moves on to another statement, whose span is not the figure's before it.
_PARTS = re.compile(r";|,\s*(?:and|but|while|whereas|which|who|after|before|compared|adding|bringing|up|down)\b|"
                    r"\s(?:while|whereas|but)\s", re.IGNORECASE)
# A question about what was said or planned at a time, whose figure may be for another time.
# Whole verb forms, so that "committee", "plants" or "reporters" do not count.
_PLANS = re.compile(r"\b(?:announc(?:e|es|ed|ing|ements?)|pledg(?:e|es|ed|ing)|promis(?:es|ed|ing)|"
                    r"plan(?:s|ned|ning)?|commit(?:s|ted|ting|ments?)|vow(?:s|ed)?|unveil(?:s|ed|ing)?|"
                    r"say|says|said|reported|forecast(?:s|ed|ing)?|expect(?:s|ed|ing|ations?)?|predict(?:s|ed|ing)?|"
                    r"projected|projections?|targeted|aim(?:s|ed)|approv(?:e|es|ed)|ordered|signed|awarded)\b",
                    re.IGNORECASE)
_SAYING = r"\b(?:said|says|say|told|published|released|reported|announced|showed)\b"
_DATED = re.compile(rf"{_SAYING}\s+(?:\w+\s+)?$", re.I)


def spans_of(sentence: str, n: Number) -> dict[str, str]:
    """The spans of time (``txt.period_spans``) ``sentence`` gives ``n`` over: each span belongs to
    the figure nearest it in its part of the sentence (parts end at ";", ", and", ", which"…),
    and not one that dates the statement ("said last week", "on Monday", "Last week, it announced
    plans to…"), nor one across a comparison ("compared with last year") or another span ("over
    the next three years, more than over the past decade"), nor one after a record ("its worst
    session since March")."""
    figures = [m for m in CLAIM_NUMBER.finditer(sentence) if not _year(parse_number(m.group()))]
    ends = [m.end() for m in _PARTS.finditer(sentence)]
    out: dict[str, str] = {}
    for a, b, key, phrase in txt.period_spans(sentence):
        if txt.is_weekday_span(phrase) or _DATED.search(sentence[:a]):
            continue
        part = bisect_right(ends, a)
        outside = [m for m in figures if (m.end() <= a or m.start() >= b) and bisect_right(ends, m.start()) == part]
        if not outside:
            continue
        near = min(outside, key=lambda m: a - m.end() if m.end() <= a else m.start() - b)
        between = sentence[near.end():a] if near.end() <= a else sentence[b:near.start()]
        if n.matches(parse_number(near.group())) and not _BASELINE.search(between) and not (
                key.startswith("since") and _RECORD.search(sentence[max(0, a - 40):a])) and not (
                re.search(_SAYING, between, re.I) or txt.period_spans(between)):
            out.setdefault(key, phrase)
    return out


def _over_another(asked: Mapping[str, str], given: Mapping[str, str]) -> bool:
    """Whether a figure's spans of time (``spans_of``) are all other than the asked ones."""
    return bool(asked and given) and not asked.keys() & given.keys()


def _other_side(asked: Mapping[str, str], given: Mapping[str, str]) -> bool:
    """Whether a figure's spans of time all lie on the other side of now than the asked ones: what
    is planned "over the next three years" was not spent "over the past decade"."""
    sides = [_directions(asked), _directions(given)]
    return all(len(side) == 1 and "" not in side for side in sides) and sides[0] != sides[1]


def _directions(spans: Mapping[str, str]) -> set[str]:
    """The sides of now (``txt.span_direction``) that spans of time lie on."""
    return {txt.span_direction(key, phrase) for key, phrase in spans.items()}


def _year(n: Number) -> bool:
    return (n.scale == 1 and not n.decimals and not n.unit and 1000 <= n.value <= 2100
            and not re.search(r"%|\d,\d", n.text))


def _clauses(sentence: str) -> list[tuple[str, str]]:
    """The clauses of ``sentence`` (split where ``claims`` splits an answer), each with the words
    that joined it to the one before ("" for the first)."""
    joints = list(_CLAUSES.finditer(sentence))
    starts, ends = [0, *(m.end() for m in joints)], [*(m.start() for m in joints), len(sentence)]
    return [(m.group() if m else "", sentence[a:b]) for m, a, b in zip([None, *joints], starts, ends)
            if sentence[a:b].strip()]


def _stated_of(n: Number, asked: Sequence[tuple[str, ...]], proper: frozenset[str], text: str) -> bool:
    """Whether a sentence of ``text`` states ``n`` of one of the ``asked`` names: in the clause that
    holds the number when the sentence sets figures side by side and that clause names its own
    subject ("BlueWave runs 12 ferries, while Harbor Lights runs 9" states 12 of BlueWave only);
    else in the whole sentence ("…, which runs 12", "its 12", "BlueWave grew, and in Porto 12
    ferries…"); and in the sentence before when the sentence opens with a pronoun or "The…"."""
    said = txt.sentences(text)
    for i, sentence in enumerate(said):
        clauses = _clauses(sentence)
        holding = [(joint, c) for joint, c in clauses
                   if any(n.matches(parse_number(m.group())) for m in _ANY_NUMBER.finditer(c))]
        if not holding:
            continue
        # Clauses read apart only where the sentence sets figures side by side, each in its clause.
        figures = sum(1 for _, c in clauses if _counts(c))
        own = [c for joint, c in holding if names(c, proper) and not _REFERS.search(joint + c)
               and "which" not in joint.lower()]
        alone = figures > 1 and len(own) == len(holding)
        terms = frozenset().union(*map(sentence_terms, own)) if alone else sentence_terms(sentence)
        if i and _OPENS_WITH_ONE.match(sentence):
            terms |= sentence_terms(said[i - 1])
        if _named_in(asked, terms):
            return True
    return False


def restates_only(sentence: str, question: str) -> bool:
    """Whether ``sentence`` is made of the ``question``'s own words, with no number and no
    negation of its own: "Who leads BlueWave?" answered "BlueWave is led by BlueWave [1]" says
    nothing ("BlueWave did not respond" does). A capitalised word inside the sentence counts
    even when it is a stopword ("in May")."""
    body = txt.strip_citations(sentence)
    if _NEGATION.search(body) or CLAIM_NUMBER.search(body):
        return False
    asked = set(txt.terms(question)) | {w.lower() for w in txt.words(question)}
    own = set(txt.terms(body)) | {w.lower() for i, w in enumerate(txt.words(body)) if i and w[:1].isupper()}
    return bool(own) and own <= asked


def another_kind(sentence: str, question: str, proper: frozenset[str], subject: frozenset[str],
                 numbers: Mapping[int, Passage]) -> str:
    """Why ``sentence`` gives another kind of value than ``question`` asks for (a duration for a
    price, a country for a city, a sum of money for how long), or a person another role than the
    sources give them (``role_elsewhere``, ``asked_role_elsewhere``), or answers a yes/no question
    about another name than it asks about (``of_another``), or ""."""
    elsewhere = role_elsewhere(sentence, numbers, proper) or asked_role_elsewhere(sentence, question, numbers, proper)
    if elsewhere:
        return elsewhere
    if txt.asks_yes_no(question) and not txt.offers_choice(question):
        elsewhere = of_another(sentence, question, proper, numbers)
        if elsewhere:
            return elsewhere
    place = txt.asked_place_below_country(question)
    unpriced = not_money(sentence) if txt.asks_price(question) else ""
    if unpriced:
        return unpriced
    if place:
        return a_country_for(place, sentence, proper, subject)
    return not_a_span(sentence) if txt.asks_how_long(question) else ""


def of_another(sentence: str, question: str, proper: frozenset[str], numbers: Mapping[int, Passage]) -> str:
    """Why ``sentence`` does not answer a yes/no question about the names it gives: it speaks of
    one of them and not of another, nor of anything named before, and its cited passages do not
    name that other either ("Has the U.S. imposed a ban on QwQ-32B?" answered "The U.S. has
    imposed export controls on chips [2]", from a passage that never names QwQ-32B); "" otherwise.
    "Yes [1]" and "Yes, it was [1]" leave the names to the question, and "Alibaba's shares rose
    8% [1]" answers "Did Alibaba's shares rise after the QwQ-32B announcement?" from a passage
    that names the announcement."""
    from .conflicts import calendar_word

    body = txt.strip_citations(sentence)
    if _REFERS.search(body):
        return ""
    terms = sentence_terms(body)
    cited = frozenset().union(*(sentence_terms(numbers[n].text) for n in refs_of(sentence, numbers)))
    asked = [(written, name) for written, name in names(question, proper) if not calendar_word(written)]
    missing = [written for written, name in asked if not set(name) <= terms | cited]
    if missing and len(missing) < len(asked):
        return f"'{missing[0]}', which the question asks about, is not in it"
    return ""


def not_given(question: str, stated: Sequence[str], proper: frozenset[str], subject: frozenset[str]) -> str:
    """Why no sentence of ``stated`` gives the kind of thing ``question`` asks for: an amount
    ("What was its revenue?" answered "revenue was robust"), a name ("Which corporation was the
    first…?" answered "Some of the country's largest corporations…"), a rate ("What interest rate
    is it paying on its loan?" answered "…a short-term loan of €4m") or a time ("When will the
    extension open?" answered "…is scheduled to open later"); "" when one does."""
    if txt.asks_amount(question) and not any(gives_amount(s, question, txt.asks_figure(question)) for s in stated):
        return "it gives no amount, which the question asks for"
    countries = txt.asks_country(question)
    if txt.asks_name(question) and not any(_gives_name(s, proper, subject, countries) for s in stated):
        return "it gives no name, which the question asks for"
    if txt.asks_rate(question) and len(question_parts(question)) == 1 and not any(
            txt.states_rate(txt.strip_citations(s)) for s in stated):
        return "it gives no rate, which the question asks for"
    if txt.asks_when(question) and len(question_parts(question)) == 1 and \
            not any(txt.says_when(txt.strip_citations(s)) for s in stated):
        return "it does not say when, which the question asks"
    return ""


def _gives_name(sentence: str, proper: frozenset[str], subject: frozenset[str], countries: bool = False) -> bool:
    """Whether ``sentence`` names something the question does not. Its first word counts when it
    is capitalised and no stopword: the sources may write a name only at a sentence's start
    ("Bernstein analysts noted…"), where ``names`` cannot tell it from any other word. A
    country's adjective ("the Chinese company Monica") names no founder or company, unless the
    question asks for a country (``countries``)."""
    def named(word: str) -> bool:
        return countries or not txt.nationality(word)

    if any(named(written) for written, _ in added_names(sentence, proper, subject)):
        return True
    first = txt.words(txt.strip_citations(sentence))[:1]
    return bool(first) and first[0][:1].isupper() and first[0].lower() not in txt.STOPWORDS and not set(
        txt.terms(first[0])) <= subject and named(first[0])


def not_a_span(sentence: str) -> str:
    """Why ``sentence`` does not say how long: every number it gives is a sum of money or a
    percentage ("spent 380 billion yuan" for "How long did it spend training…?"); "" otherwise.
    A sentence without a number ("a few weeks") may well answer it."""
    plain = txt.strip_citations(sentence)
    found = list(CLAIM_NUMBER.finditer(plain))
    if found and all(_percentage(plain, m) or _money(plain, m) for m in found):
        return f"'{found[0].group().strip()}' is not a span of time or a length, which the question asks for"
    return ""


def _money(sentence: str, m: re.Match) -> bool:
    """Whether the number ``m`` of ``sentence`` is a sum of money ("380 billion yuan", "$52.4 billion")."""
    return unit_after(sentence, m.end()) in _CURRENCIES or bool(
        _CURRENCY_SIGN.search(sentence[max(0, m.start() - 2):m.start()]))


def a_country_for(place: str, sentence: str, proper: frozenset[str], subject: frozenset[str]) -> str:
    """Why ``sentence`` does not answer a question asking which ``place`` (a city, a town…): every
    name it adds to the question is a country ("Monica is based in China" for "In which city is
    Monica based?", from "the Chinese company Monica"); "" otherwise."""
    added = [written for written, _ in added_names(sentence, proper, subject)]
    if added and all(re.sub(r"^the\s+", "", w, flags=re.IGNORECASE).lower() in txt.countries() for w in added):
        return f"'{added[0]}' is a country, and the question asks which {place}"
    return ""


def not_money(sentence: str) -> str:
    """Why ``sentence`` does not answer a question about a price or a cost: it gives a number in
    some other unit ("costs 55 minutes"); "" when it does not (a number with no unit is let be)."""
    for m in CLAIM_NUMBER.finditer(sentence):
        unit = unit_after(sentence, m.end())
        if unit and not _money(sentence, m) and not _percentage(sentence, m):
            return f"'{m.group()} {sentence[m.end():].split()[0]}' is not an amount of money, which the question asks for"
    return ""


_PERCENT_AFTER = re.compile(r"\s*(?:per\s*cent|percentage\s+points?)\b", re.IGNORECASE)


def _percentage(sentence: str, m: re.Match) -> bool:
    """Whether the number ``m`` of ``sentence`` is a percentage ("8%", "8 percent", "8 per cent",
    "8 percentage points")."""
    return "%" in m.group() or "percent" in m.group().lower() or bool(_PERCENT_AFTER.match(sentence, m.end()))


def gives_amount(sentence: str, question: str = "", figure: bool = False) -> bool:
    """Whether ``sentence`` could answer "how much": it states a number, or compares ("far less");
    with ``figure`` (the question asks what a price or a revenue was), only a number that is not a
    percentage, nor a year or another number the question itself gives: "8% higher in 2024" says
    how it moved, not what it was."""
    plain = txt.strip_citations(sentence)
    if figure:
        given = {parse_number(m.group()).value for m in CLAIM_NUMBER.finditer(question)}
        return any(not _percentage(plain, m) and not _year(n) and n.value not in given
                   for m in CLAIM_NUMBER.finditer(plain) for n in [parse_number(m.group())])
    return bool(CLAIM_NUMBER.search(plain) or _COMPARES.search(plain))


def cover_notes(question: str, kept: Sequence[str], numbers: Optional[Mapping[int, Passage]] = None,
                proper: Optional[frozenset[str]] = None) -> list[str]:
    """What to say of each part of the question that no ``kept`` sentence covers: a sentence of the
    shown passages that gives the number it asks for (``quoted``, cited), else that the sources
    do not cover it. ``proper``: the passages' ``proper_words``, when the caller has them."""
    parts = uncovered_parts(question, kept)
    if not parts:
        return []
    numbers = numbers or {}
    if proper is None:
        proper = proper_words(list(numbers.values()), question)
    return [quoted(part, numbers, proper) or f'The sources do not cover this part of the question: "{part}".'
            for part in parts]


def quoted(part: str, numbers: Mapping[int, Passage], proper: frozenset[str]) -> str:
    """A sentence of the shown passages, word for word and cited, that answers a ``part`` asking
    how many or how much: a clause of it names every name of the part, holds a number that is not
    a year, and shares most words with the part among such clauses. "" when none does. The model
    may give another subject's figure from a sentence holding both ("Alibaba rose 40%, while Tencent
    climbed 30%"), which the checks remove; the source's own sentence answers in its place."""
    asked = [terms for _, terms in names(part, proper)]
    if not asked or not txt.asks_number(part):
        return ""
    wanted = set(txt.terms(part)) - {t for terms in asked for t in terms}
    best, score = "", max(1, (len(wanted) + 1) // 2) - 1  # half the part's other words, at least one
    span = txt.periods(part)
    for n, passage in numbers.items():
        for sentence in txt.sentences(passage.text):
            for _, clause in _clauses(sentence):
                counts = _counts(clause)  # the cheap test first: most clauses hold no number
                if not counts or span and any(_over_another(span, spans_of(sentence, c)) for c in counts):
                    continue  # a figure over another span of time than the part asks about
                terms = sentence_terms(clause)
                shared = len(wanted & terms)
                if shared > score and all(set(name) <= terms for name in asked):
                    best, score = txt.cite(sentence.strip(), n), shared
    return best


def _counts(clause: str) -> list[Number]:
    """The numbers of ``clause`` that may count or measure something: not years, not days of a date
    ("May 4", "4 May")."""
    from .conflicts import calendar_word

    out = []
    for m in CLAIM_NUMBER.finditer(clause):
        before, after = clause[:m.start()].split()[-1:], clause[m.end():].split()[:1]
        n = parse_number(m.group())
        if not _year(n) and not any(calendar_word(w.strip(".,;:")) for w in before + after):
            out.append(n)
    return out


def uncovered_parts(question: str, kept: Sequence[str]) -> list[str]:
    """Parts of a several-part question that no kept sentence speaks to (by their own distinctive words)."""
    parts = question_parts(question)
    if len(parts) < 2:
        return []
    said = {t for s in kept for t in txt.terms(txt.strip_citations(s))}
    out = []
    for i, part in enumerate(parts):
        others = {t for j, p in enumerate(parts) if j != i for t in txt.terms(p)}
        own = set(txt.terms(part)) - others
        if own and not own & said:
            out.append(part)
    return out
