"""The real thing: MiniLM, a Chroma store on disk, and the 0.5B GGUF through llama.cpp."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from assistant import Assistant, Settings

from .conftest import ARTICLES, SMALL_MODEL

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    index = tmp_path_factory.mktemp("index")
    settings = Settings(index_dir=index, corpus=[ARTICLES], model=str(SMALL_MODEL), n_ctx=4096)
    with Assistant(settings) as a:
        yield a


def test_real_models_answer_with_a_citation_to_article_003(real):
    answer = real.ask("Where is Scott Singer a visiting scholar?")
    assert "Carnegie" in answer.text
    assert not answer.refused
    assert any(c.source.endswith("003_5ecbd052469d47e5.txt") for c in answer.citations), answer
    assert "<think>" not in answer.text


def test_real_retrieval_puts_the_answer_first(real):
    passages = real.retrieve("Who is Scott Singer?", k=3)
    assert "Scott Singer" in passages[0].text and passages[0].source.endswith("003_5ecbd052469d47e5.txt")


def test_real_stream_yields_many_tokens(real):
    from assistant import Answer, Token

    events = list(real.stream("Where is Scott Singer a visiting scholar?"))
    tokens = [e for e in events if isinstance(e, Token)]
    assert len(tokens) > 3 and isinstance(events[-1], Answer)
    streamed = "".join(t.text for t in tokens if t.kind == "answer").strip()
    # The final text is the streamed one, plus any [n] the citation check added.
    assert re.sub(r"\s*\[\d+\]", "", events[-1].text) == re.sub(r"\s*\[\d+\]", "", streamed)


def _cli(*args, env_extra=None, offline=False, cwd=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(env_extra or {})
    cmd = [sys.executable, "-m", "assistant.cli", *args]
    if offline:
        cmd = ["unshare", "-n", "--", *cmd]  # a network namespace with no interfaces but lo (down)
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


def test_cli_ask_json_works_with_no_network_at_all(tmp_path):
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-n", "true"]).returncode != 0:
        pytest.fail("unshare -n is needed to prove the offline claim (run the tests as root)")
    env = {"ASSISTANT_INDEX_DIR": str(tmp_path / "index"), "ASSISTANT_MODEL": str(SMALL_MODEL)}
    ingest = _cli("ingest", str(ARTICLES), env_extra=env, offline=True)
    assert ingest.returncode == 0, ingest.stderr
    assert "5 added" in ingest.stdout
    result = _cli("ask", "--json", "Where is Scott Singer a visiting scholar?", env_extra=env, offline=True)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"answer", "citations", "refused", "thinking", "removed", "conflicts"}
    assert "Carnegie" in data["answer"]
    assert any(c["source"].endswith("003_5ecbd052469d47e5.txt") for c in data["citations"])
    assert set(data["citations"][0]) == {"n", "source", "text", "start", "end", "shown"}
    # The sentences the model read, with their exact offsets in the file.
    cited = data["citations"][0]
    original = (ARTICLES / Path(cited["source"]).name).read_text()
    assert cited["shown"] and all(" ".join(original[s["start"]:s["end"]].split()) == s["text"] for s in cited["shown"])
    again = _cli("ingest", str(ARTICLES), env_extra=env, offline=True)
    assert "5 unchanged" in again.stdout and "(0 chunks embedded)" in again.stdout


def test_cli_user_errors_are_one_line_without_traceback(tmp_path):
    env = {"ASSISTANT_INDEX_DIR": str(tmp_path / "index")}
    result = _cli("ask", "hello there?", "--model", str(tmp_path / "missing.gguf"), env_extra=env)
    assert result.returncode == 2
    assert "missing.gguf" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    bad = _cli("ask", "hi?", "--top-k", "0", env_extra=env)
    assert bad.returncode == 2 and "top_k" in bad.stderr and "Traceback" not in bad.stderr


def test_cli_help_is_fast_and_imports_nothing_heavy():
    code = ("import sys, assistant.cli as c\n"
            "try:\n    c.main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('torch', 'llama_cpp', 'gradio', 'chromadb', 'sentence_transformers') "
            "if m in sys.modules]\nprint('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr


def test_models_command_verifies_the_shipped_hashes():
    result = _cli("models")
    assert result.returncode == 0, result.stdout + result.stderr
    line = next(l for l in result.stdout.splitlines() if "qwen2.5-coder-0.5b" in l)
    assert line.rstrip().endswith("ok")
