"""Start warm (issue 12): llama.cpp's state after the fixed prompt prefix is saved, restored by the
next process, rebuilt when anything it depends on changes, and never trusted when damaged."""

from __future__ import annotations

import json
import logging
import os
import struct

import pytest

from assistant import prefix_state as ps
from assistant.generation import LlamaCppLLM, prefix_messages
from assistant.prompting import build_prompt

from .conftest import SMALL_MODEL

KEY = {"model_sha256": "ab" * 32, "n_ctx": 2048, "llama_cpp_python": "0.3.36"}
TOKENS = [1, 2, 3, 4]
QUESTION = [{"role": "user", "content": "Sources:\n[1] (moon.txt) The lunar station Artemis Base opened in "
             "2031 and houses twelve crew.\n\nQuestion: How many crew does Artemis Base house?"}]
needs_model = pytest.mark.skipif(not SMALL_MODEL.exists(), reason="needs make install")


def _load(state_dir=None, n_ctx=2048) -> LlamaCppLLM:
    prefix = prefix_messages() if state_dir else None
    return LlamaCppLLM(SMALL_MODEL, n_ctx=n_ctx, n_threads=2, prefix=prefix,
                       state_dir=str(state_dir) if state_dir else None)


def _answer(llm: LlamaCppLLM) -> str:
    return "".join(llm.stream([*prefix_messages(), *QUESTION], 24, 0.0))


# The file: header, checksum, atomic write (no model needed) -------------------------------------


def test_a_written_state_reads_back(tmp_path):
    path = tmp_path / "m-1.kvstate"
    ps.write_state(path, KEY, TOKENS, b"payload" * 100)
    assert ps.read_state(path, KEY, TOKENS) == b"payload" * 100
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("damage, reason", [
    (lambda d: d[:-10], "truncated"),
    (lambda d: d[:-1] + bytes([d[-1] ^ 1]), "checksum mismatch"),
    (lambda d: b"\x80\x04pickle" + d[8:], "not a prefix state file"),
    (lambda d: d[:8] + struct.pack("<I", 5) + b"{oops" + d[12:], "damaged header"),
    (lambda d: d[:12], "damaged header"),
    (lambda d: b"", "not a prefix state file"),
])
def test_a_damaged_state_file_is_ignored_with_one_log_line(tmp_path, caplog, damage, reason):
    path = tmp_path / "m-1.kvstate"
    ps.write_state(path, KEY, TOKENS, b"payload" * 100)
    path.write_bytes(damage(path.read_bytes()))
    with caplog.at_level(logging.WARNING, logger="assistant.prefix_state"):
        assert ps.read_state(path, KEY, TOKENS) is None
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and reason in lines[0] and str(path) in lines[0]


def test_a_state_written_for_another_key_or_prefix_is_ignored(tmp_path, caplog):
    path = tmp_path / "m-1.kvstate"
    ps.write_state(path, KEY, TOKENS, b"payload")
    with caplog.at_level(logging.WARNING, logger="assistant.prefix_state"):
        assert ps.read_state(path, {**KEY, "n_ctx": 4096}, TOKENS) is None
        assert ps.read_state(path, KEY, [1, 2, 3, 5]) is None
    assert "another model" in caplog.records[0].getMessage()
    assert "other prefix tokens" in caplog.records[1].getMessage()
    assert ps.read_state(tmp_path / "missing.kvstate", KEY, TOKENS) is None  # no file: built quietly


def test_each_key_names_its_own_file_and_old_files_are_dropped(tmp_path):
    names = {ps.state_path(tmp_path, SMALL_MODEL, {**KEY, "n_ctx": n}) for n in (512, 1024, 2048, 4096, 8192, 16384)}
    assert len(names) == 6
    for i, path in enumerate(sorted(names)):
        ps.write_state(path, KEY, TOKENS, b"x")
        os.utime(path, (1000 + i, 1000 + i))
    ps.write_state(ps.state_path(tmp_path, SMALL_MODEL, KEY), KEY, TOKENS, b"x")
    assert len(list(tmp_path.glob("*.kvstate"))) == ps.KEEP_FILES


def test_the_model_hash_is_remembered_until_the_file_changes(tmp_path, monkeypatch):
    import assistant.models as models
    from assistant.hashing import sha256_file as real

    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF" + b"\0" * 100)
    calls = []
    monkeypatch.setattr(models, "file_sha256", lambda p: calls.append(p) or real(p))
    first = ps.model_sha256(model, tmp_path / "cache")
    assert ps.model_sha256(model, tmp_path / "cache") == first and len(calls) == 1
    model.write_bytes(b"GGUF" + b"\1" * 100)
    os.utime(model, ns=(1, 1))
    assert ps.model_sha256(model, tmp_path / "cache") != first and len(calls) == 2
    (tmp_path / "cache" / "model-hashes.json").write_text("not json")  # damaged: hashed again
    assert ps.model_sha256(model, tmp_path / "cache") == real(model)
    assert json.loads((tmp_path / "cache" / "model-hashes.json").read_text())


