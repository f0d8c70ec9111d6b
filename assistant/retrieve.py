"""Retrieve: the evidence that answers the message, in the customer's language and market where the KB has it."""
from __future__ import annotations

from assistant.knowledge import HybridIndex
from assistant.knowledge.index import INTENT_ARTICLE_MIN
from assistant.locales import region as locale_region
from assistant.types import Embedder, Fact, Retrieval, Understanding


def retrieve(message: str, understanding: Understanding, index: HybridIndex, embedder: Embedder,
             k: int = 3, max_facts: int = 4) -> Retrieval:
    query_vector = embedder.embed_queries([message[:2000]])[0]
    evidence, confidence = index.search_with_confidence(
        message[:2000], query_vector, understanding.language, region=locale_region(understanding.locale), k=k,
        intent_scores=understanding.intent_scores or {understanding.intent: understanding.intent_confidence})
    if not evidence:
        return Retrieval(evidence=[], facts=[], confidence=0.0)
    # Facts come from the article of the understood intent when retrieval found it: "charged twice, and I want a
    # person" is answered from the payment article; the wish for a person is the escalation move's job.
    top = next((e for e in evidence if e.tags and e.tags[0] == understanding.intent
                and understanding.intent_confidence >= INTENT_ARTICLE_MIN), evidence[0])
    ranked = index.best_sentences(query_vector, top.article_id, top.lang, locale_region(understanding.locale), max_facts)
    facts = [Fact(text=index.sentences[sid], article_id=top.article_id, lang=top.lang, title=top.title,
                  score=round(score, 4)) for sid, score in ranked]
    # The passages the facts are quoted from are evidence too: checks and citations must see them.
    for sid, score in ranked:
        passage = index.evidence_for(sid, score)
        if not any((e.article_id, e.lang, e.section) == (passage.article_id, passage.lang, passage.section) for e in evidence):
            evidence.append(passage)
    return Retrieval(evidence=evidence, facts=facts, confidence=round(confidence, 4))
