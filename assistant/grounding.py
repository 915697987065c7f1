"""Stage 6b: claim-level grounding. Every sentence of an answer must stand on the passages it cites.

Small models state things the sources do not say, and cite a source for them: a year no source
gives, one model's parameter count given to another, an exchange nobody names. A word-overlap
check passes these, because each word is somewhere in the sources, just not together. Here a
sentence is checked as a claim (what a claim and a window are, and how they are read: ``claims``):

1. Its *values* are found: numbers (amounts, years, percentages, with their scale), and names
   (capitalised words, grouped: "New York Stock Exchange"). A value no shown passage holds is
   never supported ("2023", a name nobody mentions).
2. Its values must stand together, with at least half of its other content words, in one
   *window* of a passage it cites: one sentence or two adjacent ones. Values scattered over
   the passages ("Tencent" in one place, "32 billion" in another) do not support the claim.
   A sentence with "while", "whereas" or ";" is checked clause by clause, so a comparison may
   draw each side from its own passage.
3. A negated claim ("did not respond") needs a negation in its window. A claim of numbers that
   names no one ("520 firefighters [3]") is said of the question's names, which its cited
   passage's document must name by then, in full, by surname, short form or initials, or by
   their kind ("the fire") where it names no other (``implied_names``, ``_unnamed``).
4. A date (a month and its day) stands in a cited passage as a date, not as a number inside a
   name ("January 1" is not "R1" beside "January").
5. A supported sentence must also answer what was asked (``asked``): the kind of value (an
   amount for a sum of money, a span for "how long", a time for "When…?"), the holder of the
   role asked about, the subject, the span of time; and a sentence made only of the question's
   own words answers nothing ("Who runs BlueWave?" "BlueWave is run by BlueWave [1]."), nor does
   one that gives the subject as its own agent ("…founded by the startup BlueWave"), unless the
   question asks yes or no or offers a choice.

Where a source may name the question's subject otherwise (a ticker, an abbreviation: ``aliased``),
words cannot tell an alias from another subject, and the sentence can instead be kept for the
loaded model to judge (``doubts``; see ``verify``). So can a sentence that words a value in the
question's terms where the source words it otherwise (``paraphrased``).

A sentence its cited passages do not hold is re-pointed to the shown source that does (or, for
two clauses, to its own source and one other, ``_cited_instead``); a year the answer adds to a
date its source gives without one is taken off rather than the sentence (``_without_year``), and
so is a noun it puts after a number its sources give bare (``_without_unit``).
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

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Callable, Mapping, NamedTuple, Optional, Sequence

from . import text as txt
from .asked import (TIME_UNITS, another_kind, another_span, appositions, counted_of_another, counts_in, not_given,
                    over_another, hedged, names_itself, own_terms, restates_only, said_apart, said_by_another, spans_of)
from .claims import (ANY_NUMBER, CLAIM_NUMBER, CURRENCIES, Claim, Number, Window, added_names, claims, clauses,
                     currency_unit, earlier_text, in_context, name_ends, names, parse_number, passage_windows,
                     proper_terms, proper_words, question_terms, refs_of, sentence_terms, short_form, unit_after)
from .text import question_parts
from .types import Conflict, Passage, Removed

_APART = "its facts do not stand together in"  # why a claim whose values are apart is removed
Implied = Sequence[Sequence[tuple[str, tuple[str, ...]]]]  # each question part's names (``implied_names``)


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
        if len(claim.words & w.terms) >= need and not _apart(claim, w):
            return True
        # Not on a head's line alone: a byline names a paper and its reporter together, and "the
        # spokesperson who told the Courier…" is not the reporter whose name heads the story.
        if claim.names and not claim.numbers and not w.heading and _named_together(claim, w, subject):
            return True
    return False


def _apart(claim: Claim, w: Window) -> bool:
    """Whether ``w`` holds the names of a claim of names only apart, and not the word that relates
    them: in two sentences, the second naming its own subject ("Monica was founded by Alibaba" does
    not stand on "…startup Monica released its newest AI model. Alibaba has pledged to invest…"), or
    one of them only as what the window refers back to ("Last week, Alibaba announced plans to
    invest…, surpassing its investments", after a sentence on Monica). Such sentences say nothing of
    how the names relate unless a word of the claim says so; a second sentence that refers back
    ("Its offices are in Faro") speaks of the first one's subject."""
    if len(claim.names) < 2 or claim.numbers or not claim.words or claim.words & w.terms:
        return False
    if any(all(set(t) <= terms for _, t in claim.names) for terms, *_ in w.sentences):
        return False
    return (len(w.sentences) > 1 and not w.sentences[-1][2]) or not all(set(t) <= w.terms for _, t in claim.names)


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
          subject: frozenset[str] = frozenset(), implied: Implied = ()) -> str:
    """Why ``sentence`` is not supported by the passages it cites, or "" when it is. A claim of
    numbers that names no one is said of the ``implied`` names (those of each part of the
    question), which its cited passages must name (``_unnamed``)."""
    everywhere = [w for p in numbers.values() for w in passage_windows(p)]
    cited_numbers = [n for n in txt.cited_numbers(sentence) if n in numbers]
    refs = refs_of(sentence, numbers)
    cited = [w for n in refs for w in in_context(n, numbers, proper_terms(proper), sentence_terms(sentence) | subject)]
    # A name the question gives stands in a source by the short form the sources use for it alone
    # ("Corvana Air" in "Corvana's 11 aircraft"), or define for it ('Halvik Grid plc ("Halvik")').
    texts = tuple(p.text for p in numbers.values()) + tuple(p.head for p in numbers.values() if p.head)
    found = [replace(c, names=tuple((w, short_form(t, texts, proper) if set(t) <= subject else t) for w, t in c.names))
             for c in claims(sentence, proper, subject)]
    named = any(c.names for c in found)  # "…DeepSeek's R1, which boasts 671 billion parameters"
    introduced = appositions(texts)
    dated = unstated_date(sentence, [numbers[n] for n in refs], numbers)
    if dated:
        return dated
    # A name's words also as written, as the issue's rule reads them (``text.unwritten_value``): "the
    # Chinese market" has the term of "China" but does not write it. A number is read by its value.
    absent = next(filter(None, (missing_value(c, everywhere) for c in found)), "") or txt.unwritten_value(
        sentence, txt.shown_text(numbers.values()), names_only=True, by_word=True)
    if absent:
        return f"'{absent}' is in none of the sources"
    for claim in found:
        if claim.restates:
            continue
        if claim.has_values and not supported(claim, cited, subject, named, introduced):
            where = ", ".join(f"[{n}]" for n in dict.fromkeys(cited_numbers)) or "any source"
            return f"{_APART} {where}"
        if not claim.has_values and claim.negated and not supported(claim, cited, subject):
            return "no source says so"
        if claim.numbers and not claim.names and implied:
            unnamed = _unnamed(implied, [numbers[n] for n in refs], numbers, texts, proper)
            if unnamed:
                return f"the sources it cites never name {unnamed}"
    return ""


