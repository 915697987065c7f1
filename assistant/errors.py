"""The one exception users see. Its message names the file, field or model at fault."""


class AssistantError(Exception):
    """A user-facing error: the CLI and UI print its message without a traceback."""
