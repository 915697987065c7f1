"""Stage 6b, its reading: what an answer sentence claims, and what a passage holds.

A *claim* is a clause of an answer sentence with its values: numbers (their scale, and the noun
a count counts), names (capitalised words, grouped: "New York Stock Exchange") and its other
content words. A *window* is one sentence of a passage, or two adjacent ones, with the numbers,
names and terms it holds. ``grounding`` checks each claim against the windows of the passages it
cites, ``asked`` checks that it answers what the question asks, and ``conflicts`` compares the
values that passages give for it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Mapping, Optional, Sequence

from . import text as txt
from .types import Passage

_SCALES = {"thousand": 1e3, "k": 1e3, "million": 1e6, "mn": 1e6, "m": 1e6, "billion": 1e9, "bn": 1e9, "b": 1e9,
           "trillion": 1e12, "tn": 1e12, "t": 1e12}
_SCALE_WORDS = r"thousand|million|billion|trillion|bn|mn|tn"
# A number an answer states: standalone, never a part of a name such as "QwQ-32B" or "R1".
CLAIM_NUMBER = re.compile(
    rf"(?<![\w\-.])\d[\d,]*(?:\.\d+)?(?:st|nd|rd|th)?(?:\s?%|\s?percent)?(?:\s?(?:{_SCALE_WORDS})\b|[bmk](?=\W|$))?"
    r"(?![\w\-])",
    re.IGNORECASE)
# Currencies by name, as terms: a number they follow is a sum of money.
CURRENCIES = frozenset(txt.terms("euros dollars pounds yuan renminbi yen rupees francs cents pence pesos crowns "
                                 "shillings usd eur gbp rmb cny jpy chf kroner krone kronor krona won rand rubles "
                                 "roubles lira reais zloty baht rupiah ringgit dinars dirhams shekels"))
# What a currency sign says in words, as terms: "€890m" is in euros, as an answer may write it.
_SIGN_TERMS = {"$": ("dollar",), "€": ("euro",), "£": ("pound",), "¥": ("yen", "yuan"), "₹": ("rupe",)}
CURRENCY_SIGN = re.compile(f"[{re.escape(''.join(_SIGN_TERMS))}]")
# Every number a passage holds, also inside names ("Qwen2.5-Max", "32B"): the lenient side.
ANY_NUMBER = re.compile(rf"\d[\d,]*(?:\.\d+)?(?:\s?(?:{_SCALE_WORDS})\b|[bmkt]\b)?", re.IGNORECASE)
# A code or an identifier: a letter right before a digit, in any case ("gv300x", "a100",
# "o1-mini", "001_60b042e0"). It is a value like a name. "mid-2024", "top-10", "covid-19", "12m",
# "1990s" and "3rd" are not codes: a word and a number, or a number and its unit or ending.
_CODE = re.compile(r"[^\W\d_]\d")
_ONE, _SEVERAL = txt.PRONOUNS_ONE, txt.PRONOUNS_SEVERAL
_PRONOUN = rf"(?i:\b(?:{_ONE}|{_SEVERAL})\b)"  # "it", "he", "they"…
# A sentence that refers back to a subject named before: a pronoun, or "The company…".
REFERS = re.compile(rf"{_PRONOUN}|^\W*[Tt]he\s+[a-z]+")
# An answer sentence that may speak of the question's subject without naming it: "it", "he", "The
# company…"; not "they", "them", "their" ("…integrated it into their systems" speaks of the adopters).
REFERS_TO_ONE = re.compile(rf"(?i:\b(?:{_ONE})\b)|^\W*[Tt]he\s+[a-z]+")
# A sentence in the first person speaks for whoever its document's head or an earlier passage names.
FIRST_PERSON = re.compile(r"\b(?:I|[Ww]e|[Uu]s|[Oo]ur|[Mm]y|[Mm]e)\b")
_QUOTED = re.compile(r"[\"“”][^\"“”]*[\"“”]|‘[^‘’]*’")
_THIRD_PERSON = re.compile(_PRONOUN)


def first_person(text: str) -> bool:
    """Whether ``text`` says "I", "we", "us", "our"…; a capital "I" after a capitalised word is a
    numeral ("Phase I", "World War I")."""
    return any(m.group() != "I" or not re.search(r"\b[A-Z][\w\-]*\s+$", text[:m.start()])
               for m in FIRST_PERSON.finditer(text))


def speakers(sentence: str) -> int:
    """How many subjects named before a passage sentence in its document's voice stands for: 0 when
    it does not say "I" or "we" outside quotation marks, 1 (its speaker), or 2 when it also says
    "it" or "they" ("We lent it €30m"). Quoted words are someone else's ('"We will add 40
    sailings," a union official said' is the official's, not the byline's); they still refer
    back, as "it" does."""
    plain = _QUOTED.sub(" ", sentence)
    return (2 if _THIRD_PERSON.search(plain) else 1) if first_person(plain) else 0
# "The Chinese e-commerce giant's…": a description led by a country's adjective refers back too.
_BY_DESCRIPTION = re.compile(r"^\W*[Tt]he\s+([A-Z][a-z]+)\s+[a-z]")


# "…to reduce the Group's net debt": the last word of a longer name written before, after "the",
# is that name written short ("Highcairn Leisure Group", then "the Group"; "the Council").
_SHORT_DEFINITE = re.compile(r"\b[Tt]he\s+([A-Za-z][a-z]+)\b(?![\s\-]+[A-Z\d])")
_LONGER_NAME = re.compile(r"[A-Z][\w\-]*(?:[’']s)?(?:\s+[A-Z][\w\-]*(?:[’']s)?)+")


def name_ends(text: str, within: Optional[frozenset[str]] = None) -> frozenset[str]:
    """The last words of the names of two words or more in ``text``, in lower case ("group" for
    "Highcairn Leisure Group"), a function word before them ("The", "In") not counted; of only the
    names whose terms are all ``within``, when given."""
    out = set()
    for m in _LONGER_NAME.finditer(text):
        words = [re.sub(r"[’']s$", "", w) for w in m.group().split()]
        if words[0].lower() in txt.STOPWORDS:
            words = words[1:]
        if len(words) > 1 and (within is None or sentence_terms(" ".join(words)) <= within):
            out.add(words[-1].lower())
    return frozenset(out)


def refers_back(sentence: str, ends: frozenset[str] = frozenset()) -> bool:
    """Whether a passage sentence refers back to a subject named before it (``REFERS``), by a
    description that opens with a country's adjective ("The Chinese e-commerce giant's model"),
    or by the last word of a longer name its passage gives (``ends``: "the Group's net debt")."""
    described = _BY_DESCRIPTION.match(sentence)
    return bool(REFERS.search(sentence)) or bool(described and txt.nationality(described.group(1))) or bool(
        points_to(sentence, ends))


def points_to(sentence: str, ends: frozenset[str]) -> frozenset[str]:
    """The last words of longer names (``ends``, in lower case) that ``sentence`` writes after
    "the", in either case: "the Group's net debt", "The works opened in 1967" (after "the Marden
    Treatment Works")."""
    return frozenset(w for m in _SHORT_DEFINITE.finditer(sentence) for w in [m.group(1).lower()] if w in ends)


def names_no_one(sentence: str, named: frozenset[str], lower: frozenset[str]) -> bool:
    """Whether a passage sentence names no one: no capitalised word but months, weekdays, countries
    and its first, which its passage writes in lower case (``lower``) or is a function word, and
    never as a name (``named``): "BlueWave saw…" names BlueWave. It speaks of what its passage
    was about ("Fever was reported by 4.1% of vaccine recipients."), as one that refers back does."""
    words = re.findall(r"[A-Za-z][\w\-]*", sentence)
    if not words or words[0] in named or not (words[0].lower() in txt.STOPWORDS or words[0].lower() in lower):
        return False
    return not any(w[0].isupper() and not txt.when_or_where(w) for w in words[1:])


NEGATION = re.compile(r"\b(?:not|no|never|none|neither|nor|without|cannot)\b|n't\b", re.IGNORECASE)
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


_WORD, _ITEM = r"[\w\-’']+", r"[^\W\d][\w\-’']*"  # an item of a list: a word without digits
_COUNTED = re.compile(rf"\s+({_WORD}(?:\s+{_WORD}){{0,2}})"
                      rf"((?:,\s*{_ITEM}(?:\s+{_ITEM}){{0,2}})*,?\s+(?:and|or)\s+{_ITEM}(?:\s+{_ITEM}){{0,2}})?")


_VERB_AFTER = re.compile(rf"\s+{txt.AUXILIARY}\b", re.IGNORECASE)


def counted(sentence: str, end: int, start: int = 0) -> frozenset[str]:
    """The terms of the few words right after a number, up to a punctuation mark or through a
    list: what a source says it counts ("23 people", "41 Corvane patients", "12 new ferries");
    with the currency of a sign right before it (``start``): "€890m for 24 trainsets" counts
    euros."""
    # A list of what it counts runs to its last item: "1,140 general practices, dental surgeries and
    # physiotherapy clinics" counts clinics too (items without numbers of their own).
    m = _COUNTED.match(sentence, end)
    # A number a verb follows stands for the noun said before it: "212 people reported illness and
    # 37 were admitted" counts people, which the sentence holds.
    verb = _VERB_AFTER.match(sentence, end)
    after = frozenset(txt.terms(m.group(1) + (m.group(2) or ""))) if m and not verb else frozenset()
    return after | frozenset(_SIGN_TERMS.get(currency_before(sentence, start), ()))


# "said Oskar Tamberlin, 71, who has fished…": a small whole number set off by commas right after
# a name is that person's age, as news style writes it; an answer says "71 years old".
_AGE_AFTER = re.compile(r"[A-Z][\w’'\-.]*\s+[A-Z][\w’'\-]*,\s+$")  # "Oskar Tamberlin, 71,", "Mr Maslin, 64,"
_AGE_TERMS = frozenset({"old", "age", "aged"})  # not "year": "71 years old" is no "for 71 years"
_AGED = re.compile(r"\baged\s+$", re.IGNORECASE)
# "7 years old" is an age, which "for seven years" is not: its unit is "old".
_YEARS_OLD = re.compile(r"[\s\-]+years?[\s\-]+old\b", re.IGNORECASE)


def age(sentence: str, m: re.Match) -> frozenset[str]:
    """The terms of an age ("old", "age") for the number ``m`` of ``sentence`` when it is written
    as one ("Oskar Tamberlin, 71,", "aged 71", "71 years old", "a 71-year-old"), else none."""
    whole = m.group().rstrip(",")
    if not whole.isdigit() or not 0 < int(whole) < 120:
        return frozenset()
    if _AGED.search(sentence, 0, m.start()) or _YEARS_OLD.match(sentence, m.start() + len(whole)):
        return _AGE_TERMS
    if not _AGE_AFTER.search(sentence, 0, m.start()):
        return frozenset()
    return _AGE_TERMS if m.group().endswith(",") or sentence[m.end():m.end() + 1] in (",", ")") else frozenset()


def currency_before(sentence: str, start: int) -> str:
    """The currency sign right before the number at ``start`` ("€" of "€890m"), or ""."""
    sign = sentence[start - 1:start] if start else ""
    return sign if sign in _SIGN_TERMS else ""


def currency_unit(sentence: str, start: int) -> str:
    """The currency of a sign right before the number at ``start``, as a term ("euro" for
    "€3.8 million"), or ""."""
    return _SIGN_TERMS.get(currency_before(sentence, start), ("",))[0]


# Words after a number that say how it is shared out, not what it counts: "€60 each household".
_DISTRIBUTIVE = frozenset({"each", "every", "apiece", "per"})


def unit_after(clause: str, end: int) -> str:
    """The noun a claimed number counts, when one follows it at once: "400 passengers" -> "passeng"."""
    m = re.match(r"\s+([A-Za-z][a-z\-]+)", clause[end:])
    if not m or m.group(1).lower() in txt.STOPWORDS or m.group(1).lower() in _DISTRIBUTIVE:
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
    # terms, numbers, refers back, the numbers stated of a compared name (``compared_numbers``), and
    # for each number the names the sentence gives after it (``names_after``)
    sentences: tuple[tuple[frozenset[str], tuple[Number, ...], bool, tuple[tuple[Number, frozenset[str]], ...],
                           tuple[tuple[tuple[str, ...], ...], ...]], ...]
    negated: bool
    refers: bool = False  # it says "it", "we", "the company"…, or names no one: its subject may be earlier
    earlier: frozenset[str] = frozenset()  # terms of the passage before this window
    previous: frozenset[str] = frozenset()  # terms of the sentence right before it
    speaking: tuple[int, ...] = ()  # for each sentence, ``speakers``: the subjects its "we" and "it" stand for
    speaker: frozenset[str] = frozenset()  # terms of its document's head: who "I" or "we" is (``in_context``)
    heading: bool = False  # a line of the head itself (``head_windows``)
    points: frozenset[str] = frozenset()  # the names' last words it refers back by ("the works": ``points_to``)

    def holds_number(self, n: Number, names: Sequence[tuple[str, ...]] = (), subject: frozenset[str] = frozenset()
                     ) -> bool:
        for i, (terms, numbers, refers, compared, named) in enumerate(self.sentences):
            # The claim's noun in the sentence, and not another noun right after the number in it:
            # "we have interviewed 23 people, … including the guards" does not count 23 guards.
            held = [k for k, m in enumerate(numbers)
                    if n.matches(m) and (not n.unit or n.unit in terms and (not m.counts or n.unit in m.counts))]
            if not held:
                continue
            theirs = [of for m, of in compared if n.matches(m)]
            if names and theirs and len(theirs) >= sum(n.matches(m) for m in numbers) and not any(
                    set(name) <= of for name in names for of in theirs):
                continue  # "fewer than DeepSeek's R1, which boasts 671 billion": R1's, unless claimed of R1
            before = self.sentences[i - 1][0] if i else frozenset()
            # A sentence that refers back lends the names before it to its number only when it names
            # no one else after the number: in "Alibaba released QwQ-32B. This could speed adoption,
            # where 13 city governments have integrated DeepSeek models", 13 counts DeepSeek's users.
            refers = refers and any(not any(all(set(other).isdisjoint(name) for name in names) for other in named[k])
                                    for k in held)
            # A sentence in the first person stands for its speaker, and for one more subject named
            # further back only where it also says "it" or "they": "We set aside €6.5m for the
            # forensic investigation" is the company's, not the forensic firm's too; "We lent it
            # €30m" is the bank's loan to the firm named before. The sentence right before may give
            # more ("the Korva store"), and the head names one speaker, however many names it gives
            # them ("By Marta Quill, analyst at Porto Capital").
            speaks = self.speaking[i] if self.speaking else 0
            far = [name for name in names if not set(name) <= terms | (before if i else self.previous)]
            theirs = [name for name in far if speaks and set(name) <= self.speaker]
            if (not speaks or len(far) - len(theirs) + bool(theirs) <= speaks) and all(
                    self._near(name, terms, refers, before, set(name) <= subject, speaks) for name in names):
                return True
        return False

    def _near(self, name: tuple[str, ...], terms: frozenset[str], refers: bool, before: frozenset[str],
              subject: bool, speaks: bool = False) -> bool:
        if all(part in terms for part in name):
            return True
        # "I" or "we" is whoever the head names ("By Marta Quill, analyst at Porto Capital").
        reach = ((before | self.earlier) if subject else before) | (self.speaker if speaks else frozenset())
        return refers and all(part in reach for part in name)

    def holds_name(self, name: tuple[str, ...], subject: bool = False,
                   introduced: Mapping[str, frozenset[str]] = {}) -> bool:
        """The name is here, or it speaks in the first person and its head names them; or, for the
        question's own subject, the window refers back to it ("The company released…") and the
        passage named it before, or it names someone the passages introduced with it (``asked.appositions``: "Newman said…" after "Dan Newman, CEO
        of Futurum Group,")."""
        if all(part in self.terms for part in name):
            return True
        if any(self.speaking) and all(part in self.speaker for part in name):
            return True
        return subject and (self.refers and all(part in self.earlier for part in name) or any(
            who in self.terms and set(name) <= theirs for who, theirs in introduced.items()))


def _name_terms(word: str) -> tuple[str, ...]:
    """A name word's terms: the whole ("deepseek-r1") and, for compounds, its parts."""
    return tuple(t for t in txt.terms(word.replace("-", " ")) if t) or tuple(txt.terms(word))


# A name's participle after a hyphen is no part of the name: "Hong Kong-listed shares" name Hong
# Kong, "U.S.-based" and "Anthropic-backed" name U.S. and Anthropic. Nor is a suffix that makes a
# name a likeness or a kind: "a Velto-style app" names Velto, as "Velto-like" does. A
# model or product name keeps its parts ("GPT-4o-mini", "Phi-3-mini", "DeepSeek-R1": a digit in
# the head, or no such suffix).
_LOWER_TAIL = re.compile(r"^([A-Z][^\W\d]*(?:[.\-][^\W\d]+)*\.?)-(?:[a-z]+ed|made|born|run|built|wide"
                         r"|like|style|type|esque|equivalent|class|grade|level|era)$")


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
        if adjacent and groups and not _A_CURRENCY.match(sentence, m.start()):
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


# A currency written as letters before its sum, a code or a short sign ("CHF 5 million", "Rs
# 3,000", "Tl 612,000"): a name of its own, not the end of the name before it ("awarded Korvel Tl
# 612,000"). Only before a sum's shape, thousands or a scale: "XRT 300" and "Mk 2" name a model.
_A_CURRENCY = re.compile(r"(?:[A-Z]{3}|[A-Z][a-z]?)\s+(?:\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?\s?(?:million|billion|bn|m)\b)")
_DESCRIBED = re.compile(r"\b([A-Z][\w.\-]*(?:\s+[A-Z][\w.\-]*)*),\s+an?\s+[a-z]")
_POSSESSIVE = re.compile(r"\b([A-Z][\w.\-]*(?:\s+[A-Z][\w.\-]*)*)[’']s\b")


@lru_cache(maxsize=256)
def short_names(texts: tuple[str, ...], proper: frozenset[str]) -> dict[tuple[str, ...], tuple[str, ...]]:
    """The names ``texts`` also call by a shorter name they write alone, by their terms:
    {("corvana", "air"): ("corvana",)} where they write "Corvana Air" and "Corvana's 11 aircraft".
    Only a short name the texts write as an owner ("Corvana's"), which no apposition describes as
    a thing of its own; not where the words left out hold a number or a code ("DeepSeek R1" is a
    model, "DeepSeek" its maker) or name something else, nor where a name that opens with the
    short one is neither part of this one nor longer ("Alibaba Group", "Alibaba Cloud":
    "Alibaba" alone may be either)."""
    found = {terms for text in texts for sentence in txt.sentences(text) for _, terms in names(sentence, proper)}
    # A name the texts describe as a thing of its own ("Tarnholm, a town of…") is not short for
    # another ("Tarnholm Airport").
    described = {_name_of(m.group(1)) for text in texts for m in _DESCRIBED.finditer(text)}
    # … and a short name is one the texts use for an owner ("Corvana's 11 aircraft"), not a place
    # ("in Ostbridge" is not the Ostbridge Stock Exchange, "New York-listed" not the exchange).
    owners = {_name_of(m.group(1)) for text in texts for m in _POSSESSIVE.finditer(text)}
    out: dict[tuple[str, ...], tuple[str, ...]] = {}
    for name in found:
        short = next((name[:k] for k in range(len(name) - 1, 0, -1) if name[:k] in found), None)
        if short is None or short in described or short not in owners or any(
                ch.isdigit() for t in name[len(short):] for ch in t):
            continue
        others = [f for f in found if f[:len(short)] == short and len(f) > len(short)]
        # The words left out name nothing else ("Health Minister Ingrid Solvang" is not "Health"
        # where "Ingrid Solvang" is a name of its own).
        elsewhere = {t for f in found if f[:len(short)] != short for t in f}
        if all(f[:len(name)] == name or name[:len(f)] == f for f in others) and not set(name[len(short):]) & elsewhere:
            out[name] = short
    for name, short in out.items():  # "Corvana Air Limited" to "Corvana Air" to "Corvana"
        while short in out:
            short = out[short]
        out[name] = short
    return out


# A name a document defines a shorter one for, as filings and statements do: 'Corvana Air Limited
# ("Corvana" or "the Company")'.
_DEFINED = re.compile(r"([A-Z][\w.&’'\-]*(?:\s+[A-Z][\w.&’'\-]*)*"
                      r"(?:\s+(?:plc|ltd|llc|inc|corp|co|gmbh|ag|sa|nv|bv))?\.?)\s+\(((?:\s*(?:or|and|,)?\s*(?:the\s+)?"
                      r"[\"“][^\"“”()]+[\"”])+)\s*\)")


@lru_cache(maxsize=256)
def defined_names(texts: tuple[str, ...]) -> dict[tuple[str, ...], tuple[str, ...]]:
    """The short names ``texts`` define for a name, each with that name's terms: {("company",):
    ("corvana", "air", "limit"), ("corvana",): (…)} from 'Corvana Air Limited ("Corvana" or "the
    Company")'. Such a name speaks of the one it is defined for, not of another."""
    out: dict[tuple[str, ...], tuple[str, ...]] = {}
    for text in texts:
        for m in _DEFINED.finditer(text):
            full = _name_of(m.group(1))
            for short in re.findall(r"[\"“]([^\"“”]+)[\"”]", m.group(2)):
                terms = _name_of(short)
                if terms and full:
                    out[terms] = full
    return out


def short_form(name: tuple[str, ...], texts: tuple[str, ...], proper: frozenset[str]) -> tuple[str, ...]:
    """The shorter name ``texts`` write for ``name``: the one they use for it alone, as an owner
    (``short_names``: "Corvana" for "Corvana Air"), or the one they define for the name it is part
    of (``defined_names``: "Halvik" for "Halvik Grid", from 'Halvik Grid plc ("Halvik" or "the
    Company")'); ``name`` itself when there is none."""
    short = short_names(texts, proper).get(name)
    if short:
        return short
    return next((short for short, full in defined_names(texts).items() if set(short) < set(name) <= set(full)), name)


def _name_of(text: str) -> tuple[str, ...]:
    """The terms of a name as ``names`` gives them, in order ("Corvana Air Limited": corvana, air, limit)."""
    return tuple(t for word in txt.words(text) for t in _name_terms(word))


_LABEL = re.compile(r"(?:\bnumber|\bno\.|#)\s*$", re.IGNORECASE)
_IN_YEAR = re.compile(rf"\b(?:(?i:in|since|by|from|until|till|before|after|during)|[A-Z][\w\-]*\s+of)\s+"
                      rf"{txt.YEAR.pattern}$")  # "of" after a name only: "the Corvel Bluff Fire of 2011", not "a total of 1800"


def claims(sentence: str, proper: frozenset[str], question: frozenset[str] = frozenset()) -> list[Claim]:
    """The clauses of an answer sentence as claims (citation markers left out).

    A clause made only of the ``question``'s terms, with no number, restates what was asked ("X
    could appeal to buyers who want cheaper AI because…"): it is marked, and needs no support
    beyond its names being in the sources."""
    body = txt.strip_citations(sentence)
    out: list[Claim] = []
    for _, clause in clauses(body):
        # "71%" carries its unit: the word after it is not what it counts ("71% since January"),
        # and so do a year ("added in 2011 cost €3.1 million", "the 2024 Riverlight Festival", "the
        # Corvel Bluff Fire of 2011 destroyed") and a
        # label ("engine number 4 gave way").
        numbers = tuple(parse_number(m.group(), "" if "%" in m.group() or _IN_YEAR.search(clause, 0, m.end())
                                     or _LABEL.search(clause, 0, m.start()) or _year_of_a_name(clause, m) else
                                     "old" if _YEARS_OLD.match(clause, m.end()) else unit_after(clause, m.end()))
                        for m in CLAIM_NUMBER.finditer(clause)) + _counts_in_words(clause, question)
        found = names(clause, proper)
        if out and _OPENS_WITH_ONE.match(clause):
            found += [name for name in _referred_to(out[-1], question) if name not in found]
        named = {t for _, terms in found for t in terms}
        number_words = {t for t in txt.terms(clause) if any(ch.isdigit() for ch in t)}
        units = {n.unit for n in numbers} | {t for n in numbers for t in txt.terms(n.text)}  # checked with them
        words = frozenset(t for t in txt.terms(clause) if t not in named | number_words | units)
        negated = bool(NEGATION.search(clause))  # "did not respond" answers with the question's words
        restates = not numbers and not negated and bool(words | named) and (words | named) <= question
        out.append(Claim(numbers, tuple(found), words, negated, restates))
    return out


def _year_of_a_name(clause: str, m: re.Match) -> bool:
    """Whether the number ``m`` is a year that a name follows: "the 2024 Riverlight Festival"."""
    return bool(txt.YEAR.fullmatch(m.group().strip()) and re.match(r"\s+[A-Z]", clause[m.end():]))


# A clause that opens by referring back to one: "…, and it runs 146 stores".
_OPENS_WITH_ONE = re.compile(rf"\W*(?:{txt.PRONOUNS_ONE})\b", re.IGNORECASE)


def _referred_to(before: Claim, question: frozenset[str]) -> list[tuple[str, tuple[str, ...]]]:
    """What a clause that opens with "it" or "his" speaks of: the names of the clause before that
    the question gives ("Korva" in "Korva's chief executive is Lena Dusch, and it runs…"), or
    all its names. Its numbers must then stand with them, as if it had named them."""
    asked = [name for name in before.names if set(name[1]) <= question]
    return asked or list(before.names)


def _counts_in_words(clause: str, question: frozenset[str]) -> tuple[Number, ...]:
    """The counts ``clause`` writes in words ("eight berths"), each with its noun: values to
    support like digits. Not one the question gave ("the three months to December"), nor one
    after "the", "its"…, which points back rather than counts ("the two companies")."""
    return tuple(replace(n, unit=unit_after(clause, end)) for n, end in spelled_numbers(clause)
                 if not set(txt.terms(n.text)) <= question
                 and not _POINTS_BACK.search(clause[:end - len(n.text)]))


_POINTS_BACK = re.compile(r"\b(?:the|these|those|its|their|his|her|our|both)\s+$", re.IGNORECASE)


@lru_cache(maxsize=4096)
def windows(text: str, head: str = "") -> tuple[Window, ...]:
    """Each sentence of a passage, and each pair of adjacent sentences; ``head`` is what is shown
    before it (its document's title), which may give the names it calls short."""
    read = []
    named = capitalised_inside(text)
    ends = name_ends(f"{head}. {text}")
    lower = frozenset(re.findall(r"\b[a-z][\w\-]*", text))
    spans = txt.sentence_spans(text)
    for a, b in spans:
        sentence = text[a:b]
        terms = sentence_terms(sentence) | {t for sign in CURRENCY_SIGN.findall(sentence) for t in _SIGN_TERMS[sign]}
        # Counts may be written as words in a source ("five people had died") and in digits in an answer.
        found = [(replace(parse_number(m.group()), counts=counted(sentence, m.end(), m.start()) | age(sentence, m)),
                  m.start() + len(m.group().rstrip(",.")))
                 for m in ANY_NUMBER.finditer(sentence)] + [
            (replace(n, counts=counted(sentence, end)), end) for n, end in spelled_numbers(sentence)]
        numbers = tuple(n for n, _ in found)
        terms |= frozenset().union(*(n.counts & _AGE_TERMS for n in numbers))
        speaks = speakers(sentence)
        read.append((terms, numbers, bool(NEGATION.search(sentence)), refers_back(sentence, ends) or
                     names_no_one(sentence, named, lower) or first_person(sentence), speaks,
                     compared_numbers(sentence), tuple(names_after(sentence, end) for _, end in found),
                     points_to(sentence, ends)))
    read = _surnames_named(text, spans, read)
    out = []
    for size in (1, 2):
        for i in range(len(read) - size + 1):
            group = read[i:i + size]
            out.append(Window(frozenset().union(*(r[0] for r in group)),
                              tuple((r[0], r[1], r[3], r[5], r[6]) for r in group),
                              any(r[2] for r in group), group[0][3], frozenset().union(*(r[0] for r in read[:i])),
                              read[i - 1][0] if i else frozenset(), tuple(r[4] for r in group), points=group[0][7]))
    return tuple(out)


# A person's full name, two capitalised words alone ("Teodor Maslin"), and a title before a surname.
_FULL_NAME = re.compile(r"\b([A-Z][a-z]+)\s+([A-Z][a-z]{2,})\b(?!\s+[A-Z])")
_CAPITALISED_BEFORE = re.compile(r"[A-Z][\w’'\-.]*\s+$")
_TITLES = frozenset({"mr", "mrs", "ms", "miss", "dr", "prof", "sir", "dame", "mp"})


def _surnames_named(text: str, spans: Sequence[tuple[int, int]], read: list) -> list:
    """``read`` (a tuple per sentence ``spans`` gives of ``text``, terms first), where a sentence that calls
    someone by surname alone ("says Mr Maslin, 64") gets the first name its passage gives them
    ("Teodor Maslin"), when the passage gives that surname one first name only: news style
    names a person in full once and by surname after."""
    firsts: dict[str, set[str]] = {}
    for m in _FULL_NAME.finditer(text):
        first = m.group(1).lower()
        if _CAPITALISED_BEFORE.search(text, max(0, m.start() - 40), m.start()):
            continue  # part of a longer name ("Sarn Valley Regional Planning Board")
        if first not in _TITLES and first not in txt.STOPWORDS and not txt.calendar_word(m.group(1)):
            firsts.setdefault(m.group(2), set()).add(txt.stem(first))
    if not firsts:
        return read
    out = []
    for (a, b), r in zip(spans, read):
        sentence = text[a:b]
        add = {next(iter(f)) for surname, f in firsts.items() if len(f) == 1 and re.search(rf"\b{surname}\b", sentence)}
        out.append((r[0] | add, *r[1:]) if add - r[0] else r)
    return out


# Where a clause ends, and the words that open a clause of its own inside a sentence.
_CLAUSE_BREAK = re.compile(r"[,;:(]|\s[–—-]\s")
_SUBORDINATE = re.compile(r"\s*(?:where|which|who|whose|whom|while|whereas|when)\b", re.IGNORECASE)


def names_after(sentence: str, end: int) -> tuple[tuple[str, ...], ...]:
    """The terms of each name ``sentence`` gives after offset ``end`` (where a number ends), when
    that number stands in a clause of its own ("…, where 13 city governments have integrated
    DeepSeek models"), up to the clause's end: whose the figure may be, rather than the subject
    the sentence opens with. () for a number in the sentence's main clause ("It sold 13 ferries to
    BlueWave" are its own). Months, weekdays, countries and their adjectives are no one."""
    starts = [0, *(m.end() for m in _CLAUSE_BREAK.finditer(sentence, 0, end))]
    if not _SUBORDINATE.match(sentence, starts[-1]):
        return ()
    stop = _CLAUSE_BREAK.search(sentence, end)
    clause = sentence[end:stop.start() if stop else len(sentence)]
    first = frozenset(re.findall(r"[\w][\w\-.]*", clause)[:1])  # mid-sentence, a capital is a name
    return tuple(terms for written, terms in names(clause, first) if not txt.when_or_where(written))


# A name something is compared with, and a clause of its own: "fewer than DeepSeek's R1, which boasts…".
_COMPARED = re.compile(r"\b(?:than|compared (?:with|to)|versus|vs\.?|against|unlike)\s+"
                       r"((?:[A-Z][\w.\-]*(?:[’']s?)?\s+)*[A-Z][\w.\-]*),\s+(?:which|who)\b([^;]*)")


def in_context(n: int, numbers: Mapping[int, Passage], named: frozenset[str], claimed: frozenset[str]
               ) -> list[Window]:
    """The windows of passage ``n``; one that names no one but what is ``claimed`` also knows what
    its document said before it, in its head's title and the shown passages of the same document
    that come earlier. Each
    knows its document's head (``Passage.head``, shown with it), which names who "I" or "we" is
    (a column's byline, the company whose statement it is), and the head's own windows come
    first. A document names its subject once ("the Veldanian Federation of Railway Workers") and then
    refers to it ("the union"), often in a later passage. A window that names someone else
    ("Alibaba released it…") most likely refers to them (``named``: the terms of names)."""
    p = numbers[n]
    speaker = sentence_terms(p.head)
    # The head is shown first, and its title names the document's subject ("Q&A with Sorrelhorn's
    # new boss"); a byline names who writes, not what about.
    said = earlier_text(p, numbers)
    before = sentence_terms(_title(p)) | sentence_terms(said)
    # "The works opened in 1967, built by the old Water Board" refers back to the works named
    # before, whoever else it names.
    pointed = name_ends(f"{_title(p)}. {said}", claimed)
    return [*head_windows(p), *(replace(w, earlier=w.earlier | before, speaker=speaker)
                                if before and ((w.terms & named) <= claimed or w.points & pointed)
                                else replace(w, speaker=speaker)
                                for w in passage_windows(p, with_head=False, before=said))]


def earlier_text(p: Passage, numbers: Mapping[int, Passage]) -> str:
    """The text of the shown passages of ``p``'s document that come before it."""
    return " ".join(q.text for q in numbers.values() if q.source == p.source and q.start < p.start)


def passage_windows(p: Passage, with_head: bool = True, before: str = "") -> tuple[Window, ...]:
    """The windows of ``p``: its head's lines first (unless not ``with_head``), then its text's,
    which know the head's title, since it is shown before them and may give the full name the
    text shortens ("Highcairn Leisure Group", then "the Group"), as may the shown passages of
    its document that come ``before`` it."""
    head = f"{_title(p)}. {before}" if before else _title(p)
    return (*(head_windows(p) if with_head else ()), *windows(p.text, head))


def _title(p: Passage) -> str:
    from .chunking import head_title

    return head_title(p.head) or p.title


def head_windows(p: Passage) -> tuple[Window, ...]:
    """The windows of the head shown with ``p`` (its document's title, byline…), a line each."""
    return tuple(replace(w, heading=True) for w in windows(". ".join(p.head.split(" | ")))) if p.head else ()


# A name described by its size, inside a sentence: "a heavy blow to Tarnholm, a town of about 31,000
# people where Corvana was based": 31,000 is Tarnholm's.
# (a count, not a share or a sum: "Carvo, a reduction of 40%", "Skarne, a deal of €12 million").
_SIZED = re.compile(r"(?<=\w\s)((?:[A-Z][\w.\-]*\s+)*[A-Z][\w.\-]*),\s+an?\s+(?:[a-z\-]+\s+){1,3}?of\s+"
                    r"(?:(?:about|around|some|nearly|almost|roughly|over|under|more than|fewer than)\s+)?"
                    r"(\d[\d,.]*(?:\s*(?:thousand|million|billion))?)(?!\s*(?:%|per\s*cent|percent))")


def compared_numbers(sentence: str) -> tuple[tuple[Number, frozenset[str]], ...]:
    """The numbers of ``sentence`` stated of a name other than its subject, each with that name's
    terms: in a clause of a name it compares something with ("The model has 32 billion parameters,
    fewer than DeepSeek's R1, which boasts 671 billion parameters, with 37 billion active": 671
    and 37 billion are R1's, not the model's, though "the model" is the sentence's subject), and
    as the size an apposition gives a name ("Tarnholm, a town of about 31,000 people")."""
    return _compared(sentence) + _sized(sentence) + _contrasted(sentence)


# Where a sentence sets two subjects side by side, each side's numbers are its own: in "Alibaba
# stock has risen over 40% in the past month, while Tencent stock has climbed nearly 30%", 40% is
# not Tencent's. A side's subject is the name it opens with; a side that opens otherwise ("…,
# while its profit fell 12% in Sweden") speaks of the sentence's subject, and a name inside it
# (a place, a speaker) owns nothing.
_CONTRAST = re.compile(r",?\s+(?:while|whereas)\s+|;\s+", re.IGNORECASE)
_OPENING_NAME = re.compile(r"((?:[A-Z][\w.\-]*\s+)*[A-Z][\w.\-]*)(?:[’']s)?\s+"
                           r"(?!said|says|told|added|noted|wrote)[a-z]")


def _contrasted(sentence: str) -> tuple[tuple[Number, frozenset[str]], ...]:
    first, *others = _CONTRAST.split(sentence)
    opening = [_OPENING_NAME.match(side) for side in others]
    subjects = [sentence_terms(m.group(1)) if m and not txt.calendar_word(m.group(1)) else None for m in opening]
    if not any(subjects):
        return ()
    rest = sentence_terms(sentence).difference(*filter(None, subjects))
    return tuple((parse_number(n.group()), owner or rest) for side, owner in zip([first, *others], [None, *subjects])
                 for n in ANY_NUMBER.finditer(side))


def _compared(sentence: str) -> tuple[tuple[Number, frozenset[str]], ...]:
    return tuple((parse_number(n.group()), sentence_terms(m.group(1)))
                 for m in _COMPARED.finditer(sentence) for n in ANY_NUMBER.finditer(m.group(2)))


def _sized(sentence: str) -> tuple[tuple[Number, frozenset[str]], ...]:
    return tuple((parse_number(m.group(2)), sentence_terms(m.group(1))) for m in _SIZED.finditer(sentence)
                 if not txt.calendar_word(m.group(1)) and not currency_before(sentence, m.start(2))
                 and unit_after(sentence, m.end(2)) not in CURRENCIES)


def sentence_terms(text: str) -> frozenset[str]:
    """The terms of ``text``, with each compound name's parts too ("DeepSeek-R1": deepseek-r1, deepseek, r1),
    and the places it names by their adjective ("the Chinese market": china)."""
    return (frozenset(txt.terms(text)) | {t for w in txt.words(text) for t in _name_terms(w)}
            | {txt.stem(place) for place in txt.places_named(text)})


def question_terms(question: str) -> frozenset[str]:
    """The terms of ``question``, compound names' parts too: what it gives as known."""
    return frozenset(_name_of(question))


def added_names(sentence: str, proper: frozenset[str], asked: frozenset[str]) -> list[tuple[str, tuple[str, ...]]]:
    """The names of ``sentence`` (citations aside) that the question, whose terms are ``asked``,
    does not give: what the sentence adds."""
    return [(written, terms) for written, terms in names(txt.strip_citations(sentence), proper)
            if not set(terms) <= asked]


def refs_of(sentence: str, numbers: Mapping[int, Passage]) -> list[int]:
    """The shown sources a sentence cites; all of them when it cites none."""
    cited = [n for n in dict.fromkeys(txt.cited_numbers(sentence)) if n in numbers]
    return cited or list(numbers)


def proper_terms(proper: frozenset[str]) -> frozenset[str]:
    """The terms of the names ``proper`` holds (``proper_words``)."""
    return frozenset(t for word in proper for t in txt.terms(word))


def proper_words(passages: Sequence[Passage], question: str = "") -> frozenset[str]:
    """Capitalised words the passages or the question write inside a sentence, or own with "'s"
    where they open one ("Alibaba's latest price jump…"): names, so one of these opening an
    answer sentence is a name too."""
    texts = [question, *(p.text for p in passages), *(p.head for p in passages)]
    return frozenset().union(*map(capitalised_inside, texts), *(_OWNER_OPENS.findall(t) for t in texts))


_OWNER_OPENS = re.compile(r"(?:^|(?<=[.!?]\s))([A-Z][\w\-]*)[’']s\b")


# A list item's first word, where a sentence or a line starts ("…2025. - Repair works will begin…").
_ITEM_START = re.compile(r"(?:^|(?<=[.!?:])\s+|\n\s*)[-–•*]\s+([A-Z][\w\-]*)", re.MULTILINE)


def capitalised_inside(text: str) -> frozenset[str]:
    """The capitalised words ``text`` writes inside a sentence, not at its start: names. A list
    item's first word opens a sentence too, unless ``text`` never writes it in lower case: "- Repair
    works will begin" beside "a repair contract" names no one, "- Halvik will cut 200 jobs" does."""
    found = set(re.findall(r"(?<![.!?]\s)(?<!^)\b([A-Z][\w\-]*)", text))
    openers = {m.group(1) for m in _ITEM_START.finditer(text)}
    if openers & found:
        lower = set(re.findall(r"\b[a-z][\w\-]*", text))
        found -= {w for w in openers if w.lower() in lower}
    return frozenset(found)


def clauses(sentence: str) -> list[tuple[str, str]]:
    """The clauses of ``sentence`` (split where ``claims`` splits an answer), each with the words
    that joined it to the one before ("" for the first)."""
    joints = list(_CLAUSES.finditer(sentence))
    starts, ends = [0, *(m.end() for m in joints)], [*(m.start() for m in joints), len(sentence)]
    return [(m.group() if m else "", sentence[a:b]) for m, a, b in zip([None, *joints], starts, ends)
            if sentence[a:b].strip()]