def implied_names(question: str, proper: frozenset[str]) -> list[list[tuple[str, tuple[str, ...]]]]:
    """The names each part of ``question`` asks about (as written, and their terms), which a bare
    answer speaks of; a name written over "of" or "and" is one ("Bank of Ostria"). Not a
    qualifier the source may word otherwise: a month, a country's adjective, a code with a digit
    ("Q3"), two capitals ("AI"), whose word the question asks for ("according to the Brekka
    Herald"). A part that names none ("…, and how many stores does it run?") asks about the part
    before's."""
    out: list[list[tuple[str, tuple[str, ...]]]] = []
    for part in question_parts(question):
        told = txt.attribution(part)
        found = names(part, proper)
        for m in _JOINED_NAME.finditer(part):
            inside = [(w, t) for w, t in found if w in m.group()]
            found = [x for x in found if x not in inside] + [(m.group(), tuple(t for _, ts in inside for t in ts))]
        found = [(w, t) for w, t in found
                 if not (txt.when_or_where(w) or any(ch.isdigit() for ch in w) or (w.isupper() and len(w) <= 2)
                         or w in told)]
        out.append(found or (out[-1] if out else []))
    return out


_JOINED_NAME = re.compile(r"[A-Z][\w\-]*(?:\s+[A-Z][\w\-]*)*\s+(?:of|and|for|&)\s+(?:the\s+)?"
                          r"[A-Z][\w\-]*(?:\s+[A-Z][\w\-]*)*")


