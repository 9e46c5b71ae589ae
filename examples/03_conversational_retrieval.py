r"""Example 3: a conversational retrieval chain (follow-up questions use the chat history).

Serves `/chat`: input `{"question": str, "chat_history": [[human, ai], ...]}`, output
the answer as a string. With history, the model first rewrites the follow-up into a
standalone question ("How many moons does it have?" after a question about Saturn);
that question ranks the bundled corpus with BM25 (as in example 2) and the model
answers from the best documents. In the playground, `chat_history` is a chat widget.

Without an API key the model is langchain-core's `GenericFakeChatModel`, scripted to
do both steps from its prompt: it joins the last question to the follow-up, and it
answers with the context sentence that shares the most words with the question.
With `OPENAI_API_KEY` set it is a real model through `init_chat_model`
(`pip install langchain langchain-openai`; `EXAMPLE_MODEL` picks another).

Run one of:

    python examples/03_conversational_retrieval.py
    langserve-like serve examples/03_conversational_retrieval.py:app

Then:

    curl http://127.0.0.1:8000/chat/invoke -H 'Content-Type: application/json' \
      -d '{"input": {"question": "Tell me about Saturn", "chat_history": []}}'
    curl -N http://127.0.0.1:8000/chat/stream -H 'Content-Type: application/json' \
      -d '{"input": {"question": "How many moons does it have?",
           "chat_history": [["Tell me about Saturn", "Saturn is famous for its rings."]]}}'
"""

from __future__ import annotations

import json
import math
import os
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from langchain_core.callbacks import CallbackManagerForLLMRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableLambda, RunnablePassthrough
from pydantic import BaseModel, Field

from langserve_like import add_routes

CORPUS = Path(__file__).parent / "data" / "solar_system.jsonl"
STOPWORDS = frozenset(
    "a an and are as at be by does for from has have how in is it its me of on or tell "
    "the to what which who why with about".split()
)


def tokenize(text: str) -> list[str]:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return [w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words if w not in STOPWORDS]


class BM25Retriever(BaseRetriever):
    """Okapi BM25 over a few documents (example 2 explains it)."""

    documents: list[Document]
    k: int = 2

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        docs = [Counter(tokenize(d.page_content)) for d in self.documents]
        avg = sum(sum(d.values()) for d in docs) / len(docs)
        frequency = Counter(t for d in docs for t in d)
        query_terms = set(tokenize(query))

        def score(d: Counter[str]) -> float:
            norm = 1.5 * (0.25 + 0.75 * sum(d.values()) / avg)
            return sum(
                math.log(1 + (len(docs) - frequency[t] + 0.5) / (frequency[t] + 0.5))
                * d[t]
                * 2.5
                / (d[t] + norm)
                for t in query_terms
                if t in d
            )

        scores = [score(d) for d in docs]
        ranked = sorted(range(len(docs)), key=lambda i: -scores[i])[: self.k]
        return [self.documents[i] for i in ranked if scores[i] > 0]


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text) if s]


def fake_reply(messages: list[BaseMessage]) -> str:
    """What the scripted fake model says: rewrite the question, or answer from context."""
    system = messages[0].text if isinstance(messages[0], SystemMessage) else ""
    question = messages[-1].text
    if system.startswith("Rewrite"):
        asked = [m.text for m in messages[1:-1] if isinstance(m, HumanMessage)]
        follow_up = question.removeprefix("Follow-up question:").strip()
        return f"{asked[-1]} {follow_up}" if asked else follow_up
    context = system.split("Context:", 1)[-1].strip()
    if not context:
        return "I could not find anything about that in my notes."
    wanted = set(tokenize(question))
    best = max(sentences(context), key=lambda s: len(wanted & set(tokenize(s))))
    return best.split("] ", 1)[-1]


class ScriptedChatModel(GenericFakeChatModel):
    """The fake chat model, with replies computed from the prompt (`fake_reply`)."""

    messages: Iterator[AIMessage | str] = iter(())

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        message = AIMessage(content=fake_reply(messages))  # fresh per call
        return ChatResult(generations=[ChatGeneration(message=message)])


def chat_model() -> BaseChatModel:
    if os.environ.get("OPENAI_API_KEY"):
        from langchain.chat_models import init_chat_model  # pip install langchain

        return init_chat_model(os.environ.get("EXAMPLE_MODEL", "openai:gpt-4o-mini"))
    return ScriptedChatModel()


class ChatInput(BaseModel):
    question: str
    chat_history: list[tuple[str, str]] = Field(
        default_factory=list,
        json_schema_extra={"widget": {"type": "chat", "input": "question"}},
    )


def history_messages(inputs: dict[str, Any]) -> list[BaseMessage]:
    pairs = inputs.get("chat_history") or []
    return [m for human, ai in pairs for m in (HumanMessage(human), AIMessage(ai))]


def format_docs(docs: list[Document]) -> str:
    return "\n\n".join(f"[{d.metadata['title']}] {d.page_content}" for d in docs)


model = chat_model()
retriever = BM25Retriever(
    documents=[
        Document(page_content=row["text"], metadata={"title": row["title"]})
        for row in map(json.loads, CORPUS.read_text(encoding="utf-8").splitlines())
    ]
)
condense = (
    ChatPromptTemplate.from_messages(
        [
            ("system", "Rewrite the follow-up question as a standalone question."),
            MessagesPlaceholder("history"),
            ("human", "Follow-up question: {question}"),
        ]
    )
    | model
    | StrOutputParser()
)
answer = ChatPromptTemplate.from_messages(
    [
        ("system", "Answer in one or two sentences, using only this.\n\nContext:\n{context}"),
        ("human", "{standalone_question}"),
    ]
)


def standalone_question(inputs: dict[str, Any]) -> Runnable[Any, str] | str:
    """Without history the question stands alone; a returned runnable is run by the lambda."""
    return condense if inputs["history"] else inputs["question"]


chain = (
    RunnablePassthrough.assign(history=history_messages)
    | RunnablePassthrough.assign(standalone_question=RunnableLambda(standalone_question))
    | RunnablePassthrough.assign(
        context=(lambda x: x["standalone_question"]) | retriever | format_docs
    )
    | answer
    | model
    | StrOutputParser()
).with_types(input_type=ChatInput, output_type=str)

app = FastAPI(title="Conversational retrieval", description="RAG with chat history")
add_routes(app, chain, path="/chat")

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8000)
