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


def evaluate(assistant, questions: list[dict[str, Any]], k: int | None = None, out: TextIO = sys.stdout,
             answer: bool = True) -> dict[str, Any]:
    """Run every question; print a line each and a summary; return the figures."""
    k = k or assistant.settings.top_k
    rows = []
    for q in questions:
        passages = assistant.retrieve(q["question"], k)
        row: dict[str, Any] = {"id": q["id"], "answerable": q["answerable"]}
        if q["answerable"]:
            row["retrieved"] = contains_all(" ".join(p.text for p in passages[:k]), q["answer_all_of"])
            row["rank"] = next((i + 1 for i, p in enumerate(passages) if contains_all(p.text, q["answer_all_of"])),
                               None)
        if answer:
            started = time.perf_counter()
            a = assistant.ask(q["question"])
            row["seconds"] = round(time.perf_counter() - started, 2)
            row["answer"] = a.text
            row["refused"] = a.refused
            if q["answerable"]:
                row["right"] = not a.refused and contains_all(a.text, q["answer_all_of"])
                gold = {Path(s).name for s in q["sources"]}
                row["cited_gold"] = any(Path(c.source).name in gold for c in a.citations)
            else:
                row["right"] = a.refused
        rows.append(row)
        _print_row(row, q, out)
    summary = _summary(rows, k)
    out.write(summary["line"] + "\n")
    return {"k": k, "rows": rows, "summary": summary}


def _print_row(row: dict[str, Any], q: dict[str, Any], out: TextIO) -> None:
    def mark(value: Any) -> str:
        return "-" if value is None else ("yes" if value else "NO ")

    parts = [f"{row['id']:>5}"]
    if q["answerable"]:
        parts.append(f"in top-k {mark(row['retrieved'])} (rank {row['rank'] or '-'})")
    else:
        parts.append("unanswerable        ")
    if "answer" in row:
        parts.append(f"right {mark(row['right'])}")
        parts.append(f"cites gold {mark(row.get('cited_gold'))}" if q["answerable"] else f"refused {mark(row['refused'])}")
        parts.append(f"{row['seconds']:5.1f}s  {row['answer'][:90]!r}")
    out.write("  ".join(parts) + "\n")
    out.flush()


def _summary(rows: list[dict[str, Any]], k: int) -> dict[str, Any]:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    s: dict[str, Any] = {
        "questions": len(rows),
        "retrieved": sum(r["retrieved"] for r in answerable),
        "top1": sum(r["rank"] == 1 for r in answerable),
        "answerable": len(answerable),
    }
    line = f"summary: answer in top-{k} {s['retrieved']}/{len(answerable)} (top-1 {s['top1']})"
    if rows and "answer" in rows[0]:
        s["right"] = sum(r["right"] for r in rows)
        s["refused_unanswerable"] = sum(r["refused"] for r in unanswerable)
        s["unanswerable"] = len(unanswerable)
        s["cited_gold"] = sum(bool(r.get("cited_gold")) for r in answerable)
        line += (f", right {s['right']}/{len(rows)}, unanswerable refused {s['refused_unanswerable']}/"
                 f"{len(unanswerable)}, cites a gold source {s['cited_gold']}/{len(answerable)}")
    s["line"] = line
    return s