def _unnamed(implied: Implied, cited: Sequence[Passage], numbers: Mapping[int, Passage], texts: tuple[str, ...],
             proper: frozenset[str]) -> str:
    """A name of the question that the ``cited`` passages never name in their documents as read up
    to them (``_context``), or "" when one of them names a name of each part of the question
    (``implied``; ``texts``, the shown texts and heads, give the names' short forms). A bare answer
    ("520 firefighters [3]") answers the question about its names, and a source that never names
    them speaks of something else. Anywhere in that context, not beside the number: a report names
    its subject once and then says "the fire", "Ms Dusch" or "Corvana" (``_named``). One name of a
    part will do: a question's other names qualify it ("in Ostria", "Korva CEO"), and its source
    may word them otherwise."""
    contexts = [_context(p, numbers) for p in cited]
    named = [not part or any(_named(written, short_form(name, texts, proper), c) for written, name in part
                             for c in contexts) for part in implied]
    return "" if not named or any(named) else implied[0][0][0]


def _context(p: Passage, numbers: Mapping[int, Passage]) -> str:
    """What a reader of ``p`` has read of its document: its head or title, the shown passages before
    it, and its text. Not those after it: a report that names the Vossberg Flats Fire further on
    still speaks of the Tamsel Creek Fire it named first."""
    return f"{p.head}. {p.title}. {earlier_text(p, numbers)} {p.text}"


_INITIAL = re.compile(r"^[A-Z]\.?$")
_TITLE = r"(?:Mr|Ms|Mrs|Miss|Dr|Prof)"  # "Ms Dusch" is a surname, not a name's kind


def _named(written: str, name: tuple[str, ...], text: str) -> bool:
    """Whether ``text`` names ``written`` (its terms, or their short form: ``name``): in full; by a
    word of it that ``text`` writes only as a name ("Ms Dusch" for "Lena M. Dusch", "Corvana's"
    for "Corvana Air"; not "Fire", which it writes "the fire" or as another name's last word); by
    its initials ("CRTA" for "Calvarra Roads and Transit Agency", and back); or by its kind after
    "the" ("the bridge" for "Corvane Bridge", "the bank" for "Bank of Ostria") where it names
    nothing else of that kind (the Tamsel Creek Fire is "the fire" of a report that never names
    the Vossberg Flats Fire)."""
    if set(name) <= sentence_terms(text):
        return True
    lower, kinds = set(re.findall(r"\b[a-z][\w\-]*", text)), name_ends(text)
    words = [w for w in re.findall(r"[A-Z][\w\-]*", written) if not _INITIAL.match(w)]
    if any(len(w) > 2 and w.lower() not in lower | txt.STOPWORDS and re.search(rf"\b{re.escape(w)}\b", text)
           and (w.lower() not in kinds or re.search(rf"\b{_TITLE}\.?\s+{re.escape(w)}\b", text)) for w in words):
        return True
    if _initials(written, text):
        return True
    kind = (words[0] if re.search(r"\sof\s", written) else words[-1]).lower() if words else ""
    return len(words) > 1 and kind not in kinds and bool(
        re.search(rf"\bthe\s+(?:[\w\-]+\s+){{0,2}}?{re.escape(kind)}\b", text, re.I))


_CAPITALISED_RUN = re.compile(r"[A-Z][\w\-]*(?:\s+(?:of|and|for|&)?\s*[A-Z][\w\-]*)+")


def _initials(written: str, text: str) -> bool:
    """Whether ``written`` is an abbreviation of a name ``text`` gives, or ``text`` one of it."""
    def abbreviations(t: str) -> set[str]:
        return {"".join(w[0] for w in m.group().split() if w[0].isupper() and w.lower() not in txt.STOPWORDS)
                for m in _CAPITALISED_RUN.finditer(t)}
    if written.isupper() and len(written) > 2:
        return written in abbreviations(text)
    return any(a in set(re.findall(r"\b[A-Z]{3,}\b", text)) for a in abbreviations(written) if len(a) > 2)


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
                 check_citations: bool = True, check_conflicts: bool = True, doubts: bool = False,
                 context: str = "") -> Grounded:
    """The answer the user sees: citations pointed at the sources that hold each sentence, the
    sentences they do not support removed (``ground_claims``), and a note when the sources give
    different values for what it states (``check_conflicts``). When every sentence is removed
    but the sources disagree on the value it gave, the answer is the note: each value is a
    passage's own, with its source (unless every part of the question asks who, where or why).
    With ``doubts``, sentences a judge may keep are listed in ``doubtful`` instead of removed.
    ``context``: what a follow-up that refers back ("How many customers does it serve?") was
    searched with (``assistant.condense_query``), which names what "it" may be."""
    from . import conflicts as differ
    from . import prompting

    if prompting.is_refusal(answer):
        return Grounded(answer, (), True)
    if not check_citations:
        return Grounded(answer, (), False)
    answer = prompting.check_citations(answer, numbers)
    checked = ground(answer, question, numbers, prompting.REFUSAL, prompting.is_refusal, doubts, context) \
        if ground_claims else Grounded(answer, (), False)
    # The values of the sentences kept stand on their cited passages, so those passages give them;
    # not so those left for a judge.
    doubted = {d.sentence for d in checked.doubtful}
    kept = () if checked.refused else [s for s in txt.sentences(checked.text) if s not in doubted]
    found = tuple(differ.find(answer, question, numbers, kept)) if check_conflicts else ()
    if checked.refused:
        return nothing_supported(question, checked.removed, found)
    return Grounded(differ.add_note(checked.text, found), checked.removed, False, conflicts=found,
                    doubtful=checked.doubtful)


