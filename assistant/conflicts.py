"""Sources that disagree: when the passages shown give different values for the fact an answer
states (a date, a weekday, an amount, a count), the answer says so and cites each value.

The check runs after generation, like the citation check. For each value the answer gives, it
looks for sentences of the shown passages about the same thing (they name everything else the
answer's sentence names, and share a word with it or with the question) that state a value of
the same kind. Values are compared the way a reader would, to avoid false alarms:
- numbers as written, only with the same unit and scale ("$52.4 billion" and "380 billion yuan"
  are not compared); a figure one source rounds ("8%" beside another's "8.39%") is given too,
  since a reader who is told only one would take the other source for wrong, or miss it; a
  lower bound ("more than 3,000") agrees with any figure beyond it, and is no value; a figure
  of another time ("in 2023" against the answer's "in 2024") is no second value;
- an amount claimed of no name only by most of its words, and only when a source gives the
  answer's own figure too: words alone say less of what a figure measures than a name does;
- the figure of a sentence the claim check kept is its cited passage's, even where that
  passage words it too differently to be matched here;
- dates as month and day, weekdays by name; a document's own date at its top (when it was
  written) is no value of what it reports, and a date stated of no name is the question's
  subject's; a date beside a share of what the claim says ("78 percent contained on Monday")
  is when that was measured, one of a series, and is not compared.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from itertools import combinations
from typing import Mapping, Optional, Sequence

from . import text as txt
from .claims import (CLAIM_NUMBER, Number, currency_before, currency_unit, names, parse_number, proper_words,
                     sentence_terms, spelled_numbers, unit_after)
from .types import Conflict, Passage

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DATE = re.compile(rf"\b{txt.MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?\b|\b(\d{{1,2}})(?:st|nd|rd|th)?\s+{txt.MONTH}",
                   re.IGNORECASE)


@dataclass(frozen=True)
class Value:
    """A value of one kind as it appears: its text, a key that equal values share, and a number for amounts."""

    kind: str  # "date", "weekday", or "amount:<unit>:<scale>"
    text: str
    key: object
    number: Optional[Number] = None

    def same(self, other: "Value") -> bool:
        """Equal as written: "8%" and "8.39%" are two values (one source rounds), "€17.2m" and
        "17.2 million euros" one."""
        if self.kind != other.kind:
            return False
        if self.number is not None and other.number is not None:
            return self.number.matches(other.number) and other.number.matches(self.number)
        return self.key == other.key


def values(sentence: str) -> list[Value]:
    """The dates, weekdays and amounts with a unit that ``sentence`` states."""
    out: list[Value] = []
    taken: list[tuple[int, int]] = []
    for m in _DATE.finditer(sentence):
        month = re.search(txt.MONTH, m.group(), re.IGNORECASE).group().lower()[:3]
        day = int(m.group(1) or m.group(2))
        out.append(Value("date", m.group().rstrip("."), (_MONTHS.index(month), day)))  # not the sentence's full stop
        taken.append(m.span())
    for m in txt.WEEKDAY.finditer(sentence):
        out.append(Value("weekday", m.group(), m.group().lower()))
    for m in CLAIM_NUMBER.finditer(sentence):
        if any(a <= m.start() < b for a, b in taken):
            continue  # the day of a date
        n = parse_number(m.group(), unit_after(sentence, m.end()))
        unit = "%" if "%" in m.group() or "percent" in m.group().lower() else n.unit
        currency = currency_before(sentence, m.start())
        if not unit and not currency:
            continue  # a bare number ("in 2024", "3 of them"): no kind to compare by
        # "the €14.5 million renovation" is in euros: the noun after it is what it pays for. A
        # sign is its currency's word: "€1.4bn" is compared with "1.25 billion euros".
        kind = f"amount:{currency_unit(sentence, m.start()) or unit}:{n.scale}"
        # Written with its noun ("85.6 million euros", "2.47 tonnes"), so a note says what it counts.
        noun = _noun(sentence, m.end()) if n.unit and unit != "%" and not currency else ""
        out.append(Value(kind, " ".join(filter(None, (currency + m.group().strip(), noun))), n.value, n))
    # A count written as a word ("Seven people have now died") is a value like "5 people"; with
    # no noun after it, it is no more a value than a bare number.
    for n, end in spelled_numbers(sentence):
        unit = unit_after(sentence, end)
        if unit:
            out.append(Value(f"amount:{unit}:{n.scale}", f"{n.text} {_noun(sentence, end)}", n.value,
                             replace(n, unit=unit)))
    return out


def _noun(sentence: str, end: int) -> str:
    """The word after a number, as written ("euros" of "85.6 million euros")."""
    after = sentence[end:].split(maxsplit=1)
    return after[0].rstrip(".,;:)") if after else ""


def _about(kind: str, sentence: str, passage: set[str], subject_names: Sequence[tuple[str, ...]],
           claim_words: set[str], question_words: set[str]) -> bool:
    """True when a passage sentence speaks of what the claim states (``subject_names``: the names
    the claim gives, or for a date stated of no name, the question's).

    A date or weekday: the sentence names every subject name, or the passage does and the
    sentence shares a word with the claim or the question ("The release … on March 6" in a
    passage about the model); with no name at all, the sentence has half the claim's words
    ("It was lifted on 24 September" for "The notice was lifted on 25 September").
    An amount, which recurs for other facts of the same subject ("rose 8% on Thursday", "up 71%
    this year"): the claim names its subject, the sentence names everything the claim names and
    has at least half of the claim's other words. An amount claimed of no name ("The notice
    covered 19,300 households") needs more of them, most and at least two ("About 21,000
    households were under the boil-water notice"), as only its words say what it measures."""
    terms = sentence_terms(sentence)
    named = all(all(p in terms for p in name) for name in subject_names)
    if kind in ("date", "weekday"):
        if not subject_names:
            return len(terms & claim_words) >= max(1, -(-len(claim_words) // 2))
        in_passage = all(all(p in passage for p in name) for name in subject_names)
        return named or (in_passage and bool(terms & (claim_words | question_words)))
    if not subject_names:
        return len(terms & claim_words) >= max(2, len(claim_words) // 2 + 1)
    return named and len(terms & claim_words) >= max(1, -(-len(claim_words) // 2))


def find(answer: str, question: str, numbers: Mapping[int, Passage], kept: Sequence[str] = ()) -> list[Conflict]:
    """Values the shown passages give for what the answer states, when they give more than one.
    ``kept``: the answer's sentences that the claim check kept, whose values their cited passages
    give (their citations may have moved)."""
    proper = proper_words(list(numbers.values()), question)
    kept = {_plain(k) for k in kept}
    question_words = {t for t in txt.terms(question) if not any(ch.isdigit() for ch in t)}
    for cited in txt.sentences(answer):
        sentence = txt.strip_citations(cited)
        stated = values(sentence)
        if not stated:
            continue
        value_words = {t for v in stated for t in txt.terms(v.text)}
        claim_names = [t for _, t in names(sentence, proper) if not set(t) <= value_words]
        named = {t for n in claim_names for t in n}
        claim_words = {t for t in txt.terms(sentence) if not any(ch.isdigit() for ch in t)}
        claim_words -= value_words | named | _currency_words(sentence, stated)
        times = _times(sentence)
        # A date stated of no name ("March 5 [2]", "…, and it was withdrawn on Friday") is the
        # question's subject's.
        asked = [t for _, t in names(question, proper) if not set(t) <= value_words]
        for value in stated:
            subject = claim_names or (asked if value.kind in ("date", "weekday") else [])
            found, documents = _found(value, subject, claim_words, question_words - value_words - named, numbers,
                                      times)
            if found and _plain(sentence) in kept and not _among(value, found):
                own = _stated_by(value, txt.cited_numbers(cited), numbers)
                found, documents = ([own, *found], documents | {own.source}) if own else (found, documents)
            if value.number is not None and not subject and not _among(value, found):
                continue  # amounts that only share its words may measure other things than it does
            # Sources differ when two documents do: one document's dated list is a timeline of
            # several events ("16 October: the board is appointed. 15 June 2027: target launch").
            if len(found) > 1 and len(documents) > 1:
                return [Conflict(c.value, c.source, c.passage, c.n) for c in found]
    return []


@dataclass(frozen=True)
class _Seen:
    value: str
    value_key: int  # index of the first equal value found
    source: str
    passage: str
    n: int


def _found(value: Value, subject_names, claim_words: set[str], question_words: set[str],
           numbers: Mapping[int, Passage], times: frozenset[str] = frozenset()) -> tuple[list[_Seen], set[str]]:
    """Each distinct value of ``value``'s kind that passages state about the claim, with the first
    source of each; and the documents that state them. An amount of a sentence that gives only
    other times than the claim gives (``times``) is another time's: "€380 million in 2023"
    against "€410 million in 2024", "310 dogs this year" against "240 dogs last year"."""
    distinct: list[Value] = []
    seen: list[_Seen] = []
    documents: set[str] = set()
    for n, p in sorted(numbers.items()):
        passage = sentence_terms(p.text)
        dated = _dateline(p)
        own_date = [v for v in values(p.text[dated[0]:dated[1]]) if v.kind == "date"] if dated else []
        for a, b in txt.sentence_spans(p.text):
            sentence = p.text[a:b]
            if not _about(value.kind.split(":")[0], sentence, passage, subject_names, claim_words, question_words):
                continue
            if value.kind in ("date", "weekday") and _measured(sentence, claim_words | question_words):
                continue
            stated = _undated(p.text, a, b, dated)
            # The document's date written again ("OSTREVIK, 14 May —" below "Wednesday, 14 May 2025").
            when = _times(stated) if value.number is not None and times else frozenset()
            if when and not when & times:
                continue
            same_kind = [v for v in values(stated) if v.kind == value.kind and not any(v.same(d) for d in own_date)
                         and not _of_another_event(stated, v, claim_words | question_words)]
            if len(same_kind) != 1 or _bound(stated, same_kind[0]):
                continue  # "32 billion against 671 billion": a comparison of two things, not a second value
            for v in same_kind:
                index = next((i for i, d in enumerate(distinct) if d.same(v)), None)
                if index is None:
                    distinct.append(v)
                    index = len(distinct) - 1
                documents.add(p.source)
                if not any(s.value_key == index for s in seen):
                    seen.append(_Seen(v.text, index, p.source, sentence, n))
    return seen, documents


def _undated(text: str, a: int, b: int, dated: Optional[tuple[int, int]]) -> str:
    """The sentence ``text[a:b]`` without its document's dateline (``dated``), where it holds it."""
    return text[a:dated[0]] + " " + text[dated[1]:b] if dated and a <= dated[0] < b else text[a:b]


def _plain(sentence: str) -> str:
    return " ".join(txt.strip_citations(sentence).split()).rstrip(" .")


def _among(value: Value, found: Sequence[_Seen]) -> bool:
    return any(value.same(v) for c in found for v in values(c.value))


def _stated_by(value: Value, cited: Sequence[int], numbers: Mapping[int, Passage]) -> Optional[_Seen]:
    """Where a passage the answer cites states ``value``, in a sentence that gives no other value
    of its kind ("32 billion parameters, fewer than R1's 671 billion parameters" compares two
    things), or None. The claim check has found the sentence's value there, though in words
    ``_about`` may not match: the press release's "pledged $2.4 billion over five years" beside
    another outlet's "$2.6 billion … in Ridgemoor"."""
    for n in (n for n in cited if n in numbers):
        p = numbers[n]
        dated = _dateline(p)
        for a, b in txt.sentence_spans(p.text):
            stated = _undated(p.text, a, b, dated)
            same_kind = [v for v in values(stated) if v.kind == value.kind]
            if same_kind and all(v.same(value) for v in same_kind) and not _bound(stated, same_kind[0]):
                return _Seen(same_kind[0].text, -1, p.source, p.text[a:b], n)
    return None


def _bound(sentence: str, v: Value) -> bool:
    """Whether the amount ``v`` is a lower bound ("more than 3,000 operations"), which a value
    beyond it agrees with. Not "over", which is as often a verb's ("handed over 12 hectares"), nor
    an upper bound ("up to 900 jobs"), which is more often a second estimate than a rounding."""
    at = sentence.find(v.text)
    return v.number is not None and at > 0 and bool(_BOUND.search(sentence, max(0, at - 25), at))


_BOUND = re.compile(r"\b(?:more\s+than|at\s+least|upwards\s+of)\s+$", re.IGNORECASE)  # below, a figure rounds down


def _times(sentence: str) -> frozenset[str]:
    """The years and the times relative to now that ``sentence`` gives ("2024", "last year")."""
    relative = (" ".join(m.group().lower().split()) for m in _RELATIVE.finditer(sentence))
    return frozenset([*txt.YEAR.findall(sentence), *relative])


_RELATIVE = re.compile(r"\b(?:last|this|next|previous|past)\s+(?:year|month|week|season|quarter|spring|summer|autumn|"
                       r"fall|winter)\b|\ba\s+year\s+(?:earlier|before|ago)\b", re.IGNORECASE)


def _currency_words(sentence: str, stated: Sequence[Value]) -> set[str]:
    """The currency words written right after a sum that has its sign ("€1.25 billion euros"):
    the value's, not words of the claim."""
    out: set[str] = set()
    for v in stated:
        at = sentence.find(v.text)
        if v.number is not None and at >= 0 and not v.text[:1].isdigit():
            after = set(txt.terms(_noun(sentence, at + len(v.text))))
            out |= after & {v.kind.split(":")[1]}
    return out


def _measured(sentence: str, words: set[str]) -> bool:
    """Whether ``sentence`` gives a share of what the claim says ("was 78 percent contained"): its
    date is when that was measured, one of a series, not when the claim's event happened."""
    return any(set(txt.terms(m.group(2))) & words and float(m.group(1).replace(",", "")) < 100
               for m in _SHARE_OF.finditer(sentence))


# A share of a state, written as its participle or adjective ("78 percent contained", "60% complete"),
# not of a thing ("a 40 percent stake").
_SHARE_OF = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s*(?:%|percent\b|per\s+cent\b)\s+([a-z]+ed|complete|full|done|ready)\b")


def _of_another_event(sentence: str, value: Value, words: set[str]) -> bool:
    """Whether a date the sentence gives is of another event than the one the claim's verb says
    (``words``: the claim's and the question's): "the notice issued on 12 September has been
    lifted" dates the issuing, not the lifting. Only where the sentence also writes the claim's
    verb: "Kelby Water withdrew it on 4 May" still dates a lifting."""
    at = sentence.find(value.text)
    dated = _DATED_BY.search(sentence, 0, at) if value.kind == "date" and at > 0 else None
    if not dated or set(txt.terms(dated.group(1))) & words:
        return False
    return any(set(txt.terms(verb)) & words for verb in _PAST.findall(sentence))


_DATED_BY = re.compile(r"\b([a-z]+ed)\s+(?:on|in)\s+(?:the\s+)?$")  # "issued on ", the verb a date follows
_PAST = re.compile(r"\b[a-z]+ed\b")


def _dateline(p: Passage) -> Optional[tuple[int, int]]:
    """Where the date a document gives at its top stands in ``p`` (its opening passage), with its
    year ("TARNHOLM, Ostrevia, Tuesday, March 4, 2025 (Nordpress) -", "Carvel, Monday 10 March
    2025"): when it was written or published, not a value of what it reports."""
    m = txt.DATE_AND_YEAR.search(p.text[:300]) if p.start == 0 else None
    return m.span() if m else None


def disagree(conflicts: Sequence[Conflict]) -> bool:
    """Whether the values differ beyond one source's rounding of another's ("8%" and "8.39%" do not)."""
    read = [next((v for v in values(c.passage) if v.text == c.value), None) for c in conflicts]
    return None in read or any(not _rounds(a, b) for a, b in combinations(read, 2))


def _rounds(a: Value, b: Value) -> bool:
    """Whether one value is the other, or the other rounded."""
    if a.kind != b.kind or a.number is None or b.number is None:
        return a.kind == b.kind and a.key == b.key
    coarse, fine = sorted((a.number, b.number), key=lambda n: n.decimals)
    return coarse.matches(fine)


def note(conflicts: Sequence[Conflict]) -> str:
    """ "The sources differ: March 5 [2], March 6 [4]." """
    return "The sources differ: " + ", ".join(f"{c.value} [{c.n}]" for c in conflicts) + "."


def add_note(answer: str, conflicts: Sequence[Conflict]) -> str:
    """``answer`` with the note, unless it already gives every value with its source."""
    if not conflicts:
        return answer
    low = answer.lower()
    cited = set(txt.cited_numbers(answer))
    if all(c.value.lower() in low for c in conflicts) and len({c.n for c in conflicts} & cited) > 1:
        return answer
    return f"{answer} {note(conflicts)}"
