"""Honest fakes: a deterministic embedder and a scripted LLM that streams what it is told."""

from __future__ import annotations

import hashlib
import re
import socket
import threading
import time
from contextlib import contextmanager, nullcontext
from typing import Callable, Iterator, Optional, Sequence, Union

import numpy as np


class HashEmbedder:
    """Bag-of-words vectors by feature hashing: texts sharing words are close, and nothing is random."""

    def __init__(self, dim: int = 256, name: str = "hash-embedder") -> None:
        self.name, self.dim = name, dim
        self.calls: list[int] = []  # texts per embed() call, to prove what was (not) embedded

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else out[row]
        return out

    def count_tokens(self, text: str) -> int:
        # About what a word-piece tokenizer gives for English prose.
        return len(re.findall(r"\w+|[^\w\s]", text))

    def close(self) -> None:
        pass


Script = Union[str, Sequence[str], Callable[[list], Union[str, Sequence[str]]]]


class ScriptedLLM:
    """Streams a scripted reply (a string is streamed a few characters at a time, a piece a token,
    at most ``max_tokens`` of them) and records prompts."""

    def __init__(self, script: Script = "Answer [1].", opens_think: bool = False, n_ctx: int = 4096,
                 piece: int = 3) -> None:
        self.script = script
        self.opens_think = opens_think
        self.reasoning = opens_think
        self.n_ctx = n_ctx
        self.name = "scripted"
        self.piece = piece
        self.prompts: list[list[dict]] = []
        self.closed = False

    def stream(self, messages, max_tokens: int, temperature: float, seed: int = 0) -> Iterator[str]:
        self.prompts.append([dict(m) for m in messages])
        reply = self.script(list(messages)) if callable(self.script) else self.script
        if isinstance(reply, str):
            reply = [reply[i : i + self.piece] for i in range(0, len(reply), self.piece)]
        yield from list(reply)[:max_tokens]

    def count_tokens(self, text: str) -> int:
        return len(text) // 4 + 1

    def close(self) -> None:
        self.closed = True


class JudgingLLM(ScriptedLLM):
    """A ScriptedLLM that also offers the yes/no check (``p_yes``): ``verdicts`` maps a phrase of
    the last message (or a tuple of phrases, all in it) to its P(yes); any other gets ``default``.
    Records each check's messages; ``fail`` makes every check raise, as a crashed engine does."""

    def __init__(self, script: Script = "Answer [1].", verdicts: Optional[dict] = None,
                 default: float = 0.9, fail: bool = False, **kw) -> None:
        super().__init__(script, **kw)
        self.verdicts, self.default, self.fail = verdicts or {}, default, fail
        self.checks: list[list[dict]] = []

    def p_yes(self, messages) -> float:
        from assistant.errors import AssistantError

        self.checks.append([dict(m) for m in messages])
        if self.fail:
            raise AssistantError("model scripted: the engine process exited with code 1")
        asked = messages[-1]["content"]
        return next((p for key, p in self.verdicts.items()
                     if all(k in asked for k in ((key,) if isinstance(key, str) else key))), self.default)


class CountingLLM(ScriptedLLM):
    """A ScriptedLLM that streams each piece after ``delay`` seconds and counts, for the tests of
    queues and cancels: the generation options asked for, the streams started, running at once
    (``max_active``: the most ever) and closed, and each stream's question. ``exclusive``: one
    stream at a time, as LlamaCppLLM holds a lock for a whole stream (llama.cpp is not re-entrant)."""

    def __init__(self, script: Script = "Answer [1].", delay: float = 0.0, exclusive: bool = False, **kw) -> None:
        super().__init__(script, **kw)
        self.delay = delay
        self.exclusive = threading.Lock() if exclusive else None
        self.options: list[tuple[int, float]] = []
        self.questions: list[str] = []
        self.active = self.max_active = self.started = self.closed_streams = 0
        self._lock = threading.Lock()

    def stream(self, messages, max_tokens: int, temperature: float, seed: int = 0) -> Iterator[str]:
        with self.exclusive or nullcontext():
            yield from self._counted(messages, max_tokens, temperature, seed)

    def _counted(self, messages, max_tokens: int, temperature: float, seed: int) -> Iterator[str]:
        with self._lock:
            self.options.append((max_tokens, temperature))
            self.questions.append(messages[-1]["content"])
            self.active += 1
            self.started += 1
            self.max_active = max(self.max_active, self.active)
        try:
            for piece in super().stream(messages, max_tokens, temperature, seed):
                time.sleep(self.delay)
                yield piece
        finally:
            with self._lock:
                self.active -= 1
                self.closed_streams += 1


# Plumbing shared by the tests that serve something on loopback ------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(app, port: Optional[int] = None) -> Iterator[str]:
    """An ASGI app (``server.create_app``) served by uvicorn on loopback in a thread; yields its URL."""
    import uvicorn

    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