def nothing_supported(question: str, removed: Sequence[Removed], conflicts: Sequence[Conflict]) -> Grounded:
    """The answer when no sentence the model wrote is left: the sources' differing values on what
    it stated (each a passage's own, with its source), unless every part of the question asks
    who, where or why, which a date or an amount does not answer, or the values differ only as
    one source rounds another's; otherwise the refusal."""
    from . import conflicts as differ
    from .prompting import REFUSAL

    if (conflicts and differ.disagree(conflicts) and not txt.asks_who_where_why(question)
            and _of_the_asked_kind(question, conflicts)):
        return Grounded(differ.note(conflicts), tuple(removed), False, conflicts=tuple(conflicts))
    return Grounded(REFUSAL, tuple(removed), True, withheld=True)


def _of_the_asked_kind(question: str, conflicts: Sequence[Conflict]) -> bool:
    """Whether the differing values could answer ``question``: days for one asking when, amounts
    for one that does not. "What was the share price before the breach?" is not answered by
    "The sources differ: Monday [2], Tuesday [2]" once the sentence that gave the days is gone."""
    from . import conflicts as differ

    days = all(v.kind in ("date", "weekday") for c in conflicts for v in differ.values(c.value))
    return days == txt.asks_day(question)


def ground(answer: str, question: str, numbers: Mapping[int, Passage], refusal: str,
           is_refusal=lambda s: False, doubts: bool = False, context: str = "") -> Grounded:
    """Remove the sentences of ``answer`` that its cited passages do not support (see the module
    doc). With ``doubts``, a sentence whose source may name its subject otherwise (``aliased``),
    or word it otherwise (``paraphrased``), is kept and listed in ``doubtful``, for a judge that
    reads meaning to decide. A follow-up that names nothing and refers back ("it") asks about
    what its ``context`` names: a count stated of another name does not answer it."""
    proper = proper_words(list(numbers.values()), question)
    subject = question_terms(question)
    asked = [terms for _, terms in names(question, proper)]
    implied = implied_names(question, proper)
    counted_of = asked or _referred(question, context, proper)
    kept: list[str] = []
    removed: list[Removed] = []
    doubtful: list[Removed] = []
    moved = False  # a sentence now cites the shown passage that holds it
    yes_no, counts = txt.asks_yes_no(question), txt.asks_number(question)
    for sentence in txt.sentences(answer):
        refusing = is_refusal(sentence)
        reason = "" if refusing else judge(sentence, numbers, proper, subject, implied)
        if reason:
            sentence, reason, dropped = _trimmed(sentence, reason, question, numbers, proper, subject, implied)
            removed += dropped
        if not reason and not refusing:
            reason = another_kind(sentence, question, proper, subject, numbers)
        if reason and not reason.startswith("'"):  # the values are there: maybe in another source
            other = _cited_instead(sentence, numbers, proper, subject, implied) or (
                described(sentence, question, numbers, proper, subject) if reason.startswith(_APART) else ())
            if other:  # … where it must still give the kind of value asked for
                moved = moved or set(other) != set(refs_of(sentence, numbers))
                sentence = txt.cite(sentence, *other)
                reason = another_kind(sentence, question, proper, subject, numbers)
        if reason and doubts and not reason.startswith("'"):
            source = _for_the_judge(sentence, reason, numbers, proper, subject, asked)
            if source is not None:
                sentence = txt.cite(sentence, source)
                doubtful.append(Removed(sentence, reason))  # why it goes if the judge says no
                reason = ""
        if not reason and not refusing:
            reason = _of_another(sentence, question, counted_of if counts else [], proper, numbers)
        if not reason and not refusing:
            reason, instead = said_by_another(sentence, question, numbers, proper)
            if reason:  # their own sentence, if any, answers in its place
                removed.append(Removed(sentence, reason))
                kept += [instead] if instead else []
                continue
        if not reason and not yes_no and not refusing and restates_only(sentence, question):
            reason = "it only restates the question"  # no source can help that
        if not reason and not yes_no and not refusing and names_itself(sentence, question):
            reason = "it gives what the question asks about as its own answer"
        if reason:
            removed.append(Removed(sentence, reason))
        else:
            kept.append(sentence)
    kept, unanswered = _answering(question, kept, proper, subject, is_refusal)
    removed += unanswered
    doubtful = [d for d in doubtful if d.sentence in kept]
    if not removed:
        return Grounded(" ".join(kept) if doubtful or moved else answer, (), False, doubtful=tuple(doubtful))
    if not any(txt.strip_citations(s).strip(" .") and not is_refusal(s) for s in kept):
        return Grounded(refusal, tuple(removed), True)
    text = " ".join([*kept, *cover_notes(question, kept, numbers, proper)])
    return Grounded(text, tuple(removed), False, doubtful=tuple(doubtful))


