r"""Sentence splitting that works in every shipped language, without relying on '.' alone.

Japanese and Chinese end sentences with 。！？ (no space follows); European languages with . ! ? … followed by
space; bullets and line breaks end a sentence too. Abbreviations (z. B., e.g., Nr., Dr., S.A.) and decimals
(6.95, 12,50) do not.

>>> split_sentences("Vielen Dank! Wir senden z. B. Ersatz für 6.95 USD. Bis bald")
['Vielen Dank!', 'Wir senden z. B. Ersatz für 6.95 USD.', 'Bis bald']
>>> split_sentences("ご連絡ありがとうございます。交換品をお送りします！よろしくお願いいたします。")
['ご連絡ありがとうございます。', '交換品をお送りします！', 'よろしくお願いいたします。']
>>> split_sentences("- First point.\n- Second point")
['First point.', 'Second point']

A question quoted inside a sentence, French spacing before ? and », and German ordinal dates do not end it:

>>> split_sentences('Usa la opción "¿Olvidaste tu contraseña?" de la página. Gracias.')
['Usa la opción "¿Olvidaste tu contraseña?" de la página.', 'Gracias.']
>>> split_sentences("Cliquez sur « Mot de passe oublié ? » sur la page. Merci !")
['Cliquez sur « Mot de passe oublié ? » sur la page.', 'Merci !']
>>> split_sentences("Die Lieferung kommt am 15. März an. Danke!")
['Die Lieferung kommt am 15. März an.', 'Danke!']
"""
from __future__ import annotations

import re

_ABBREVIATIONS = {
    "z", "b", "e", "g", "i", "u", "a", "d", "h", "s", "v", "ca", "bzw", "usw", "etc", "nr", "dr", "mr", "mrs", "ms",
    "st", "str", "tel", "inkl", "ggf", "evtl", "vgl", "sr", "sra", "srta", "dra", "av", "p", "pp", "no", "n", "vs",
    "mme", "mlle", "m", "art", "ex", "approx", "dhr", "mevr", "bijv", "o", "ecc", "sig", "dott", "jr", "co", "inc",
}
_BULLET = re.compile(r"^\s*(?:[-*•·]|\d+[.)])\s+")
# Full-width 。！？ end a sentence with no space after; ASCII ! and ? do so only when CJK text follows directly
# (followed by a space they are handled by _END, which knows about quotes).
_CJK_END = re.compile(r"(?<=[。！？])(?=[^。！？!?」』）)\"'])|(?<=[!?])(?=[\u3040-\u30ff\u3400-\u9fff])")
_END = re.compile(r"(?<=[.!?…])(?:[\s\u00a0\u202f]*[\"'»”)])*\s+(?=\S)")
_CLOSERS = "\"'»”)"
_GERMAN_MONTHS = {"januar", "jänner", "februar", "märz", "april", "mai", "juni", "juli", "august", "september", "oktober",
                  "november", "dezember"}


def _split_line(line: str) -> list[str]:
    parts: list[str] = []
    for chunk in _CJK_END.split(line):
        start = 0
        for match in _END.finditer(chunk):
            before = chunk[start:match.start()].rstrip(_CLOSERS + " \u00a0\u202f")
            last_word = re.findall(r"(\w+)[.]$", before)
            if last_word and (last_word[0].lower() in _ABBREVIATIONS or len(last_word[0]) == 1):
                continue  # "z. B.", "Nr. 5", "e.g. this"
            rest = chunk[match.end():]
            next_word = re.match(r"\w+", rest)
            if any(c in _CLOSERS for c in chunk[match.start():match.end()]) and rest[:1].islower():
                continue  # a quoted question or exclamation inside a sentence: 'the "Forgot password?" link'
            if last_word and last_word[0].isdigit() and len(last_word[0]) <= 2 and next_word \
                    and next_word.group().lower() in _GERMAN_MONTHS:
                continue  # German ordinal date: "am 15. März"
            parts.append(chunk[start:match.end()].strip())
            start = match.end()
        parts.append(chunk[start:].strip())
    return [p for p in parts if p]


def split_sentences(text: str) -> list[str]:
    """Split text into sentences; Markdown bullets and line breaks are boundaries, headings are dropped."""
    sentences: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or line.startswith("---"):
            continue
        line = _BULLET.sub("", line)
        sentences.extend(_split_line(line))
    return sentences
