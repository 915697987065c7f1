from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from assistant import Assistant, Settings  # noqa: E402
from assistant.config import PROJECT_ROOT  # noqa: E402

from .fakes import HashEmbedder, ScriptedLLM  # noqa: E402

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
