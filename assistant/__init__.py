"""A local, offline question-answering assistant over your documents, with cited answers.

    from assistant import Assistant, Settings
    with Assistant() as a:
        print(a.ask("Where is Scott Singer a visiting scholar?").text)

Heavy libraries (torch, llama.cpp, Chroma, Gradio) load only when first needed. So do this
package's own modules: the names below are imported on first use (PEP 562), so the engine's
child process (``python -m assistant.engine``) starts without the settings and their pydantic.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .assistant import Assistant
    from .config import Settings
    from .errors import AssistantError
    from .types import Answer, Citation, IngestReport, Passage, Sources, Token

_HOMES = {"Assistant": ".assistant", "Settings": ".config", "AssistantError": ".errors", "Answer": ".types",
          "Citation": ".types", "IngestReport": ".types", "Passage": ".types", "Sources": ".types", "Token": ".types"}
__all__ = list(_HOMES)
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'assistant' has no attribute {name!r}")
    value = getattr(import_module(_HOMES[name], __name__), name)
    globals()[name] = value
    return value
