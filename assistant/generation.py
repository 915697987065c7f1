"""Stage 7: run the language model: llama.cpp in process, or any OpenAI-compatible server.

Both stream text pieces. ``ThinkParser`` splits a reasoning model's ``<think>…</think>`` from
its answer as the pieces arrive, also for models whose chat template opens ``<think>`` in the
prompt so that the output only closes it.
"""

from __future__ import annotations

import json
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional, Protocol, Sequence

from .errors import AssistantError
from .types import Token

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


class LLM(Protocol):
    """A chat model that streams text."""

    name: str
    n_ctx: int
    opens_think: bool  # the chat template starts the reply inside <think>
    reasoning: bool  # the model thinks before answering: give it room to

    def stream(
        self, messages: Sequence[dict[str, str]], max_tokens: int, temperature: float, seed: int = 0
    ) -> Iterator[str]: ...

    def count_tokens(self, text: str) -> int: ...

    def close(self) -> None: ...


class Judge(Protocol):
    """What an LLM may offer beside ``LLM``: a yes/no question answered by its next-token
    probabilities (llama.cpp does; an OpenAI-compatible server need not)."""

    def p_yes(self, messages: Sequence[dict[str, str]]) -> float: ...


YES_WORDS = ("yes", "Yes", "YES", " yes", " Yes", " YES")
NO_WORDS = ("no", "No", "NO", " no", " No", " NO")


def yes_probability(logits, yes_ids: Sequence[int], no_ids: Sequence[int]) -> float:
    """P(yes) from next-token logits, the softmax taken over the yes and no tokens only: what the
    model would rather answer, whatever mass it gives to other tokens."""
    import numpy as np

    if not yes_ids or not no_ids:
        raise AssistantError("the tokenizer has no single token for yes or no")
    yes, no = np.asarray(logits, dtype=np.float64)[list(yes_ids)], np.asarray(logits, dtype=np.float64)[list(no_ids)]
    top = max(yes.max(), no.max())
    p_yes, p_no = np.exp(yes - top).sum(), np.exp(no - top).sum()
    return float(p_yes / (p_yes + p_no))


