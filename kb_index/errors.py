"""Exceptions raised by kb_index. Every one derives from :class:`KBError`."""

from __future__ import annotations


class KBError(Exception):
    """Base class for every error kb_index raises on purpose."""


class ArticleError(KBError):
    """An article source file (or an article built in code) is invalid.

    ``path`` names the file (or ``<article id>`` for articles built in code) and
    ``field`` the front-matter field at fault, or ``None`` when the problem is the
    file as a whole (encoding, missing front matter, duplicate id).
    """

    def __init__(self, path: str, field: str | None, message: str) -> None:
        self.path = str(path)
        self.field = field
        self.reason = message
        where = f"{self.path}: field '{field}'" if field else self.path
        super().__init__(f"{where}: {message}")


class IndexCorrupt(KBError):
    """The index folder is missing files, has files whose checksum does not match
    the manifest, or has a manifest that cannot be read.  Rebuild it with
    ``kb_index.build`` (``open_index(..., source_dir=...)`` does so by itself)."""


class IndexIncompatible(KBError):
    """The index was built with another embedding model or another on-disk format
    version than this code uses.  Rebuild it; nothing is wrong with the files."""


class QueryError(KBError):
    """The search query is empty, too long, or a search argument is out of range."""