def described(sentence: str, question: str, numbers: Mapping[int, Passage], proper: frozenset[str],
              subject: frozenset[str]) -> tuple[int, ...]:
    """The shown source that ``sentence`` stands on when it calls its subject by the question's own
    description of it, or (): the rest of the sentence stands on that source, about a name that
    a shown passage gives with the description's. "The company that built QwQ-32B also runs Taobao
    and Tmall" for "The company that built QwQ-32B also runs which popular online shopping
    sites?", where one source says "Alibaba, the company behind … Taobao and Tmall" and another
    "Alibaba has released QwQ-32B". The description is the question's, taken as given, as in the
    bare answer "Taobao and Tmall [1]". The rest must add a name and give no number: a number must
    stand with the names it is claimed of (``Window``), and a description binds it to none. Not
    "The chief executive of the retailer that released QwQ-32B is Alibaba": there the description
    is what is asked, and the rest only names it."""
    body = txt.strip_citations(sentence)
    plain = list(txt.WORD.finditer(body))
    run = _copied_run([m.group() for m in plain], [w.lower() for w in txt.words(question)])
    if run < 3 or run == len(plain):
        return ()
    lead, rest = body[:plain[run - 1].end()], body[plain[run - 1].end():].strip()
    given = [t for written, t in names(lead, proper) if not txt.calendar_word(written)]
    if (not given or not _DESCRIPTION.match(lead) or _IDENTITY.match(rest) or CLAIM_NUMBER.search(rest)
            or not added_names(rest, proper, subject)):
        return ()
    values = [t for c in claims(rest, proper, subject) for _, t in c.names]
    shown = [w for p in numbers.values() for w in passage_windows(p)]
    other_names = proper_terms(proper) - subject  # what may bridge: a name the question does not give
    for n in dict.fromkeys([*refs_of(sentence, numbers), *numbers]):
        if judge(txt.cite(rest, n), numbers, proper, subject):
            continue
        bridges = {t for w in passage_windows(numbers[n]) if all(w.holds_name(v) for v in values)
                   for t in w.terms & other_names}
        if any(t in w.terms and all(w.holds_name(g) for g in given) for w in shown for t in bridges):
            return (n,)
    return ()


# "… is Alibaba": the description is what the question asks to name, not a subject the sentence
# goes on to say something of, so its names must stand with the answer's.
_IDENTITY = re.compile(r"(?:is|was|are|were|has been|have been|had been|will be)\b", re.IGNORECASE)
# A subject called by what it is, not by its name: "The company that…", "the retail group behind…".
_DESCRIPTION = re.compile(r"\W*(?:[Tt]he|[Aa]n?)\s+(?:[a-z][\w\-]*\s+){1,3}(?:the\s+|an?\s+)?[A-Z\d]")


def _copied_run(words: Sequence[str], asked: Sequence[str]) -> int:
    """How many of ``words``, from the first, the question writes in a row (as ``asked``, lower case)."""
    low = [w.lower() for w in words]
    best = 0
    for i in range(len(asked)):
        n = 0
        while n < len(low) and i + n < len(asked) and asked[i + n] == low[n]:
            n += 1
        best = max(best, n)
    return best


