"""Start warm: llama.cpp's state after the fixed prompt prefix, saved once and restored by every
new process instead of prefilling the prefix again.

The prefix is what the chat template renders before the first real user message (the system
prompt and the worked examples). After restoring it, llama-cpp-python's own prefix matching
evaluates only the question's tokens.

A state file is trusted only when everything that shapes it matches: its name and its header
carry a key (the model's sha256, the prefix's text and tokens, the context settings, the
llama-cpp-python version), and the payload's sha256 is checked before llama.cpp reads it. The
file is plain bytes and JSON, never pickle. Anything wrong is logged in one line and the state
is built again.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import logging
import os
import secrets
import struct
from pathlib import Path
from typing import Any, Optional, Sequence

log = logging.getLogger("assistant.prefix_state")

MAGIC = b"ASSTKV01"  # file type and format version: a new layout gets a new magic
KEEP_FILES = 4  # state files kept per folder (other models, other settings), the least recently used go
_HASHES = "model-hashes.json"
# Two user messages that share no first character: the rendered prompts agree up to where the
# user's text starts, and the tokens common to both are the prefix every question shares.
_PROBES = ("\x01A", "\x02Z")


def model_sha256(path: Path, folder: Path) -> str:
    """The model file's sha256, remembered in ``folder`` by path, size and mtime so that a
    gigabyte model is hashed once, not at every start (a shipped model's hash recorded by
    ``make install`` in the models folder is taken from there)."""
    from . import models

    stat = path.stat()
    mark = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    known = _read_json(folder / _HASHES)
    entry = known.get(str(path.resolve()))
    if isinstance(entry, dict) and all(entry.get(k) == v for k, v in mark.items()) and entry.get("sha256"):
        return str(entry["sha256"])
    digest = models.file_sha256(path)
    known[str(path.resolve())] = {**mark, "sha256": digest}
    try:
        _write_atomic(folder / _HASHES, json.dumps(known, indent=1).encode("utf-8"))
    except OSError as exc:  # a read-only folder: hash again next time, still correct
        log.info("prefix state: cannot remember the model's hash in %s (%s)", folder, exc)
    return digest


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def prefix_tokens(llm: Any, messages: Sequence[dict[str, str]]) -> tuple[str, list[int]]:
    """The rendered prefix text and its tokens, as llama-cpp-python's chat handler renders and
    tokenizes ``messages`` followed by a user message."""
    from .generation import chat_formatter, common_prefix

    formatter = chat_formatter(llm)
    if formatter is None:
        raise ValueError("the model has no chat template")
    rendered, tokens = [], []
    for probe in _PROBES:
        result = formatter(messages=[*messages, {"role": "user", "content": probe}])
        rendered.append(result.prompt[: result.prompt.index(probe)])
        tokens.append(llm.tokenize(result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True))
    same = common_prefix(*tokens)
    # The last shared token might merge with a real question's first characters: leave it out.
    return rendered[0], tokens[0][: max(same - 1, 0)]


def state_key(llm: Any, model_sha: str, text: str, tokens: Sequence[int], extra_buffers: bool) -> dict[str, Any]:
    """Everything that shapes the saved state. n_batch and n_threads are not in it: they change
    how the prefix is split into batches and threads, not the cache it leaves behind."""
    from .generation import _version

    params = llm.context_params
    return {
        "model_sha256": model_sha,
        "prefix_text_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "prefix_tokens_sha256": _tokens_sha(tokens),
        "n_prefix": len(tokens),
        "n_ctx": llm.n_ctx(),
        # The KV cache's element types and layout (flash attention stores V untransposed).
        "type_k": int(params.type_k), "type_v": int(params.type_v),
        "flash_attn_type": int(getattr(params, "flash_attn_type", -2)),
        "offload_kqv": bool(params.offload_kqv), "swa_full": bool(getattr(params, "swa_full", False)),
        # Where and by which kernels the prefix was computed: the same numbers as a live prefill.
        "n_gpu_layers": int(llm.model_params.n_gpu_layers), "extra_buffers": extra_buffers,
        "llama_cpp_python": _version(),
    }


def _tokens_sha(tokens: Sequence[int]) -> str:
    return hashlib.sha256(json.dumps(list(tokens)).encode("ascii")).hexdigest()


def state_path(folder: Path, model: Path, key: dict[str, Any]) -> Path:
    """The file for ``key``: a changed key names another file, so a stale one is never read."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode("utf-8")).hexdigest()[:16]
    return folder / f"{model.stem}-{digest}.kvstate"


