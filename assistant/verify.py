"""Stage 6c: the loaded model as a second judge of the sentences the lexical check kept.

The claim check in ``grounding`` reads words, so it passes a sentence whose names and values
all stand in one window of the cited passage even when the passage relates them differently
("X is the CEO of Y" read as "Y's CEO is X"). Here the model itself is asked, for each kept
sentence, whether the passage it cites states it, and the answer is read from the next
token's probabilities of "yes" and "no": nothing is generated, so one check costs one prompt
evaluation and no sampling.

The prompt is a plain entailment question, the passage first and then the statement, in a
fresh conversation: neither the question asked nor the answering conversation is shown, as a
model asked about its own answer, or about an answer to a question, leans to "yes". Sentences
citing the same passage share its evaluated tokens.

A sentence the model judges its cited passage does not state (P(yes) under 0.5: it would rather
say no) is asked again of each other shown passage, and cites the first that states it, as the
lexical check re-points citations; none: it is removed like any other unsupported sentence.
When nothing is left, the answer is the refusal. A model that offers no yes/no check (an
OpenAI-compatible server) is not verified, with one log line.

By default (``verify_claims = "unstated"``) only the sentences the lexical check cannot tell
apart are judged: those that use a word of the question which their cited passages lack (where
they name what the sentence adds to the question: a sentence, or two adjacent). A
small model fills the question's relation with a name from the passage ("Who built the
ferry?" answered "BlueWave built the ferry [1]" from a passage that names both and says
nothing of building); the names stand together, so the words pass, and only a reader of the
claim can see that "built" is not stated. The same test also passes a paraphrase ("Who started
it?" answered "X started it", the passage saying "founded"), which the judge keeps. It also
judges a sentence whose claim its passage says of another name in the sentence beside
(``grounding.said_of_another``: "X has struggled…" from "X carried… Even Y, which has
struggled…"). When such a sentence is judged not stated and the question asks for that name
("Which operator has struggled…?"), the answer gives the claim of Y if the judge, reading the two
sentences that hold it, finds it stated of Y, and more than of X. The sentence as the model wrote
it is recorded as removed. A sentence in the passage's own words, about the names it stands
with, costs nothing.

The sentences the lexical check could not decide (``Grounded.doubtful``: the source may call
the question's subject by another name, or word in its own terms what the sentence says in the
question's) are judged in every mode, on the source that check
found, and are removed when the model says no or no judge can be asked.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import replace
from typing import Mapping, Optional, Sequence

from . import text as txt
from .claims import added_names, passage_windows, proper_words, question_terms, refs_of, sentence_terms
from .grounding import Grounded, Said, cover_notes, nothing_supported, said_of_another
from .types import Passage, Removed

log = logging.getLogger("assistant.verify")
THRESHOLD = 0.5  # under it the model would rather say "no" than "yes"
# Sentences the checks themselves add (conflicts.note, grounding.ground): nothing the model claims.
NOTES = ("The sources differ:", "The sources do not cover this part of the question")
_warned: set[str] = set()


def statement_prompt(claim: str, passages: Sequence[Passage]) -> list[dict[str, str]]:
    """Does the text state the claim? The text first, so that claims on one passage share its tokens."""
    text = "\n\n".join(f"{p.head}\n{p.text}" if p.head else p.text for p in passages)
    return [{"role": "user", "content": f"Text: {text}\n\nStatement: {claim}\n\n"
                                        "Is the statement true according to the text? Answer yes or no."}]


def checkable(sentence: str) -> bool:
    """A sentence that states something: not a refusal and not a note the checks added."""
    from .prompting import is_refusal

    plain = txt.strip_citations(sentence).strip()
    return bool(plain.strip(" .")) and not plain.startswith(NOTES) and not is_refusal(plain)


def supporting(llm, sentence: str, numbers: Mapping[int, Passage], threshold: float,
               needs: Sequence[str] = (), move: bool = True) -> Optional[list[int]]:
    """The sources to cite for ``sentence``: its own when the model judges they state it, else
    (``move``) the first other shown source that does (among those holding every term in
    ``needs``); None when none does."""
    claim = claim_of(sentence)
    cited = refs_of(sentence, numbers)
    if llm.p_yes(statement_prompt(claim, [numbers[n] for n in cited])) >= threshold:
        return cited
    for n in numbers if move else ():
        if n in cited or not set(needs) <= sentence_terms(numbers[n].text):
            continue
        if llm.p_yes(statement_prompt(claim, [numbers[n]])) >= threshold:
            return [n]
    return None


def prefers(llm, renamed: str, sentence: str, said: Said, numbers: Mapping[int, Passage],
            threshold: float) -> bool:
    """Whether the model judges the two sentences that hold the claim (``said.window``) state
    ``renamed``, and more than ``sentence``: the two differ only in the name the claim is said of.
    The judge reads those two sentences alone, the evidence the rename rests on; a renamed claim
    the model would rather deny is not kept, however much worse the name as written fares."""
    source = replace(numbers[refs_of(sentence, numbers)[0]], text=said.window)
    yes = llm.p_yes(statement_prompt(claim_of(renamed), [source]))
    return yes >= threshold and yes > llm.p_yes(statement_prompt(claim_of(sentence), [source]))


def claim_of(sentence: str) -> str:
    """The sentence as a claim, its markers taken out ("Verde [1]." becomes "Verde.")."""
    return re.sub(r"\s+([.!?,;:])", r"\1", txt.strip_citations(sentence)).strip()


def unstated(question: str, sentence: str, numbers: Mapping[int, Passage]) -> list[str]:
    """The words ``sentence`` takes from ``question`` (numbers aside) that its cited passages do
    not hold where they name what the sentence adds: the question's relation restated rather than
    found in the sources. "Who runs BlueWave?" answered "BlueWave is run by Baixa Capital [1]"
    from "BlueWave runs 12 ferries. … Analysts at Baixa Capital said…": "runs" is in the passage,
    but not beside Baixa Capital, so the judge is asked."""
    sources = _where_named(sentence, question, [numbers[n] for n in refs_of(sentence, numbers)], numbers)
    asked = set(txt.terms(question))
    return [t for t in dict.fromkeys(txt.terms(txt.strip_citations(sentence)))
            if t in asked and t not in sources and not any(ch.isdigit() for ch in t)]


def _where_named(sentence: str, question: str, cited: Sequence[Passage], numbers: Mapping[int, Passage]
                 ) -> frozenset[str]:
    """The terms of the cited windows (a sentence, or two adjacent) that hold every name
    ``sentence`` gives and the question does not; of the whole cited passages when it gives none,
    or when no one window holds them all (the lexical check decides that case)."""
    whole = frozenset().union(*(sentence_terms(p.text) for p in cited))
    asked = question_terms(question)
    new = [t for _, t in added_names(sentence, proper_words(list(numbers.values()), question), asked)]
    if not new:
        return whole
    held = [w.terms for p in cited for w in passage_windows(p, with_head=False) if all(w.holds_name(t) for t in new)]
    return frozenset().union(*held) if held else whole


def written(sentence: str, terms: Sequence[str]) -> list[str]:
    """The words of ``sentence`` as written whose terms are ``terms``."""
    return list(dict.fromkeys(w for w in txt.words(txt.strip_citations(sentence)) if txt.terms(w)
                              and txt.terms(w)[0] in terms))


def verify(grounded: Grounded, question: str, numbers: Mapping[int, Passage], llm,
           threshold: float = THRESHOLD, only_unstated: bool = False) -> Grounded:
    """``grounded`` less the sentences the model judges no shown source states; a sentence that
    another source states cites that one instead. ``only_unstated``: judge only the sentences
    that use a question word their sources lack (``unstated``)."""
    from .errors import AssistantError

    if grounded.refused:
        return grounded
    kept: list[str] = []
    removed: list[Removed] = []
    doubts = {d.sentence: d.reason for d in grounded.doubtful}
    started, judged = time.perf_counter(), 0
    for sentence in txt.sentences(grounded.text):
        triggered = only_unstated and checkable(sentence)
        lacking = unstated(question, sentence, numbers) if triggered else []
        said = said_of_another(sentence, numbers, question) if triggered and not lacking else Said()
        doubt = doubts.get(sentence, "")
        if not doubt and (not checkable(sentence) or (only_unstated and not lacking and not said.other)):
            kept.append(sentence)
            continue
        if not available(llm):
            return undoubted(grounded, question)
        judged += 1
        try:
            # Judged for a missing question word, it can only move to a source that has the word
            # (so a paraphrase that cites the wrong passage is removed, not moved: a check each
            # for every other passage would be paid mostly by fabrications). A doubtful one, or
            # one judged only for a name said of another, stands or falls with its source.
            found = supporting(llm, sentence, numbers, threshold, lacking, move=not (doubt or said.other))
            renamed = renamed_claim(sentence, question, said.other, said.given) if found is None else ""
            if renamed:
                judged += 1
                renamed = renamed if prefers(llm, renamed, sentence, said, numbers, threshold) else ""
        except AssistantError as exc:  # the answer stays as the lexical check left it
            log.warning("verify_claims: the yes/no check failed (%s); the answer is not verified", exc)
            return undoubted(grounded, question)
        if found is None:
            removed.append(Removed(sentence, _why(sentence, numbers, doubt, lacking, said.other, renamed)))
            kept.extend([renamed] if renamed else [])
        elif found == refs_of(sentence, numbers):
            kept.append(sentence)
        else:
            kept.append(txt.cite(sentence, found[0]))
    if judged:
        log.info("verify_claims: %d sentences judged in %.1f s, %d removed", judged, time.perf_counter() - started,
                 len(removed))
    if kept == txt.sentences(grounded.text):
        return replace(grounded, doubtful=()) if grounded.doubtful else grounded
    return _rebuilt(grounded, question, kept, removed, numbers)


def _why(sentence: str, numbers: Mapping[int, Passage], doubt: str, lacking: Sequence[str], other: str,
         renamed: str) -> str:
    """The reason recorded for a sentence the judge found no source states."""
    refs = " and ".join(f"[{n}]" for n in refs_of(sentence, numbers))
    if doubt:
        return f"{doubt}, and the model judged {refs} does not state it"
    said = ", ".join(repr(w) for w in written(sentence, lacking))
    why = f" (it takes {said} from the question)" if said else f" (it says so of {other!r})" if other else ""
    return f"the model judged {refs} does not state it{why}" + (f"; the answer names {other}" if renamed else "")


def renamed_claim(sentence: str, question: str, other: str, given: str) -> str:
    """``sentence`` with its name ``given`` replaced by ``other``, the name its cited passage says
    the claim of, when the question asks for a name ("Which ferry operator has struggled…?",
    "Who…?"; not "What problems…?" nor "Which year…?") and does not name ``given`` itself; else
    "". A small model answering "which one" often names the corpus's best-known subject; the
    passage beside names the right one. The renamed sentence is only kept if the judge finds it
    stated, and more than the sentence as written (``prefers``). Nothing is renamed where the swap
    could garble the sentence: a name written more than once, one that may be the end of a longer
    name ("Harbor Lights" read as "Lights"), or one followed by an apostrophe."""
    asks_name = re.match(r"\W*(?:who|whose)\b", question, re.IGNORECASE) or (
        re.match(r"\W*which\b", question, re.IGNORECASE) and txt.asked_kind(question)
        and not txt.asks_date(question))
    if not other or not given or not asks_name or re.search(rf"\b{re.escape(given)}\b", question, re.IGNORECASE):
        return ""
    found = list(re.finditer(rf"\b{re.escape(given)}\b", sentence))
    if len(found) != 1 or re.search(r"[A-Z][\w.\-]*\s+$", sentence[:found[0].start()]) or \
            sentence[found[0].end():found[0].end() + 1] in ("'", "’"):
        return ""
    return sentence[:found[0].start()] + other + sentence[found[0].end():]


def undoubted(grounded: Grounded, question: str) -> Grounded:
    """``grounded`` less its doubtful sentences, as the lexical check alone would have left it:
    for when no judge can decide them."""
    if not grounded.doubtful:
        return grounded
    doubts = {d.sentence: d.reason for d in grounded.doubtful}
    sentences = txt.sentences(grounded.text)
    return _rebuilt(grounded, question, [s for s in sentences if s not in doubts],
                    [Removed(s, doubts[s]) for s in sentences if s in doubts])


def available(llm, quiet: bool = False) -> bool:
    """Whether ``llm`` offers the yes/no check; logged once per model when it does not (unless
    ``quiet``: asked before any sentence needs the check)."""
    if callable(getattr(llm, "p_yes", None)):
        return True
    if quiet:
        return False
    name = getattr(llm, "name", type(llm).__name__)
    if name not in _warned:
        _warned.add(name)
        log.info("verify_claims: model %s offers no yes/no check; answers are not verified by it", name)
    return False


def _rebuilt(grounded: Grounded, question: str, kept: list[str], removed: list[Removed],
             numbers: Optional[Mapping[int, Passage]] = None) -> Grounded:
    """The answer from the sentences kept: the refusal (or the sources' differing values) when no
    claim is left, a note for each part of the question no kept sentence covers any more."""
    gone = grounded.removed + tuple(removed)
    claims = [s for s in kept if checkable(s)]
    if not claims:
        return nothing_supported(question, gone, grounded.conflicts)
    text = " ".join(kept)
    for note in cover_notes(question, claims, numbers):
        if note not in text:
            text += " " + note
    return Grounded(text, gone, False, conflicts=grounded.conflicts)

