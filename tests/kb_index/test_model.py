"""The real all-MiniLM-L6-v2 model on the small fixture KB (marked ``model``)."""

from __future__ import annotations

import numpy as np
import pytest

from kb_index import Article, Embedder, build, open_index

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def model() -> Embedder:
    return Embedder()


@pytest.fixture(scope="module")
def real_index(tmp_path_factory, model):
    from .conftest import write_kb

    root = tmp_path_factory.mktemp("model")
    kb = write_kb(root / "kb")
    build(kb, root / "index", model)
    return open_index(root / "index", embedder=model)


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
    assert result.answerable, result.confidence


@pytest.mark.parametrize("question", ["what is the capital of france",
                                      "write me a poem about the sea",
                                      "do you sell kayaks"])
def test_out_of_scope_is_not_answerable(real_index, question):
    assert not real_index.search(question).answerable


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


def test_missing_model_folder_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("CARE_EMBEDDING_MODEL", str(tmp_path / "no-model"))
    embedder = Embedder()
    assert embedder.name == str(tmp_path / "no-model")
    with pytest.raises(FileNotFoundError, match="CARE_EMBEDDING_MODEL"):
        embedder.encode(["x"])
