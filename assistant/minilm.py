"""MiniLM's forward pass in NumPy, for questions: the vectors sentence-transformers gives, without
importing torch, transformers and sentence-transformers (the longest part of a new process's start).

It reads the same folder (``model.safetensors``, ``tokenizer.json``) and computes what its
modules.json says, Transformer → mean pooling → normalise, for BERT models only; anything else
is refused with ValueError and the caller uses sentence-transformers. Ingest keeps
sentence-transformers, whose batched kernels are faster on long passages.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Sequence

import numpy as np

from .embedding import Pieces, _model_folder, unit_pieces

BATCH = 32  # texts per forward pass: similar lengths together, so little padding
_GELU_ROWS = 32  # token rows per GELU block: a few arrays of this size fit the CPU's L2 cache
_MODULES = ["sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling",
            "sentence_transformers.models.Normalize"]


class NumpyMiniLM:
    """A sentence-transformers BERT folder (mean pooling, normalised) run in NumPy."""

    def __init__(self, name: str) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        folder = _model_folder(name)
        self.config = _check_folder(folder)
        self.name = name
        self.dim = int(self.config["hidden_size"])
        self.max_length = int(json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"])
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self._cls, self._sep = self._tokenizer.token_to_id("[CLS]"), self._tokenizer.token_to_id("[SEP]")
        self._w = load_file(str(folder / "model.safetensors"))
        self._w = {k.removeprefix("bert."): v for k, v in self._w.items()}
        if self._cls is None or self._sep is None or "embeddings.word_embeddings.weight" not in self._w:
            raise ValueError(f"embedder {name!r}: not a BERT checkpoint with [CLS] and [SEP]")

    def count_tokens(self, text: str) -> int:
        """Word pieces the model would read for ``text`` (special tokens excluded)."""
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """A (len(texts), dim) float32 array of unit vectors."""
        return self._encode(texts, False)[0]

    def embed_pieces(self, texts: Sequence[str]) -> tuple[np.ndarray, list[Pieces]]:
        """``embed(texts)``, and each text's word pieces with their vectors of the last layer."""
        return self._encode(texts, True)

    def _encode(self, texts: Sequence[str], with_pieces: bool) -> tuple[np.ndarray, list[Pieces]]:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out, []
        body = self.max_length - 2  # [CLS] … [SEP], truncated as the tokenizer of sentence-transformers does
        encoded = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        ids = [[self._cls, *e.ids[:body], self._sep] for e in encoded]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        pieces: dict[int, Pieces] = {}
        with _one_blas_thread():
            for start in range(0, len(order), BATCH):
                rows = order[start:start + BATCH]
                out[rows], states = self._forward([ids[i] for i in rows])
                if with_pieces:  # each text's own tokens, [CLS] and [SEP] left out
                    pieces.update((i, unit_pieces(encoded[i].offsets[:body], states[k, 1:len(ids[i]) - 1]))
                                  for k, i in enumerate(rows))
        return out, [pieces[i] for i in range(len(texts))] if with_pieces else []

    def _forward(self, ids: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        """The texts' unit vectors, and the last layer's state of each of their tokens."""
        length = max(len(x) for x in ids)
        tokens = np.zeros((len(ids), length), dtype=np.int64)
        mask = np.zeros((len(ids), length), dtype=np.float32)
        for i, x in enumerate(ids):
            tokens[i, : len(x)], mask[i, : len(x)] = x, 1.0
        w = self._w
        x = (w["embeddings.word_embeddings.weight"][tokens] + w["embeddings.position_embeddings.weight"][:length]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = self._norm(x, "embeddings.LayerNorm")
        bias = (1.0 - mask)[:, None, None, :] * np.finfo(np.float32).min  # padding gets no attention
        for layer in range(int(self.config["num_hidden_layers"])):
            x = self._layer(x, bias, f"encoder.layer.{layer}.")
        pooled = (x * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12), x

    def _layer(self, x: np.ndarray, bias: np.ndarray, p: str) -> np.ndarray:
        heads = int(self.config["num_attention_heads"])
        b, n, d = x.shape

        def split(t: np.ndarray) -> np.ndarray:
            return t.reshape(b, n, heads, d // heads).transpose(0, 2, 1, 3)

        q, k, v = (split(self._linear(x, f"{p}attention.self.{m}")) for m in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(d // heads)) + bias
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        context = (scores / scores.sum(-1, keepdims=True)) @ v
        context = context.transpose(0, 2, 1, 3).reshape(b, n, d)
        x = self._norm(x + self._linear(context, f"{p}attention.output.dense"), f"{p}attention.output.LayerNorm")
        hidden = self._linear(x, f"{p}intermediate.dense")
        rows = hidden.reshape(-1, hidden.shape[-1])
        for start in range(0, len(rows), _GELU_ROWS):  # a block at a time: its temporaries stay in cache
            rows[start:start + _GELU_ROWS] = _gelu(rows[start:start + _GELU_ROWS])
        return self._norm(x + self._linear(hidden, f"{p}output.dense"), f"{p}output.LayerNorm")

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        # One 2-D product: NumPy runs a 3-D one as many small ones.
        flat = x.reshape(-1, x.shape[-1]) @ self._w[f"{name}.weight"].T
        flat += self._w[f"{name}.bias"]
        return flat.reshape(*x.shape[:-1], -1)

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        eps = np.float32(self.config.get("layer_norm_eps", 1e-12))
        return (x - mean) / np.sqrt(var + eps) * self._w[f"{name}.weight"] + self._w[f"{name}.bias"]

    def close(self) -> None:
        self._w = {}


def _one_blas_thread():
    """NumPy's BLAS on one thread while we embed: OpenBLAS's idle threads spin, and on a loaded
    machine they fight llama.cpp and each other for the cores (a batch then takes many times longer)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # not installed: BLAS keeps its own thread count
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _check_folder(folder: Path) -> dict:
    """The BERT config of a folder this class computes exactly; ValueError for any other."""
    try:
        modules = [m["type"] for m in json.loads((folder / "modules.json").read_text())]
        config = json.loads((folder / "config.json").read_text())
        pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{folder}: no sentence-transformers configuration ({exc})") from exc
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode") and v]
    if (modules != _MODULES or config.get("model_type") != "bert" or config.get("hidden_act") != "gelu"
            or config.get("position_embedding_type", "absolute") != "absolute" or modes != ["pooling_mode_mean_tokens"]
            or not (folder / "model.safetensors").exists() or not (folder / "tokenizer.json").exists()):
        raise ValueError(f"{folder}: not a mean-pooled, normalised BERT with safetensors weights")
    return config


_ERF = [np.float32(c) for c in (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)]


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact GELU, x·Φ(x), with erf by Abramowitz and Stegun 7.1.26 (error under 1.5e-7,
    float32's own rounding; NumPy has no erf, and SciPy's import costs more than this saves).
    In place, on few arrays: this runs on every hidden unit of every token."""
    z = np.abs(x)
    z *= np.float32(1 / np.sqrt(2))
    t = z * np.float32(0.3275911)
    t += 1
    np.reciprocal(t, out=t)
    poly = t * _ERF[0]
    for c in _ERF[1:]:
        poly += c
        poly *= t
    np.square(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    poly *= z  # 1 - erf(|x|)
    poly *= np.sign(x)  # erf(x) = sign(x) (1 - poly)
    np.subtract(np.sign(x), poly, out=poly)
    poly += 1
    poly *= x
    poly *= np.float32(0.5)
    return poly
