"""The browser chat (Gradio). It only calls the public API: ``Assistant``, ``Settings`` and the
stream events (``Sources``, ``Token``, ``Answer``).

    build_page(assistant)           -> Page: .demo (gr.Blocks) and .current (the Assistant in use);
                                       tests build it around an Assistant on fakes
    launch_app(page.demo, host, port) -> the URL, serving in a background thread
    serve(settings, auth="u:p")     -> `assistant serve`: prints the URL, blocks until Ctrl-C

The page: a chat whose answers stream token by token, with [n] markers linked to a sources
panel beside it (file, passage with the cited sentences highlighted, character offsets); a
collapsed "Thinking" message for reasoning models (its header counts time and tokens); every
passage the model was given, folded under each answer's cards; "Copy answer with sources"; Stop
shown only while generating (Esc); chats kept in the browser's localStorage only (HEAD's script:
a reload reopens the tab's chat, History reopens or deletes); a Documents tab to upload (.txt .pdf .docx
…: ``readers.EXTENSIONS``), list and remove documents; a settings drawer (top-k, temperature,
max answer tokens, model). Uploads are written only into ``<index_dir>/uploads/`` (the
transaction: ``uploads.py``).
Generation is queued, one llama.cpp call at a time, shared with the ``/ask`` API endpoint.

Offline: analytics off, system fonts only (no web fonts), no run history, nothing fetched
from the internet by the page.
"""

from __future__ import annotations

import html
import json
import math
import re
import signal
import threading
import time
import uuid
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Iterator, Optional, Sequence

import gradio as gr  # noqa: E402

from .assistant import Assistant  # noqa: E402
from .config import Settings, configure  # noqa: E402
from . import text as txt  # noqa: E402
from .errors import AssistantError  # noqa: E402
from . import uploads  # noqa: E402
from .readers import EXTENSIONS  # noqa: E402
from .server import check_port  # noqa: E402
from .types import Answer, Citation, Conflict, Passage, Removed, Sources, Span, Token  # noqa: E402
from .uploads import UPLOADS, upload_folder  # noqa: E402

SUFFIXES = EXTENSIONS  # what ingestion reads: one list for the upload box, the CLI and the API
LLM_QUEUE = "llm"  # concurrency group: the chat and /ask share it, one generation at a time


# The Assistant in use -------------------------------------------------------------------------


class _Current:
    """Holds the Assistant the page uses. A model switch builds a new Assistant and closes the
    old one as soon as no request is using it (at once if idle)."""

    def __init__(self, assistant: Assistant, factory: Callable[[Settings], Assistant]) -> None:
        self._assistant = assistant
        self._factory = factory
        self._lock = threading.Lock()
        self._users: dict[int, int] = {}
        self._switch = threading.Lock()  # one model switch at a time

    @property
    def assistant(self) -> Assistant:
        return self._assistant

    @contextmanager
    def use(self) -> Iterator[Assistant]:
        with self._lock:
            a = self._assistant
            self._users[id(a)] = self._users.get(id(a), 0) + 1
        try:
            yield a
        finally:
            with self._lock:
                self._users[id(a)] -= 1
                idle = self._users[id(a)] == 0
                if idle:
                    del self._users[id(a)]
                retired = idle and a is not self._assistant
            if retired:
                a.close()

    def switch(self, model: str) -> Assistant:
        """Use a new Assistant on ``model`` (sharing nothing with the old one). The model is
        loaded here, so a bad file fails now and the old Assistant stays in use."""
        with self._switch:
            new = self._factory(self._assistant.settings.replace(model=model))
            try:
                new.llm.n_ctx  # load it: errors surface at the switch, not at the next question
            except BaseException:
                new.close()
                raise
            with self._lock:
                old, self._assistant = self._assistant, new
                busy = self._users.get(id(old), 0)
            if not busy:
                old.close()
            return new

    def close(self) -> None:
        with self._lock:
            a = self._assistant
        a.close()


# Names and HTML ---------------------------------------------------------------------------------


def _md_escape(text: str) -> str:
    return re.sub(r"([\\`*_{}\[\]<>#|~])", r"\\\1", text)


class _Names:
    """What the page shows for a source: never an absolute path outside the project. Project
    files keep their relative source name; uploads show as ``uploads/NAME``; others their file name."""

    def __init__(self, upload_dir: Path) -> None:
        self.upload_dir = upload_dir

    def show(self, source: str) -> str:
        path = Path(source)
        if not path.is_absolute():
            return source
        try:
            return f"{UPLOADS}/" + path.relative_to(self.upload_dir).as_posix()
        except ValueError:
            return path.name

    def scrub(self, message: str, path: str) -> str:
        """An error message with the file's absolute path replaced by its shown name."""
        message = message.replace(str(path), self.show(str(path)))
        return message.replace(str(self.upload_dir), UPLOADS)


def _terms(text: str) -> set[str]:
    return {t for t in txt.terms(text) if len(t) > 2 or t.isdigit()}


def _citing_sentences(answer: str, n: int) -> str:
    """The answer sentences that cite [n] (a marker after the full stop belongs to the sentence before)."""
    return " ".join(txt.strip_citations(s) for s in txt.sentences(answer) if n in txt.cited_numbers(s))


def highlight(passage: str, claim: str, shown: Sequence[Span] = ()) -> str:
    """The passage as HTML: the sentences that carry ``claim`` (the citing answer text) in <mark>,
    and, when the model read only some sentences (``shown``), those in <span class="read">."""
    pieces = _pieces(passage, shown)
    sentences = [text for text, read in pieces if read]
    wanted = _terms(claim)
    scores = [len(_terms(s) & wanted) for s in sentences]
    best = max(scores, default=0)
    keep: set[int] = set()
    if best:
        ranked = sorted(range(len(sentences)), key=lambda i: -scores[i])
        keep = {i for i in ranked[:3] if scores[i] >= max(1, math.ceil(0.6 * best))}
    parts, i = [], 0
    for text, read in pieces:
        if not read:
            parts.append(html.escape(text))
            continue
        body = html.escape(text)
        if i in keep:
            body = f"<mark>{body}</mark>"
        elif shown:
            body = f'<span class="read">{body}</span>'
        parts.append(body)
        i += 1
    return " ".join(parts)


