"""One settings object, read from defaults, a TOML file and ASSISTANT_* environment variables.

Precedence, highest first: arguments passed to ``Settings(...)``, environment variables
(``ASSISTANT_TOP_K=5``), the TOML file (``assistant.toml`` in the working directory, or the
file named by ``ASSISTANT_CONFIG``), then the defaults below. The CLI builds its flags from
these same fields, so every setting has a flag, a variable and a TOML key of the same name.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from .environment import PROCESS_ENV, configure  # noqa: F401  (the package's one configure(), re-exported)

#: The project checkout: default paths live here, so `Assistant()` works from any directory.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


_CONFIG_FILE: ContextVar[Optional[Path]] = ContextVar("config_file", default=None)


def _config_file() -> Path:
    return _CONFIG_FILE.get() or Path(os.environ.get("ASSISTANT_CONFIG", "assistant.toml"))


class Settings(BaseSettings):
    """Every knob of the assistant. Relative paths are resolved against the working directory."""

    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", frozen=True, extra="forbid")

    # Where things live
    index_dir: Path = Field(PROJECT_ROOT / "index", description="Chroma store folder")
    # NoDecode: ASSISTANT_CORPUS is "a:b", split by the validator below, not parsed as JSON.
    corpus: Annotated[list[Path], NoDecode] = Field(
        [PROJECT_ROOT / "articles"], description="documents ingested when the index is empty"
    )
    models_dir: Path = Field(PROJECT_ROOT / "models", description="folder of GGUF files")
    collection: str = Field("documents", description="Chroma collection name")
    chroma_url: Optional[str] = Field(None, description="use a Chroma server (http://host:port) instead of index_dir")

    # Embeddings and chunking
    embedder: str = Field("all-MiniLM-L6-v2", description="sentence-transformers model name or folder")
    chunk_tokens: int = Field(128, ge=16, le=256, description="max word pieces per chunk (MiniLM reads 256)")
    chunk_overlap: int = Field(1, ge=0, le=5, description="sentences shared by neighbouring chunks")
    head_chars: int = Field(
        200, ge=0, le=600, description="characters of a document's opening lines (its title, byline, dateline) kept "
        "with each later chunk and shown with its passages, so that a passage says whose words it holds; 0: none")
    max_file_mb: float = Field(50.0, gt=0, description="files larger than this are refused")
    follow_symlinks: bool = Field(False, description="follow symlinks that leave the folder being ingested")

    numpy_queries: bool = Field(
        True, description="embed questions (and score sentences) with MiniLM run in NumPy: the same vectors as "
        "sentence-transformers, and a new process answers without importing torch; ingest still uses it")

    # Retrieval
    top_k: int = Field(
        6, ge=1, le=50, description="passages given to the model: at most this many, cut to their relevant sentences "
        "(select_sentences); this many whole ones otherwise")
    select_sentences: bool = Field(
        True, description="give the model the sentences of the best passages that bear on the question, not whole passages")
    select_from: int = Field(12, ge=1, le=100, description="passages whose sentences are candidates (select_sentences)")
    select_tokens: int = Field(
        300, ge=32, description="word pieces of source text the model reads per question, and per part of a "
        "question that asks several things (select_sentences)")
    followup_sources: int = Field(
        1, ge=0, le=50, description="new passages a follow-up that refers back ('its shares') adds to those shown")
    dense_weight: float = Field(0.5, ge=0, description="weight of dense search in rank fusion")
    bm25_weight: float = Field(1.0, ge=0, description="weight of BM25 in rank fusion")
    rrf_k: int = Field(20, ge=1, description="reciprocal-rank-fusion constant")
    exact_search_max: int = Field(
        20000, ge=0, description="an embedded index of at most this many chunks keeps a copy of its vectors with "
        "the saved BM25 index and is searched exactly from it, so a new process answers without opening Chroma; "
        "larger ones are searched by Chroma's HNSW index")

    # Generation
    model: str = Field("default", description="'default', 'small', a file in models_dir, or a GGUF path")
    llm_url: Optional[str] = Field(None, description="OpenAI-compatible server (http://host:port/v1) instead of llama.cpp")
    llm_api_key: Optional[str] = Field(None, description="API key for llm_url")
    llm_model_name: Optional[str] = Field(None, description="model name sent to llm_url")
    n_ctx: int = Field(4096, ge=512, description="llama.cpp context length in tokens")
    n_threads: Optional[int] = Field(None, ge=1, description="CPU threads (default: all cores)")
    n_batch: int = Field(512, ge=8, description="llama.cpp prompt batch size")
    n_gpu_layers: int = Field(0, description="layers offloaded to a GPU (-1: all)")
    extra_buffers: Literal["auto", "on", "off"] = Field(
        "auto", description="llama.cpp's extra CPU buffer types (weight repacking, AMX): auto is off (AMX kernels "
        "crash, and repacking costs every load time and memory); on where make bench shows it pays (README: When "
        "something goes wrong)")
    isolate_engine: bool = Field(
        True, description="run llama.cpp in a child process: a crash inside it fails one answer with its reason, "
        "and the next question reloads the model")
    prefix_cache: bool = Field(
        True, description="save llama.cpp's state after the fixed prompt prefix in <index_dir>/.llm-state/ and "
        "restore it at start instead of prefilling the prefix again")
    max_tokens: int = Field(384, ge=16, description="max tokens of an answer (thinking included)")
    temperature: float = Field(0.0, ge=0, le=2, description="sampling temperature (0: greedy)")
    seed: int = Field(0, description="sampling seed")
    check_citations: bool = Field(
        True, description="point each answer sentence's [n] at the source that holds it; withhold an answer no "
        "source supports")
    ground_claims: bool = Field(
        True, description="remove answer sentences whose names and numbers do not stand together in a cited "
        "passage; refuse when nothing supported is left")
    verify_claims: Literal["off", "unstated", "all"] = Field(
        "unstated", description="ask the model itself whether an answer sentence's cited sources state it (yes/no "
        "read from its next-token probabilities), and re-cite or remove what it judges unsupported: for each "
        "sentence that uses a word of the question its sources lack (unstated), for every sentence (all), or never "
        "(off)")
    check_conflicts: bool = Field(
        True, description="when the shown passages give different values (dates, weekdays, amounts) for what the "
        "answer states, add 'The sources differ: …' citing each")
    think_tokens: int = Field(2048, ge=0, description="extra tokens allowed for a reasoning model's <think> part")

    # Servers
    host: str = Field("127.0.0.1", description="address the web UI and API bind to")
    port: int = Field(7860, ge=0, le=65535, description="port of the web UI")
    api_port: int = Field(8000, ge=0, le=65535, description="port of the OpenAI-compatible API (`assistant api`)")

    @field_validator("verify_claims", mode="before")
    @classmethod
    def _verify_flag(cls, value: Any) -> Any:
        # The setting was a yes/no flag: true (any of pydantic's spellings) still means every
        # sentence, false none.
        word = str(value).strip().lower()
        if word in ("1", "on", "t", "true", "y", "yes"):
            return "all"
        if word in ("0", "off", "f", "false", "n", "no"):
            return "off"
        return word if isinstance(value, str) else value

    @field_validator("corpus", mode="before")
    @classmethod
    def _split_corpus(cls, value: Any) -> Any:
        # Lets ASSISTANT_CORPUS=a:b or a single string name several folders.
        if isinstance(value, str):
            return [p for p in value.split(os.pathsep) if p]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=_config_file()))

    @classmethod
    def load(cls, config: Union[str, Path, None] = None, **values: Any) -> "Settings":
        """Settings read with ``config`` as the TOML file (instead of ASSISTANT_CONFIG or
        ./assistant.toml), ``values`` outranking everything."""
        token = _CONFIG_FILE.set(Path(config) if config else None)
        try:
            return cls(**values)
        finally:
            _CONFIG_FILE.reset(token)

    def replace(self, **changes: Any) -> "Settings":
        """A validated copy with some fields changed (explicit values outrank env and TOML)."""
        return type(self)(**{**self.model_dump(), **changes})


def default(name: str, value: Any = None) -> Any:
    """``value``, or when it is None the default of the Settings field ``name``: backends that
    take a setting as an argument default to Settings' value, never to a copy of it."""
    return Settings.model_fields[name].default if value is None else value
