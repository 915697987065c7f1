"""llama.cpp in a child process, so that a crash inside it fails one answer, not the program.

A SIGILL or SIGSEGV in native code cannot be caught in the process where it happens: Python
never gets control back. ``IsolatedLLM`` runs ``LlamaCppLLM`` in a child and talks to it over
its stdin and stdout, one JSON object a line. When the child dies, the answer in progress fails
with one line naming the signal and its probable cause, that line is logged, and the next call
starts a new child, which loads the model again. The page and the API keep running.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import subprocess
import sys
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

from .errors import AssistantError

log = logging.getLogger("assistant.engine")
_COUNT_CACHE = 4096  # token counts remembered (passages are counted again for every question)


class IsolatedLLM:
    """The LLM protocol, served by a ``LlamaCppLLM`` in a child process that is restarted after a crash."""

    def __init__(self, model_path: Path, **options: Any) -> None:
        self.path = Path(model_path)
        self._spec = json.dumps({"model": str(self.path), "options": options})
        self._proc: Optional[subprocess.Popen] = None
        self._info: Optional[dict[str, Any]] = None  # the child's hello: name, n_ctx, think flags
        self._lock = threading.Lock()  # one request at a time
        self._hello_lock = threading.Lock()
        self._counts: OrderedDict[str, int] = OrderedDict()
        # The child loads the model while this process goes on (importing torch, loading MiniLM,
        # retrieving): the first use of the model waits for it, and a bad model fails there.
        self._start()

    def _start(self) -> None:
        from .config import PROCESS_ENV
        from .doctor import no_core_dump

        self._info = None
        # The child gets configure()'s variables at birth (those already set kept), so it need not
        # import the settings module, and pydantic, before it can load the model.
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "assistant.engine", self._spec], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, encoding="utf-8", bufsize=1, preexec_fn=no_core_dump if os.name == "posix" else None,
            env={**PROCESS_ENV, **os.environ},
        )

    def _ready(self) -> dict[str, Any]:
        """The child's hello, waiting for the model to load (starting a new child after a crash)."""
        with self._hello_lock:
            if self._proc is None:
                self._start()
            if self._info is None:
                hello = self._read()
                if "error" in hello:
                    self._stop()
                    raise AssistantError(hello["error"])
                self._info = hello
            return self._info

    name = property(lambda self: self._ready()["name"])
    n_ctx = property(lambda self: self._ready()["n_ctx"])
    opens_think = property(lambda self: self._ready()["opens_think"])
    reasoning = property(lambda self: self._ready()["reasoning"])
    prefix_state = property(lambda self: self._ready().get("prefix_state", "off"))

    def _read(self) -> dict[str, Any]:
        assert self._proc is not None and self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if line:
            return json.loads(line)
        code = self._proc.wait()
        self._proc, self._info = None, None
        if code < 0:
            from .doctor import signal_reason

            reason = signal_reason(code, f"model {self.path.name}")
        else:
            reason = f"model {self.path.name}: the engine process exited with code {code}"
        log.error("%s; it reloads for the next question", reason)
        raise AssistantError(reason + "; it reloads for the next question")

    def _send(self, message: dict[str, Any]) -> None:
        self._ready()
        assert self._proc is not None and self._proc.stdin is not None
        try:
            self._proc.stdin.write(json.dumps(message) + "\n")
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self._read()  # the child is gone: raises with the reason

    def stream(
        self, messages: Sequence[dict[str, str]], max_tokens: int, temperature: float, seed: int = 0
    ) -> Iterator[str]:
        with self._lock:
            self._send({"op": "stream", "messages": list(messages), "max_tokens": max_tokens,
                        "temperature": temperature, "seed": seed})
            finished = False
            try:
                while True:
                    event = self._read()
                    if "piece" in event:
                        yield event["piece"]
                    elif "error" in event:
                        finished = True
                        raise AssistantError(event["error"])
                    else:
                        finished = True
                        return
            finally:
                if not finished and self._proc is not None:  # the caller stopped early: stop the child too
                    self._send({"op": "cancel"})
                    while "piece" in self._read():
                        pass

    def count_tokens(self, text: str) -> int:
        with self._lock:
            if text in self._counts:
                self._counts.move_to_end(text)
                return self._counts[text]
            self._send({"op": "count", "text": text})
            n = int(self._read()["n"])
            self._counts[text] = n
            if len(self._counts) > _COUNT_CACHE:
                self._counts.popitem(last=False)
            return n

    def p_yes(self, messages: Sequence[dict[str, str]]) -> float:
        """P(yes) as the reply to ``messages`` (``LlamaCppLLM.p_yes``), in the child."""
        with self._lock:
            self._send({"op": "p_yes", "messages": list(messages)})
            reply = self._read()
            if "error" in reply:
                raise AssistantError(reply["error"])
            return float(reply["p"])

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _stop(self) -> None:
        proc, self._proc, self._info = self._proc, None, None
        if proc is None:
            return
        try:
            proc.stdin.close()  # the child's loop ends at EOF and frees the model
            proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        finally:
            if proc.stdout is not None:
                proc.stdout.close()


# The child's side ---------------------------------------------------------------------------------


def _serve(spec: dict[str, Any]) -> int:
    import faulthandler

    from .generation import LlamaCppLLM  # configure()'s variables came with the environment (_start)

    faulthandler.enable()  # a crash leaves a Python stack on stderr, the server's console and log
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing but our messages on the pipe

    def send(message: dict[str, Any]) -> None:
        out.write(json.dumps(message) + "\n")
        out.flush()

    try:
        llm = LlamaCppLLM(Path(spec["model"]), **spec["options"])
    except AssistantError as exc:
        send({"error": str(exc)})
        return 1
    send({"name": llm.name, "n_ctx": llm.n_ctx, "opens_think": llm.opens_think, "reasoning": llm.reasoning,
          "prefix_state": llm.prefix_state})
    requests: queue.Queue = queue.Queue()
    cancel = threading.Event()
    threading.Thread(target=_read_requests, args=(requests, cancel), daemon=True).start()
    while (request := requests.get()) is not None:
        if request["op"] == "count":
            send({"n": llm.count_tokens(request["text"])})
            continue
        if request["op"] == "p_yes":
            try:
                send({"p": llm.p_yes(request["messages"])})
            except AssistantError as exc:
                send({"error": str(exc)})
            continue
        cancel.clear()
        try:
            for piece in llm.stream(request["messages"], request["max_tokens"], request["temperature"],
                                    request["seed"]):
                if cancel.is_set():
                    break
                send({"piece": piece})
            send({"end": True})
        except AssistantError as exc:
            send({"error": str(exc)})
    llm.close()
    return 0


def _read_requests(requests: queue.Queue, cancel: threading.Event) -> None:
    # A cancel must reach a stream in progress, so stdin is read beside the generation loop. It
    # is set before any later request is queued, and each stream clears it as it starts.
    for line in sys.stdin:
        message = json.loads(line)
        if message["op"] == "cancel":
            cancel.set()
        else:
            requests.put(message)
    cancel.set()  # the parent closed the pipe or died: stop what is being generated
    requests.put(None)


def main(argv: list[str]) -> int:
    try:
        return _serve(json.loads(argv[1]))
    except BrokenPipeError:  # the parent went away (closed, killed): nothing is left to answer
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
