"""Check the KB articles in data/kb and the evaluation files in data/eval.

Run with:  python3 data/eval/validate_kb_eval.py  [-v]
Checks front matter (required fields, id == file stem, area == folder, unique ids),
article size (150-400 words, 2-4 "##" sections), that every JSON line parses, that every
labelled article exists and is public, that every public article has >= 3 questions, and
that every in-scope question names its gold sections ("<article id>#<heading anchor>", at
least one in each labelled article, each a heading of that article; see README.md).
Prints the counts at the end; exit status 1 on any error.
"""
import collections
import json
import pathlib
import re
import sys
import unicodedata

try:
    import yaml
except ImportError:  # minimal fallback: "key: value" and "key: [a, b]"
    yaml = None

DATA = pathlib.Path(__file__).resolve().parent.parent
AREAS = {"account-access", "billing", "orders-delivery", "returns-refunds",
         "privacy-data", "technical", "subscriptions", "contact-support"}
KINDS = {"short", "typo", "indirect", "multi", "plain"}


def parse_front_matter(text):
    if yaml is not None:
        return yaml.safe_load(text) or {}
    fm = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        value = value.strip()
        if value.startswith("[") and value.endswith("]"):
            value = [v.strip() for v in value[1:-1].split(",") if v.strip()]
        fm[key.strip()] = value
    return fm


def anchor(heading):
    """GitHub-style slug of a heading, as kb_index/sections.py makes it."""
    text = unicodedata.normalize("NFKD", heading).encode("ascii", "ignore").decode()
    text = re.sub(r"[^\w\s-]", "", text.lower()).strip()
    return re.sub(r"\s", "-", text)


def main():
    verbose = "-v" in sys.argv
    errs = []
    arts = {}
    for p in sorted((DATA / "kb").rglob("*.md")):
        if p.name == "README.md":
            continue
        m = re.match(r"^---\n(.*?)\n---\n(.*)$", p.read_text(encoding="utf-8"), re.S)
        if not m:
            errs.append(f"{p}: no front matter")
            continue
        fm = parse_front_matter(m.group(1))
        for k in ("id", "title", "audience", "area"):
            if not fm.get(k):
                errs.append(f"{p}: missing {k}")
        aid = fm.get("id") or ""
        if aid != p.stem:
            errs.append(f"{p}: id {aid!r} != file stem")
        if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", aid):
            errs.append(f"{p}: id not lowercase-hyphenated")
        if fm.get("area") not in AREAS or fm.get("area") != p.parent.name:
            errs.append(f"{p}: area {fm.get('area')!r} unknown or != folder")
        if fm.get("audience") not in ("public", "employee", "internal"):
            errs.append(f"{p}: audience {fm.get('audience')!r}")
        if fm.get("url", f"/help/{aid}") != f"/help/{aid}":
            errs.append(f"{p}: url is not /help/<id>")
        if not isinstance(fm.get("tags", []), list):
            errs.append(f"{p}: tags is not a list")
        if aid in arts:
            errs.append(f"duplicate id {aid}")
        body = m.group(2)
        words = len(re.findall(r"\w+", body))
        sections = len(re.findall(r"^## ", body, re.M))
        if not body.startswith("# "):
            errs.append(f"{p}: body does not start with '# <title>'")
        if not 150 <= words <= 400:
            errs.append(f"{p}: {words} words (want 150-400)")
        if not 2 <= sections <= 4:
            errs.append(f"{p}: {sections} '##' sections (want 2-4)")
        headings = re.findall(r"^#{1,6}\s+(.*?)\s*#*\s*$", body, re.M)
        arts[aid] = {"area": fm.get("area"), "audience": fm.get("audience"), "words": words,
                     "anchors": {anchor(h) for h in headings}}

    public = {a for a, v in arts.items() if v["audience"] == "public"}
    internal = {a for a, v in arts.items() if v["audience"] == "internal"}
    per_article = collections.Counter()
    kinds = collections.Counter()
    seen = set()
    n_in = n_oos = 0
    n_sections = collections.Counter()   # gold sections per (question, article)
    for name, oos in (("kb_questions.jsonl", False), ("employee_questions.jsonl", False),
                      ("out_of_scope.jsonl", True)):
        path = DATA / "eval" / name
        if not path.exists():
            errs.append(f"{path} missing")
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                errs.append(f"{name}:{n}: {e}")
                continue
            keys = {"question", "article_ids", "kind"} | (set() if oos else {"sections"})
            if set(obj) != keys:
                errs.append(f"{name}:{n}: keys {sorted(obj)}, want {sorted(keys)}")
                continue
            q = obj["question"].strip().lower()
            if q in seen:
                errs.append(f"{name}:{n}: duplicate question")
            seen.add(q)
            kinds[obj["kind"]] += 1
            if oos:
                n_oos += 1
                if obj["article_ids"] or obj["kind"] != "oos":
                    errs.append(f"{name}:{n}: out-of-scope line must have [] and kind 'oos'")
                continue
            n_in += 1
            if obj["kind"] not in KINDS:
                errs.append(f"{name}:{n}: kind {obj['kind']!r}")
            if not obj["article_ids"]:
                errs.append(f"{name}:{n}: no article_ids")
            if obj["kind"] == "multi" and len(obj["article_ids"]) < 2:
                errs.append(f"{name}:{n}: multi needs at least 2 article_ids")
            for a in obj["article_ids"]:
                if a not in arts:
                    errs.append(f"{name}:{n}: unknown article {a}")
                elif a in internal:
                    errs.append(f"{name}:{n}: internal article {a} labelled")
                per_article[a] += 1
            gold = collections.defaultdict(list)
            for ref in obj["sections"]:
                article, _, slug = str(ref).partition("#")
                gold[article].append(slug)
                if article not in obj["article_ids"]:
                    errs.append(f"{name}:{n}: section {ref} is not in a labelled article")
                elif article in arts and slug not in arts[article]["anchors"]:
                    errs.append(f"{name}:{n}: {article} has no heading with anchor #{slug}")
            for a in obj["article_ids"]:
                if not gold[a]:
                    errs.append(f"{name}:{n}: no gold section of {a}")
                n_sections[len(gold[a])] += 1
    thin = sorted(a for a in public if per_article[a] < 3)
    if thin:
        errs.append(f"public articles with fewer than 3 questions: {thin}")

    if verbose:
        for a, v in sorted(arts.items(), key=lambda x: (x[1]["audience"], x[1]["area"], x[0])):
            print(f"  {v['audience']:8} {v['area']:16} {a} ({v['words']} words, {per_article[a]} questions)")
    for e in errs:
        print("ERROR", e)
    print(f"articles: {len(arts)} (public {len(public)}, internal {len(internal)})")
    print(f"in-scope questions: {n_in}; out-of-scope questions: {n_oos}")
    print(f"by kind: {dict(sorted(kinds.items()))}")
    print(f"gold sections per labelled article of a question: {dict(sorted(n_sections.items()))}")
    print(f"questions per public article: min {min((per_article[a] for a in public), default=0)}")
    print("OK" if not errs else f"{len(errs)} errors")
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
