"""Keep customer data out of logs and stored feedback: mask e-mail addresses, phone numbers, payment card numbers
(last four digits kept) and IBANs (last four kept).

The patterns follow ``assistant/understand.py``'s entity extractor (same e-mail, card and phone shapes), but
redaction errs on the side of masking: any 13–19 digit run that looks like a card number is masked, Luhn-valid
or not (a mistyped card number is still a card number).

>>> redact("Mail anna.mueller@example.de or call +49 30 1234 5678, card 4242 4242 4242 4242.")
'Mail [email] or call [phone], card **** **** **** 4242.'
>>> redact("注文番号は A-1042 です。電話 03-1234-5678")
'注文番号は A-1042 です。電話 [phone]'

A logging filter applies it to every record a handler emits (message, arguments and traceback)::

    install_log_redaction()          # root and uvicorn handlers
"""
from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable

from assistant.understand import mask_card

EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}")
CARD = re.compile(r"(?<![\d+/-])(?:\d[ -]?){12,18}\d(?!\d)")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b")
PHONES = (
    re.compile(r"(?<![\w+])(?:\+|00)\d{1,3}(?:[\s.\-/]?\(?\d{1,5}\)?){1,6}(?!\w)"),
    re.compile(r"(?<![\w+])\(?0\d{1,5}\)?(?:[\s.\-/]\d{2,8}){1,4}(?!\w)"),
    re.compile(r"(?<![\w+])\(?[2-9]\d{2}\)?[\s.\-]\d{3}[\s.\-]\d{4}(?!\w)"),
)
EMAIL_MASK = "[email]"
PHONE_MASK = "[phone]"


def _card(m: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", m.group(0))
    return mask_card(digits) if 13 <= len(digits) <= 19 else m.group(0)


def _iban(m: re.Match[str]) -> str:
    compact = m.group(0).replace(" ", "")
    return f"{compact[:2]}** **** {compact[-4:]}" if 15 <= len(compact) <= 34 else m.group(0)


def _phone(m: re.Match[str]) -> str:
    value = m.group(0)
    n = sum(ch.isdigit() for ch in value)
    international = value.lstrip("(").startswith(("+", "00"))
    return PHONE_MASK if (8 if international else 9) <= n <= 15 else value


def redact(text: str, names: Iterable[str] = ()) -> str:
    """Mask e-mails, card numbers, IBANs and phone numbers in ``text``; also each of ``names`` (e.g. the customer's
    name and its parts) when given. Full-width digits are read as digits (NFKC) where something is masked.

    >>> redact("Card 4242-4242-4242-4242 from Anna Müller", names=["Anna Müller"])
    'Card **** **** **** 4242 from [name]'
    >>> redact("IBAN DE89 3704 0044 0532 0130 00, order #553201")
    'IBAN DE** **** 3000, order #553201'
    >>> redact("nothing to hide, order A-1042, 14 days")
    'nothing to hide, order A-1042, 14 days'
    """
    if not text:
        return text
    out = unicodedata.normalize("NFKC", text) if any(0xFF10 <= ord(c) <= 0xFF5A or c == "＠" for c in text) else text
    out = EMAIL.sub(EMAIL_MASK, out)
    out = IBAN.sub(_iban, out)
    out = CARD.sub(_card, out)
    for rx in PHONES:
        out = rx.sub(_phone, out)
    for name in sorted({n.strip() for n in names if n and len(n.strip()) >= 2}, key=len, reverse=True):
        out = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", "[name]", out)
    return out


def name_parts(name: str | None) -> list[str]:
    """The customer's name and its words (3+ letters), for ``redact(..., names=...)``.

    >>> name_parts("Anna Müller")
    ['Anna Müller', 'Anna', 'Müller']
    >>> name_parts(None)
    []
    """
    if not name or not name.strip():
        return []
    full = " ".join(name.split())
    return [full] + [w for w in full.split() if len(w) >= 3 and w != full]


class RedactingFilter(logging.Filter):
    """A logging filter that masks customer data in the formatted message and any traceback text.

    Attach it to handlers (a filter on a logger only sees that logger's own records, not its children's)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not break logging
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_FILTER = RedactingFilter()
LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "fastapi", "gradio", "assistant")


def install_log_redaction(loggers: Iterable[str] = LOGGERS) -> RedactingFilter:
    """Add the redacting filter to the handlers of the given loggers (root by default) and to the loggers
    themselves (for records they log directly). Idempotent."""
    for name in loggers:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
        for handler in logger.handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)
    return _FILTER
