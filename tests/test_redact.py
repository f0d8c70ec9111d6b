"""Customer data never reaches the logs as written: e-mails, phones, card numbers (last four kept), IBANs."""
from __future__ import annotations

import logging

import pytest

from assistant.redact import RedactingFilter, install_log_redaction, name_parts, redact


@pytest.mark.parametrize("text,gone,kept", [
    ("Schreiben Sie an anna.mueller+shop@example.co.uk bitte", ["anna.mueller", "example.co.uk"], ["[email]"]),
    ("Rufen Sie mich an: +49 30 12345678.", ["12345678"], ["[phone]"]),
    ("Tel. 030 1234 5678", ["1234 5678"], ["[phone]"]),
    ("call me at (415) 555-0134 tomorrow", ["555-0134"], ["[phone]"]),
    ("電話番号は 090-1234-5678 です", ["1234-5678"], ["[phone]"]),
    ("Meine Karte 4111 1111 1111 1111 wurde belastet", ["4111 1111 1111 1111"], ["**** **** **** 1111"]),
    ("carte 4000-0566-5566-5556 débitée deux fois", ["4000-0566"], ["**** **** **** 5556"]),
    ("card 4242424242424241 (typo, not Luhn-valid) is still masked", ["4242424242424241"], ["**** **** **** 4241"]),
    ("ＩＢＡＮ： DE89 3704 0044 0532 0130 00", ["3704 0044"], ["3000"]),
    ("Mail: ｙａｍａｄａ＠ｅｘａｍｐｌｅ．ｊｐ", ["ｙａｍａｄａ", "yamada"], ["[email]"]),
])
def test_redact_masks_customer_data(text: str, gone: list[str], kept: list[str]) -> None:
    out = redact(text)
    for g in gone:
        assert g not in out, out
    for k in kept:
        assert k in out, out


@pytest.mark.parametrize("text", [
    "Bestellung A-1042 vom 12.03.2025 über 649,00 € — bitte innerhalb von 14 Tagen melden.",
    "注文番号は A-1042 です。2025年3月12日に届きました。",
    "order #553201, 30 days, https://brightcraft.example/track",
    "",
])
def test_redact_keeps_ordinary_text(text: str) -> None:
    assert redact(text) == text


def test_redact_names() -> None:
    out = redact("Guten Tag Frau Müller, liebe Anna Müller", names=name_parts("Anna Müller"))
    assert "Müller" not in out and "Anna" not in out and out.count("[name]") == 2


def test_logging_filter_masks_messages_args_and_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    install_log_redaction()  # adds the filter to the handlers present now (caplog's included)
    assert any(isinstance(f, RedactingFilter) for f in caplog.handler.filters)
    log = logging.getLogger("assistant.test_redact")
    log.info("draft for %s, card %s", "anna@example.de", "4242 4242 4242 4242")
    try:
        raise ValueError("customer wrote: call +49 171 2345678 or mail bob@example.com")
    except ValueError:
        log.exception("failed for %s", "bob@example.com")
    text = caplog.text
    for secret in ("anna@example.de", "bob@example.com", "4242 4242 4242 4242", "2345678"):
        assert secret not in text
    assert "**** **** **** 4242" in text and "[email]" in text and "[phone]" in text
    assert "ValueError" in text  # the traceback is kept, only masked


def test_filter_on_a_plain_handler() -> None:
    records: list[str] = []

    class ListHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = ListHandler()
    handler.addFilter(RedactingFilter())
    log = logging.getLogger("assistant.test_redact.plain")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("message from %s: %r", "j.doe@example.org", {"phone": "+33 6 12 34 56 78"})
    finally:
        log.removeHandler(handler)
    assert records and "j.doe" not in records[0] and "12 34 56 78" not in records[0]