def read_state(path: Path, key: dict[str, Any], tokens: Sequence[int]) -> Optional[bytes]:
    """The payload of a state file written for ``key``; None, with a log line, when it is
    missing, truncated, corrupt or written for something else."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("prefix state %s: cannot read it (%s); prefilling instead", path, exc)
        return None
    reason = _invalid(data, key, tokens)
    if reason:
        log.warning("prefix state %s: %s; ignored, it is built again", path, reason)
        return None
    return data[len(MAGIC) + 4 + struct.unpack_from("<I", data, len(MAGIC))[0]:]


def _invalid(data: bytes, key: dict[str, Any], tokens: Sequence[int]) -> str:
    """Why ``data`` is not a good state file for ``key``, or "" when it is."""
    start = len(MAGIC) + 4
    if len(data) < start or not data.startswith(MAGIC):
        return "not a prefix state file of this format"
    size = struct.unpack_from("<I", data, len(MAGIC))[0]
    try:
        header = json.loads(data[start:start + size].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return "damaged header"
    if not isinstance(header, dict) or header.get("key") != key:
        return "written for another model, prefix or setting"
    if header.get("tokens_sha256") != _tokens_sha(tokens):
        return "written for other prefix tokens"
    payload = data[start + size:]
    if len(payload) != header.get("payload_bytes"):
        return f"truncated ({len(payload)} of {header.get('payload_bytes')} bytes)"
    if hashlib.sha256(payload).hexdigest() != header.get("payload_sha256"):
        return "checksum mismatch"
    return ""


def write_state(path: Path, key: dict[str, Any], tokens: Sequence[int], payload: bytes) -> None:
    """Write the state file atomically (a reader sees the old file or the whole new one), then
    drop the least recently used files beyond ``KEEP_FILES``."""
    header = json.dumps({"key": key, "tokens_sha256": _tokens_sha(tokens), "payload_bytes": len(payload),
                         "payload_sha256": hashlib.sha256(payload).hexdigest()}).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(path, MAGIC + struct.pack("<I", len(header)) + header + payload)
    older = sorted(path.parent.glob("*.kvstate"), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in older[KEEP_FILES:]:
        stale.unlink(missing_ok=True)


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # A new name of our own ("x": never an existing file), created with the umask's mode like the
    # index's other files (mkstemp's would be private to this user).
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        with open(tmp, "xb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def restore(llm: Any, tokens: Sequence[int], payload: bytes) -> bool:
    """Load ``payload`` into sequence 0 and tell llama-cpp-python that the context holds
    ``tokens``, so that its prefix matching skips them. False (context emptied) when llama.cpp
    refuses the payload."""
    import llama_cpp.llama_cpp as C

    buffer = (ctypes.c_uint8 * len(payload)).from_buffer_copy(payload)
    llm.reset()
    if C.llama_state_seq_set_data(llm._ctx.ctx, buffer, len(payload), 0) != len(payload):
        llm._ctx.kv_cache_seq_rm(-1, 0, -1)
        return False
    llm.input_ids[: len(tokens)] = tokens
    llm.n_tokens = len(tokens)
    llm._requires_eval = True  # no logits were restored: the next prompt evaluates at least a token
    return True


def capture(llm: Any, tokens: Sequence[int]) -> bytes:
    """Prefill ``tokens`` from an empty context and return sequence 0's state."""
    import llama_cpp.llama_cpp as C

    llm.reset()
    llm.eval(list(tokens))
    size = C.llama_state_seq_get_size(llm._ctx.ctx, 0)
    buffer = (ctypes.c_uint8 * size)()
    written = C.llama_state_seq_get_data(llm._ctx.ctx, buffer, size, 0)
    if not 0 < written <= size:
        raise RuntimeError(f"llama.cpp returned {written} of {size} state bytes")
    return bytes(buffer)[:written]


def warm(llm: Any, model: Path, messages: Sequence[dict[str, str]], folder: Path, extra_buffers: bool) -> str:
    """Put the prefix of ``messages`` into ``llm``'s context: restored from ``folder`` when a
    good state file is there, else prefilled and saved for the next process. Returns what
    happened: "restored", "saved", "built" (could not be saved) or "failed"."""
    try:
        text, tokens = prefix_tokens(llm, messages)
        if not tokens:
            return "failed"
        key = state_key(llm, model_sha256(model, folder), text, tokens, extra_buffers)
        path = state_path(folder, model, key)
        payload = read_state(path, key, tokens)
        if payload is not None:
            if restore(llm, tokens, payload):
                with contextlib.suppress(OSError):  # recently used: kept when older files are dropped
                    os.utime(path)
                return "restored"
            log.warning("prefix state %s: llama.cpp refused it; ignored, it is built again", path)
        payload = capture(llm, tokens)
    except Exception as exc:  # only a speed-up: never let it stop the model from answering
        log.warning("prefix state: %s (%s); the prefix is prefilled with each first question",
                    exc, type(exc).__name__)
        llm.reset()
        return "failed"
    try:
        write_state(path, key, tokens, payload)
    except OSError as exc:
        log.info("prefix state: cannot save it in %s (%s); the next process prefills again", folder, exc)
        return "built"
    return "saved"
