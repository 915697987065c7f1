"""`assistant eval`: score retrieval and answers on a JSONL file of questions.

Each line: {"id", "question", "answerable", "answer_all_of": [[alternatives], ...], "sources"}.
An answer is right when, for every group, it contains one of the group's strings (any case).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Sequence, TextIO

from .errors import AssistantError


def load_questions(path: Path) -> list[dict[str, Any]]:
    """Questions from a JSONL file; a bad line is reported with its number."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise AssistantError(f"{path}: cannot read ({exc.strerror})") from exc
    questions = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            q = json.loads(line)
            q["question"], q.setdefault("answerable", True), q.setdefault("answer_all_of", [])
        except (ValueError, KeyError, TypeError) as exc:
            raise AssistantError(f"{path}:{number}: not a question object ({exc})") from exc
        q.setdefault("id", f"line{number}")
        q.setdefault("sources", [])
        questions.append(q)
    return questions


def contains_all(text: str, groups: Sequence[Sequence[str]]) -> bool:
    """True when ``text`` holds one string of every group, case-insensitively."""
    low = text.lower()
    return all(any(alt.lower() in low for alt in group) for group in groups)


def answer_rank(passages: Sequence[Any], groups: Sequence[Sequence[str]]) -> int | None:
    """How many of the passages, best first, it takes to hold the answer (one string of every
    group) in what the model reads of them; None if all of them do not."""
    from .selection import excerpt

    read = ""
    for n, p in enumerate(passages, 1):
        read += " " + excerpt(p)
        if contains_all(read, groups):
            return n
    return None


def unsupported_sentences(answer_text: str, passages: Sequence[Any]) -> list[str]:
    """Answer sentences with a number, year or capitalised name that none of the shown passages (nor
    the document heads shown with them) has.

    A deliberately simple rule, read as written (``text.unwritten_value``): a sentence's first
    word is skipped (it is capitalised anyway), and a sentence that says the sources lack
    something is not a claim. The grounding holds each word of a name to the same test
    (``grounding.judge``); this stricter count, a name's words run together as written, also
    flags a title joined to a name ("Finance Minister Ola Brekke") that its source writes apart."""
    from . import text as txt
    from .prompting import is_refusal

    shown = txt.shown_text(passages)
    return [s for s in txt.sentences(txt.strip_citations(answer_text))
            if not is_refusal(s) and txt.unwritten_value(s, shown)]


def _grade(q: dict[str, Any], a: Any) -> dict[str, Any]:
    """Right, refused, cited gold, and the independent count of unsupported sentences, for one answer."""
    row: dict[str, Any] = {"answer": a.text, "refused": a.refused,
                           "unsupported": unsupported_sentences(a.text, a.passages),
                           "removed": [[r.sentence, r.reason] for r in a.removed],
                           "conflicts": [c.value for c in a.conflicts]}
    if not q["answerable"]:
        row["right"] = a.refused
        return row
    gold = {Path(s).name for s in q["sources"]}
    cited = {Path(c.source).name for c in a.citations}
    row["cited_gold"] = bool(cited & gold)
    row["right"] = not a.refused and contains_all(a.text, q["answer_all_of"])
    if q.get("kind") == "disagreement":  # every value, and at least two different sources cited
        row["right"] = row["right"] and len(cited) >= 2
    return row


def _ask(assistant, q: dict[str, Any]) -> Any:
    """Ask ``q``; a follow-up first asks its history questions in the same conversation, keeping
    the assistant's own answers, as a user's chat would."""
    history: list[tuple[str, str]] = []
    for earlier in q.get("history") or []:
        history.append((earlier, assistant.ask(earlier, history=list(history)).text))
    return assistant.ask(q["question"], history=history)


