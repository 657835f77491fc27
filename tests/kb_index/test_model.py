"""The real all-MiniLM-L6-v2 model on the small fixture KB (marked ``model``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kb_index import Article, Embedder, build, open_index

pytestmark = pytest.mark.model
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def model() -> Embedder:
    return Embedder()


# Like the shipped KB, each article says how customers ask for it (the answer threshold is
# calibrated on a KB written that way); none of these is one of the questions asked below.
QUESTIONS = {
    "reset-password": ["forgot my password", "it says my details are wrong when I log in"],
    "locked-out-after-security-update": ["can't get in since you changed the login security"],
    "refund-timing": ["refund not arrived yet", "how long until I see the refund"],
    "track-your-order": ["where is my order", "has my parcel been sent yet"],
}


def with_questions(articles: dict[str, str]) -> dict[str, str]:
    result = {}
    for name, text in articles.items():
        article_id = text.split("id: ", 1)[1].split("\n", 1)[0]
        listed = "".join(f'  - "{q}"\n' for q in QUESTIONS.get(article_id, []))
        result[name] = text.replace("\n---\n", f"\nquestions:\n{listed}---\n", 1) if listed else text
    return result


@pytest.fixture(scope="module")
def real_index(tmp_path_factory, model):
    from .conftest import ARTICLES, write_kb

    root = tmp_path_factory.mktemp("model")
    kb = write_kb(root / "kb", with_questions(ARTICLES))
    build(kb, root / "index", model)
    return open_index(root / "index", embedder=model)


@pytest.fixture(scope="module")
def shipped_index(model):
    """The index of data/kb that the product serves (``make kb``; updated here if stale)."""
    return open_index(ROOT / "var" / "kb_index", source_dir=ROOT / "data" / "kb", embedder=model)


def test_embedder_gives_unit_vectors(model):
    vectors = model.encode(["reset my password", "reset my password", "track a parcel"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(vectors[0], vectors[1], atol=1e-6)
    assert model.name == "sentence-transformers/all-MiniLM-L6-v2" and model.dimension == 384


@pytest.mark.parametrize("question, article_id", [
    ("i forgot my pasword and cant log in", "reset-password"),
    ("passwrod reset email never came", "reset-password"),
    ("my acount is locked since the security update", "locked-out-after-security-update"),
    ("when do i get my money back", "refund-timing"),
    ("how can i track where my parcel is", "track-your-order"),
])
def test_customer_questions_find_their_article(real_index, question, article_id):
    result = real_index.search(question, k=3)
    assert result.hits[0].article_id == article_id


IN_SCOPE = ["i forgot my pasword and cant log in", "when do i get my money back",
            "how can i track where my parcel is"]
OUT_OF_SCOPE = ["what is the capital of france", "write me a poem about the sea", "do you sell kayaks"]


def test_confidence_separates_questions_the_kb_answers(real_index):
    # The threshold is calibrated on the shipped KB (next test); on this 5-article KB the
    # absolute values differ, but every answered question must still beat every stray one.
    answered = min(real_index.search(q).confidence for q in IN_SCOPE)
    stray = max(real_index.search(q).confidence for q in OUT_OF_SCOPE)
    assert answered > stray


@pytest.mark.parametrize("question, article_id", [
    ("i forgot my pasword and cant log in", "reset-password"),
    ("when do i get my money back", "refund-timing"),
    ("my acount is locked since the security update", "locked-out-after-security-update"),
    ("how can i track where my parcel is", "track-your-order"),
    # Laura's (issue 16), and its indirect cousin: the second fell just under the threshold
    # until the confidence counted the query's words that the article has (0.59 against 0.536).
    ("My account has been inactive for two years, can you reactivate it?", "reactivate-inactive-account"),
    ("I haven't used my account for years, can I still get in", "reactivate-inactive-account"),
])
def test_the_shipped_kb_answers_customer_questions(shipped_index, question, article_id):
    result = shipped_index.search(question, k=3)
    assert result.hits[0].article_id == article_id
    assert result.answerable, result.confidence


@pytest.mark.parametrize("question", ["what is the capital of france",
                                      "write me a poem about the sea",
                                      "do you sell kayaks"])
def test_out_of_scope_is_not_answerable(real_index, shipped_index, question):
    assert not real_index.search(question).answerable
    assert not shipped_index.search(question).answerable


def test_internal_articles_stay_internal(real_index):
    question = "how do agents unlock an account by hand in the admin tool"
    assert all(h.audience == "public" for h in real_index.search(question, k=10).hits)
    assert real_index.search(question, audience="internal").hits[0].article_id == "manual-unlock-admin"


def test_published_resolution_answers_the_next_customer(real_index):
    real_index.upsert_article(Article(
        id="gift-card-balance", title="Check your gift card balance", audience="public",
        body="# Check your gift card balance\n\nEnter the 16-digit card number and PIN on the "
             "Gift cards page to see the remaining balance."))
    assert real_index.search("how much money is left on my gift card").hits[0].article_id == \
        "gift-card-balance"


@pytest.mark.parametrize("question, context, heading", [
    ("My account has been inactive for two years, can you reactivate it?", None,
     "How to reactivate your account"),
    ("my account was inactive for 3 years how do I reactivate", None, "How to reactivate your account"),
    ("and if I no longer have that email?", "My account has been inactive for two years, can you reactivate it?",
     "If you no longer have access to the old email address"),
    ("what about after five years?", "my account was inactive for 3 years how do I reactivate",
     "Accounts inactive for more than five years"),
])
def test_lauras_questions_get_the_section_that_answers(shipped_index, question, context, heading):
    result = shipped_index.search(question, k=4, context=context)
    best = result.hits[0]
    assert best.article_id == "reactivate-inactive-account" and result.answerable
    assert best.section.heading == heading and best.section.complete
    if heading.startswith("How to"):
        assert best.section.text.splitlines()[0].startswith("1. Go to the sign-in page")
        assert len(best.section.text.splitlines()) == 5


def test_missing_model_folder_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("CARE_EMBEDDING_MODEL", str(tmp_path / "no-model"))
    embedder = Embedder()
    assert embedder.name == str(tmp_path / "no-model")
    with pytest.raises(FileNotFoundError, match="CARE_EMBEDDING_MODEL"):
        embedder.encode(["x"])


def test_a_cached_query_is_the_vector_a_fresh_forward_pass_gives(model):
    fresh = model.encode(["Where is my PARCEL", "where is my parcel and my refund", "x", "y"])[:2]
    cached = model.encode(["where is my parcel"])  # single texts go through the cache
    again = model.encode(["  where is my parcel "])
    assert again is not cached and np.array_equal(cached, again)
    np.testing.assert_allclose(cached[0], fresh[0], atol=1e-5)