def chat_formatter(llama: Any) -> Any:
    """The formatter llama-cpp-python's chat handler renders a loaded model's messages with (its
    GGUF's chat template); None for a model without one."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = llama.metadata.get("tokenizer.chat_template")
    if not template:
        return None
    text = llama._model.token_get_text
    eos, bos = llama.token_eos(), llama.token_bos()
    return Jinja2ChatFormatter(template, text(eos) if eos != -1 else "", text(bos) if bos != -1 else "")


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens ``a`` and ``b`` share."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def check_gguf(path: Path) -> None:
    """Refuse a file that is missing, not GGUF, or visibly truncated, naming it."""
    if not path.exists():
        raise AssistantError(f"model {path}: file not found (run `make install`, or `assistant models` to list models)")
    if not path.is_file():
        raise AssistantError(f"model {path}: not a file")
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic != b"GGUF":
        raise AssistantError(f"model {path}: not a GGUF file (it starts with {magic!r})")
    if path.stat().st_size < 1024 * 1024:
        raise AssistantError(f"model {path}: only {path.stat().st_size} bytes, truncated or corrupt")


class LlamaCppLLM:
    """A GGUF model loaded in this process by llama-cpp-python, its chat template taken from the file."""

    def __init__(
        self,
        model_path: Path,
        n_ctx: int = 4096,
        n_threads: Optional[int] = None,
        n_batch: int = 512,
        n_gpu_layers: int = 0,
        seed: int = 0,
        extra_buffers: str = "auto",
        verbose: bool = False,
        prefix: Optional[Sequence[dict[str, str]]] = None,
        state_dir: Optional[str] = None,
    ) -> None:
        """With ``prefix`` (the messages every prompt starts with) and ``state_dir``, the context
        starts holding the prefix, restored from a state file there or prefilled and saved."""
        model_path = Path(model_path)
        check_gguf(model_path)
        from llama_cpp import Llama

        extra = use_extra_buffers(extra_buffers)
        try:
            with model_params(use_extra_bufts=extra):
                self._llm = Llama(
                    model_path=str(model_path),
                    n_ctx=n_ctx,
                    n_threads=n_threads or os.cpu_count() or 2,
                    n_batch=n_batch,
                    n_gpu_layers=n_gpu_layers,
                    seed=seed,
                    verbose=verbose,
                )
        except (ValueError, RuntimeError, OSError) as exc:
            raise AssistantError(f"model {model_path}: llama.cpp could not load it, truncated or corrupt? ({exc})") from exc
        self.name = model_path.name
        self.path = model_path
        self.n_ctx = self._llm.n_ctx()
        template = self._llm.metadata.get("tokenizer.chat_template", "")
        self.opens_think = _template_opens_think(self._llm, template)
        self.reasoning = self.opens_think or THINK_OPEN in template
        # llama.cpp contexts are not re-entrant: one generation at a time.
        self._lock = threading.Lock()
        self.prefix_state = "off"  # what start-up did with the prefix: restored, saved, built, failed
        if prefix and state_dir:
            from .prefix_state import warm

            self.prefix_state = warm(self._llm, model_path, prefix, Path(state_dir), extra)
        self._formatter = None  # the chat template, built on the first yes/no check
        self._answer_ids: Optional[tuple[list[int], list[int]]] = None
        # The context as the last answer left it (fixed prefix, sources, answer), set aside by the
        # first yes/no check and put back before the next answer, so that neither the next
        # question's prefix nor a follow-up's conversation is evaluated again.
        self._set_aside: Optional[tuple[list[int], bytes]] = None

    def stream(
        self, messages: Sequence[dict[str, str]], max_tokens: int, temperature: float, seed: int = 0
    ) -> Iterator[str]:
        with self._lock:
            if self._llm is None:
                raise AssistantError(f"model {self.name}: already closed")
            self._put_back()
            chunks = self._llm.create_chat_completion(
                messages=list(messages), max_tokens=max_tokens, temperature=temperature, seed=seed, stream=True,
            )
            try:
                for chunk in chunks:
                    piece = chunk["choices"][0]["delta"].get("content")
                    if piece:
                        yield piece
            finally:
                chunks.close()

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def p_yes(self, messages: Sequence[dict[str, str]]) -> float:
        """How likely the reply to ``messages`` starts with "yes" rather than "no": the next token's
        logits after the prompt, nothing generated. The tokens the context already holds (the
        conversation just answered, a system prompt) are not evaluated again."""
        import numpy as np

        with self._lock:
            if self._llm is None:
                raise AssistantError(f"model {self.name}: already closed")
            tokens = self._chat_tokens(messages)
            if len(tokens) >= self.n_ctx:
                raise AssistantError(f"model {self.name}: the check needs {len(tokens)} tokens, over n_ctx {self.n_ctx}")
            if self._set_aside is None and self._llm.n_tokens:
                self._set_aside = self._context_state()
            self._eval_after_prefix(tokens)
            logits = np.ctypeslib.as_array(self._llm._ctx.get_logits_ith(-1), shape=(self._llm.n_vocab(),))
            if self._answer_ids is None:
                self._answer_ids = (self._single_tokens(YES_WORDS), self._single_tokens(NO_WORDS))
            return yes_probability(logits, *self._answer_ids)

    def _chat_tokens(self, messages: Sequence[dict[str, str]]) -> list[int]:
        """``messages`` as llama-cpp-python's chat handler tokenizes them, so that prefixes match."""
        if self._formatter is None:
            self._formatter = chat_formatter(self._llm)
            if self._formatter is None:
                raise AssistantError(f"model {self.name}: no chat template, so no yes/no check")
        result = self._formatter(messages=list(messages))
        return self._llm.tokenize(result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True)

    def _eval_after_prefix(self, tokens: list[int]) -> None:
        # Evaluate only what follows the longest prefix already in the KV cache; at least one token,
        # so that the logits read are this prompt's. eval() drops the cache past n_tokens.
        llm = self._llm
        llm.n_tokens = min(common_prefix(llm.input_ids[: llm.n_tokens], tokens), len(tokens) - 1)
        llm.eval(tokens[llm.n_tokens :])

    def _context_state(self) -> Optional[tuple[list[int], bytes]]:
        """The tokens the context holds and llama.cpp's state of them (sequence 0); None if it fails."""
        import ctypes

        import llama_cpp.llama_cpp as C

        llm = self._llm
        size = C.llama_state_seq_get_size(llm._ctx.ctx, 0)
        buffer = (ctypes.c_uint8 * size)()
        written = C.llama_state_seq_get_data(llm._ctx.ctx, buffer, size, 0)
        return (list(llm.input_ids[: llm.n_tokens]), bytes(buffer)[:written]) if 0 < written <= size else None

    def _put_back(self) -> None:
        # A refused state leaves the context empty: the next prompt is evaluated in full, no harm.
        from .prefix_state import restore

        if self._set_aside is not None:
            tokens, payload = self._set_aside
            self._set_aside = None
            restore(self._llm, tokens, payload)

    def _single_tokens(self, words: Sequence[str]) -> list[int]:
        """The token ids of the spellings that are one token each (" Yes", "yes", "YES"…)."""
        ids = {tuple(self._llm.tokenize(w.encode("utf-8"), add_bos=False, special=False)) for w in words}
        return sorted({i[0] for i in ids if len(i) == 1})

    def close(self) -> None:
        with self._lock:
            if self._llm is not None:
                self._llm.close()
                self._llm = None