def _cited_instead(sentence: str, numbers: Mapping[int, Passage], proper: frozenset[str],
                   subject: frozenset[str], implied: Implied = ()) -> tuple[int, ...]:
    """The sources ``sentence`` stands on where the ones it cites do not hold it: another shown
    source, or, for a sentence of two clauses ("Korva's chief executive is Lena Dusch, and it runs
    146 stores [2]"), the cited one and another, each clause standing on one; () if none. Only
    when every clause names what the question names (or opens with "it" after one that does):
    "…, and the chain runs 146 stores" could take another chain's count from the other source."""
    for n in numbers:
        if not judge(txt.cite(sentence, n), numbers, proper, subject, implied):
            return (n,)
    own = [n for n in dict.fromkeys(txt.cited_numbers(sentence)) if n in numbers]
    found = claims(sentence, proper, subject)
    if len(own) == 1 and len(found) > 1 and all(any(set(t) <= subject for _, t in c.names) for c in found):
        for pair in (tuple(sorted([*own, n])) for n in numbers if n not in own):
            if not judge(txt.cite(sentence, *pair), numbers, proper, subject, implied):
                return pair
    return ()


def _answering(question: str, kept: Sequence[str], proper: frozenset[str], subject: frozenset[str],
               is_refusal: Callable[[str], bool]) -> tuple[list[str], list[Removed]]:
    """``kept`` once each (a sentence put in for another may be one the model wrote too), less
    the sentences that give no kind of thing the question asks (``not_given``), which are
    returned as removed."""
    kept = list(dict.fromkeys(kept))
    stated = [s for s in kept if not is_refusal(s)]
    unanswered = dict(not_given(question, stated, proper, subject)) if stated else {}
    return [s for s in kept if s not in unanswered], [Removed(s, why) for s, why in unanswered.items()]


def _for_the_judge(sentence: str, reason: str, numbers: Mapping[int, Passage], proper: frozenset[str],
                   subject: frozenset[str], asked: Sequence[tuple[str, ...]]) -> Optional[int]:
    """The source to keep a failed sentence on for the judge to decide, if any: one that may
    name its subject otherwise (``aliased``), or, for facts that stand apart, word it
    otherwise (``paraphrased``)."""
    source = aliased(sentence, numbers, proper, subject, asked)
    if source is None and reason.startswith(_APART):
        source = paraphrased(sentence, numbers, proper, subject, asked)
    return source


def _trimmed(sentence: str, reason: str, question: str, numbers: Mapping[int, Passage], proper: frozenset[str],
             subject: frozenset[str], implied: Implied = ()) -> tuple[str, str, list[Removed]]:
    """``sentence`` less what alone keeps it from standing on its sources, a year it adds to a
    date (``_without_year``) or a noun it adds to a number (``_without_unit``), with what was
    taken out recorded; otherwise ``sentence`` and ``reason`` as they were."""
    removed: list[Removed] = []
    for trim in (_without_year, _without_unit):
        if reason:
            sentence, reason, dropped = trim(sentence, reason, question, numbers, proper, subject, implied)
            removed += dropped
    return sentence, reason, removed


def _without_year(sentence: str, reason: str, question: str, numbers: Mapping[int, Passage],
                  proper: frozenset[str], subject: frozenset[str], implied: Implied = ()
                  ) -> tuple[str, str, list[Removed]]:
    """``sentence`` without the years it gives dates, when that is all that keeps it from standing
    on its sources: a small model writes a source's "released on March 5" as "March 5, 2023",
    with a year from elsewhere or from the question. What is left says less and stands on the
    source, so the date stays as the source gives it and the year is recorded as removed. Not
    when the ``question`` asks for the year. Otherwise ``sentence`` and ``reason`` as they were."""
    years = list(txt.DATE_AND_YEAR.finditer(sentence))
    if not years or txt.asks_year(question):  # then the year is the answer
        return sentence, reason, []
    bare = sentence
    for m in reversed(years):
        bare = bare[: m.start(1)] + bare[m.end(1):]
    if judge(bare, numbers, proper, subject, implied):
        return sentence, reason, []
    written = ", ".join(m.group(2) for m in years)
    why = f"its sources do not give '{written}' with that date; the date is kept without it"
    return bare, "", [Removed(sentence, why)]