def _pieces(passage: str, shown: Sequence[Span]) -> list[tuple[str, bool]]:
    """The passage in pieces, each marked whether the model read it: its sentences when it read
    it whole; the shown sentences and the text between them otherwise."""
    if not shown:
        return [(s, True) for s in txt.sentences(passage)]
    pieces: list[tuple[str, bool]] = []
    at = 0
    for a, b, *_ in shown:
        if passage[at:a].strip():
            pieces.append((passage[at:a].strip(), False))
        pieces.append((passage[a:b], True))
        at = b
    if passage[at:].strip():
        pieces.append((passage[at:].strip(), False))
    return pieces


def link_citations(text: str, turn: int, cited: set[int]) -> str:
    """Markdown/HTML for the chat: every cited [n] becomes a chip linking to its card in the sources
    panel ("[1, 2]" becomes two chips); numbers that cite nothing stay plain text."""

    def repl(m: re.Match) -> str:
        numbers = txt.marker_numbers(m)
        if not any(n in cited for n in numbers):
            return m.group(0)
        return "".join(
            f'<a href="#cite-{turn}-{n}" class="cite-link" title="show source {n}">[{n}]</a>' if n in cited
            else f"[{n}]"
            for n in numbers
        )

    return txt.CITE.sub(repl, text)


_EMPTY_SOURCES = (
    '<div class="sources-panel"><p class="hint">Cited passages appear here. '
    "Select a [n] in an answer, or a card below, to read its passage.</p></div>"
)


def _card(turn: int, c: Citation, answer_text: str, names: _Names, open_: bool = False) -> str:
    body = highlight(c.text, _citing_sentences(answer_text, c.n), c.shown)
    return (
        f'<details class="cite-card" id="cite-{turn}-{c.n}"{" open" if open_ else ""}>'
        f'<summary><span class="chip">[{c.n}]</span> <span class="src">{html.escape(names.show(c.source))}</span>'
        f'<span class="loc">{html.escape(c.location) + ", " if c.location else ""}'
        f'characters {c.start:,}–{c.end:,} of the file</span></summary>'
        f'{_head(c.head)}<blockquote class="passage">{body}</blockquote></details>'
    )


def _head(head: str) -> str:
    """The document's title and byline, shown to the model with a later passage: who "I" or "we" is."""
    return f'<div class="head">{html.escape(head)}</div>' if head else ""


def conflicts_note(conflicts: Sequence[Conflict]) -> str:
    """A visible note under an answer whose sources give different values."""
    if not conflicts:
        return ""
    values = ", ".join(f"{html.escape(c.value)} [{c.n}]" for c in conflicts)
    return f'\n\n<div class="conflict-note">⚠ sources differ: {values}</div>'


def _bare(sentence: str) -> str:
    """A sentence without its citation markers or the spaces they leave before punctuation."""
    return re.sub(r"\s+([.,;:!?])", r"\1", txt.strip_citations(sentence)).strip()


def removed_note(removed: Sequence[Removed]) -> str:
    """A folded note under an answer: the sentences the grounding check took out, and why."""
    if not removed:
        return ""
    items = "".join(f"<li>{html.escape(_bare(r.sentence))} <em>({html.escape(r.reason)})</em></li>" for r in removed)
    count = f"{len(removed)} sentence{'s' if len(removed) > 1 else ''}"
    return (f'\n\n<details class="removed-note"><summary>removed: not in the sources ({count})</summary>'
            f"<ul>{items}</ul></details>")


def shown_passages(passages: Sequence[Passage], names: _Names, turn: int = 0) -> str:
    """Every passage the model was given, folded, in rank order (cited or not): what it read
    before it answered, or refused."""
    if not passages:
        return ""
    items = "".join(
        f'<details class="shown-passage" id="shown-{turn}-{rank}"><summary><span class="rank">#{rank}</span> '
        f'<span class="src">{html.escape(names.show(p.source))}</span>'
        f'<span class="loc">{html.escape(p.location) + ", " if p.location else ""}'
        f"characters {p.start:,}–{p.end:,}</span></summary>{_head(p.head)}"
        f'<blockquote class="passage">{highlight(p.text, "", p.shown)}</blockquote></details>'
        for rank, p in enumerate(passages, 1)
    )
    count = f"{len(passages)} passage{'s' if len(passages) != 1 else ''}"
    return (f'<details class="shown-passages"><summary>All {count} given to the model, by rank</summary>'
            f"{items}</details>")


def answer_markdown(turn: dict, names: _Names) -> str:
    """What **Copy answer with sources** copies: the answer, then its numbered sources as Markdown."""
    lines = [turn["answer"].strip()]
    if turn["citations"]:
        lines += ["", "Sources:", ""]
        for c in turn["citations"]:
            where = f"{c.location}, " if c.location else ""
            head = f" ({c.head})" if c.head else ""  # whose words "I" and "we" are
            lines.append(f"- [{c.n}] {names.show(c.source)}{head} — {where}characters {c.start:,}–{c.end:,}")
    return "\n".join(lines) + "\n"


# Chats kept in the browser: the page's own localStorage holds one record a chat (see HEAD) -----

MAX_TITLE = 60


