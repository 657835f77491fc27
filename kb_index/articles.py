"""KB articles: Markdown files with a YAML front matter, loaded and validated.

A source file looks like::

    ---
    id: reset-password
    title: Reset your password
    url: /help/reset-password        # optional, default /help/<id>
    tags: [account, login]           # optional
    audience: public                 # required: public | employee | internal
    area: accounts                   # optional
    questions:                       # optional: how customers ask, indexed as well
      - "forgot my password"
      - "it says my details are wrong when I try to log in": reset-your-password  # answered there
    ---
    # Reset your password
    ## Steps
    ...

Every problem raises :class:`ArticleError` naming the file and the field.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from .errors import ArticleError

log = logging.getLogger(__name__)

# public: everyone (website, Slack, agents); employee: the company's staff (the Slack bot)
# and agents; internal: agents only (workarounds)
AUDIENCES = ("public", "employee", "internal")
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,127}$")
KNOWN_FIELDS = ("id", "title", "url", "tags", "audience", "area", "questions")
MAX_QUESTION_CHARS = 300
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)


@dataclass(frozen=True)
class Article:
    """One KB article.  ``source`` is the file it came from, ``None`` for articles
    added through :meth:`Index.upsert_article` (e.g. agents' published resolutions)."""

    id: str
    title: str
    body: str
    audience: str = "public"
    url: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)
    area: str = ""
    source: str | None = None
    questions: tuple[str, ...] = field(default_factory=tuple)
    # per question, the anchor of the section that answers it ("" when not said); empty
    # when no question names one
    question_sections: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        where = self.source or f"<article {self.id!r}>"
        if not isinstance(self.id, str) or not ID_PATTERN.match(self.id):
            raise ArticleError(where, "id", "must be lowercase letters, digits, '-' or '_' "
                               f"(at most 128), got {self.id!r}")
        if not isinstance(self.title, str) or not self.title.strip():
            raise ArticleError(where, "title", "required, a non-empty string")
        if not isinstance(self.body, str) or not self.body.strip():
            raise ArticleError(where, "body", "the article has no text after the front matter")
        if self.audience not in AUDIENCES:
            raise ArticleError(where, "audience", f"must be one of {', '.join(AUDIENCES)}, "
                               f"got {self.audience!r}")
        if not isinstance(self.url, str):
            raise ArticleError(where, "url", f"must be a string, got {self.url!r}")
        if not isinstance(self.area, str):
            raise ArticleError(where, "area", f"must be a string, got {self.area!r}")
        tags = self.tags
        if isinstance(tags, list):
            tags = tuple(tags)
        if not isinstance(tags, tuple) or not all(isinstance(t, str) for t in tags):
            raise ArticleError(where, "tags", f"must be a list of strings, got {self.tags!r}")
        object.__setattr__(self, "tags", tags)
        questions = tuple(self.questions) if isinstance(self.questions, list) else self.questions
        if not isinstance(questions, tuple) or not all(
                isinstance(q, str) and q.strip() and len(q) <= MAX_QUESTION_CHARS for q in questions):
            raise ArticleError(where, "questions", "must be a list of non-empty strings of at most "
                               f"{MAX_QUESTION_CHARS} characters, got {self.questions!r}")
        object.__setattr__(self, "questions", tuple(q.strip() for q in questions))
        anchors = tuple(self.question_sections)
        if anchors and (len(anchors) != len(questions) or not all(isinstance(a, str) for a in anchors)):
            raise ArticleError(where, "questions", "section anchors must be strings, one per "
                               f"question, got {self.question_sections!r}")
        object.__setattr__(self, "question_sections",
                           tuple(a.strip().lstrip("#") for a in anchors) if any(anchors) else ())
        object.__setattr__(self, "title", self.title.strip())
        if not self.url:
            object.__setattr__(self, "url", f"/help/{self.id}")

    def content_hash(self) -> str:
        """Hash of everything that changes the index (text, title, audience, url, tags, area)."""
        data = {k: v for k, v in asdict(self).items() if k != "source"}
        data["tags"] = list(self.tags)
        data["questions"] = list(self.questions)
        data["question_sections"] = list(self.question_sections)
        if not self.questions:       # hashes of articles without questions stay as they were
            del data["questions"]
        if not self.question_sections:   # nor do those of articles whose questions name none
            del data["question_sections"]
        blob = json.dumps(data, sort_keys=True, ensure_ascii=False).encode("utf-8")
        return hashlib.sha256(blob).hexdigest()

    def to_dict(self) -> dict:
        data = asdict(self)
        data["tags"] = list(self.tags)
        data["questions"] = list(self.questions)
        data["question_sections"] = list(self.question_sections)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Article:
        return cls(**{**data, "tags": tuple(data.get("tags", ())),
                      "questions": tuple(data.get("questions", ())),
                      "question_sections": tuple(data.get("question_sections", ()))})