def evaluate(assistant, questions: list[dict[str, Any]], k: int | None = None, out: TextIO = sys.stdout,
             answer: bool = True) -> dict[str, Any]:
    """Run every question; print a line each, a summary per kind and overall; return the figures.

    Retrieval is scored on the question alone, except for a follow-up, whose answer text must be
    among the passages shown to the model (it is retrieved with the conversation)."""
    k = k or assistant.settings.top_k
    rows = []
    for q in questions:
        row: dict[str, Any] = {"id": q["id"], "kind": q.get("kind", "fact" if q["answerable"] else "unanswerable"),
                               "answerable": q["answerable"]}
        a = None
        if answer:
            started = time.perf_counter()
            a = _ask(assistant, q)
            row["seconds"] = round(time.perf_counter() - started, 2)
            row.update(_grade(q, a))
        if q["answerable"]:
            passages = a.passages if (a is not None and q.get("history")) else assistant.retrieve(q["question"], k)
            row["rank"] = answer_rank(passages, q["answer_all_of"])
            row["retrieved"] = row["rank"] is not None and row["rank"] <= k
        rows.append(row)
        _print_row(row, q, out)
    summary = _summary(rows, k)
    for line in summary["kinds_lines"]:
        out.write(line + "\n")
    out.write(summary["line"] + "\n")
    return {"k": k, "rows": rows, "summary": summary}


def _print_row(row: dict[str, Any], q: dict[str, Any], out: TextIO) -> None:
    def mark(value: Any) -> str:
        return "-" if value is None else ("yes" if value else "NO ")

    parts = [f"{row['id']:>5} {row['kind'][:12]:<12}"]
    if q["answerable"]:
        parts.append(f"in top-k {mark(row['retrieved'])} (rank {row['rank'] or '-'})")
    else:
        parts.append("unanswerable        ")
    if "answer" in row:
        parts.append(f"right {mark(row['right'])}")
        parts.append(f"cites gold {mark(row.get('cited_gold'))}" if q["answerable"] else f"refused {mark(row['refused'])}")
        if row["unsupported"]:
            parts.append(f"UNSUPPORTED {len(row['unsupported'])}")
        parts.append(f"{row['seconds']:5.1f}s  {row['answer'][:90]!r}")
    out.write("  ".join(parts) + "\n")
    out.flush()


def _counts(rows: list[dict[str, Any]]) -> dict[str, Any]:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    s: dict[str, Any] = {"questions": len(rows), "answerable": len(answerable),
                         "retrieved": sum(bool(r.get("retrieved")) for r in answerable),
                         "top1": sum(r.get("rank") == 1 for r in answerable)}
    if rows and "answer" in rows[0]:
        s.update({
            "right": sum(r["right"] for r in rows),
            "unanswerable": len(unanswerable),
            "refused_unanswerable": sum(r["refused"] for r in unanswerable),
            "wrongly_refused": sum(r["refused"] for r in answerable),
            "cited_gold": sum(bool(r.get("cited_gold")) for r in answerable),
            "unsupported_sentences": sum(len(r["unsupported"]) for r in rows),
            "removed_sentences": sum(len(r["removed"]) for r in rows),
        })
    return s


def _line(s: dict[str, Any], k: int) -> str:
    line = f"answer in top-{k} {s['retrieved']}/{s['answerable']} (top-1 {s['top1']})"
    if "right" in s:
        line += (f", right {s['right']}/{s['questions']}, unanswerable refused {s['refused_unanswerable']}/"
                 f"{s['unanswerable']}, answerable refused {s['wrongly_refused']}/{s['answerable']}, "
                 f"cites a gold source {s['cited_gold']}/{s['answerable']}, unsupported sentences "
                 f"{s['unsupported_sentences']} (removed by the check {s['removed_sentences']})")
    return line


def _summary(rows: list[dict[str, Any]], k: int) -> dict[str, Any]:
    s = _counts(rows)
    kinds = {kind: _counts([r for r in rows if r["kind"] == kind]) for kind in dict.fromkeys(r["kind"] for r in rows)}
    s["kinds"] = kinds
    s["kinds_lines"] = [f"  {kind:<13} {_line(c, k)}" for kind, c in kinds.items()] if len(kinds) > 1 else []
    s["line"] = "summary: " + _line(s, k)
    return s
