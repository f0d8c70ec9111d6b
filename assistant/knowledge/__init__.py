"""Knowledge base: load Markdown articles, chunk them, index them (hybrid), search them."""
from assistant.knowledge.index import HybridIndex, Passage
from assistant.knowledge.loader import Article, GoodwillPolicy, KnowledgeBase, load_kb

__all__ = ["Article", "GoodwillPolicy", "HybridIndex", "KnowledgeBase", "Passage", "load_kb"]
