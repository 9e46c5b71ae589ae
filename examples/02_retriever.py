r"""Example 2: a retriever that ranks by relevance, with no network and no model download.

Serves `/retriever`: input a query string, output a list of `Document`s, best first,
each with its BM25 score in `metadata["score"]`. The corpus is a small bundled file
(`examples/data/solar_system.jsonl`); BM25 is written out below in a few lines, so
this needs nothing beyond `langserve-like[server]`. Swap in any langchain retriever
(a vector store's `.as_retriever()`, ...) and the HTTP API stays the same.

Run one of:

    python examples/02_retriever.py
    langserve-like serve examples/02_retriever.py:app

Then:

    curl http://127.0.0.1:8000/retriever/invoke \
      -H 'Content-Type: application/json' -d '{"input": "Which planet is the largest?"}'
    curl -N http://127.0.0.1:8000/retriever/stream \
      -H 'Content-Type: application/json' -d '{"input": "rings made of ice"}'
    curl http://127.0.0.1:8000/retriever/batch \
      -H 'Content-Type: application/json' -d '{"inputs": ["red planet", "dwarf planet"]}'
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import PrivateAttr

from langserve_like import add_routes

CORPUS = Path(__file__).parent / "data" / "solar_system.jsonl"
STOPWORDS = frozenset(
    "a an and are as at be by does for from has have how in is it its of on or the to "
    "what which who why with".split()
)


def tokenize(text: str) -> list[str]:
    words = re.findall(r"[a-z0-9]+", text.lower())
    # A crude plural strip, so "moons" finds "moon".
    return [w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words if w not in STOPWORDS]


class BM25Retriever(BaseRetriever):
    """Okapi BM25 over an in-memory list of documents."""

    documents: list[Document]
    k: int = 3
    k1: float = 1.5
    b: float = 0.75
    _terms: list[Counter[str]] = PrivateAttr()
    _idf: dict[str, float] = PrivateAttr()
    _avg_length: float = PrivateAttr()

    def model_post_init(self, context: Any) -> None:
        self._terms = [Counter(tokenize(doc.page_content)) for doc in self.documents]
        self._avg_length = sum(sum(t.values()) for t in self._terms) / max(len(self._terms), 1)
        n = len(self.documents)
        frequency = Counter(term for terms in self._terms for term in terms)
        self._idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in frequency.items()}

    def score(self, query_terms: set[str], terms: Counter[str]) -> float:
        length = sum(terms.values())
        norm = self.k1 * (1 - self.b + self.b * length / self._avg_length)
        return sum(
            self._idf[t] * terms[t] * (self.k1 + 1) / (terms[t] + norm)
            for t in query_terms
            if t in terms
        )

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        query_terms = set(tokenize(query))
        scored = [(self.score(query_terms, terms), i) for i, terms in enumerate(self._terms)]
        best = sorted((s for s in scored if s[0] > 0), reverse=True)[: self.k]
        return [
            Document(
                page_content=self.documents[i].page_content,
                metadata={**self.documents[i].metadata, "score": round(score, 3)},
            )
            for score, i in best
        ]


def load_corpus(path: Path = CORPUS) -> list[Document]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [Document(page_content=row["text"], metadata={"title": row["title"]}) for row in rows]


retriever = BM25Retriever(documents=load_corpus())

app = FastAPI(title="Retriever", description="BM25 over a small bundled corpus")
add_routes(app, retriever, path="/retriever")

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8000)