def chat_record(chat_id: str, messages: list, turns: list[dict]) -> str:
    """The JSON the browser stores for a chat: its messages as shown, and its answers' turns (with
    their citations and passages) to draw the sources panel again. "" for an empty chat."""
    if not chat_id or not messages:
        return ""
    question = next((t["question"] for t in turns), "") or next(
        (_plain(m.get("content")) for m in messages if m.get("role") == "user"), "")
    title = " ".join(question.split())
    title = title if len(title) <= MAX_TITLE else title[: MAX_TITLE - 1] + "…"
    stored = [{**t, "citations": [asdict(c) for c in t.get("citations", [])],
               "passages": [asdict(p) for p in t.get("passages", [])]} for t in turns]
    return json.dumps({"id": chat_id, "title": title or "Chat", "updated": time.time(),
                       "messages": messages, "turns": stored}, ensure_ascii=False)


def _spans(fields: dict, *names: str) -> dict:
    """``fields`` with its sentence spans as tuples again (JSON made them lists)."""
    return {**fields, **{n: tuple(tuple(span) for span in fields[n]) for n in names if n in fields}}


def read_record(record: str) -> tuple[str, list, list[dict]]:
    """(chat id, messages, turns) from a stored record; ("", [], []) when it cannot be read."""
    try:
        data = json.loads(record or "")
        turns = [{**t, "citations": [Citation(**_spans(c, "shown")) for c in t.get("citations", [])],
                  "passages": [Passage(**_spans(p, "sentences", "shown")) for p in t.get("passages", [])]}
                 for t in data.get("turns", [])]
        return str(data["id"]), list(data.get("messages") or []), turns
    except (ValueError, TypeError, KeyError, AttributeError):
        return "", [], []


def history_choices(index: str) -> list[tuple[str, str]]:
    """(label, chat id) for the History list, newest first, from the browser's index JSON."""
    try:
        chats = [c for c in json.loads(index or "[]") if isinstance(c, dict) and c.get("id")]
    except ValueError:
        return []
    chats.sort(key=lambda c: -float(c.get("updated") or 0))
    out = []
    for c in chats:
        when = time.strftime("%d %b %H:%M", time.localtime(float(c.get("updated") or 0)))
        out.append((f"{c.get('title') or 'Chat'} · {when}", str(c["id"])))
    return out


def _plain(content: Any) -> str:
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else ""


def render_sources(turns: list[dict], names: _Names, status: str = "",
                   passages: Sequence[Passage] = ()) -> str:
    """The sources panel: the latest answer's citations, earlier answers' folded below; under each,
    a copy button and every passage the model was given (folded). ``passages``: those of the answer
    being generated, shown under ``status``."""
    if not turns and not status:
        return _EMPTY_SOURCES
    out = ['<div class="sources-panel">']
    if status:
        out.append(f'<p class="status">{html.escape(status)}</p>')
        out.append(shown_passages(passages, names))
    for i, t in enumerate(reversed(turns)):
        number = len(turns) - i
        head = f'<div class="turn-q">Sources for: <q>{html.escape(t["question"])}</q></div>'
        if t["refused"]:
            cards = '<p class="hint">No sources: the documents do not answer this.</p>'
        elif not t["citations"]:
            cards = '<p class="hint">This answer cites no passage.</p>'
        else:
            cards = "".join(_card(number, c, t["answer"], names) for c in t["citations"])
        copy = html.escape(answer_markdown(t, names), quote=True)
        cards += (f'<button type="button" class="copy-answer" data-copy="{copy}">Copy answer with sources</button>'
                  + shown_passages(t.get("passages") or (), names, number))
        if i == 0 and not status:
            out.append(f'<section class="turn" id="turn-{number}">{head}{cards}</section>')
        else:
            out.append(f'<details class="turn earlier" id="turn-{number}"><summary>{head}</summary>{cards}</details>')
    out.append("</div>")
    return "".join(out)


# Page assets: inline only (no web fonts, no scripts from elsewhere) --------------------------------

THEME = gr.themes.Default(
    primary_hue="blue",
    font=["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"],
    font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "DejaVu Sans Mono", "monospace"],
)

CSS = """
.conflict-note { margin-top: 0.5em; padding: 0.3em 0.6em; border-left: 3px solid #d97706; background: rgba(217, 119, 6, 0.08); }
.removed-note summary { cursor: pointer; opacity: 0.8; }
.sources-panel { font-size: 0.92em; }
.sources-panel .hint, .sources-panel .status { color: var(--body-text-color-subdued); }
.sources-panel .turn-q { font-weight: 600; margin: 0.4em 0; }
.sources-panel details.earlier { margin-top: 0.8em; opacity: 0.9; }
.sources-panel details.earlier > summary { cursor: pointer; }
.sources-panel details.earlier > summary .turn-q { display: inline; font-weight: 500; }
.cite-card { border: 1px solid var(--border-color-primary); border-radius: 8px; margin: 0.45em 0;
  padding: 0.35em 0.6em; background: var(--background-fill-secondary); }
.cite-card > summary { cursor: pointer; display: flex; flex-wrap: wrap; gap: 0.4em; align-items: baseline; }
.cite-card .src { font-weight: 600; word-break: break-all; }
.cite-card .loc { color: var(--body-text-color-subdued); font-size: 0.88em; width: 100%; }
.cite-card .passage { margin: 0.5em 0 0.2em; padding-left: 0.7em; border-left: 3px solid var(--color-accent);
  white-space: pre-wrap; }
.cite-card .head, .shown-passage .head { color: var(--body-text-color-subdued); font-size: 0.88em;
  margin-top: 0.4em; font-style: italic; }
.cite-card mark { background: #fde68a; color: #111; padding: 0 1px; border-radius: 2px; }
.passage .read { background: #e0f2fe; color: inherit; border-radius: 2px; }
.cite-card.flash { outline: 2px solid var(--color-accent); }
.chip { display: inline-block; min-width: 1.8em; text-align: center; border-radius: 999px; font-weight: 600;
  background: var(--color-accent-soft); color: var(--color-accent); padding: 0 0.35em; }
a.cite-link { font-weight: 600; text-decoration: none !important; padding: 0 0.3em; margin: 0 0.1em;
  border-radius: 999px; background: var(--color-accent-soft); font-size: 0.9em; }
#docs-status .error { color: var(--error-text-color); }
.copy-answer { margin: 0.3em 0; padding: 0.15em 0.7em; border: 1px solid var(--border-color-primary);
  border-radius: 6px; background: var(--background-fill-primary); cursor: pointer; font-size: 0.9em; }
.copy-answer:hover { border-color: var(--color-accent); }
.shown-passages { margin: 0.4em 0; }
.shown-passages > summary { cursor: pointer; color: var(--body-text-color-subdued); }
.shown-passage { margin: 0.3em 0 0.3em 0.6em; }
.shown-passage > summary { cursor: pointer; display: flex; flex-wrap: wrap; gap: 0.4em; align-items: baseline; }
.shown-passage .rank { font-weight: 600; color: var(--color-accent); }
.shown-passage .src { word-break: break-all; }
.shown-passage .loc { color: var(--body-text-color-subdued); font-size: 0.88em; }
.shown-passage .passage { margin: 0.4em 0; padding-left: 0.7em; border-left: 3px solid var(--border-color-primary);
  white-space: pre-wrap; }
#history-list label { width: 100%; }
footer { display: none !important; }
"""

