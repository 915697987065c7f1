"""The page's uploads as one transaction, apart from Gradio: files are copied into the upload folder
(``<index_dir>/uploads``) under safe names, ingested, and the folder keeps only what was indexed: a
file that fails is deleted, and the file it replaced (same name) comes back.

    upload(files, folder, ingest, max_file_mb)  -> Uploaded (what was saved, refused, indexed)
    safe_filename(name)                         -> a name that cannot leave the folder
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from .errors import AssistantError
from .readers import EXTENSIONS
from .types import IngestReport

UPLOADS = "uploads"  # the folder under index_dir where the page's uploads are kept


def upload_folder(index_dir: Any) -> Path:
    return (Path(index_dir) / UPLOADS).absolute()


def safe_filename(name: str) -> str:
    """A file name that cannot leave the upload folder: no directory part, no leading dots,
    only letters, digits, ``._- `` (others become ``_``)."""
    base = re.split(r"[\\/]", str(name))[-1]
    base = unicodedata.normalize("NFKC", base)
    base = re.sub(r"[^\w.\- ]+", "_", base, flags=re.UNICODE)
    base = re.sub(r"\.{2,}", ".", base).strip(" .")
    if len(base) > 120:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: 119 - len(ext)] + dot + ext) if dot and len(ext) <= 8 else base[:120]
    return base or "upload"


def source_path(f: Any) -> Path:
    """The path of an uploaded file as Gradio hands it over: a path, or an object or dict with one."""
    return Path(f if isinstance(f, (str, Path)) else getattr(f, "path", None) or f["path"])


@dataclass
class Uploaded:
    """What an upload did. Paths are absolute, in the upload folder."""

    saved: list[str] = field(default_factory=list)  # written into the folder, then ingested
    refused: list[str] = field(default_factory=list)  # "name: why", never written
    report: Optional[IngestReport] = None  # the ingest's, when it ran
    error: str = ""  # the AssistantError that failed the whole ingest (then nothing is kept)

    @property
    def failed(self) -> set[str]:
        if self.error:
            return set(self.saved)
        return set(self.report.errors) if self.report else set()

    @property
    def indexed(self) -> list[str]:
        failed = self.failed
        return [p for p in self.saved if p not in failed]


class _Staging:
    """Files put into the folder, each with the backup of the file it replaced, until settled."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.backups: dict[str, str] = {}

    def put(self, src: Path, dest: Path) -> None:
        # Copy beside, then rename over: a symlink planted at dest is replaced, never followed.
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
                shutil.copyfileobj(inp, out)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        if dest.is_file() and not dest.is_symlink():
            fd, backup = tempfile.mkstemp(dir=self.folder, prefix=".previous-")
            os.close(fd)
            os.replace(dest, backup)
            self.backups[str(dest)] = backup
        os.replace(tmp, dest)

    def settle(self, paths: Sequence[str], failed: set[str]) -> None:
        """Keep what was indexed; a failed file goes, and the one it replaced comes back."""
        for path in paths:
            backup = self.backups.pop(path, None)
            if path in failed:
                if backup:
                    os.replace(backup, path)
                else:
                    Path(path).unlink(missing_ok=True)
            elif backup:
                Path(backup).unlink(missing_ok=True)


def _refusal(name: str, src: Path, dest: Path, folder: Path, max_file_mb: float, taken: Sequence[str]) -> str:
    """Why ``src`` is not saved as ``dest`` ("" when it may be)."""
    if Path(name).suffix.lower() not in EXTENSIONS:
        return f"{name}: not a supported type; upload {' '.join(EXTENSIONS)}"
    if src.stat().st_size > int(max_file_mb * 1e6):
        return f"{name}: over the {max_file_mb:g} MB limit (max_file_mb)"
    if dest.resolve().parent != folder.resolve() or str(dest) in taken:
        return f"{name}: refused (the name leads outside the upload folder or repeats)"
    return ""


def upload(files: Sequence[Any], folder: Path, ingest: Callable[[list[str]], IngestReport], max_file_mb: float,
           saving: Optional[Callable[[int, int, str], None]] = None) -> Uploaded:
    """Save ``files`` into ``folder`` and ``ingest`` them (a list of paths -> its report; an
    ``AssistantError`` fails them all). ``saving(i, n, name)`` is called before each file is saved."""
    folder.mkdir(parents=True, exist_ok=True)
    result = Uploaded()
    staging = _Staging(folder)
    try:
        for i, f in enumerate(files):
            src = source_path(f)
            name = safe_filename(src.name)
            if saving:
                saving(i, len(files), name)
            dest = folder / name
            refusal = _refusal(name, src, dest, folder, max_file_mb, result.saved)
            if refusal:
                result.refused.append(refusal)
                continue
            staging.put(src, dest)
            result.saved.append(str(dest))
        if result.saved:
            try:
                result.report = ingest(list(result.saved))
            except AssistantError as exc:
                result.error = str(exc)
    except BaseException:
        result.error = result.error or "interrupted"
        raise
    finally:
        staging.settle(result.saved, result.failed)
    return result