def cpu_flags() -> set[str]:
    """The CPU feature flags the kernel reports (Linux); empty where it does not say."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return set()


def use_extra_buffers(setting: str) -> bool:
    """The ``extra_buffers`` setting as llama.cpp's ``use_extra_bufts``: "auto" is off.

    On a CPU with AMX, llama.cpp repacks the weights into its AMX buffer type, whose kernels run
    on worker threads that never asked the kernel for AMX permission: SIGILL at the first token.
    Elsewhere the extra types are its AVX2/AVX-512/ARM weight repacking, redone at every load into
    a private copy of the weights: a new process pays it before its first token (llama.cpp issue
    12759: minutes for large Q4_K models), and each process holds its copy beside the mapped file
    that processes share. Where it reads prompts fast enough to pay for that (``make bench``'s
    engine stage measures both ways), "on" turns it on.
    """
    return setting == "on"


_PARAMS_LOCK = threading.Lock()


@contextmanager
def model_params(**fields: object) -> Iterator[None]:
    """Set llama.cpp model parameters that ``Llama(...)`` has no argument for, while it loads.

    ``Llama.__init__`` starts from ``llama_model_default_params()`` and sets only the fields it
    knows; ``use_extra_bufts`` (weight repacking into AMX and other CPU buffer types) is not one.
    We wrap that one function for the length of the load, under a lock so that two loads in
    different threads never see each other's values, and check afterwards that the fields took.
    """
    import llama_cpp.llama_cpp as C

    original = C.llama_model_default_params
    unknown = [name for name in fields if not hasattr(original(), name)]
    if unknown:
        raise AssistantError(f"llama-cpp-python {_version()}: no model parameter {', '.join(unknown)}")

    def defaults():
        params = original()
        for name, value in fields.items():
            setattr(params, name, value)
        return params

    with _PARAMS_LOCK:
        C.llama_model_default_params = defaults
        try:
            yield
        finally:
            C.llama_model_default_params = original


def _version() -> str:
    """llama-cpp-python's version, from the module already loaded (the package metadata is a
    directory scan that a new process's engine would pay before its first answer)."""
    import llama_cpp

    return str(getattr(llama_cpp, "__version__", "?"))