# A [n] link in an answer opens its card in the sources panel (and the earlier-answer group it is in).
HEAD = """<script>
document.addEventListener("click", function (event) {
  var link = event.target.closest ? event.target.closest('a[href^="#cite-"]') : null;
  if (!link) return;
  event.preventDefault();
  event.stopPropagation();
  var card = document.getElementById(link.getAttribute("href").slice(1));
  if (!card) return;
  for (var node = card; node; node = node.parentElement) {
    if (node.tagName === "DETAILS") node.open = true;
  }
  card.scrollIntoView({block: "nearest"});
  card.classList.add("flash");
  setTimeout(function () { card.classList.remove("flash"); }, 1500);
}, true);

// Copy answer with sources: the button carries the Markdown; the clipboard API where the page is a
// secure context (localhost), else a selected textarea and execCommand.
document.addEventListener("click", function (event) {
  var button = event.target.closest ? event.target.closest("button.copy-answer") : null;
  if (!button) return;
  var text = button.getAttribute("data-copy") || "";
  var done = function () {
    button.textContent = "Copied";
    setTimeout(function () { button.textContent = "Copy answer with sources"; }, 1500);
  };
  var fallback = function () {
    var area = document.createElement("textarea");
    area.value = text;
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); done(); } finally { area.remove(); }
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, fallback);
  } else {
    fallback();
  }
});

// Esc stops the answer being generated (the Stop button shows only then).
document.addEventListener("keydown", function (event) {
  if (event.key !== "Escape") return;
  var stop = document.getElementById("stop");
  if (stop && stop.offsetParent !== null && !stop.disabled) {
    event.preventDefault();
    stop.click();
  }
}, true);

// Chats live in this browser only: one localStorage record a chat ("assistant-chat:<id>"), and the
// open chat's id in sessionStorage, so a reload reopens it and a new tab starts a new chat.
window.assistantChats = {
  prefix: "assistant-chat:",
  session: "assistant-chat-id",
  list: function () {
    var out = [];
    for (var i = 0; i < localStorage.length; i++) {
      var key = localStorage.key(i);
      if (key.indexOf(this.prefix) !== 0) continue;
      try {
        var chat = JSON.parse(localStorage.getItem(key));
        out.push({id: chat.id, title: chat.title, updated: chat.updated});
      } catch (e) { /* not ours to read */ }
    }
    return JSON.stringify(out);
  },
  get: function (id) { return (id && localStorage.getItem(this.prefix + id)) || ""; },
  put: function (record) {
    if (!record) return;
    var chat = JSON.parse(record);
    for (var tries = 0; tries < 50; tries++) {
      try { localStorage.setItem(this.prefix + chat.id, record); return; } catch (e) {
        var all = JSON.parse(this.list()).filter(function (c) { return c.id !== chat.id; });
        if (!all.length) return;
        all.sort(function (a, b) { return a.updated - b.updated; });
        localStorage.removeItem(this.prefix + all[0].id);  // full: the oldest chat goes
      }
    }
  },
  remove: function (id) { if (id) localStorage.removeItem(this.prefix + id); },
  opened: function () { return sessionStorage.getItem(this.session) || ""; },
  open: function (id) { sessionStorage.setItem(this.session, id || ""); }
};
</script>"""


# The reply as it streams ---------------------------------------------------------------------------


