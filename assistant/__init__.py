"""A local, offline question-answering assistant over your documents, with cited answers.

    from assistant import Assistant, Settings
    with Assistant() as a:
        print(a.ask("Where is Scott Singer a visiting scholar?").text)

Heavy libraries (torch, llama.cpp, Chroma, Gradio) load only when first needed.
"""

from .assistant import Assistant
from .config import Settings
from .errors import AssistantError
from .types import Answer, Citation, IngestReport, Passage, Sources, Token

__all__ = ["Assistant", "Settings", "AssistantError", "Answer", "Citation", "IngestReport", "Passage", "Sources",
           "Token"]
__version__ = "0.1.0"