def _template_opens_think(llm, template: str) -> bool:
    if THINK_OPEN not in template:
        return False
    try:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        eos = llm._model.token_get_text(llm.token_eos()) if hasattr(llm, "_model") else ""
        bos = llm._model.token_get_text(llm.token_bos()) if hasattr(llm, "_model") else ""
        rendered = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)(
            messages=[{"role": "user", "content": "hi"}]
        ).prompt
    except Exception:  # an exotic template: fall back to watching the output for </think>
        return False
    return rendered.rstrip().endswith(THINK_OPEN)


class OpenAICompatLLM:
    """Any server with OpenAI's /v1/chat/completions: llama-server, vLLM, Ollama, llama-cpp-python's.

    With no ``model`` name, the first model the server lists at ``/models`` is used (vLLM and
    Ollama refuse a name they do not serve; llama.cpp's servers take any). The server's context
    length is not asked for: ``n_ctx`` must not exceed it. Tokens are counted by a safe
    over-estimate (3 characters a token), so prompts never overflow but carry a little less.
    """

    def __init__(self, url: str, api_key: Optional[str] = None, model: Optional[str] = None, n_ctx: int = 4096,
                 timeout: float = 600.0) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key
        self._model = model
        self.n_ctx = n_ctx
        self.timeout = timeout
        self.opens_think = False
        self.reasoning = True  # unknown model: allow for thinking; the parser handles either way
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        """The model name sent to the server: the one configured, else the first it lists."""
        with self._lock:
            if self._model is None:
                self._model = self._listed_model() or "default"
            return self._model

    def _listed_model(self) -> Optional[str]:
        import httpx

        try:
            response = httpx.get(f"{self.url}/models", headers=self._headers(), timeout=min(self.timeout, 30.0))
            if response.status_code == 200:
                data = response.json().get("data") or []
                if data and isinstance(data[0], dict) and data[0].get("id"):
                    return str(data[0]["id"])
        except (httpx.HTTPError, ValueError, AttributeError):
            pass  # the chat request itself will report an unreachable server
        return None

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def stream(
        self, messages: Sequence[dict[str, str]], max_tokens: int, temperature: float, seed: int = 0
    ) -> Iterator[str]:
        import httpx

        body = {"model": self.name, "messages": list(messages), "max_tokens": max_tokens,
                "temperature": temperature, "seed": seed, "stream": True}
        thinking = False  # inside reasoning sent apart from the content (vLLM, DeepSeek, Ollama)
        try:
            with httpx.stream("POST", f"{self.url}/chat/completions", json=body, headers=self._headers(),
                              timeout=httpx.Timeout(self.timeout, connect=10.0)) as response:
                if response.status_code >= 400:
                    response.read()
                    raise AssistantError(f"llm_url {self.url}: HTTP {response.status_code}: {response.text[:300]}")
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    try:
                        event = json.loads(data)
                    except ValueError as exc:
                        raise AssistantError(f"llm_url {self.url}: not an OpenAI stream ({data[:200]!r})") from exc
                    if not isinstance(event, dict):
                        continue
                    if event.get("error"):
                        error = event["error"]
                        message = error.get("message", error) if isinstance(error, dict) else error
                        raise AssistantError(f"llm_url {self.url}: the model server failed: {message}")
                    choices = event.get("choices") or []  # a final usage chunk has none
                    delta = (choices[0].get("delta") or {}) if choices else {}
                    # Servers that split reasoning out send it beside the content, piece by piece:
                    # "reasoning_content" (vLLM < 0.10, DeepSeek, llama-server) or "reasoning".
                    reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                    if isinstance(reasoning, str) and reasoning:
                        yield reasoning if thinking else THINK_OPEN + reasoning
                        thinking = True
                    content = delta.get("content")
                    if isinstance(content, str) and content:
                        if thinking:
                            yield THINK_CLOSE
                            thinking = False
                        yield content
                if thinking:
                    yield THINK_CLOSE
        except httpx.HTTPError as exc:
            raise AssistantError(f"llm_url {self.url}: cannot reach the model server ({exc})") from exc

    def count_tokens(self, text: str) -> int:
        # No tokenizer here: over-estimate (about 3 characters a token) so the budget stays safe.
        return len(text) // 3 + 1

    def close(self) -> None:
        pass