class _Reply:
    """The assistant's messages of one turn while it streams: the thinking (a folded message whose
    header counts the time from the first token to the first answer token, and the tokens) and the
    answer, or a placeholder until it starts."""

    def __init__(self, before: list) -> None:
        self.before = before  # the chat so far and the question
        self.thinking = ""
        self.answer = ""
        self.placeholder = "*Searching the documents…*"
        self.start = self.end = 0.0
        self.tokens = self.answer_tokens = 0

    def add(self, token: Token) -> None:
        now = time.monotonic()
        self.start = self.start or now
        if token.kind == "answer":
            self.answer += token.text
            self.answer_tokens += 1
            if self.thinking and not self.end:
                self.end = now
        elif token.kind == "thinking":
            self.thinking += token.text
            self.tokens += 1
        else:  # reset: what streamed as answer was thinking
            self.thinking, self.answer = token.text, ""
            self.tokens, self.answer_tokens, self.end = self.answer_tokens, 0, now

    def log(self) -> str:
        spent = f"{max(0.0, (self.end or time.monotonic()) - self.start):.1f} s"
        count = f" · {self.tokens} token{'s' if self.tokens != 1 else ''}" if self.tokens else ""
        return f"{spent}{count}" if self.end else f"thinking… {spent}{count}"

    def view(self, final: Optional[str] = None, done: bool = False) -> list:
        out = list(self.before)
        if self.thinking:
            if done and not self.end:
                self.end = time.monotonic()
            meta: dict[str, Any] = {"title": "Thinking", "status": "done", "log": self.log()}
            out.append({"role": "assistant", "content": self.thinking, "metadata": meta})
        text = final if final is not None else (self.answer or (self.placeholder if not self.thinking else ""))
        if text:
            out.append({"role": "assistant", "content": text})
        return out


def _turn(question: str, answer: Answer, given: Sequence[Passage]) -> dict:
    """One answered question as the page keeps it (the sources panel's and the stored chat's)."""
    return {
        "question": question,
        "answer": answer.text,
        "citations": [] if answer.refused else list(answer.citations),
        "refused": answer.refused,
        "removed": [(r.sentence, r.reason) for r in answer.removed],
        "passages": list(answer.passages or given),
    }


def _answer_markdown(answer: Answer, number: int) -> str:
    """The final answer in the chat: [n] linked to the sources panel, then the notes."""
    if answer.refused:
        shown = _md_escape(answer.text)
    else:
        shown = link_citations(answer.text, number, {c.n for c in answer.citations})
    return shown + conflicts_note(answer.conflicts) + removed_note(answer.removed)


# The page's handlers ------------------------------------------------------------------------------


def _models(settings: Settings) -> list[tuple[str, str]]:
    """(label, model setting) choices: the GGUF files in models_dir, and the current model if it is
    an alias or a file elsewhere (shown by its name only)."""
    folder = Path(settings.models_dir)
    files = sorted(p.name for p in folder.glob("*.gguf")) if folder.is_dir() else []
    choices = [(name, name) for name in files]
    current = settings.model
    if current not in files:
        path = Path(current)
        if path.name in files and path.parent.resolve() == folder.resolve():
            choices = [(n, current if n == path.name else v) for n, v in choices]
        else:
            choices.insert(0, (path.name if path.suffix == ".gguf" else current, current))
    return choices


