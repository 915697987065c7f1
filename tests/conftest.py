from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from assistant import Assistant, Settings  # noqa: E402
from assistant.config import PROJECT_ROOT  # noqa: E402

from .fakes import HashEmbedder, ScriptedLLM, free_port  # noqa: E402

ARTICLES = PROJECT_ROOT / "articles"
SMALL_MODEL = PROJECT_ROOT / "models" / "qwen2.5-coder-0.5b-instruct.gguf"
ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A private copy of the sample articles, free to change."""
    folder = tmp_path / "articles"
    shutil.copytree(ARTICLES, folder)
    return folder


@pytest.fixture
def settings(tmp_path: Path, corpus: Path) -> Settings:
    return Settings(index_dir=tmp_path / "index", corpus=[corpus], models_dir=tmp_path / "models")


@pytest.fixture
def make_assistant(settings: Settings):
    """Build Assistants on fakes; all are closed at the end."""
    made: list[Assistant] = []

    def make(script="The answer is here [1].", opens_think=False, embedder=None, **overrides) -> Assistant:
        a = Assistant(settings, embedder=embedder or HashEmbedder(), llm=ScriptedLLM(script, opens_think), **overrides)
        made.append(a)
        return a

    yield make
    for a in made:
        a.close()


# Shared by the tests of the page (gradio and gradio_client are imported only when used) ------------

SINGER = "Where is Scott Singer a visiting scholar?"
SINGER_REPLY = "Scott Singer is a visiting scholar at the Carnegie Endowment for International Peace [1]."


@contextmanager
def running(assistant: Assistant, **kw):
    """The page around ``assistant`` served on a free loopback port; yields (url, page): ``page.demo``
    the Blocks, ``page.current.assistant`` the Assistant in use."""
    from assistant.ui import build_page, launch_app

    page = build_page(assistant, factory=kw.pop("factory", None))
    url = launch_app(page.demo, "127.0.0.1", free_port(), **kw)
    try:
        yield url, page
    finally:
        page.close()


def client(url: str, **kw):
    """A gradio_client for the page at ``url``."""
    from gradio_client import Client

    return Client(url, verbose=False, download_files=False, **kw)


def last_messages(chat: list) -> tuple[list[dict], dict]:
    """The assistant messages of the last turn: (thinking messages, answer message)."""
    tail = []
    for m in reversed(chat):
        if m["role"] == "user":
            break
        tail.insert(0, m)
    thinking = [m for m in tail if (m.get("metadata") or {}).get("title") == "Thinking"]
    answer = [m for m in tail if not (m.get("metadata") or {}).get("title")]
    return thinking, answer[-1] if answer else {}


def text_of(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content or ""


def pdf_pages(*pages: str) -> bytes:
    """A minimal PDF with one page of real text layer for each string."""
    n = len(pages)
    font = 3 + 2 * n
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % (3 + 2 * i) for i in range(n)), n)]
    for i, text in enumerate(pages):
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                       b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (4 + 2 * i, font))
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def pdf_with_text(text: str) -> bytes:
    """A minimal one-page PDF with a real text layer."""
    return pdf_pages(text)