def test_the_saved_prefix_is_what_every_prompt_starts_with():
    prompt = build_prompt("Who?", [], [], lambda t: len(t.split()), 4000)
    assert prompt.messages[: len(prefix_messages())] == prefix_messages()


# With the real model: saved, restored, rebuilt -----------------------------------------------------


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A state folder holding the small model's prefix state, built once for these tests."""
    folder = tmp_path_factory.mktemp("llm-state")
    llm = _load(folder)
    try:
        assert llm.prefix_state == "saved"
        assert llm._llm.n_tokens > 300  # the system prompt and the worked examples, evaluated
    finally:
        llm.close()
    assert len(list(folder.glob("*.kvstate"))) == 1
    return folder


@needs_model
@pytest.mark.slow
def test_a_restored_prefix_is_not_prefilled_and_answers_the_same(saved):
    plain = _load()
    try:
        read_plain = _count_evals(plain)
        expected = _answer(plain)
    finally:
        plain.close()
    llm = _load(saved)
    try:
        assert llm.prefix_state == "restored"
        held = llm._llm.n_tokens
        read = _count_evals(llm)
        assert _answer(llm) == expected
        assert held > 300 and read[0] == read_plain[0] - held  # the prefix was not read again
    finally:
        llm.close()


def _count_evals(llm: LlamaCppLLM) -> list[int]:
    """The number of tokens of each llama.cpp eval from now on (the first is the prompt's)."""
    counts: list[int] = []
    real_eval = llm._llm.eval
    llm._llm.eval = lambda tokens: counts.append(len(tokens)) or real_eval(tokens)
    return counts


@needs_model
@pytest.mark.slow
def test_the_isolated_engine_restores_the_saved_prefix(saved):
    from assistant.engine import IsolatedLLM

    llm = IsolatedLLM(SMALL_MODEL, n_ctx=2048, n_threads=2, prefix=prefix_messages(), state_dir=str(saved))
    try:
        assert llm.prefix_state == "restored"
        assert "".join(llm.stream([*prefix_messages(), *QUESTION], 24, 0.0)).strip()
    finally:
        llm.close()


@needs_model
@pytest.mark.slow
def test_a_key_change_builds_a_new_state(saved, tmp_path):
    folder = tmp_path / "state"
    for path in saved.iterdir():
        (folder / path.name).parent.mkdir(exist_ok=True)
        (folder / path.name).write_bytes(path.read_bytes())
    llm = _load(folder, n_ctx=1024)
    llm.close()
    assert llm.prefix_state == "saved" and len(list(folder.glob("*.kvstate"))) == 2
    other = [{"role": "system", "content": "Another system prompt."}]
    plain = _load()
    try:
        text, tokens = ps.prefix_tokens(plain._llm, prefix_messages())
        key = ps.state_key(plain._llm, "ab" * 32, text, tokens, True)
        text2, tokens2 = ps.prefix_tokens(plain._llm, other)
        assert ps.state_path(folder, SMALL_MODEL, key) != ps.state_path(
            folder, SMALL_MODEL, ps.state_key(plain._llm, "ab" * 32, text2, tokens2, True))
        assert ps.state_path(folder, SMALL_MODEL, key) != ps.state_path(
            folder, SMALL_MODEL, ps.state_key(plain._llm, "cd" * 32, text, tokens, True))
        assert not ps.restore(plain._llm, tokens, b"\0" * 1000)  # llama.cpp refuses garbage
        assert plain._llm.n_tokens == 0
    finally:
        plain.close()


@needs_model
@pytest.mark.slow
def test_a_corrupt_state_is_logged_and_rebuilt_and_a_read_only_folder_still_answers(saved, tmp_path, caplog):
    folder = tmp_path / "state"
    folder.mkdir()
    (original,) = saved.glob("*.kvstate")
    data = bytearray(original.read_bytes())
    data[-100] ^= 0xFF
    (folder / original.name).write_bytes(bytes(data))
    with caplog.at_level(logging.INFO, logger="assistant.prefix_state"):
        llm = _load(folder)
        llm.close()
        assert llm.prefix_state == "saved"
        again = _load(folder)
        again.close()
        assert again.prefix_state == "restored"  # the rebuilt file is good
        blocked = tmp_path / "a-file"
        blocked.write_text("")
        llm = _load(blocked / "state")  # cannot be created: prefilled, not saved, still answers
    try:
        assert llm.prefix_state == "built"
        assert _answer(llm).strip()
    finally:
        llm.close()
    messages = [r.getMessage() for r in caplog.records]
    assert any("checksum mismatch" in m for m in messages)
    assert any("cannot save it" in m for m in messages)

