"""Reading and saving locale style files safely: the one path the REST API (PUT /v1/styles/{locale}) and the style
studio both use.

- An ETag (sha256 of the file's bytes) names each version. ``save(locale, text, if_match=etag)`` compares and
  swaps under a lock (a thread lock plus an ``flock`` across processes): when the file changed since ``etag`` was
  read, ``StaleETag`` is raised and nothing is written, so two people saving at once never lose an edit.
- The text is validated (``StyleBook.validate_text``: schema, lines and fields) before anything is written; an
  invalid text raises ``StyleErrors`` and the file stays as it was.
- Writes are atomic (a temp file in the same folder, fsync, ``os.replace``).
- Every saved version (and the version it replaced) is kept under ``history_dir/<locale>/`` as
  ``<UTC timestamp>-<sha12>.yaml``; ``rollback`` is a save of an old version through the same guarded path.
- Locale names are checked against the BCP 47 shape (``de-DE``) before any path is built, and must name an
  existing locale file: nothing outside ``styles_dir/locales`` is ever read or written.

Example::

    store = StyleStore(Path("styles"), Path(".cache/tactful/style-history"))
    text, etag = store.read("de-DE")
    store.save("de-DE", text.replace("Guten Tag", "Hallo"), if_match=etag)   # -> the new ETag
"""
from __future__ import annotations

import contextlib
import difflib
import hashlib
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from assistant.errors import InputError, LocaleError, StyleError, StyleErrors, TactfulError
from assistant.styles import MAX_FILE_BYTES, StyleBook, normalize_locale

try:  # POSIX: also guard against another process (a second server, a CLI) saving at the same moment
    import fcntl
except ImportError:  # pragma: no cover - Windows: the thread lock still guards one server
    fcntl = None  # type: ignore[assignment]

LOCALE_TAG = re.compile(r"^[a-z]{2,3}(?:-[A-Z][a-z]{3})?(?:-(?:[A-Z]{2}|[0-9]{3}))?$")
_VERSION = re.compile(r"^\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{12}$")


class StaleETag(TactfulError):
    """The file changed since the editor loaded it; carries the current ETag."""

    def __init__(self, locale: str, current: str) -> None:
        self.locale, self.current = locale, current
        super().__init__(f"locales/{locale}.yaml was changed by someone else since you loaded it (now {current}); "
                         "reload it, re-apply your edit and save again")


class UnknownLocale(LocaleError):
    """No such locale file (as opposed to a malformed locale tag)."""


def etag_of(data: bytes) -> str:
    """The quoted strong ETag of a file's bytes.

    >>> etag_of(b"locale: de-DE\\n")
    '"09b951f649294872b370d43edc4cbb44"'
    """
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


def _unquote(etag: str) -> str:
    etag = etag.strip()
    if etag.startswith("W/"):
        etag = etag[2:]
    return etag.strip('"')


def unified_diff(old: str, new: str, old_name: str = "before", new_name: str = "after") -> str:
    """A unified diff of two texts ('' when they are equal).

    >>> print(unified_diff("a\\nb\\n", "a\\nc\\n"), end="")
    --- before
    +++ after
    @@ -1,2 +1,2 @@
     a
    -b
    +c
    """
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                        fromfile=old_name, tofile=new_name))


@dataclass(frozen=True)
class Version:
    id: str  # "<timestamp>-<sha12>", the file name without .yaml
    locale: str
    created: str  # ISO 8601, UTC
    sha: str  # first 12 hex digits of the sha256 of the bytes
    path: Path

    @property
    def label(self) -> str:
        return f"{self.created.replace('T', ' ')[:19]} UTC · {self.sha}"


