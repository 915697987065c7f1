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


# An engine process started before the settings were read (prestart), with the environment it got.
_spare: Optional[tuple[subprocess.Popen, dict[str, str]]] = None


def _spawn(*spec: str) -> subprocess.Popen:
    """A child running ``main``: with ``spec``, it loads that model; without, it imports llama.cpp
    and reads the spec as its first line."""
    from .doctor import no_core_dump
    from .environment import PROCESS_ENV

    # The child gets configure()'s variables at birth (those already set kept), so it need not
    # import the settings module, and pydantic, before it can load the model.
    return subprocess.Popen(
        [sys.executable, "-m", "assistant.engine", *spec], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True, encoding="utf-8", bufsize=1, preexec_fn=no_core_dump if os.name == "posix" else None,
        env={**PROCESS_ENV, **os.environ},
    )


def prestart() -> None:
    """Start the engine process now, before the settings are read: it imports llama.cpp while this
    process imports the rest, and the next ``IsolatedLLM`` hands it its model. For an entry point
    about to answer (``assistant ask``). Unused, it exits when this process does (its stdin closes)."""
    global _spare
    if _spare is None:
        _spare = (_spawn(), dict(os.environ))


def _hand_over(spare: tuple[subprocess.Popen, dict[str, str]], spec: str) -> Optional[subprocess.Popen]:
    """The early process, given ``spec``; None when it is gone or has an environment that changed
    since (the entry points create the model before anything that sets variables, such as torch)."""
    proc, environ = spare
    assert proc.stdin is not None
    try:
        if proc.poll() is None and environ == os.environ:
            proc.stdin.write(spec + "\n")
            proc.stdin.flush()
            return proc
    except (BrokenPipeError, OSError) as exc:
        log.info("the engine process started early is gone (%s); starting another", exc)
    _end(proc)
    return None


def discard_spare() -> None:
    """End the early process, if one waits: the settings chose no llama.cpp child."""
    global _spare
    spare, _spare = _spare, None
    if spare is not None:
        _end(spare[0])


def _end(proc: subprocess.Popen) -> None:
    """Close a child's pipes and reap it; one that does not exit at the end of its input is killed."""
    try:
        if proc.stdin is not None:
            proc.stdin.close()  # it exits at the end of its input
        proc.wait(timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        proc.kill()
        proc.wait()
    finally:
        if proc.stdout is not None:
            proc.stdout.close()


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
        global _spare
        self._info = None
        spare, _spare = _spare, None
        if spare is not None:
            self._proc = _hand_over(spare, self._spec)
            if self._proc is not None:
                return
        self._proc = _spawn(self._spec)

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
        if proc is not None:
            _end(proc)  # the child's loop ends at EOF and frees the model


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
        if len(argv) > 1:
            return _serve(json.loads(argv[1]))
        import llama_cpp  # noqa: F401  (started early: import the engine while the parent reads its settings)

        line = sys.stdin.readline()
        return _serve(json.loads(line)) if line else 0  # no line: the parent never needed a model
    except BrokenPipeError:  # the parent went away (closed, killed): nothing is left to answer
        return 0
    except KeyboardInterrupt:  # Ctrl-C reaches the whole terminal's group: the parent reports it
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv))