class _Handlers:
    """What the page's events call, over the Assistant in use (``current``); no layout here."""

    def __init__(self, current: _Current) -> None:
        self.current = current
        self.settings = settings = current.assistant.settings
        self.upload_dir = upload_folder(settings.index_dir)
        self.names = _Names(self.upload_dir)
        self.model_choices = _models(settings)

    def doc_rows(self) -> tuple[list[list[Any]], list[str]]:
        with self.current.use() as a:
            a.ensure_index()
            docs = a.documents()
        rows = [[self.names.show(d["source"]), d["chunks"]] for d in docs]
        return rows, [r[0] for r in rows]

    def refresh_docs(self, selected: Optional[str] = None):
        rows, shown = self.doc_rows()
        return rows, gr.update(choices=shown, value=selected if selected in shown else None)

    # Chat ----------------------------------------------------------------------------------

    def chat(self, question: str, messages: list, turns: list, k: float, temperature: float, max_tokens: float):
        question = (question or "").strip()
        messages = list(messages or [])
        turns = list(turns or [])
        if not question:
            yield gr.update(), messages, turns, gr.update()
            return
        names = self.names
        reply = _Reply(messages + [{"role": "user", "content": question}])
        given: list[Passage] = []  # the passages the model is given (the Sources event)
        yield "", reply.view(), turns, render_sources(turns, names, "Searching the documents…")
        history = [(t["question"], t["answer"]) for t in turns]  # answer text only, never thinking
        try:
            with self.current.use() as a, closing(a.stream(question, history=history, k=int(k),
                                                           temperature=float(temperature),
                                                           max_tokens=int(max_tokens))) as events:
                for event in events:  # Stop closes this generator, which closes the model's stream
                    if isinstance(event, Sources):
                        shown = sorted({names.show(p.source) for p in event.passages})
                        status = f"Reading {len(event.passages)} passages from {', '.join(shown)}…"
                        reply.placeholder = "*Reading the passages…*"
                        given = list(event.passages)
                        yield gr.update(), reply.view(), turns, render_sources(turns, names, status, given)
                    elif isinstance(event, Token):
                        reply.add(event)
                        yield gr.update(), reply.view(), turns, gr.update()
                    elif isinstance(event, Answer):
                        reply.thinking = event.thinking
                        turns = turns + [_turn(question, event, given)]
                        final = reply.view(_answer_markdown(event, len(turns)), done=True)
                        yield gr.update(), final, turns, render_sources(turns, names)
        except AssistantError as exc:
            reply.thinking = ""
            yield gr.update(), reply.view(f"**Error:** {_md_escape(str(exc))}"), turns, render_sources(turns, names)

    def new_chat(self):
        return "", [], [], _EMPTY_SOURCES

    # Chats kept in the browser (History) ----------------------------------------------------------
    # The browser's script (HEAD) reads and writes localStorage; these only turn its JSON into the page.

    def listed(self, chat_id: str, index: str):
        choices = history_choices(index)
        return gr.update(choices=choices, value=chat_id if any(v == chat_id for _, v in choices) else None)

    def restore(self, chat_id: str, index: str, record: str):
        """Page load: this tab's chat again after a reload; a new tab (no chat id) starts a new chat."""
        cid, messages, turns_ = read_record(record)
        if not chat_id or cid != chat_id:
            cid, messages, turns_ = uuid.uuid4().hex, [], []
        return messages, turns_, render_sources(turns_, self.names), cid, self.listed(cid, index)

    def snapshot(self, chat_id: str, messages: list, turns_: list) -> str:
        return chat_record(chat_id, list(messages or []), list(turns_ or []))

    def start_chat(self, index: str):
        return uuid.uuid4().hex, self.listed("", index), gr.update(visible=False)

    def open_chat(self, chosen: Optional[str], record: str):
        cid, messages, turns_ = read_record(record)
        if not chosen or cid != chosen:
            return gr.update(), gr.update(), gr.update(), gr.update(), gr.update(visible=False)
        return messages, turns_, render_sources(turns_, self.names), cid, gr.update(visible=False)

    def delete_chat(self, chosen: Optional[str], chat_id: str, index: str):
        if chosen and chosen == chat_id:  # the open chat: start a new one
            return ("", [], [], _EMPTY_SOURCES, uuid.uuid4().hex, self.listed("", index))
        return (gr.update(), gr.update(), gr.update(), gr.update(), chat_id, self.listed(chat_id, index))

    # API: /ask ------------------------------------------------------------------------------

    def ask(self, question: str) -> dict:
        """Answer a question from the indexed documents: {"answer", "citations", "refused", "thinking", "removed", "conflicts"}."""
        try:
            with self.current.use() as a:
                return a.ask(question).to_dict()
        except AssistantError as exc:
            raise gr.Error(str(exc)) from exc

    # Documents --------------------------------------------------------------------------------

    def ingest(self, files: Optional[list], progress=gr.Progress()):
        files = [f for f in (files or []) if f]
        if not files:
            rows, shown = self.doc_rows()
            return "", rows, gr.update(choices=shown), None
        names = self.names

        def index(paths: list[str]):
            def step(done: int, total: int, path: str) -> None:
                progress((done - 1, total), desc=f"Indexing {names.show(path)}")

            with self.current.use() as a:
                a.ensure_index()  # first use: the sample corpus first, as for a question
                return a.ingest(paths, progress=step)

        done = uploads.upload(files, self.upload_dir, index, self.settings.max_file_mb,
                              saving=lambda i, n, name: progress((i, n), desc=f"Saving {name}"))
        rows, shown = self.doc_rows()
        status = "\n".join(f"- {_md_escape(line)}" for line in self._upload_lines(done))
        return status, rows, gr.update(choices=shown), None

    def _upload_lines(self, done: uploads.Uploaded) -> list[str]:
        """What an upload did, a line each: what was indexed, then each file refused or failed."""
        names = self.names
        lines = [f"✗ {refusal}" for refusal in done.refused]
        if done.error:
            lines.append(f"✗ {names.scrub(done.error, str(self.upload_dir))}")
        if done.report is not None:
            for path, message in done.report.errors.items():
                shown, text = names.show(path), names.scrub(message, path)
                lines.append(f"✗ {text}" if text.startswith(shown) else f"✗ {shown}: {text}")
            if done.indexed:
                good = ", ".join(names.show(p) for p in done.indexed)
                lines.insert(0, f"✓ Indexed {good} — {done.report.summary()}")
        return lines

    def remove(self, shown_name: Optional[str]):
        if not shown_name:
            rows, shown = self.doc_rows()
            return "Choose a document to remove.", rows, gr.update(choices=shown, value=None)
        with self.current.use() as a:
            match = [d for d in a.documents() if self.names.show(d["source"]) == shown_name]
            try:
                if not match:
                    raise AssistantError(f"document {shown_name!r}: not in the index")
                chunks = a.remove(match[0]["source"])
                message = f"Removed {shown_name} ({chunks} chunks)."
                path = Path(match[0]["path"])
                if path.parent == self.upload_dir and path.is_file():
                    path.unlink()  # our own copy of an upload; files elsewhere are never touched
            except AssistantError as exc:
                message = f"✗ {self.names.scrub(str(exc), match[0]['path'] if match else '')}"
        rows, shown = self.doc_rows()
        return _md_escape(message), rows, gr.update(choices=shown, value=None)

    @staticmethod
    def pick_row(evt: gr.SelectData, table):
        try:
            row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
            return table.iloc[row, 0] if hasattr(table, "iloc") else table[row][0]
        except Exception:
            return gr.update()

    # Settings ---------------------------------------------------------------------------------

    def switch_model(self, model: Optional[str]):
        if not model or model == self.current.assistant.settings.model:
            return f"Model: {self.label(self.current.assistant.settings.model)}"
        try:
            new = self.current.switch(model)
        except AssistantError as exc:
            return f"✗ {_md_escape(self.names.scrub(str(exc), str(self.settings.models_dir)))}"
        return f"Model: {self.label(new.settings.model)} (loaded)"

    def label(self, model: str) -> str:
        return next((label for label, value in self.model_choices if value == model), Path(model).name)

    def model_shown(self):
        model = self.current.assistant.settings.model
        return model, f"Model: {self.label(model)}"


# The layout ---------------------------------------------------------------------------------------


def _settings_drawer(h: _Handlers) -> dict[str, Any]:
    settings = h.settings
    with gr.Sidebar(label="Settings", open=False, position="left", elem_id="settings"):
        gr.Markdown("### Settings")
        top_k = gr.Slider(1, max(20, settings.top_k), value=settings.top_k, step=1,
                          label="Passages per question (top-k)", elem_id="top-k")
        temperature = gr.Slider(0.0, 2.0, value=settings.temperature, step=0.05,
                                label="Temperature (0 = reproducible)", elem_id="temperature")
        max_tokens = gr.Slider(16, max(2048, settings.max_tokens), value=settings.max_tokens, step=16,
                               label="Max answer tokens", elem_id="max-tokens")
        model = gr.Dropdown(h.model_choices, value=settings.model, label="Model (GGUF files in models/)",
                            elem_id="model")
        model_status = gr.Markdown(f"Model: {h.label(settings.model)}", elem_id="model-status")
    return dict(top_k=top_k, temperature=temperature, max_tokens=max_tokens, model=model, model_status=model_status)


