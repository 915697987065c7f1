"""Process-wide side effects, in one place: ``configure()`` and the variables it sets.

Kept apart from the settings (``config``) so that what must run first, before pydantic and any
model library load, imports nothing heavy: the CLI spawns its engine process with these
variables before it reads its settings (``engine.prestart``).
"""

from __future__ import annotations

import logging
import os

# Process-wide settings, set by configure() (never at import), each only where not set already.
PROCESS_ENV = {
    # Offline: no Hugging Face library tries the network, and no telemetry anywhere.
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "ANONYMIZED_TELEMETRY": "False",  # Chroma
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TOKENIZERS_PARALLELISM": "false",
    # torch (MiniLM) and llama.cpp both run their threads on libgomp, whose waiting threads spin at
    # every barrier by default. When other programs share the cores, a spinning thread holds the
    # core its partner needs, and query embedding and generation slow down many times over;
    # sleeping waiters cost little on an idle machine (bench/RESULTS.md, "What was tried"). libgomp
    # reads this once, when torch or llama.cpp first loads.
    "OMP_WAIT_POLICY": "PASSIVE",
}


def configure() -> None:
    """Set the process-wide settings: offline, no telemetry, sleeping thread waiters, quiet loggers.

    The entry points (CLI, servers) and ``Assistant()`` call it before any heavy library loads
    (Hugging Face libraries read their variables at import). Variables already set are kept."""
    for name, value in PROCESS_ENV.items():
        os.environ.setdefault(name, value)
    # pypdf logs its repairs of damaged files ("EOF marker not found"); a bad file gets our one line.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
