"""Stage 6b, its second test: a sentence its sources support may still not answer the question.

Each check reads the question and one answer sentence, and says why the sentence does not give
what was asked, or "":
- the kind of value (``another_kind``, ``not_given``): an amount for a sum of money, a figure for a
  price, a span for "how long", not a country for "which city", a name for one named thing
  ("Which corporation…?"), and a time for "When…?";
- the holder of a role: a person keeps the role at the body the sources give them
  (``role_elsewhere``), and "Who is VXR's chief executive?" is not answered with someone they
  place only at another body (``asked_role_elsewhere``);
- the subject: a yes/no question is not answered by a sentence about one of its names and not
  another (``of_another``), and a count or a figure is not one the sources give of someone else
  (``counted_of_another``, ``said_by_another``);
- the span of time: a change over another span than the one asked (``another_span``);
- anything at all: a sentence made only of the question's words (``restates_only``), or one that
  names the question's subject as who did what it says of it (``names_itself``).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from functools import lru_cache
from typing import Mapping, Sequence

from . import text as txt
from .claims import (ANY_NUMBER, CLAIM_NUMBER, CURRENCIES, CURRENCY_SIGN, NEGATION, REFERS, REFERS_TO_ONE, Number,
                     Window, added_names, claims, clauses, defined_names, in_context, names, parse_number,
                     passage_windows, proper_terms, question_terms, refs_of, sentence_terms, short_form,
                     spelled_numbers, unit_after)
from .text import question_parts
from .types import Passage

# Words that answer "how much" without a number: "it cost far less than its rivals".
_COMPARES = re.compile(r"\b(?:less|more|fewer|lower|higher|cheaper|fraction|half|twice|double|triple|same)\b|"
                       r"\b\w+er than\b", re.IGNORECASE)
# A passage sentence that carries the subject of the one before on ("This…" most often speaks of
# what the sentence before did, not of who did it).
_OPENS_WITH_ONE = re.compile(r"\W*(?:It|Its|He|His|She|Her|The)\b")


def _named_in(names: Sequence[tuple[str, ...]], terms: frozenset[str]) -> bool:
    """Whether ``terms`` hold every term of one of ``names``."""
    return any(set(name) <= terms for name in names)


# A person introduced by a role at a named body: "Dan Newman, CEO of Futurum Group," or "Rita
# Okafor, chief analyst at Marlin Research,". A later "Newman said…" speaks for that body.
_BODY = r"[A-Z][\w&’'.\-]*(?:\s+(?:(?:for|of|and|&)\s+)?[A-Z][\w&’'.\-]*)*"
_APPOSITION = re.compile(r"\b[A-Z][\w’'\-]*\s+([A-Z][\w’'\-]+),\s+(?:(?:a|an|the)\s+)?(?:[\w\-]+\s+){1,4}?"
                         rf"(?:of|at)\s+(?:the\s+)?({_BODY})\s*[,.]")


# The roles a person holds at a body, as news writes them before a name ("Arrowline chief executive
# Rafael Osterhout", "Health Minister Ingrid Solvang") and asks about them.
_ROLE = (r"(?:chief\s+executive(?:\s+officer)?|ceo|chief\s+[a-z]+\s+officer|chair(?:man|woman|person)?|president|"
         r"(?:co-)?founder|(?:managing\s+)?director|(?:general\s+)?secretary|spokes(?:man|woman|person)|minister|"
         r"head|leader|analyst|economist|manager|coach|captain|editor|mayor|governor|curator|treasurer|"
         r"commissioner|investigator|inspector|prosecutor|auditor)")
# A body a sentence gives a role at: "VXR's chief executive", "VXR chief executive", "the chief
# executive of VXR"; and a person titled so, by first name and surname.
# Each pattern captures the body and the role (and the titled person's surname).
_BODY_ROLE = rf"\b({_BODY}?)(?:[’']s)?\s+((?i:{_ROLE}))"
_ROLE_AT = re.compile(rf"{_BODY_ROLE}\b")
_ROLE_OF = re.compile(rf"((?i:\b{_ROLE}))\s+(?:of|at)\s+(?:the\s+)?({_BODY})")
_TITLED = re.compile(rf"{_BODY_ROLE}\s+[A-Z][\w’'\-]*\s+([A-Z][\w’'\-]+)\b")
# "Skarne Airlines, whose chief executive Viktor Hallan has said…"
_WHOSE = re.compile(rf"\b({_BODY}),\s+whose\s+(?i:{_ROLE})\s+[A-Z][\w’'\-]*\s+([A-Z][\w’'\-]+)\b")


@lru_cache(maxsize=256)
def appositions(texts: tuple[str, ...]) -> dict[str, frozenset[str]]:
    """Each person the passages introduce by a role at a named body, by their surname's term, with
    that body's terms: {"newman": {"futurum", "group"}} from "Dan Newman, CEO of Futurum Group," or
    {"osterhout": {"arrowline"}} from "Arrowline chief executive Rafael Osterhout" (or "Arrowline, whose
    chief executive Rafael Osterhout…")."""
    out: dict[str, frozenset[str]] = {}
    for text in texts:
        found = [(m.group(1), m.group(2)) for m in _APPOSITION.finditer(text)]
        found += [(m.group(3), m.group(1)) for m in _TITLED.finditer(text)]
        found += [(m.group(2), m.group(1)) for m in _WHOSE.finditer(text)]
        for person, body in found:
            for who in txt.terms(person):
                out[who] = out.get(who, frozenset()) | sentence_terms(body)
    return out


def role_bodies(text: str) -> list[str]:
    """The bodies ``text`` gives a role at: "VXR" of "VXR's chief executive" or "the chief executive
    of VXR". A capitalised word that is no name ("The chief executive…", "Its chief…") is no body."""
    return [b for b in [*(m.group(1) for m in _ROLE_AT.finditer(text)), *(m.group(2) for m in _ROLE_OF.finditer(text))]
            for b in [re.sub(r"[’']s?$", "", b)] if txt.terms(b)]


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


def roles(text: str) -> list[tuple[frozenset[str], frozenset[str]]]:
    """The (body's terms, role's terms) of each role ``text`` gives at a named body, once per
    mention: "Chief Market Analyst at Scope Group" is an analyst at Scope Group, not at "Chief
    Market" (the body "of" or "at" names comes first)."""
    found: dict[int, tuple[str, str]] = {}
    for m in _ROLE_OF.finditer(text):
        found[m.start(1)] = (m.group(2), m.group(1))
    for m in _ROLE_AT.finditer(text):
        found.setdefault(m.start(2), (m.group(1), m.group(2)))
    return [(sentence_terms(re.sub(r"[’']s?$", "", body)), frozenset(txt.terms(role)))
            for _, (body, role) in sorted(found.items()) if txt.terms(body)]


def role_of_another(sentence: str, question: str, proper: frozenset[str]) -> str:
    """Why ``sentence`` answers who holds a role at a body with that role at another body, naming
    no one else, or "": "What is the name of DeepSeek's CEO?" is not answered by "DeepSeek's CEO
    is the CEO of Futurum Group", from a source that names the one beside the other ("…is Liang
    Wenfeng, the former CEO of High-Flyer" names someone)."""
    asked = roles(question)
    if not asked or not (txt.asks_name(question) or txt.asks_who_where_why(question)):
        return ""
    given = roles(txt.strip_citations(sentence))
    bodies = frozenset().union(*(body for body, _ in given))
    if any(not set(terms) <= bodies for _, terms in added_names(sentence, proper, question_terms(question))):
        return ""
    for body, role in given:
        at = [at for at, theirs in asked if theirs == role]
        if at and not any(body & where for where in at):
            return "it gives that role at another body than the question asks about"
    return ""


def holder_unnamed(sentence: str, question: str, proper: frozenset[str]) -> str:
    """Why ``sentence`` answers who holds a role with where it is held, or "": "What is the name of
    the council's finance chair?" is not answered by "The finance chair is the finance chair of
    Brackley Borough Council", whose only new name is the body the role is held at."""
    if not _HOLDER_ASKED.match(question):
        return ""
    wanted = {frozenset(txt.terms(m.group())) for m in _ROLE_WORD.finditer(question)}
    bodies = frozenset().union(*(body for body, role in roles(txt.strip_citations(sentence)) if role in wanted))
    added = added_names(sentence, proper, question_terms(question))
    if bodies and added and all(set(terms) <= bodies for _, terms in added):
        return "it names where that role is held, not who holds it"
    return ""


_ROLE_WORD = re.compile(rf"\b{_ROLE}\b", re.IGNORECASE)
# A question that asks for a person ("Who…?", "What is the name of…?"), not which body ("Which
# firm's chief executive…?", "Who is the chair of the company which…?" are left alone).
_HOLDER_ASKED = re.compile(r"^\W*(?:who\b|what\s+(?:is|was)\s+the\s+name\s+of\b)(?!.*\b(?:which|whose)\b)",
                           re.IGNORECASE)


# The role a question asks who holds, with the words that narrow it: "Who has been appointed
# interim finance director…?", "Who is the museum's deputy director?" ("new" or "current" says
# when, not which; "named" is the verb, not the role).
_WHO_ROLE = re.compile(r"^\W*(?i:who\s+(?:is|was|are|were|(?:has|have|had)\s+been|will\s+be)\s+"
                       r"(?:(?:appointed|named|elected|hired|chosen|picked)\s+(?:as\s+)?)?"
                       r"(?:(?:the|a|an|its|their|his|her)\s+)?(?:[\w’'\-]+[’']s\s+)?(?:new\s+)?)"
                       rf"((?:(?!(?:new|current|present)\b)(?![a-z]+ed\b)[a-z][\w\-]*\s+){{1,2}}(?i:{_ROLE}))\b")


def cited_windows(sentence: str, numbers: Mapping[int, Passage]) -> list[Window]:
    """The windows of the passages ``sentence`` cites, their heads' lines first."""
    return [w for n in refs_of(sentence, numbers) for w in passage_windows(numbers[n])]


def role_not_beside(sentence: str, question: str, numbers: Mapping[int, Passage], proper: frozenset[str]) -> str:
    """Why ``sentence`` answers who holds a role with a person that no cited window gives that
    whole role ("Who has been appointed interim finance director?" answered with the museum's
    director, whose window says "director" only), or "". A name of one word is held to it too: a
    surname the source titles ("Lind, its chief executive"), not a company it names as the
    maker ("Orvik is the chief executive of the company behind Pellet"). A country stays among
    them, unlike its adjective: no country holds a post."""
    role = _asked_role(question)
    people = [terms for written, terms in added_names(sentence, proper, question_terms(question))
              if not txt.nationality(written) and not txt.calendar_word(written)]
    if not role or not people:
        return ""
    cited = cited_windows(sentence, numbers)
    if any(set(person) <= w.terms and role <= _titled(w.terms) for person in people for w in cited):
        return ""
    return "no cited source gives that person the role the question asks about"


def _asked_role(question: str) -> frozenset[str]:
    """The terms of the role a question asks who holds, with the words that narrow it ("interim
    finance director", "head of satellite operations", "chief financial officer"; a title's
    letters read as its words, "officer" left out), or none."""
    asked = _WHO_ROLE.match(question)
    phrase = asked.group(1) if asked else ""
    if not asked and _HOLDER_ASKED.match(question):
        found = _ROLE_PHRASE.search(question)
        phrase = found.group() if found else ""
    terms = frozenset(txt.terms(phrase))
    return _titled(terms) - _TITLE_LETTERS.keys() - _OFFICER


def _titled(terms: frozenset[str]) -> frozenset[str]:
    """``terms`` with the words of the titles written as letters among them ("ceo": chief, executive)."""
    return terms.union(*(words for title, words in _TITLE_LETTERS.items() if title in terms))


_TITLE_LETTERS = {t: frozenset(txt.terms(words)) for t, words in (
    ("ceo", "chief executive"), ("cfo", "chief financial"), ("coo", "chief operating"), ("cto", "chief technology"))}
_OFFICER = frozenset(txt.terms("officer"))
# A role with the rank that narrows it and what it is head of, in lower case ("the commission's
# deputy chair", "head of satellite operations"; "director of the Estmark Agency" names where, not
# which role; "who ran for mayor" asks no rank).
_RANK = r"(?:deputy|vice|assistant|associate|acting|interim|senior|junior|joint|lead|principal|executive)\s+"
_ROLE_PHRASE = re.compile(rf"\b(?:{_RANK}){{0,2}}\b(?i:{_ROLE})\b(?:\s+of\s+(?:[a-z][\w\-]*\s+){{0,2}}[a-z][\w\-]*)?")


# "What was Grauhorn Stone's annual turnover last year?": the thing a "What is/was …" question asks
# the figure of, its noun the last word before a preposition or the like ("turnover").
_ASKED_ATTRIBUTE = re.compile(
    r"^\W*(?i:what)\s+(?:is|was|are|were|will\s+be)\s+(?:the\s+)?(?:(?:[A-Z][\w’'\-]*\s+)*[\w’'\-]+[’']s\s+)?"
    r"((?:(?!(?:of|in|for|at|on|per|last|this|next|during|since|before|after|by|the|a|an|to|from|with|when|that|"
    r"which|as|between|over|under|among|according|and|or)\b)[a-z][\w\-]*\s*){1,3})"
    # … or asked as "What price per tonne does Grauhorn Stone charge…?" or "How much debt did Dunholt
    # City have…?": the words before the verb.
    r"|^\W*(?i:what|how\s+much(?!\s+of\b))\s+((?:[a-z][\w\-]*\s+){1,3}?)(?:does|do|did|will|would|can|could|has|have|had)\b")


# Sums a company or a deal is measured by, each a different figure: a turnover is no profit, a
# price no market value. A sum a source gives as one of them does not answer a question for another.
_MEASURES = frozenset(txt.terms("revenue turnover sales profit income earnings loss price value cost fine salary "
                                "budget debt dividend"))


def _head_noun(phrase: str) -> list[str]:
    """The noun a "What <phrase> does…" question asks for: its last word before "per", "for" or "of"
    ("price" in "price per tonne", "savings" in "cost savings")."""
    return re.split(r"\s+(?:per|for|of)\s+", phrase.strip())[0].split()[-1:]


def sum_of_another_kind(sentence: str, question: str, numbers: Mapping[int, Passage]) -> str:
    """Why a sum of money in ``sentence`` does not answer "What was X's <measure>?": every cited
    window that holds the sum names another measure and not the one asked. "What was Grauhorn
    Stone's annual turnover last year?" is not answered by "the company made a pre-tax profit of
    €19.6 million last year"; the question's other words ("annual", "last year") are no
    evidence of which sum it is."""
    asked = _ASKED_ATTRIBUTE.match(question)
    plain = txt.strip_citations(sentence)
    sums = [parse_number(m.group()) for m in ANY_NUMBER.finditer(plain) if _money(plain, m)]
    if not asked or not sums or re.match(r"(?:and|or)\b", question[asked.end():]) or len(question_parts(question)) > 1:
        return ""  # "What were its revenue and net loss?" asks two sums; "What revenue…, and what sales…?" too
    words = asked.group(1).split() if asked.group(1) else _head_noun(asked.group(2))
    measure = set(txt.terms(" ".join(words))) & _MEASURES
    cited = cited_windows(sentence, numbers)
    holding = [w for w in cited if any(x.matches(m) for x in sums for _, held, *_ in w.sentences for m in held)]
    if not measure or not holding or any(measure & w.terms or not (w.terms & _MEASURES) for w in holding):
        return ""
    said = [w for w in words if set(txt.terms(w)) & measure]
    return f"no cited source gives that sum as the {' '.join(said)} asked about"


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


def role_after_another(sentence: str, question: str, numbers: Mapping[int, Passage], proper: frozenset[str]) -> str:
    """Why ``sentence`` answers who holds a role at a body with a person whose cited sentences give
    the role at no body, right after a sentence about another one, or "". "Who is the chief
    executive of Ostrell Labs?" is not answered by Halina Marsh from "Corvane Technologies fell
    3.2% and Ostrell Labs slipped 1.8%. … Chief Executive Halina Marsh told reporters": a title
    with no body is held where the sentence before is about, the name it opens with ("BlueWave
    runs 12 ferries. Chief executive Marta Quintas said…"), not a rival it names in passing."""
    asked = role_bodies(question)
    if not asked or not txt.asks_who_where_why(question):
        return ""
    from .selection import runs

    wanted = frozenset(t for b in asked for t in sentence_terms(b))
    people = [(written, set(terms)) for written, terms in added_names(sentence, proper, question_terms(question))
              if len(terms) > 1 and not re.search(rf"(?i)\b{_ROLE}\b", written)]
    said = [[s for piece in run for s in txt.sentences(piece)]
            for n in refs_of(sentence, numbers) for run in runs(numbers[n])]
    before = [(run[i - 1], now) for run in said for i, now in enumerate(run)
              if i and any(terms <= sentence_terms(now) for _, terms in people)]
    if not people or not before:
        return ""
    for previous, now in before:
        opening = names(previous, proper)[:1]
        if (role_bodies(now) or wanted <= sentence_terms(now) or not wanted <= sentence_terms(previous)
                or not opening or wanted <= set(opening[0][1])):
            return ""  # the body is given, or is what the sentence before is about, or is not there at all
    previous = before[0][0]
    other = names(previous, proper)[0][0]
    opens = re.match(rf"[A-Z][\w’'\-]*\s+{re.escape(other)}", previous)  # a name's first word opening the sentence
    return f"the sentence giving '{people[0][0]}' the role follows one about {opens.group() if opens else other}"


def counted_of_another(sentence: str, asked: Sequence[tuple[str, ...]], proper: frozenset[str],
                       numbers: Mapping[int, Passage]) -> str:
    """Why ``sentence``'s count does not answer a question asking how many or how much of a
    subject the question names (``asked``), or "": it names none of the question's names but
    another (no month or weekday, sharing no word with them), does not refer back ("it", "The
    company…"), and no sentence of its cited passages that states the count names the question's
    subject (or opens with "It", "He", "The…" after one that does). "How many city governments
    have adopted QwQ-32B?" answered "13 city governments have adopted DeepSeek models [2]" is a
    true sentence, its number beside its own name, but it counts something else."""
    body = txt.strip_citations(sentence)
    counts = counts_in(body)
    if not asked or not counts or REFERS_TO_ONE.search(body):
        return ""
    if _named_in(asked, sentence_terms(body)):
        return ""
    given = {t for name in asked for t in name}
    cited = [numbers[n].text for n in refs_of(sentence, numbers)]
    defined = defined_names(tuple(p.text for p in numbers.values()))  # "the Company" for the question's
    other = next((written for written, name in names(body, proper) if not set(name) & given
                  and not txt.calendar_word(written) and not _named_in(asked, frozenset(defined.get(name, ())))), "")
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
    counts = counts_in(txt.strip_citations(sentence))
    if not whose or not counts:
        return "", ""
    holding = {p: [w for w in passage_windows(numbers[p], with_head=False) if any(w.holds_number(n) for n in counts)]
               for p in refs_of(sentence, numbers)}
    if any(w.holds_name(name, subject=True) for held in holding.values() for w in held for name in whose):
        return "", ""
    if any(written_by(numbers[p].source, whose, numbers) for p, held in holding.items() if held):
        return "", ""  # their own column, report or statement
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


# A byline at a document's top: "By Rasmus Kohl, head of transport research, Meridian Vane Securities".
# Its parts, after the name, run to the first word no byline has: a date, a number, a dash, or
# a capitalised "The", "At"… that opens the article ("…, Northgate Threat Labs The Calloway breach").
_BYLINE = re.compile(r"\bBy\s+[A-Z][\w’'\-]+\s+[A-Z][\w’'\-]+((?:,\s*[^,.;:()—–\d]+){1,3})")


def written_by(source: str, whose: Sequence[tuple[str, ...]], numbers: Mapping[int, Passage]) -> bool:
    """Whether the document ``source`` is by one of ``whose``: the shown passage that opens it, or
    the head shown with a later one, has a byline that names them. Their figures are then theirs
    throughout, named beside or not."""
    opening = next((p.text[:400] for p in numbers.values() if p.source == source and p.start == 0), "") or next(
        (p.head.replace(" | ", "\n") for p in numbers.values() if p.source == source and p.head), "")
    m = _BYLINE.search(opening)
    return bool(m) and _named_in(whose, sentence_terms(byline(m.group(1))))


def byline(parts: str) -> str:
    """The affiliation a byline gives after the author's name, cut where the article starts."""
    kept: list[str] = []
    for part in parts.split(",")[1:]:
        words = part.split()
        for i, word in enumerate(words):
            stop = (i or word != "The") and word[:1].isupper() and word.lower() in txt.STOPWORDS
            if stop or txt.calendar_word(word.strip(".")):
                return " ".join([*kept, *words[:i]])
        kept += words
    return " ".join(kept)


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
            counts = counts_in(sentence)  # the cheap test first: most sentences hold no number
            if not counts or not _named_in(whose, sentence_terms(" ".join(said[max(0, i - 1):i + 1]))):
                continue
            if span and all(over_another(span, spans_of(sentence, c)) for c in counts):
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
    change, counts = txt.states_change(body), counts_in(body)
    wanted = f'the question asks about "{next(iter(asked.values()))}"'
    held = {n.text: [(p, spans_of(s, n)) for p in refs_of(sentence, numbers) for s in txt.sentences(numbers[p].text)
                     if any(n.matches(parse_number(m.group())) for m in CLAIM_NUMBER.finditer(s))] for n in counts}
    # "expects 20 million over the next five years, up from 9 million over the past three" answers
    # a question about the years ahead: a figure its source gives over the asked side is there.
    sides = _directions(asked) - {""}
    answers = any(_directions(given) & sides for spans in held.values() for _, given in spans)
    for n in counts:
        other = over_another if change and re.search(r"%|percent", n.text, re.IGNORECASE) else _other_side
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


def over_another(asked: Mapping[str, str], given: Mapping[str, str]) -> bool:
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


def another_year(sentence: str, question: str, numbers: Mapping[int, Passage] = {}) -> str:
    """Why ``sentence`` gives a figure for another year than the question asks about, or "": "How
    many employees did it have in 2022?" is not answered by "It had 85 employees in 2019". Only
    years a figure is dated by ("in", "during", "for", "by"), not "since 2019", which may cover it.
    A sentence that gives no year has its figure's: the years of the cited sentence that states
    it and of the one before ("In 2021, an inspection recommended new bearings. The estimated
    cost was €6.3m." does not say what the bridge cost to build in 1968). A figure that nothing
    dates does not answer for the asked year either (``undated``)."""
    asked = {m.group(1) or m.group(2) for m in _ASKED_YEAR.finditer(question)
             if not _DATES_A_CLAUSE.search(question, 0, m.start())}
    body = txt.strip_citations(sentence)
    figures = [n for n in counts_in(body) if not _year(n)]
    given = set(_IN_A_YEAR.findall(body)) or (_years_of(figures, sentence, numbers) if asked else set())
    if not asked or not figures or any(year in body for year in asked):  # the claim check holds it to them
        return ""
    if not given:
        return undated(figures, asked, sentence, numbers)
    return "" if given & asked else f"it gives a figure for {min(given)}, and the question asks about {min(asked)}"


def _years_of(figures: Sequence[Number], sentence: str, numbers: Mapping[int, Passage]) -> set[str]:
    """The years ("in 2021") of the cited sentences that state one of ``figures``, and of the
    sentence before each."""
    texts = [numbers[n].text for n in txt.cited_numbers(sentence) if n in numbers]
    return {y for text in texts for before, _, b in _stating(figures, text) for y in _IN_A_YEAR.findall(text[before:b])}


def _stating(figures: Sequence[Number], text: str) -> list[tuple[int, int, int]]:
    """The sentences of ``text`` that state one of ``figures``: where the one before starts, and
    where each starts and ends."""
    spans = txt.sentence_spans(text)
    return [(spans[i - 1][0] if i else a, a, b) for i, (a, b) in enumerate(spans)
            if any(f.matches(m) for f in figures for m in counts_in(text[a:b]))]


def undated(figures: Sequence[Number], asked: set[str], sentence: str, numbers: Mapping[int, Passage]) -> str:
    """Why figures said of no year answer a question about ``asked``, or "": "What was the turnout
    in the 2019 election?" is not answered by "Turnout was 61.4 percent" from a report on this
    year's count. A cited passage that states the figure must write the asked year (a season's
    "2022-23" writes 2023), or its document's head must (a title, a dateline). A figure its own
    sentence dates otherwise ("last year", "this season") is left to the rest of the checks: that
    may be the asked year."""
    stating = [(p, own) for p in (numbers[n] for n in txt.cited_numbers(sentence) if n in numbers)
               for own in [_stating(figures, p.text)] if own]
    if not stating:  # its source writes the figure otherwise ("twelve"): the claim check decides
        return ""
    for p, own in stating:
        if any(_RELATIVE_YEAR.search(p.text[a:b]) for _, a, b in own):
            return ""
        if any(_writes_year(part, year) for part in (p.text, _head_lines(p)) for year in asked):
            return ""
    return f"no cited source says its figure is for {min(asked)}"


def _writes_year(text: str, year: str) -> bool:
    """Whether ``text`` writes ``year``, alone or as the end of a span ("2022-23", "2022/23")."""
    return year in text or bool(re.search(rf"\b{year[:2]}\d\d\s*[-–/]\s*{year[2:]}\b", text))


def _head_lines(p: Passage) -> str:
    """The head of ``p``'s document: shown with it, or its first lines where it opens the document."""
    if p.title or p.head or p.start:
        return f"{p.title} {p.head}"
    return " ".join(p.text[a:b] for a, b in txt.sentence_spans(p.text)[:3])


_IN_A_YEAR = re.compile(rf"\b(?:in|during|for|by)\s+(?:{txt.MONTH}\s+)?({txt.YEAR.pattern})", re.IGNORECASE)
# A year a question dates what it asks by: "in 2022", "for March 2022", "the 2019 election".
_ASKED_YEAR = re.compile(rf"{_IN_A_YEAR.pattern}|\bthe\s+({txt.YEAR.pattern})\s+[a-z]", re.IGNORECASE)
# "Norrow Freight, founded in 1998, …": the year dates the clause's event, not what is asked.
_DATES_A_CLAUSE = re.compile(
    r"(?:,|\b(?:which|that|who)(?:\s+(?:was|were|is|are|has\s+been|had\s+been))?)\s+[a-z]+ed\s*$")
_RELATIVE_YEAR = re.compile(r"\b(?:last|this|next|previous|past|current|coming)\s+(?:year|season|financial\s+year)\b",
                            re.IGNORECASE)


def _year(n: Number) -> bool:
    return (n.scale == 1 and not n.decimals and not n.unit and 1000 <= n.value <= 2100
            and not re.search(r"%|\d,\d", n.text))


def _stated_of(n: Number, asked: Sequence[tuple[str, ...]], proper: frozenset[str], text: str) -> bool:
    """Whether a sentence of ``text`` states ``n`` of one of the ``asked`` names: in the clause that
    holds the number when the sentence sets figures side by side and that clause names its own
    subject ("BlueWave runs 12 ferries, while Harbor Lights runs 9" states 12 of BlueWave only);
    else in the whole sentence ("…, which runs 12", "its 12", "BlueWave grew, and in Porto 12
    ferries…"); and in the sentence before when the sentence opens with a pronoun or "The…"."""
    said = txt.sentences(text)
    for i, sentence in enumerate(said):
        parts = clauses(sentence)
        holding = [(joint, c) for joint, c in parts
                   if any(n.matches(parse_number(m.group())) for m in ANY_NUMBER.finditer(c))]
        if not holding:
            continue
        # Clauses read apart only where the sentence sets figures side by side, each in its clause.
        figures = sum(1 for _, c in parts if counts_in(c))
        own = [c for joint, c in holding if names(c, proper) and not REFERS.search(joint + c)
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
    if NEGATION.search(body) or CLAIM_NUMBER.search(body):
        return False
    asked = set(txt.terms(question)) | {w.lower() for w in txt.words(question)}
    own = set(txt.terms(body)) | {w.lower() for i, w in enumerate(txt.words(body)) if i and w[:1].isupper()}
    return bool(own) and own <= asked


def names_itself(sentence: str, question: str) -> bool:
    """Whether ``sentence`` says that what the question names was done by itself: "Who founded
    Monica?" answered "Monica was founded by China's startup Monica [1]". The phrase after "by"
    names the one who did it, by the name it ends on ("by the Chinese startup Monica"); a phrase
    that ends on another name ("by Monica's founder Xiao Hong", "Dell was founded by Michael
    Dell") gives someone else."""
    body = txt.strip_citations(sentence)
    agent = _AGENT.search(body)
    if not agent:
        return False
    # The whole name the phrase ends on: "by Henry Ford" for "Ford Motor Company" names a person.
    name = re.search(r"(?:[A-Z][\w\-]*\s+)*$", body[:agent.start(1)]).group() + agent.group(1)
    said = rf"(?<![\w\-]){re.escape(name)}(?![\w\-])"
    return bool(re.search(said, body[:agent.start()]) and re.search(said, question))


# A passive's agent that ends on a name: "was founded by China's startup Monica", up to the end of
# its phrase ("… by Monica and …", "… by Monica, which …", "… by Monica in 2022").
_AGENT = re.compile(r"\b(?:is|was|are|were|has been|have been|had been)\s+(?:\w+ly\s+)?\w+\s+by\s+"
                    r"(?:[\w’'\-]+\s+){0,4}?([A-Z][\w\-]*)(?=\s+(?:and|or|who|which|that|in|on|at|with|for|as)\b|"
                    r"\s*[,;.:)]|\s*$)")


# Sales may be counted as well as summed ("What were its ticket sales?" "It sold 12,000 tickets").
_SALES = re.compile(r"\bsales\b", re.IGNORECASE)


def another_kind(sentence: str, question: str, proper: frozenset[str], subject: frozenset[str],
                 numbers: Mapping[int, Passage]) -> str:
    """Why ``sentence`` gives another kind of value than ``question`` asks for (a duration for a
    price, a country for a city, a sum of money for how long), or a person another role than the
    sources give them (``role_elsewhere``, ``asked_role_elsewhere``), or a role's body or another
    year for what the question asks (``holder_unnamed``, ``another_year``), or answers a yes/no
    question about another name than it asks about (``of_another``), or ""."""
    elsewhere = (role_elsewhere(sentence, numbers, proper) or asked_role_elsewhere(sentence, question, numbers, proper)
                 or role_of_another(sentence, question, proper) or holder_unnamed(sentence, question, proper)
                 or role_not_beside(sentence, question, numbers, proper)
                 or role_after_another(sentence, question, numbers, proper)
                 or sum_of_another_kind(sentence, question, numbers) or another_year(sentence, question, numbers))
    if elsewhere:
        return elsewhere
    if txt.asks_yes_no(question) and not txt.offers_choice(question):
        elsewhere = of_another(sentence, question, proper, numbers)
        if elsewhere:
            return elsewhere
    place = txt.asked_place_below_country(question)
    money = txt.asks_price(question) or (txt.asks_amount(question) and len(question_parts(question)) == 1
                                         and not txt.asks_count(question) and not _SALES.search(question))
    unpriced = not_money(sentence) if money else ""
    if unpriced:
        return unpriced
    if place:
        return a_country_for(place, sentence, proper, subject)
    if txt.asks_count(question) and len(question_parts(question)) == 1:
        return not_a_count(sentence, question)
    return not_a_span(sentence) if txt.asks_how_long(question) else ""


def of_another(sentence: str, question: str, proper: frozenset[str], numbers: Mapping[int, Passage]) -> str:
    """Why ``sentence`` does not answer a yes/no question about the names it gives: it speaks of
    one of them and not of another, nor of anything named before, and its cited passages do not
    name that other either ("Has the U.S. imposed a ban on QwQ-32B?" answered "The U.S. has
    imposed export controls on chips [2]", from a passage that never names QwQ-32B); "" otherwise.
    "Yes [1]" and "Yes, it was [1]" leave the names to the question, and "Alibaba's shares rose
    8% [1]" answers "Did Alibaba's shares rise after the QwQ-32B announcement?" from a passage
    that names the announcement."""
    body = txt.strip_citations(sentence)
    if REFERS.search(body):
        return ""
    terms = sentence_terms(body)
    cited = frozenset().union(*(sentence_terms(numbers[n].text) for n in refs_of(sentence, numbers)))
    asked = [(written, name) for written, name in names(question, proper) if not txt.calendar_word(written)]
    missing = [written for written, name in asked if not set(name) <= terms | cited]
    if missing and len(missing) < len(asked):
        return f"'{missing[0]}', which the question asks about, is not in it"
    return ""


def not_given(question: str, stated: Sequence[str], proper: frozenset[str],
              subject: frozenset[str]) -> list[tuple[str, str]]:
    """The sentences of ``stated`` to remove, with why, because none gives the kind of thing
    ``question`` asks for: an amount ("What was its revenue?" answered "revenue was robust"), a
    name ("Which corporation was the first…?" answered "Some of the country's largest
    corporations…"), a rate ("What interest rate is it paying on its loan?" answered "…a
    short-term loan of €4m") or a time ("When will the extension open?" answered "…is scheduled
    to open later"). A question of several parts is read part by part: a part that gets nothing
    of its kind takes away the sentences that speak only to it, and the others stand ("Which firm
    does she work for, and how much…?" keeps the firm when no amount is given), so that the
    answer can say which part the sources do not cover."""
    parts = question_parts(question)
    if len(parts) < 2:
        why = (_kind_not_given(question, stated, proper, subject) or _time_not_given(question, stated)
               or _place_not_given(question, stated, proper, subject))
        return [(s, why) for s in stated] if why else []
    reasons = [_kind_not_given(part, stated, proper, subject) for part in parts]
    if all(reasons):
        return [(s, reasons[0]) for s in stated]
    own = own_terms(parts)
    out = []
    for s in stated:
        said = set(txt.terms(txt.strip_citations(s)))
        spoken = [why for why, terms in zip(reasons, own) if terms & said]
        if spoken and all(spoken):
            out.append((s, spoken[0]))
    return out


def own_terms(parts: Sequence[str]) -> list[set[str]]:
    """Each part's own terms, that no other part of the question has: what a sentence that speaks
    to that part says."""
    return [set(txt.terms(p)) - {t for j, q in enumerate(parts) if j != i for t in txt.terms(q)}
            for i, p in enumerate(parts)]


def _kind_not_given(question: str, stated: Sequence[str], proper: frozenset[str], subject: frozenset[str]) -> str:
    """Why no sentence of ``stated`` gives the amount or the name ``question`` asks for, or ""."""
    if txt.asks_amount(question) and not any(gives_amount(s, question, txt.asks_figure(question)) for s in stated):
        return "it gives no amount, which the question asks for"
    countries = txt.asks_country(question)
    if txt.asks_name(question) and not any(_gives_name(s, proper, subject, countries) for s in stated):
        return "it gives no name, which the question asks for"
    if txt.asks_percentage(question) and not any(txt.states_percentage(txt.strip_citations(s)) for s in stated):
        return "it gives no percentage, which the question asks for"
    if (txt.asks_number_first(question) and not txt.asks_when(question) and not txt.asks_how_long(question)
            and not _CALENDAR_UNIT.search(question) and stated and all(_only_dates(s) for s in stated)):
        return "it gives a date, not the number the question asks for"
    if (txt.asks_number_first(question) and not txt.asks_how_long(question)
            and not any(_gives_number(s) for s in stated)):
        return "it gives no number, which the question asks for"
    return ""


# A quantity said without digits: "dozens of people", "a few kilometres", "no one", "most of them".
_QUANTITY = re.compile(r"\b(?:dozens?|scores|hundreds|thousands|millions|billions|several|few|many|none|"
                       r"no\s+one|nobody|nothing|zero|all|most|majority|minority|quarter|third|free)\b", re.IGNORECASE)


def _gives_number(sentence: str) -> bool:
    """Whether ``sentence`` could answer how many, how much or how far: a number, in digits or
    words, a quantity ("dozens"), or a comparison ("far less")."""
    plain = txt.strip_citations(sentence)
    return bool(CLAIM_NUMBER.search(plain) or spelled_numbers(plain) or _COMPARES.search(plain)
                or _QUANTITY.search(plain))


# "How many days…", "how many weeks…": dates may answer a count of them.
_CALENDAR_UNIT = re.compile(r"\b(?:days?|weeks?|months?|years?|weekends?|nights?)\b", re.IGNORECASE)


# A year as a time, after its month or a preposition ("in March 2022", "since 2019"), not a count.
_A_YEAR = re.compile(rf"(?:\b{txt.MONTH}\s+|\b(?:in|since|until|till|before|after|during)\s+)"
                     rf"{txt.YEAR.pattern}(?!\s+\w)")


def _only_dates(sentence: str) -> bool:
    """Whether every number ``sentence`` gives is part of a date: the day of one ("…on 16
    September") or a year ("…failed in March 2022" does not say how many shops)."""
    from .conflicts import values

    plain = txt.strip_citations(sentence)
    bare = txt.DATE_AND_YEAR.sub(" ", plain)
    dates = [v.text for v in values(bare) if v.kind == "date"]
    for date in dates:
        bare = bare.replace(date, " ")
    bare = _A_YEAR.sub(" ", bare)
    return bare != plain and not _gives_number(bare)  # "Forty staff left in 2022" still counts


def _time_not_given(question: str, stated: Sequence[str]) -> str:
    """Why no sentence of ``stated`` gives the rate or the time a one-part ``question`` asks for, or ""."""
    if txt.asks_rate(question) and not any(txt.states_rate(txt.strip_citations(s)) for s in stated):
        return "it gives no rate, which the question asks for"
    if txt.asks_when(question) and not any(txt.says_when(txt.strip_citations(s)) for s in stated):
        return "it does not say when, which the question asks"
    return ""


def _place_not_given(question: str, stated: Sequence[str], proper: frozenset[str], subject: frozenset[str]) -> str:
    """Why no sentence of ``stated`` says where, for a one-part ``question`` that opens by asking
    where, or "": "Where did Jack Ma reappear alongside Xi Jinping?" is not answered by "Jack Ma
    reappeared alongside Xi Jinping and other business leaders", which adds no name and no place
    ("in Hangzhou", "at a rented room") the question does not give."""
    if not txt.asks_where(question):
        return ""
    for sentence in stated:
        plain = txt.strip_citations(sentence)
        places = [m.group(1) for m in _PLACED.finditer(plain)]
        if _gives_name(sentence, proper, subject, countries=True) or any(
                not set(txt.terms(p)) <= subject for p in places):
            return ""
    return "it does not say where, which the question asks"


# A place said in words: a preposition of place and the words after it ("at a rented room",
# "in the capital", "from abroad").
_PLACED = re.compile(r"\b(?:in|at|on|near|inside|outside|from|into|onto|off|across|beside|behind|above|below|under|"
                     r"within|throughout|around|abroad|overseas|locally|nearby)\b((?:\s+[\w\-’']+){0,3})",
                     re.IGNORECASE)


def _gives_name(sentence: str, proper: frozenset[str], subject: frozenset[str], countries: bool = False) -> bool:
    """Whether ``sentence`` names something the question does not. Its first word counts when it
    is capitalised and no stopword: the sources may write a name only at a sentence's start
    ("Bernstein analysts noted…"), where ``names`` cannot tell it from any other word. A
    country's adjective ("the Chinese company Monica") names no founder or company, unless the
    question asks for a country (``countries``). A title written as letters ("CEO") names no one."""
    def named(word: str) -> bool:
        return (countries or not txt.nationality(word)) and word.lower() not in _TITLE_LETTERS

    if any(named(written) for written, _ in added_names(sentence, proper, subject)):
        return True
    first = txt.words(txt.strip_citations(sentence))[:1]
    return bool(first) and first[0][:1].isupper() and first[0].lower() not in txt.STOPWORDS and not set(
        txt.terms(first[0])) <= subject and named(first[0])


def said_apart(sentence: str, question: str, proper: frozenset[str], numbers: Mapping[int, Passage]) -> str:
    """Why a sentence that answers who holds a role at a body with a name alone ("Miriam Oskarsson
    [1]." for "Who is the chief executive of Brightwater Switchgear?") does not answer it: no
    window of a shown passage holds the name with the body (or refers back to it, as the claim
    check allows for the question's own names). The question states the role, so the answer
    need not (``asked_role_elsewhere``), but a source must still give it at that body: "Halvik
    has reacted quickly… Chief executive Miriam Oskarsson has been visible… whether the
    supplier, Brightwater Switchgear, can explain…" gives her none at Brightwater. "" when a
    window does, when the sentence gives a name of the question (the claim check reads it
    then), or says more than its names and the question's words; only a body a shown passage
    names is asked for (the sources may call it otherwise)."""
    bodies = role_bodies(question)
    if not bodies or not txt.asks_who_where_why(question) or len(question_parts(question)) > 1:
        return ""
    subject = question_terms(question)
    found = claims(sentence, proper, subject)
    added = [t for c in found for _, t in c.names if not set(t) <= subject and not txt.calendar_word(" ".join(t))]
    if not added or any(set(t) <= subject for c in found for _, t in c.names) or any(c.words - subject for c in found):
        return ""
    texts = tuple(p.text for p in numbers.values())
    shown = frozenset().union(*(sentence_terms(t) for t in texts))
    asked = [t for body in bodies for _, t in names(body, frozenset(body.split())) if set(t) <= shown]
    if not asked:
        return ""
    # The body as the sources also write it: by a short name they use or define for it.
    asked = [(t, short_form(t, texts, proper)) for t in asked]
    introduced, named = appositions(texts), proper_terms(proper)
    for n in numbers:
        for w in in_context(n, numbers, named, sentence_terms(sentence) | subject):
            if all(w.holds_name(t) for t in added) and all(
                    w.holds_name(t, True, introduced) or w.holds_name(s, True, introduced) for t, s in asked):
                return ""
    who = next(w for c in found for w, t in c.names if t in added)
    return f"no source gives '{who}' that role at {bodies[0]}"


# Words that put the verb after them in the possible, the planned or the wished for: "it could
# cut 400 jobs", "it might be forced to close", "the law allows us to impose a fine", "it plans
# to open", "it is considering closing". A verb of wish or plan does so through "to" or right
# before the verb: "the proposed commitments and received 640 submissions" did receive them.
# Modals in lower case only: "In May Korva opened 30 stores" is a month. ("said it would offer"
# reports a commitment, and is not among them.)
_HEDGE = re.compile(r"\b(?:could|may|might|can)(?:\W+(?!and\b|or\b|but\b)\w+){0,3}?\W+$")
_PLANNED = re.compile(r"\b(?:allows?|allowed|permits?|plans?|planned|intends?|intended|considers?|considering|"
                      r"threatens?|threatened|proposes?|proposed|seeks?|wants?|hopes?)"
                      r"(?:(?:\s+\w+){0,2}?\s+to|\s+on)?\s+$", re.IGNORECASE)


def hedged(sentence: str, numbers: Mapping[int, Passage]) -> str:
    """Why ``sentence`` states as done what its cited sources give only as possible or planned:
    "The Commission imposed a fine of up to 10 per cent [1]" from "The law allows us to impose a
    fine of up to 10 per cent". Only a verb the sentence gives in the past ("-ed") and that every
    cited sentence holding the sentence's numbers writes after "could", "may", "allows … to",
    "plans to"…; "" otherwise."""
    plain = txt.strip_citations(sentence)
    counts = counts_in(plain)
    done = [w for w in txt.words(plain) if len(w) > 4 and w.lower().endswith("ed") and w[:1].islower()]
    if not counts or not done:
        return ""
    said = [s for n in refs_of(sentence, numbers) for s in txt.sentences(numbers[n].text)
            if any(n_.matches(m) for n_ in counts for m in counts_in(s))]
    for word in done:
        stem = txt.terms(word)[:1]
        if not stem:
            continue
        places = [(s, m.start()) for s in said for m in re.finditer(r"[A-Za-z]+", s)
                  if txt.terms(m.group())[:1] == stem]
        if places and all(_HEDGE.search(s[:start]) or _PLANNED.search(s[:start]) for s, start in places):
            return f"its source gives '{word}' only as possible or planned"
    return ""


# Units that measure rather than count: "71 centimetres" says how deep, not how many. Each its
# spellings, so that "40 km" answers "how many kilometres".
TIME_UNITS = frozenset(txt.terms("years months weeks days hours minutes seconds"))
_UNITS_OF_MEASURE = tuple(frozenset(txt.terms(spellings)) for spellings in (
    "metres meters", "centimetres centimeters cm", "millimetres millimeters mm", "kilometres kilometers km",
    "miles", "feet foot ft", "inches", "yards", "hectares", "acres", "litres liters", "gallons",
    "tonnes tons", "kilograms kilos kg", "grams", "degrees")) + tuple(
    # A duration measures time, not how many of the thing asked about ("every 15 minutes").
    frozenset({unit}) for unit in sorted(TIME_UNITS))


def not_a_count(sentence: str, question: str = "") -> str:
    """Why ``sentence`` does not say how many: every number it gives is a percentage, a sum of
    money ("a population of approximately 70% of affected customers") or a measure the question
    does not ask in ("fell from 118 centimetres to 71 centimetres" for "How many people came?");
    "" otherwise. A count in words ("over the next three years") is a count."""
    plain = txt.strip_citations(sentence)
    asked = frozenset(txt.terms(question))
    first = _only_shares_or_sums(plain, frozenset().union(*(u for u in _UNITS_OF_MEASURE if not u & asked)))
    if first and not txt.SPELLED_NUMBER.search(plain):
        return f"'{first}' is not a count, which the question asks for"
    return ""


def _only_shares_or_sums(plain: str, measures: frozenset[str] = frozenset()) -> str:
    """The first number of ``plain`` when it gives numbers and every one is a percentage, a sum
    of money, or in one of the units ``measures``, as written; "" otherwise."""
    found = list(CLAIM_NUMBER.finditer(plain))
    if found and all(_percentage(plain, m) or _money(plain, m) or unit_after(plain, m.end()) in measures
                     or (measures and _CLOCK.match(plain, m.end())) for m in found):
        return found[0].group().strip()
    return ""


_CLOCK = re.compile(r"\s*(?:[ap]\.?m\b\.?|:\d\d\b)", re.IGNORECASE)  # a time of day ("6 a.m.", "06:00"), no count


def not_a_span(sentence: str) -> str:
    """Why ``sentence`` does not say how long: every number it gives is a sum of money or a
    percentage ("spent 380 billion yuan" for "How long did it spend training…?"); "" otherwise.
    A sentence without a number ("a few weeks") may well answer it."""
    first = _only_shares_or_sums(txt.strip_citations(sentence))
    return f"'{first}' is not a span of time or a length, which the question asks for" if first else ""


def _money(sentence: str, m: re.Match) -> bool:
    """Whether the number ``m`` of ``sentence`` is a sum of money ("380 billion yuan", "$52.4 billion")."""
    return unit_after(sentence, m.end()) in CURRENCIES or bool(
        CURRENCY_SIGN.search(sentence[max(0, m.start() - 2):m.start()]))


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
    some other unit ("costs 55 minutes") and no sum of money; "" when it does not (a number with no
    unit is let be, and so is a span beside a sum: "€60 for more than 12 hours")."""
    found = list(CLAIM_NUMBER.finditer(sentence))
    if any(_money(sentence, m) for m in found):
        return ""
    for m in found:
        unit = unit_after(sentence, m.end())
        if unit and not _percentage(sentence, m):
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


def counts_in(clause: str) -> list[Number]:
    """The numbers of ``clause`` that may count or measure something: not years, not days of a date
    ("May 4", "4 May")."""
    out = []
    for m in CLAIM_NUMBER.finditer(clause):
        before, after = clause[:m.start()].split()[-1:], clause[m.end():].split()[:1]
        n = parse_number(m.group())
        if not _year(n) and not any(txt.calendar_word(w.strip(".,;:")) for w in before + after):
            out.append(n)
    return out