class ThinkParser:
    """Splits streamed text into thinking and answer Tokens, tags cut anywhere across pieces."""

    def __init__(self, opens_think: bool = False) -> None:
        self.mode = "thinking" if opens_think else "answer"
        self.thinking = ""
        self.answer = ""
        self._pending = ""
        self._closed = False  # saw </think>: everything after is answer

    def feed(self, piece: str) -> list[Token]:
        out: list[Token] = []
        buf = self._pending + piece
        self._pending = ""
        while buf:
            if self.mode == "answer" and not self._closed and not self.answer.strip():
                stripped = buf.lstrip()
                if stripped.startswith(THINK_OPEN):
                    self.mode = "thinking"
                    buf = stripped[len(THINK_OPEN):]
                    continue
                if stripped and THINK_OPEN.startswith(stripped):
                    self._pending = buf  # might be the start of <think>
                    return out
            at = buf.find(THINK_CLOSE)
            if at >= 0 and not self._closed:
                before, buf = buf[:at], buf[at + len(THINK_CLOSE):]
                if self.mode == "thinking":
                    out += self._emit(before, "thinking")
                else:
                    # Only a closing tag: what looked like answer was thinking all along.
                    self.thinking += self.answer + before
                    self.answer = ""
                    out.append(Token(self.thinking, "reset"))
                self.mode, self._closed = "answer", True
                buf = buf.lstrip()
                continue
            keep = 0 if self._closed else _partial_suffix(buf, THINK_CLOSE)
            out += self._emit(buf[: len(buf) - keep], self.mode)
            self._pending = buf[len(buf) - keep:]
            break
        return out

    def finish(self) -> list[Token]:
        """Flush what was held back at the end of the stream."""
        rest, self._pending = self._pending, ""
        return self._emit(rest, self.mode)

    def _emit(self, text: str, kind: str) -> list[Token]:
        if not text:
            return []
        if kind == "thinking":
            self.thinking += text
        else:
            if not self.answer:
                text = text.lstrip()
                if not text:
                    return []
            self.answer += text
        return [Token(text, kind)]  # type: ignore[arg-type]


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of ``tag``."""
    for n in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:n]):
            return n
    return 0


STATE_FOLDER = ".llm-state"  # under index_dir: the prefix states and the model hashes they are keyed on


def prefix_messages() -> list[dict[str, str]]:
    """The messages every prompt starts with (``prompting.build_prompt`` sends them first)."""
    from .prompting import EXAMPLES, SYSTEM_PROMPT

    examples = [{"role": role, "content": text} for q, a in EXAMPLES for role, text in (("user", q), ("assistant", a))]
    return [{"role": "system", "content": SYSTEM_PROMPT}, *examples]


def create_llm(settings, model_path: Optional[Path]) -> LLM:
    """The LLM the settings ask for: a server when ``llm_url`` is set, else llama.cpp on ``model_path``."""
    from .engine import IsolatedLLM, discard_spare

    if not settings.llm_url and settings.isolate_engine:
        assert model_path is not None
        return IsolatedLLM(model_path, **_llama_options(settings))
    discard_spare()  # an engine process the CLI started early goes unused
    if settings.llm_url:
        return OpenAICompatLLM(settings.llm_url, settings.llm_api_key, settings.llm_model_name, settings.n_ctx)
    assert model_path is not None
    return LlamaCppLLM(model_path, **_llama_options(settings))


def _llama_options(settings) -> dict:
    """llama.cpp's options from the settings."""
    options = dict(n_ctx=settings.n_ctx, n_threads=settings.n_threads, n_batch=settings.n_batch,
                   n_gpu_layers=settings.n_gpu_layers, seed=settings.seed, extra_buffers=settings.extra_buffers)
    if settings.prefix_cache:
        options.update(prefix=prefix_messages(), state_dir=str(Path(settings.index_dir) / STATE_FOLDER))
    return options
