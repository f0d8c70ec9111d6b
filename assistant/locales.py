r"""Locale knowledge from Babel/CLDR: parse and negotiate tags, format amounts, dates and lists the locale's way.

>>> negotiate("de", ["de-DE", "en-US"])
'de-DE'
>>> negotiate("pt_br", ["pt-BR", "es-ES"])
'pt-BR'
>>> format_money(12.5, "EUR", "de-DE")
'12,50\xa0€'
>>> format_money(3000, "JPY", "ja-JP")
'￥3,000'
>>> format_list(["Foto", "Bestellnummer"], "de-DE")
'Foto und Bestellnummer'
"""
from __future__ import annotations

import re
from datetime import date

from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.dates import format_date as _format_date
from babel.lists import format_list as _format_list
from babel.numbers import format_currency

from assistant.errors import LocaleError

_TAG = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8}){0,3}$")


def parse(tag: str) -> Locale:
    """Parse a BCP 47 or POSIX-style tag (de-DE, pt_BR, zh-Hant-TW) into a Babel Locale.

    >>> str(parse("zh-Hant-TW"))
    'zh_Hant_TW'
    """
    if not isinstance(tag, str) or not _TAG.match(tag.strip()):
        raise LocaleError(f"not a locale tag: {tag!r} (expected e.g. de-DE, pt_BR, ja)")
    try:
        return Locale.parse(tag.strip().replace("-", "_"))
    except (UnknownLocaleError, ValueError) as exc:
        raise LocaleError(f"unknown locale {tag!r}") from exc


def to_bcp47(loc: Locale) -> str:
    """'de_DE' → 'de-DE'."""
    return "-".join(p for p in (loc.language, loc.script, loc.territory) if p)


def negotiate(tag: str, supported: list[str]) -> str:
    """The supported locale that serves `tag`: exact match, else the language's likely region, else the
    language's first supported locale; an unsupported language is an error naming the nearest choices."""
    try:
        loc = parse(tag)
    except LocaleError as exc:
        raise LocaleError(f"{exc}; supported: {', '.join(sorted(supported))}") from None
    by_tag = {s.lower(): s for s in supported}
    full = to_bcp47(loc).lower()
    if full in by_tag:
        return by_tag[full]
    if loc.territory:
        plain = f"{loc.language}-{loc.territory}".lower()
        if plain in by_tag:
            return by_tag[plain]
    same_language = [s for s in supported if s.split("-")[0].lower() == loc.language]
    if same_language:
        if not loc.territory:
            # CLDR likely subtags: de → de_Latn_DE, pt → pt_Latn_BR
            likely = get_global("likely_subtags").get(loc.language, "")
            territory = next((p for p in likely.split("_")[1:] if len(p) == 2 and p.isupper()), None)
            if territory and f"{loc.language}-{territory}".lower() in by_tag:
                return by_tag[f"{loc.language}-{territory}".lower()]
        return sorted(same_language)[0]
    raise LocaleError(f"unsupported locale {tag!r}; supported: {', '.join(sorted(supported))}")


def language_name(language: str, in_locale: str = "en") -> str:
    """The language's name, in `in_locale`'s language.

    >>> language_name("ja")
    'Japanese'
    >>> language_name("de", "de-DE")
    'Deutsch'
    """
    try:
        return Locale.parse(language).get_display_name(parse(in_locale)) or language
    except (UnknownLocaleError, ValueError, LocaleError):
        return language


def region(locale: str) -> str | None:
    """The region subtag, which picks market-specific KB variants.

    >>> region("ja-JP")
    'JP'
    """
    return parse(locale).territory


def format_money(amount: float, currency: str, locale: str) -> str:
    return format_currency(amount, currency, locale=parse(locale))


def format_day(day: date, locale: str, style: str = "long") -> str:
    """A date the locale's way.

    >>> format_day(date(2026, 11, 25), "fr-FR")
    '25 novembre 2026'
    """
    return _format_date(day, format=style, locale=parse(locale))


def format_list(items: list[str], locale: str) -> str:
    return _format_list(items, locale=parse(locale))
