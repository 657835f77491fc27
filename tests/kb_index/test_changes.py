"""upsert_article / delete_article: incremental, persisted, safe while searches run."""

from __future__ import annotations

import threading
import time

import pytest

from kb_index import Article, open_index

FIX = Article(id="printer-fix", title="Label printer prints blank labels",
              body="# Label printer prints blank labels\n\nRestart the spooler, then reload "
                   "the thermal paper roll with the shiny side down.", audience="internal")


def test_upsert_is_searchable_and_persisted(index, index_dir, embedder):
    index.upsert_article(FIX)
    assert index.search("thermal paper roll", audience="internal").hits[0].article_id == "printer-fix"
    assert "printer-fix" not in {h.article_id for h in index.search("thermal paper roll", k=10).hits}
    reopened = open_index(index_dir, embedder=embedder)
    assert reopened.get_article("printer-fix") == FIX


def test_upsert_replaces_an_article(index, index_dir, embedder):
    changed = Article(id="refund-timing", title="When will I get my refund?",
                      body="Refunds reach your account within two working days by bank transfer.")
    index.upsert_article(changed)
    hits = index.search("refund bank transfer", k=10).hits
    assert [h.article_id for h in hits].count("refund-timing") == 1
    assert "bank transfer" in hits[0].snippet
    assert "bank transfer" in open_index(index_dir, embedder=embedder).search("refund").hits[0].snippet


def test_delete(index, index_dir, embedder):
    assert index.delete_article("refund-timing") is True
    assert index.delete_article("refund-timing") is False
    assert "refund-timing" not in {h.article_id for h in index.search("refund", k=10).hits}
    assert open_index(index_dir, embedder=embedder).get_article("refund-timing") is None


def test_many_changes_compact_the_vectors(index, index_dir, embedder):
    for round_ in range(6):
        index.upsert_article(Article(id="refund-timing", title="Refund",
                                     body=f"Refund version {round_} arrives in days."))
    assert index.search("refund version 5").hits[0].snippet.startswith("Refund version 5")
    assert open_index(index_dir, embedder=embedder).manifest_data()["counts"]["rows"] < 20


def _section_vector(index, article_id):
    """The section vectors of ``article_id``'s live section chunks, and what they should be."""
    rows = index._section_rows[article_id]
    article = index.get_article(article_id)
    expected = index.embedder.encode([index._row_chunks[r].section_text(article) for r in rows])
    return index._sections[rows], expected


def test_upsert_and_delete_keep_the_section_vectors_in_step(index, index_dir, embedder):
    index.upsert_article(FIX)
    changed = Article(id="refund-timing", title="When will I get my refund?",
                      body="## Bank transfer\n\nRefunds reach your account within two working days.\n\n"
                           "## Card\n\nA card refund shows on your statement within a week.")
    index.upsert_article(changed)
    for article_id in ("printer-fix", "refund-timing"):
        stored, expected = _section_vector(index, article_id)
        assert stored.shape == expected.shape and stored == pytest.approx(expected, abs=1e-6)
    index.delete_article("printer-fix")
    for i in range(8):                                   # enough changes to compact the rows
        index.upsert_article(Article(id="refund-timing", title="Refund", body=f"Refund version {i}."))
    for reopened in (index, open_index(index_dir, embedder=embedder)):
        assert "printer-fix" not in reopened._section_rows
        assert len(reopened._sections) == len(reopened._row_chunks)
        for article_id in reopened.article_ids():
            stored, expected = _section_vector(reopened, article_id)
            assert stored == pytest.approx(expected, abs=1e-6)


def test_the_section_choice_scores_the_section_vectors(index):
    query = "refund to my bank account"
    vector = index.embedder.encode([index.correct(query)])[0]
    ranked = index.rank(query, vector=vector)[0]
    evidence = index.section_evidence(ranked, query, vector)
    rows = index._section_rows[ranked.article_id]
    assert evidence.cosine == pytest.approx(index._sections[rows] @ vector, abs=1e-6)
    assert not evidence.cosine == pytest.approx(index._store.vectors(rows) @ vector, abs=1e-6)


def test_changes_while_searching_from_threads(index):
    errors: list[BaseException] = []
    stop = threading.Event()
    seen_at: dict[str, float] = {}

    def searcher() -> None:
        while not stop.is_set():
            try:
                for hit in index.search("thermal paper roll shiny side", k=3, audience="internal").hits:
                    seen_at.setdefault(hit.article_id, time.monotonic())
                index.search("refund", k=3)
            except BaseException as exc:  # noqa: BLE001 - report anything from the thread
                errors.append(exc)
                return

    threads = [threading.Thread(target=searcher) for _ in range(4)]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    for n in range(20):
        index.upsert_article(Article(id=f"fix-{n}", title=f"Printer fix {n}",
                                     body=f"Blank labels printer fix number {n}.", audience="internal"))
        if n % 3 == 0:
            index.delete_article(f"fix-{n}")
    upserted = time.monotonic()
    index.upsert_article(FIX)
    deadline = time.monotonic() + 1.0
    while "printer-fix" not in seen_at and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    for thread in threads:
        thread.join()
    assert not errors
    assert seen_at["printer-fix"] - upserted < 1.0              # searchable within a second
    assert upserted - started < 20                              # sanity: changes did not hang
    ids = set(index.article_ids())
    assert {f"fix-{n}" for n in range(20) if n % 3} <= ids
    assert not {f"fix-{n}" for n in range(20) if n % 3 == 0} & ids


def test_two_writers_on_one_folder_lose_nothing(index, index_dir, embedder):
    """Like two service processes: each sees the other's change before writing its own."""
    other = open_index(index_dir, embedder=embedder)
    index.upsert_article(FIX)
    other.upsert_article(Article(id="second-fix", title="Scanner fix", body="Reboot the scanner."))
    assert {"printer-fix", "second-fix"} <= set(other.article_ids())
    assert index.refresh() is True and index.refresh() is False
    assert {"printer-fix", "second-fix"} <= set(index.article_ids())
    assert {"printer-fix", "second-fix"} <= set(open_index(index_dir, embedder=embedder).article_ids())


def test_refresh_picks_up_a_build(index, kb_dir, index_dir, embedder):
    from kb_index import build

    (kb_dir / "orders/track-order.md").unlink()
    assert index.refresh() is False
    build(kb_dir, index_dir, embedder)
    assert index.refresh() is True
    assert index.get_article("track-your-order") is None