def _without_unit(sentence: str, reason: str, question: str, numbers: Mapping[int, Passage],
                  proper: frozenset[str], subject: frozenset[str], implied: Implied = ()
                  ) -> tuple[str, str, list[Removed]]:
    """``sentence`` without the noun it puts after a number, when its cited sources give that number
    bare and that is all that keeps it from standing on them: "What is the capacity of Coppergate
    Park?" answered "Coppergate Park holds 24,300 seats" from "Coppergate Park holds 24,300, which is
    larger…". What is left is what the source says. Not where a source counts something with the
    number ("400 routes": "It has 400" would answer "How many employees?" with the routes), nor
    for a noun the question asks to count ("How many people were replaced?" is not answered by
    "22 were replaced" from "140 machines and 22 were replaced"), a currency, or a unit of time
    ("fished for 71 years" from "Oskar Tamberlin, 71,"), and only where the source says the number
    as the answer does, after the same word ("holds 24,300"; not "berth 12" for "has 12 cranes").
    Otherwise ``sentence`` and ``reason`` as they were."""
    cited = [numbers[n].text for n in refs_of(sentence, numbers)]
    kept = set(txt.terms(question)) | CURRENCIES | _TIME_UNITS
    for m in reversed(list(CLAIM_NUMBER.finditer(sentence))):
        noun = re.match(r"\s+[A-Za-z][a-z\-]+", sentence[m.end():])
        unit = unit_after(sentence, m.end())
        if not noun or not unit or unit in kept or txt.YEAR.fullmatch(m.group()):
            continue  # "the 1998 upgrade": a year names, it does not count
        value, verb = parse_number(m.group()), _word_before(sentence, m.start())
        found = [(text, x) for text in cited for x in ANY_NUMBER.finditer(text) if value.matches(parse_number(x.group()))]
        if not found or any(unit_after(text, x.end()) or text[x.end():x.end() + 1] == "-" for text, x in found):
            continue  # a source counts something with it: "400 routes", "a 3.4-kilometre road"
        if not verb or not any(_word_before(text, x.start()) == verb for text, x in found):
            continue  # said of the number as the answer says it ("holds 24,300"), not "berth 12", "…, 40 on"
        bare = sentence[:m.end()] + sentence[m.end() + noun.end():]
        if not judge(bare, numbers, proper, subject, implied):
            why = f"its sources do not say what '{m.group()}' counts; the number is kept without '{noun.group().strip()}'"
            return bare, "", [Removed(sentence, why)]
    return sentence, reason, []


_TIME_UNITS = TIME_UNITS | {"old"}  # "Oskar Tamberlin, 71," is an age


def _word_before(text: str, start: int) -> tuple[str, ...]:
    """The terms of the word right before ``start`` in ``text``, if a word (no comma) is there."""
    m = re.search(r"([A-Za-z][\w\-]*)\s+$", text[:start])
    return tuple(txt.terms(m.group(1))) if m else ()


def _referred(question: str, context: str, proper: frozenset[str]) -> list[tuple[str, ...]]:
    """The names a follow-up that refers back ("How many customers does it serve?") may mean:
    those its ``context`` (the search query) gives, months and weekdays aside."""
    if not context or not txt.refers_back(question):
        return []
    return [terms for written, terms in names(context, proper) if not txt.calendar_word(written)]


def _of_another(sentence: str, question: str, counted_of: Sequence[tuple[str, ...]], proper: frozenset[str],
                numbers: Mapping[int, Passage]) -> str:
    """Why a supported sentence speaks of another subject than asked: a count of another name
    (``counted_of``: the names a how-many question asks about), a figure over another span of
    time, a role at another body; "" when it does not."""
    return (counted_of_another(sentence, counted_of, proper, numbers) or another_span(sentence, question, numbers)
            or said_apart(sentence, question, proper, numbers) or hedged(sentence, numbers))


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
    # A source that writes the name itself does not call it by another: "Monica was founded by
    # Alibaba" is no alias where the passage says "the Chinese company Monica is behind Manus". A
    # name the sentence gives as an owner ("China's head of state") may be in the source and what
    # it owns still called otherwise ("President Xi Jinping").
    plain = [t for c in found for written, t in c.names
             if set(t) <= subject and not re.search(rf"{re.escape(written)}['’]s\b", sentence)]
    unnamed = {n: p for n, p in numbers.items()
               if not plain or not all(set(t) <= sentence_terms(p.text) for t in plain)}
    return _source_holding(own, unnamed, subject, lambda w: any(w.holds_name(t) for t in others),
                           [n for n in refs_of(sentence, numbers) if n in unnamed])