def _chat_tab() -> dict[str, Any]:
    with gr.Tab("Chat", id="chat-tab"):
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=360):
                chatbot = gr.Chatbot(label="Chat", elem_id="chat", height=520, feedback_options=None,
                                     buttons=["copy", "copy_all"],
                                     placeholder="Ask a question about your documents.")
                with gr.Row():
                    question = gr.Textbox(placeholder="Ask about your documents…", show_label=False,
                                          scale=5, lines=1, max_lines=6, autofocus=True, elem_id="question")
                    send = gr.Button("Send", variant="primary", scale=1, min_width=80, elem_id="send")
                with gr.Row():
                    stop = gr.Button("Stop", variant="stop", size="sm", elem_id="stop", visible=False)
                    clear = gr.Button("New chat", size="sm", elem_id="new-chat")
                with gr.Accordion("History", open=False, elem_id="history"):
                    history = gr.Radio([], label="Earlier chats, kept in this browser only",
                                       elem_id="history-list")
                    delete = gr.Button("Delete chat", size="sm", elem_id="delete-chat")
                # Bridges to the browser's storage (HEAD's script): never shown.
                chat_id = gr.Textbox(visible="hidden", elem_id="chat-id")
                record = gr.Textbox(visible="hidden", elem_id="chat-record")
                index = gr.Textbox(visible="hidden", elem_id="chat-index")
            with gr.Column(scale=2, min_width=300):
                gr.Markdown("### Sources")
                sources = gr.HTML(_EMPTY_SOURCES, elem_id="sources")
    return dict(chatbot=chatbot, question=question, send=send, stop=stop, clear=clear, history=history,
                delete=delete, chat_id=chat_id, record=record, index=index, sources=sources)


def _documents_tab() -> dict[str, Any]:
    with gr.Tab("Documents", id="docs-tab"):
        upload = gr.File(label=f"Add documents: {' '.join(SUFFIXES)}", file_count="multiple",
                         type="filepath", elem_id="upload", height=140)
        docs_status = gr.Markdown(elem_id="docs-status")
        docs = gr.Dataframe(headers=["Document", "Chunks"], datatype=["str", "number"], interactive=False,
                            label="Indexed documents", elem_id="documents", wrap=True)
        with gr.Row():
            doc_pick = gr.Dropdown([], label="Document", scale=4, elem_id="doc-pick")
            remove_btn = gr.Button("Remove from index", variant="stop", scale=1, elem_id="remove")
    return dict(upload=upload, docs_status=docs_status, docs=docs, doc_pick=doc_pick, remove_btn=remove_btn)


def _layout(h: _Handlers) -> SimpleNamespace:
    """The page's components (inside a ``gr.Blocks``), by name."""
    c = SimpleNamespace(turns=gr.State([]), **_settings_drawer(h))
    gr.Markdown("## Ask your documents\nAnswers come only from the indexed documents, with their sources; "
                "nothing leaves this machine. Settings (passages, temperature, answer length, model): "
                "the drawer at the top left.")
    with gr.Tabs():
        c.__dict__.update(_chat_tab())
        c.__dict__.update(_documents_tab())
    return c


# The wiring ---------------------------------------------------------------------------------------

_COMMON = dict(concurrency_id=LLM_QUEUE, concurrency_limit=1, show_progress="minimal")
_PRIVATE = dict(queue=False, api_visibility="private")


def _wire_chat(c: SimpleNamespace, h: _Handlers) -> list:
    """Questions, Stop and New chat; returns the generating events (what Stop and others cancel)."""
    chat_inputs = [c.question, c.chatbot, c.turns, c.top_k, c.temperature, c.max_tokens]
    chat_outputs = [c.question, c.chatbot, c.turns, c.sources]
    busy, idle = (lambda: gr.update(visible=True)), (lambda: gr.update(visible=False))
    # Stop shows from the question until its answer is complete, stopped or replaced.
    on_submit = c.question.submit(busy, None, [c.stop], **_PRIVATE).then(
        h.chat, chat_inputs, chat_outputs, api_name="chat", **_COMMON)
    on_send = c.send.click(busy, None, [c.stop], **_PRIVATE).then(
        h.chat, chat_inputs, chat_outputs, api_visibility="undocumented", **_COMMON)
    generating = [on_submit, on_send]

    def saved(event):
        """After ``event``: the chat goes into the browser's storage and the History list."""
        return event.then(h.snapshot, [c.chat_id, c.chatbot, c.turns], [c.record], **_PRIVATE).then(
            lambda cid, rec, idx: h.listed(cid, idx), [c.chat_id, c.record, c.index], [c.history], **_PRIVATE,
            js="(id, record, index) => { const s = window.assistantChats; s.put(record); "
               "return [id, record, s.list()]; }")

    for event in generating:  # also when stopped: a cancelled event completes, and its chain goes on
        saved(event.then(idle, None, [c.stop], **_PRIVATE))
    c.stop.click(None, cancels=generating)  # (nothing else on this click: it would race the cancel)
    fresh = "(index) => [window.assistantChats.list()]"
    c.chatbot.clear(h.new_chat, None, chat_outputs, cancels=generating, **_PRIVATE).then(
        h.start_chat, [c.index], [c.chat_id, c.history, c.stop], js=fresh, **_PRIVATE)
    c.clear.click(h.new_chat, None, chat_outputs, cancels=generating, queue=False, api_name="new_chat").then(
        h.start_chat, [c.index], [c.chat_id, c.history, c.stop], js=fresh, **_PRIVATE)
    return generating