def parse_article(text: str, source: str) -> Article:
    """Parse the text of one article file; ``source`` names it in errors."""
    text = text.lstrip("\ufeff")
    match = _FRONT_MATTER.match(text)
    if not match:
        raise ArticleError(source, None, "no front matter: the file must start with a line "
                           "'---', then YAML fields, then a line '---'")
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (front matter line {mark.line + 1})" if mark else ""
        raise ArticleError(source, None, f"front matter is not valid YAML{line}: "
                           f"{getattr(exc, 'problem', exc)}") from exc
    if not isinstance(meta, dict):
        raise ArticleError(source, None, "front matter must be a mapping of fields")
    for name in ("id", "title", "audience"):
        if meta.get(name) in (None, ""):
            raise ArticleError(source, name, "required field is missing")
    unknown = sorted(set(meta) - set(KNOWN_FIELDS))
    if unknown:
        log.info("%s: ignoring unknown front-matter fields %s", source, ", ".join(map(str, unknown)))
    tags = meta.get("tags") or ()
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",") if t.strip()]
    if not isinstance(tags, (list, tuple)):
        raise ArticleError(source, "tags", f"must be a list of strings, got {tags!r}")
    questions, anchors = _questions(meta.get("questions") or (), source)
    return Article(
        id=_as_str(meta["id"], source, "id"),
        title=_as_str(meta["title"], source, "title"),
        body=text[match.end():].strip() + "\n",
        audience=meta["audience"],
        url=_as_str(meta.get("url") or "", source, "url"),
        tags=tuple(tags),
        area=_as_str(meta.get("area") or "", source, "area"),
        source=source,
        questions=questions,
        question_sections=anchors,
    )


def _questions(items: object, source: str) -> tuple[tuple, tuple[str, ...]]:
    """Front-matter ``questions``: each a string, or a one-entry mapping
    ``"question": section-anchor`` naming the section of the article that answers it."""
    if not isinstance(items, (list, tuple)):
        raise ArticleError(source, "questions", f"must be a list of strings, got {items!r}")
    questions, anchors = [], []
    for item in items:
        if isinstance(item, dict):
            if len(item) != 1 or not all(isinstance(v, str) and v.strip() for v in item.values()):
                raise ArticleError(source, "questions", "a question with its section is written "
                                   f'"question": section-anchor, got {item!r}')
            (item, anchor), = item.items()
        else:
            anchor = ""
        questions.append(item)
        anchors.append(anchor)
    return tuple(questions), tuple(anchors) if any(anchors) else ()


def _as_str(value: object, source: str, name: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ArticleError(source, name, f"must be a string, got {value!r}")
    return str(value)


def load_article(path: str | Path) -> Article:
    """Read and validate one article file."""
    path = Path(path)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ArticleError(str(path), None, f"not valid UTF-8 (byte {exc.start}: "
                           f"{raw[exc.start:exc.start + 1]!r}); save the file as UTF-8") from exc
    return parse_article(text, str(path))


def load_articles(source_dir: str | Path) -> list[Article]:
    """Load every ``*.md`` file under ``source_dir`` (recursively), sorted by id.

    Raises :class:`ArticleError` for the first invalid file, or when two files share an id.
    """
    source_dir = Path(source_dir)
    if not source_dir.is_dir():
        raise ArticleError(str(source_dir), None, "KB source folder does not exist")
    seen: dict[str, Article] = {}
    for path in sorted(source_dir.rglob("*.md")):
        if path.name.lower() == "readme.md":
            continue
        article = load_article(path)
        if article.id in seen:
            raise ArticleError(str(path), "id", f"duplicate id {article.id!r}, "
                               f"also used by {seen[article.id].source}")
        seen[article.id] = article
    return sorted(seen.values(), key=lambda a: a.id)