def paraphrased(sentence: str, numbers: Mapping[int, Passage], proper: frozenset[str], subject: frozenset[str],
                asked: Sequence[tuple[str, ...]]) -> Optional[int]:
    """The shown source with a window that holds every value of ``sentence`` together, the
    question's names and half the sentence's words that the question lacks, or None.

    Such a sentence falls short only on the question's own words: the answer restated the
    question ("the quickest trip from the capital takes 1 hour 55 minutes") where the source
    words it otherwise ("cuts the fastest journey between the two cities … to 1 hour 55
    minutes"). Only a claim whose every number counts a noun ("41 months"), is a sum of money
    ("€3.8 million") or is a year ("€19.25 an hour by 2027"): such a number stands with its noun
    or its currency in one sentence of the window, which says what it is. A bare number or a percentage says nothing of what it
    measures ("The context window is 32 [1]" from "QwQ-32B"), and names alone restate the
    question's relation (see ``verify``). Words cannot tell a paraphrase from the same values
    said of something else; a judge that reads meaning can."""
    found = claims(sentence, proper, subject)
    own = [replace(c, words=c.words - subject) for c in found]
    # A sum of money counts its currency, which the source must give beside it too.
    money = {m.group().strip(): currency_unit(sentence, m.start()) for m in CLAIM_NUMBER.finditer(sentence)}
    own = [replace(c, numbers=tuple(n if n.unit else replace(n, unit=money.get(n.text.strip(), ""))
                                    for n in c.numbers)) for c in own]
    numbers_of = [n for c in own for n in c.numbers]
    if not numbers_of or not all(n.unit or _a_year(n) for n in numbers_of):
        return None
    return _source_holding(own, numbers, subject, lambda w: all(w.holds_name(t) for t in asked),
                           refs_of(sentence, numbers))


def _a_year(n: Number) -> bool:
    """Whether ``n`` is a year ("by 2027"), which says what it is as a unit does."""
    return not n.decimals and bool(txt.YEAR.fullmatch(n.text.strip()))


def _source_holding(own: Sequence[Claim], numbers: Mapping[int, Passage], subject: frozenset[str],
                    near: Callable[[Window], bool], cited: Sequence[int] = ()) -> Optional[int]:
    """The first shown source whose windows that are ``near`` (about what was asked) support
    every claim of ``own``, the ``cited`` ones first (the judge then reads the source the model
    answered from), or None."""
    for n in dict.fromkeys([*cited, *numbers]):
        passage = numbers[n]
        found = [w for w in passage_windows(passage, with_head=False) if near(w)]
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
        alone = [w for p in cited for w in passage_windows(p, with_head=False) if len(w.sentences) == 1]
        if supported(claim, alone, subject, True):
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
    claimed = {t for _, t in claim.names}
    for a, b in zip(said, said[1:]):
        ta, tb = sentence_terms(a), sentence_terms(b)
        if not all(set(t) <= ta | tb for t in new) or 2 * len(claim.words & (ta | tb)) <= len(claim.words):
            continue
        words, terms = (b, tb) if len(claim.words & tb) > len(claim.words & ta) else (a, ta)
        if all(set(t) <= terms for t in new):
            continue
        others = [w for w, t in names(words, proper)
                  if t not in claimed and not set(t) <= subject and not txt.calendar_word(w)]
        if others:
            return others[0], f"{a} {b}"
    return "", ""


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
            for _, clause in clauses(sentence):
                counts = counts_in(clause)  # the cheap test first: most clauses hold no number
                if not counts or span and any(over_another(span, spans_of(sentence, c)) for c in counts):
                    continue  # a figure over another span of time than the part asks about
                terms = sentence_terms(clause)
                shared = len(wanted & terms)
                if shared > score and all(set(name) <= terms for name in asked):
                    best, score = txt.cite(sentence.strip(), n), shared
    return best


def uncovered_parts(question: str, kept: Sequence[str]) -> list[str]:
    """Parts of a several-part question that no kept sentence speaks to (by their own distinctive words)."""
    parts = question_parts(question)
    if len(parts) < 2:
        return []
    said = {t for s in kept for t in txt.terms(txt.strip_citations(s))}
    return [part for part, own in zip(parts, own_terms(parts)) if own and not own & said]
