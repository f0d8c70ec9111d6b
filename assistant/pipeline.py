"""Assistant.draft(): request → understand → retrieve → plan → realize → verify → draft. One direction, no loops back."""
from __future__ import annotations

import time
import unicodedata
from contextlib import contextmanager
from collections.abc import Iterator

from assistant.backends import BACKENDS, Backend, load_backend
from assistant.errors import BackendError, InputError, ModelError
from assistant.knowledge import HybridIndex, KnowledgeBase, load_kb
from assistant.locales import negotiate
from assistant.plan import make_plan
from assistant.retrieve import retrieve
from assistant.settings import Settings
from assistant.styles import StyleBook
from assistant.types import Check, Customer, Draft, Embedder, Request
from assistant.verify import VerifyContext, verify


def validate_message(message: object, max_chars: int) -> str:
    """Reject what is not a customer message, with a one-line reason."""
    if not isinstance(message, str):
        raise InputError("the message must be text")
    if not message.strip():
        raise InputError("the message is empty")
    if len(message) > max_chars:
        raise InputError(f"the message has {len(message):,} characters; the limit is {max_chars:,}")
    controls = sum(1 for ch in message if unicodedata.category(ch) in {"Cc", "Cs", "Co", "Cn"} and ch not in "\n\r\t")
    if "\x00" in message or controls > max(2, len(message) // 20):
        raise InputError("the message looks like binary data, not text")
    return message


class _Timer:
    def __init__(self) -> None:
        self.ms: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.ms[name] = round((time.perf_counter() - start) * 1000.0, 2)


class Assistant:
    """Cheap to build; `warm()` loads the embedder, the KB index and the classifiers once.

    >>> from assistant import Assistant  # doctest: +SKIP
    >>> Assistant.load().draft("Mein Fernseher kam kaputt an.").reply  # doctest: +SKIP
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.ready = False

    @classmethod
    def load(cls, settings: Settings | None = None, **overrides: object) -> "Assistant":
        base = settings or Settings.from_env()
        if overrides:
            base = base.model_copy(update={k: v for k, v in overrides.items() if v is not None})
        return cls(Settings(**base.model_dump())).warm()

    def warm(self) -> "Assistant":
        from assistant.embedding import load_embedder
        from assistant.understand import Understander

        s = self.settings
        self.styles = StyleBook.load(s.styles_dir)
        self.kb: KnowledgeBase = load_kb(s.kb_dir)
        self.embedder: Embedder = load_embedder(s)
        s.index_dir.mkdir(parents=True, exist_ok=True)
        self.index = HybridIndex.open(self.kb, self.embedder, s.index_dir)
        self.locales = self.styles.locales()
        languages = sorted({loc.split("-")[0] for loc in self.locales})
        default_locales = {lang: negotiate(lang, self.locales) for lang in languages}
        self.understander = Understander(s, self.embedder, self.locales, default_locales)
        self.understander.warm()
        self.policy = self.kb.goodwill_policy()
        self.shop_name = self.kb.shop_name or s.shop_name
        self._backends: dict[str, Backend] = {"template": load_backend("template", s)}
        self.ready = True
        return self

    def backend(self, name: str) -> Backend:
        if name not in self._backends:
            self._backends[name] = load_backend(name, self.settings)
        return self._backends[name]

    def draft(self, request: Request | str, **fields: object) -> Draft:
        if isinstance(request, str):
            customer = fields.pop("customer", None)
            if isinstance(customer, str):
                customer = Customer(name=customer)
            request = Request(message=request, customer=customer or Customer(), **fields)
        if not self.ready:
            self.warm()
        validate_message(request.message, self.settings.max_message_chars)
        timer = _Timer()
        hint = negotiate(request.locale, self.locales) if request.locale else None
        with timer.stage("understand"):
            understanding = self.understander.understand(request.message, hint)
        style = self.styles.resolve(understanding.locale, request.profile)
        with timer.stage("retrieve"):
            retrieval = retrieve(request.message, understanding, self.index, self.embedder,
                                 k=3, max_facts=max(style.rules.answer_facts, 1))
        with timer.stage("plan"):
            plan = make_plan(request, understanding, retrieval, style, self.policy, self.settings, self.shop_name)
        backend_name = request.backend or self.settings.backend
        if backend_name not in BACKENDS:  # a typo is the user's error to fix, not a reason to fall back silently
            raise BackendError(f"unknown backend {backend_name!r}; choose: {', '.join(sorted(BACKENDS))}")
        fallback_reason = ""
        with timer.stage("realize"):
            try:
                reply = self.backend(backend_name).realize(plan, style, request)
            except (BackendError, ModelError) as exc:
                if backend_name == "template":
                    raise
                fallback_reason, reply = f"{backend_name} failed: {exc}", ""
        with timer.stage("verify"):
            checks = verify(VerifyContext(reply, plan, style, request, retrieval.evidence)) if reply else []
            failed = [c.name for c in checks if not c.passed]
            if backend_name != "template" and (fallback_reason or failed):
                fallback_reason = fallback_reason or f"{backend_name} output failed {', '.join(failed)}"
                reply = self.backend("template").realize(plan, style, request)
                checks = verify(VerifyContext(reply, plan, style, request, retrieval.evidence))
                checks.append(Check(name="fallback", passed=False, detail=f"{fallback_reason}; used the template backend"))
                backend_name = "template"
        confidence = min(understanding.intent_confidence, max(0.0, min(1.0, (retrieval.confidence - 0.7) / 0.2)))
        return Draft(reply=reply, language=plan.language, locale=plan.locale, profile=plan.profile,
                     register=plan.register, intent=plan.intent, confidence=round(confidence, 3),
                     citations=plan.citations, escalate=plan.escalate, escalation_reasons=plan.escalation_reasons,
                     checks=checks, backend=backend_name, timings_ms=timer.ms, evidence=retrieval.evidence)