def _wire_history(c: SimpleNamespace, h: _Handlers, generating: list) -> None:
    """The chats in the browser's storage: reopen, delete, and this tab's chat after a reload."""
    c.history.input(h.open_chat, [c.history, c.record], [c.chatbot, c.turns, c.sources, c.chat_id, c.stop],
                    cancels=generating, js="(id, record) => [id, window.assistantChats.get(id)]", **_PRIVATE)
    c.delete.click(h.delete_chat, [c.history, c.chat_id, c.index],
                   [c.question, c.chatbot, c.turns, c.sources, c.chat_id, c.history],
                   js="(chosen, id, index) => { const s = window.assistantChats; s.remove(chosen); "
                      "return [chosen, id, s.list()]; }", **_PRIVATE)
    c.chat_id.change(None, [c.chat_id], None, js="(id) => { window.assistantChats.open(id); }", **_PRIVATE)


def _wire_documents(c: SimpleNamespace, h: _Handlers) -> None:
    c.upload.upload(h.ingest, [c.upload], [c.docs_status, c.docs, c.doc_pick, c.upload], api_name="ingest",
                    concurrency_id="index", concurrency_limit=1)
    c.remove_btn.click(h.remove, [c.doc_pick], [c.docs_status, c.docs, c.doc_pick], api_name="remove",
                       concurrency_id="index", concurrency_limit=1)
    c.docs.select(h.pick_row, [c.docs], [c.doc_pick], api_visibility="private", queue=False)
    c.model.input(h.switch_model, [c.model], [c.model_status], api_name="switch_model", **_COMMON)


# The app ------------------------------------------------------------------------------------------


@dataclass
class Page:
    """The built page: ``demo`` to launch, and ``current``, the Assistant in use (``current.assistant``)."""

    demo: gr.Blocks
    current: _Current

    def close(self) -> None:
        """Stop serving the page; the Assistants stay open (``current.close()`` closes the one in use)."""
        self.demo.close()


def build_page(assistant: Assistant, factory: Optional[Callable[[Settings], Assistant]] = None) -> Page:
    """The page around ``assistant``. ``factory(settings)`` builds the Assistant for another model
    (default: ``Assistant``); the page owns the Assistants it makes, the caller owns ``assistant``
    unless it is switched away from (then it is closed)."""
    current = _Current(assistant, factory or Assistant)
    h = _Handlers(current)
    with gr.Blocks(title="Ask your documents", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        c = _layout(h)
        generating = _wire_chat(c, h)
        _wire_history(c, h, generating)
        _wire_documents(c, h)
        demo.load(h.restore, [c.chat_id, c.index, c.record], [c.chatbot, c.turns, c.sources, c.chat_id, c.history],
                  **_PRIVATE, js="(id, index, record) => { const s = window.assistantChats; const open = s.opened(); "
                                 "return [open, s.list(), s.get(open)]; }")
        demo.load(h.refresh_docs, None, [c.docs, c.doc_pick], api_name="documents")
        demo.load(h.model_shown, None, [c.model, c.model_status], api_visibility="private", queue=False)
        gr.api(h.ask, api_name="ask", concurrency_id=LLM_QUEUE, concurrency_limit=1)
    demo.queue(default_concurrency_limit=1)
    return Page(demo, current)


def build_app(assistant: Assistant, factory: Optional[Callable[[Settings], Assistant]] = None) -> gr.Blocks:
    """``build_page(...).demo``: the page alone, for a caller that needs no model switch's Assistant."""
    return build_page(assistant, factory).demo


def launch_app(demo: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, auth: Optional[tuple[str, str]] = None,
               quiet: bool = True) -> str:
    """Serve ``demo`` in a background thread (offline theme and assets); returns its local URL."""
    demo.launch(
        server_name=host, server_port=port, auth=auth, share=False, prevent_thread_lock=True, quiet=quiet,
        inbrowser=False, show_error=True, theme=THEME, css=CSS, head=HEAD, footer_links=[], run_history=False,
        mcp_server=False, pwa=False, ssr_mode=False,
    )
    return demo.local_url


def parse_auth(auth: Optional[str]) -> Optional[tuple[str, str]]:
    if auth is None:
        return None
    user, sep, password = auth.partition(":")
    if not sep or not user or not password:
        raise AssistantError("--auth: expected USER:PASS (both non-empty)")
    return user, password


def serve(settings: Settings, auth: Optional[str] = None) -> int:
    """`assistant serve`: the browser chat on settings.host:settings.port until Ctrl-C."""
    configure()
    credentials = parse_auth(auth)
    check_port(settings.host, settings.port)
    assistant = Assistant(settings)
    page = None
    previous = signal.getsignal(signal.SIGTERM)
    try:
        print("Preparing the index…", flush=True)
        assistant.ensure_index()
        page = build_page(assistant)
        try:
            url = launch_app(page.demo, settings.host, settings.port, credentials)
        except OSError as exc:
            raise AssistantError(f"cannot serve on {settings.host}:{settings.port}: {exc}") from exc
        shown = url
        if settings.host in ("0.0.0.0", "::"):
            shown += f"  (listening on all interfaces, port {settings.port})"
        print(f"Browser chat at {shown}{'  (login required)' if credentials else ''}. Ctrl-C stops it.", flush=True)

        def _term(signum, frame):  # SIGTERM: leave like Ctrl-C, closing the models
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, _term)
        try:
            while True:
                time.sleep(0.5)
        except KeyboardInterrupt:
            print("\nStopping.", flush=True)
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        if page is not None:
            page.close()
            page.current.close()
        assistant.close()