class StyleStore:
    """Guarded reads and writes of ``styles_dir/locales/<locale>.yaml``, with version history.

    ``on_saved(locale)`` runs after every successful save (the server reloads its StyleBook there);
    ``known_intents`` (a callable, evaluated at validation time) restricts phrase-bank keys."""

    def __init__(self, styles_dir: Path, history_dir: Path, *,
                 on_saved: Callable[[str], None] | None = None,
                 known_intents: Callable[[], set[str] | None] | None = None) -> None:
        self.styles_dir = Path(styles_dir)
        self.history_dir = Path(history_dir)
        self.on_saved = on_saved
        self.known_intents = known_intents or (lambda: None)
        self._lock = threading.Lock()

    # -- paths -------------------------------------------------------------------------------------------------
    def tag(self, locale: str) -> str:
        """The normalised tag, or LocaleError for anything that is not a plain locale tag."""
        if not isinstance(locale, str) or len(locale) > 35:
            raise LocaleError("a locale is a tag like 'de-DE'")
        tag = normalize_locale(locale)
        if not LOCALE_TAG.match(tag):
            raise LocaleError(f"{locale!r} is not a locale tag like 'de-DE'")
        return tag

    def locales(self) -> list[str]:
        folder = self.styles_dir / "locales"
        return sorted(p.stem for p in folder.glob("*.yaml") if LOCALE_TAG.match(p.stem)) if folder.is_dir() else []

    def path(self, locale: str) -> Path:
        """The existing locale file; UnknownLocale when there is none."""
        tag = self.tag(locale)
        folder = (self.styles_dir / "locales").resolve()
        path = (folder / f"{tag}.yaml").resolve()
        if path.parent != folder or not path.is_file():
            raise UnknownLocale(f"unknown locale {locale!r}; choose: {', '.join(self.locales())}")
        return path

    # -- reading -----------------------------------------------------------------------------------------------
    def read(self, locale: str) -> tuple[str, str]:
        """(YAML text, ETag) of the locale file."""
        data = self.path(locale).read_bytes()
        return data.decode("utf-8-sig", errors="replace"), etag_of(data)

    def etag(self, locale: str) -> str:
        return etag_of(self.path(locale).read_bytes())

    def validate(self, locale: str, text: str) -> list[StyleError]:
        """Problems of an edited text (file, line, field, message); [] when it is valid. Writes nothing."""
        tag = self.tag(locale)
        file = f"locales/{tag}.yaml"
        if len(text.encode("utf-8")) > MAX_FILE_BYTES:
            return [StyleError(file, None, "(file)", f"larger than {MAX_FILE_BYTES // 1024} KB; style files are small")]
        if "\x00" in text:
            return [StyleError(file, text[: text.index("\x00")].count("\n") + 1, "(file)", "contains a NUL byte")]
        return StyleBook.validate_text(self.styles_dir, tag, text, self.known_intents())

    @staticmethod
    def decode(body: bytes, locale: str) -> str:
        """Request bytes as text; a StyleErrors naming the line when they are not UTF-8."""
        try:
            return body.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = body[: exc.start].count(b"\n") + 1
            raise StyleErrors([StyleError(f"locales/{locale}.yaml", line, "(file)",
                                          "not UTF-8 text; save the file as UTF-8")]) from None

    # -- writing -----------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock:
            self.history_dir.mkdir(parents=True, exist_ok=True)
            if fcntl is None:
                yield
                return
            with open(self.history_dir / ".lock", "a+b") as fh:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def save(self, locale: str, text: str, if_match: str | None = None) -> str:
        """Validate and write the locale file; returns the new ETag.

        ``if_match`` is the ETag the editor loaded ("*" or None: no check). Raises StaleETag (nothing written)
        when the file changed since, StyleErrors when the text is invalid, UnknownLocale for a missing file."""
        if not isinstance(text, str):
            raise InputError("the style file must be text")
        tag = self.tag(locale)
        path = self.path(tag)
        errors = self.validate(tag, text)  # outside the lock: validation reads only the profiles
        if errors:
            raise StyleErrors(errors)
        data = text.encode("utf-8")
        with self._locked():
            current = path.read_bytes()
            current_etag = etag_of(current)
            if if_match is not None and if_match.strip() != "*" and _unquote(if_match) != _unquote(current_etag):
                raise StaleETag(tag, current_etag)
            if data != current:
                self._snapshot(tag, current)  # the version being replaced (once: same bytes, same sha)
                self._write_atomic(path, data)
                self._snapshot(tag, data)
        if self.on_saved is not None and data != current:
            self.on_saved(tag)
        return etag_of(data)

    def rollback(self, locale: str, version_id: str, if_match: str | None) -> str:
        """Save an old version again (same guards as ``save``); returns the new ETag."""
        return self.save(locale, self.read_version(locale, version_id), if_match)

    @staticmethod
    def _write_atomic(path: Path, data: bytes) -> None:
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    # -- history -----------------------------------------------------------------------------------------------
    def _snapshot(self, tag: str, data: bytes) -> None:
        folder = self.history_dir / tag
        folder.mkdir(parents=True, exist_ok=True)
        sha = hashlib.sha256(data).hexdigest()[:12]
        latest = self.history(tag)
        if latest and latest[0].sha == sha:
            return  # already the newest version in the history
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
        self._write_atomic(folder / f"{stamp}-{sha}.yaml", data)

    def history(self, locale: str) -> list[Version]:
        """Saved versions of the locale, newest first."""
        tag = self.tag(locale)
        folder = self.history_dir / tag
        out = []
        for p in folder.glob("*.yaml") if folder.is_dir() else []:
            if not _VERSION.match(p.stem):
                continue
            stamp, sha = p.stem.split("-")
            created = datetime.strptime(stamp, "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=timezone.utc)
            out.append(Version(p.stem, tag, created.isoformat(timespec="seconds"), sha, p))
        return sorted(out, key=lambda v: v.id, reverse=True)

    def read_version(self, locale: str, version_id: str) -> str:
        tag = self.tag(locale)
        if not isinstance(version_id, str) or not _VERSION.match(version_id):
            raise InputError(f"{version_id!r} is not a version id of locales/{tag}.yaml")
        path = self.history_dir / tag / f"{version_id}.yaml"
        if not path.is_file():
            raise InputError(f"no version {version_id} of locales/{tag}.yaml; see its history")
        return path.read_bytes().decode("utf-8-sig", errors="replace")

    def diff(self, locale: str, old_text: str, new_text: str, old_name: str = "saved", new_name: str = "edited") -> str:
        tag = self.tag(locale)
        return unified_diff(old_text, new_text, f"{old_name}/locales/{tag}.yaml", f"{new_name}/locales/{tag}.yaml")
