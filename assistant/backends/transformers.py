"""The transformers backend: a local causal LM (folder, hub id, or .gguf file) realizes the plan as text.

    backend = TransformersBackend(Settings(transformers_model="/models/my-chat-model"))
    for piece in backend.stream(plan, style, request):   # tokens as they come (TextIteratorStreamer, own thread)
        print(piece, end="")
    reply = backend.realize(plan, style, request)          # the joined stream, stripped

A tokenizer with a chat template gets `render_messages` through `apply_chat_template`; one without (a base model)
gets the document-style `render_completion_prompt`. Decoding is greedy, bounded by
`settings.transformers_max_new_tokens`, the end-of-sequence / end-of-turn tokens and stop strings. The loaded
model is cached per model spec in the process, so every backend instance shares it.
"""
from __future__ import annotations

import copy
import os
import re
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    StoppingCriteria,
    StoppingCriteriaList,
    TextIteratorStreamer,
)

from assistant.backends.prompting import (
    COMPLETION_STOP_STRINGS,
    cut_at_stops,
    drop_reasoning,
    render_completion_prompt,
    render_messages,
)
from assistant.errors import BackendError, ModelError

if TYPE_CHECKING:
    from assistant.settings import Settings
    from assistant.styles import Style
    from assistant.types import Plan, Request

# End-of-turn markers of common chat formats (Gemma, ChatML/Qwen, Llama 3, Phi, Llama 2/Mistral, GPT-2 family).
END_OF_TURN = ("<end_of_turn>", "<|im_end|>", "<|eot_id|>", "<|end|>", "</s>", "<|endoftext|>")
# A chat model that starts writing the next turn itself has finished its reply.
CHAT_STOP_STRINGS = END_OF_TURN + ("<start_of_turn>", "<|im_start|>", "<|start_header_id|>")
THREADS = min(2, os.cpu_count() or 1)
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_FIX = ("set TACTFUL_TRANSFORMERS_MODEL to a local model folder or .gguf file "
        "(a hub id only works where the hub is reachable or the model is in the local hub cache)")


class TransformersModelError(ModelError, BackendError):
    """The model cannot be loaded: a ModelError for the user, a BackendError for the pipeline's fallback."""


@dataclass
class LoadedModel:
    spec: str
    model: Any
    tokenizer: Any
    lock: threading.Lock = field(default_factory=threading.Lock)  # one generation at a time per model (2 cores)
    load_s: float = 0.0


_CACHE: dict[str, LoadedModel] = {}
_CACHE_LOCK = threading.Lock()


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip()


def _source(spec: str) -> tuple[str, dict[str, Any], bool]:
    """(folder or hub id, extra from_pretrained kwargs, is local) for a model spec."""
    path = Path(spec).expanduser()
    if spec.lower().endswith(".gguf"):
        if not path.is_file():
            raise TransformersModelError(f"transformers model file not found: {path}; {_FIX}")
        return str(path.parent), {"gguf_file": path.name}, True
    if path.exists():
        if not path.is_dir():
            raise TransformersModelError(f"transformers model {path} is a file but not a .gguf; {_FIX}")
        return str(path), {}, True
    if spec.startswith((".", "/", "~")) or "\\" in spec or spec.count("/") > 1 or not _HUB_ID.match(spec):
        raise TransformersModelError(f"transformers model folder not found: {path}; {_FIX}")
    return spec, {}, False


def _unreachable_hub(timeout_s: float = 3.0) -> str | None:
    """The hub endpoint when it cannot be reached (offline mode, no DNS, no route), else None."""
    from urllib.parse import urlparse

    from huggingface_hub import constants

    endpoint = constants.ENDPOINT
    if constants.HF_HUB_OFFLINE:
        return f"{endpoint} (offline mode)"
    url = urlparse(endpoint)
    try:
        with socket.create_connection((url.hostname or "", url.port or (443 if url.scheme == "https" else 80)),
                                      timeout=timeout_s):
            return None
    except OSError:
        return endpoint


def _from_pretrained(src: str, kwargs: dict[str, Any], local_only: bool) -> tuple[Any, Any]:
    tokenizer = AutoTokenizer.from_pretrained(src, local_files_only=local_only, **kwargs)
    model = AutoModelForCausalLM.from_pretrained(src, local_files_only=local_only, **kwargs)
    return model, tokenizer


def load_model(spec: str | None, allow_downloads: bool = False) -> LoadedModel:
    """Load (once per process) the model and tokenizer named by `spec`: a folder, a .gguf file or a hub id."""
    if not spec:
        raise TransformersModelError(f"the transformers backend needs a model; {_FIX}")
    local_path = Path(spec).expanduser()
    key = str(local_path.resolve()) if local_path.exists() else spec  # one entry per file, however it is spelled
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
        src, kwargs, local = _source(spec)
        if torch.get_num_threads() > THREADS:  # at most 2 intra-op threads (fewer if the caller chose fewer)
            torch.set_num_threads(THREADS)
        started = time.perf_counter()
        try:
            if local:
                model, tokenizer = _from_pretrained(src, kwargs, local_only=True)
            else:
                try:  # the local hub cache first: no network wait when the model is already here
                    model, tokenizer = _from_pretrained(src, kwargs, local_only=True)
                except (OSError, ValueError):
                    if not allow_downloads:  # offline by default: never touch the network
                        raise TransformersModelError(f"transformers model {spec!r} is not a local folder, .gguf file "
                                                     "or in the local hub cache; set TACTFUL_ALLOW_DOWNLOADS=1 where "
                                                     f"a model hub is reachable, or {_FIX}") from None
                    endpoint = _unreachable_hub()
                    if endpoint:  # fail now, not after the hub client's minute of retries
                        raise TransformersModelError(f"transformers model {spec!r} is not in the local hub cache "
                                                     f"and {endpoint} cannot be reached; {_FIX}") from None
                    model, tokenizer = _from_pretrained(src, kwargs, local_only=False)
        except TransformersModelError:
            raise
        except Exception as exc:  # any loader failure (missing files, bad config, no network) is one clear line
            raise TransformersModelError(f"cannot load transformers model {spec!r} ({_one_line(exc)}); {_FIX}") from exc
        if getattr(model, "dtype", None) in (torch.float16,):  # half precision is slow or unsupported on CPU
            model = model.float()
        model.eval()
        entry = LoadedModel(spec=spec, model=model, tokenizer=tokenizer, load_s=time.perf_counter() - started)
        _CACHE[key] = entry
        return entry


class StopOnStrings(StoppingCriteria):
    """Stops a sequence once its generated text contains a stop string (special tokens included, so
    "<end_of_turn>" counts), or as soon as `cancel` is set (the consumer stopped reading)."""

    def __init__(self, tokenizer: Any, stop_strings: Sequence[str], prompt_length: int,
                 cancel: threading.Event | None = None) -> None:
        self.tokenizer = tokenizer
        self.stop_strings = tuple(s for s in stop_strings if s)
        self.prompt_length = prompt_length
        self.cancel = cancel
        # Every token decodes to at least one character, so this many tokens cover any stop string.
        self.window = max((len(s) for s in self.stop_strings), default=0) + 2

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        batch = input_ids.shape[0]
        if self.cancel is not None and self.cancel.is_set():
            return torch.ones(batch, dtype=torch.bool, device=input_ids.device)
        done = []
        for row in input_ids[:, self.prompt_length:]:
            tail = self.tokenizer.decode(row[-self.window:], skip_special_tokens=False) if self.stop_strings else ""
            done.append(any(s in tail for s in self.stop_strings))
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


def _token_ids(tokenizer: Any, tokens: Sequence[str]) -> list[int]:
    vocab = tokenizer.get_vocab()
    return [vocab[t] for t in tokens if t in vocab]


def _as_list(value: Any) -> list[int]:
    if value is None:
        return []
    return [int(v) for v in value] if isinstance(value, (list, tuple)) else [int(value)]


class TransformersBackend:
    """Realizes a plan with a local transformers causal LM. Cheap to build; the model loads on `warm()` or first use.

    prompt_mode: "auto" (chat template when the tokenizer has one, else the completion prompt), "chat", "completion".
    """

    name = "transformers"

    def __init__(self, settings: "Settings", *, prompt_mode: Literal["auto", "chat", "completion"] = "auto") -> None:
        self.settings = settings
        self.prompt_mode = prompt_mode
        self.stop_strings: list[str] = []  # extra stop strings, on top of the prompt format's own
        self.max_new_tokens = settings.transformers_max_new_tokens
        self.last_usage: dict[str, float] = {}  # of the last finished generation: tokens and seconds

    def warm(self) -> "TransformersBackend":
        load_model(self.settings.transformers_model, self.settings.allow_downloads)
        return self

    # ---- prompt ----------------------------------------------------------------------------------------------
    def _uses_chat(self, tokenizer: Any) -> bool:
        if self.prompt_mode == "chat":
            if not getattr(tokenizer, "chat_template", None):
                raise BackendError(f"model {self.settings.transformers_model!r} has no chat template; "
                                   "use prompt_mode='completion' or 'auto'")
            return True
        return self.prompt_mode == "auto" and bool(getattr(tokenizer, "chat_template", None))

    def _chat(self, tokenizer: Any, messages: list[dict[str, str]], **kwargs: Any) -> Any:
        import jinja2

        try:
            return tokenizer.apply_chat_template(messages, add_generation_prompt=True, **kwargs)
        except jinja2.TemplateError:
            # Some templates (e.g. Gemma 2) reject a system role: fold it into the first user turn.
            merged = [{"role": "user", "content": messages[0]["content"] + "\n\n" + messages[1]["content"]}]
            try:
                return tokenizer.apply_chat_template(merged, add_generation_prompt=True, **kwargs)
            except jinja2.TemplateError as exc:
                raise BackendError(f"the chat template of {self.settings.transformers_model!r} failed: {exc}") from exc

    def prompt_text(self, plan: "Plan", style: "Style", request: "Request") -> str:
        """The exact text the model is given (chat template applied, or the completion prompt)."""
        tokenizer = load_model(self.settings.transformers_model, self.settings.allow_downloads).tokenizer
        if self._uses_chat(tokenizer):
            messages = render_messages(plan, style, request, self.settings.prompts_dir, shop=self.settings.shop_name)
            return self._chat(tokenizer, messages, tokenize=False)
        return render_completion_prompt(plan, style, request, self.settings.prompts_dir, shop=self.settings.shop_name)

    def _encode(self, entry: LoadedModel, plan: "Plan", style: "Style", request: "Request") -> tuple[dict[str, Any], list[str]]:
        tokenizer = entry.tokenizer
        if self._uses_chat(tokenizer):
            messages = render_messages(plan, style, request, self.settings.prompts_dir, shop=self.settings.shop_name)
            inputs = self._chat(tokenizer, messages, tokenize=True, return_dict=True, return_tensors="pt")
            stops = list(CHAT_STOP_STRINGS)
        else:
            prompt = render_completion_prompt(plan, style, request, self.settings.prompts_dir, shop=self.settings.shop_name)
            inputs = tokenizer(prompt, return_tensors="pt")
            stops = list(COMPLETION_STOP_STRINGS) + list(END_OF_TURN)
        inputs = {k: v for k, v in inputs.items() if k in ("input_ids", "attention_mask")}
        limit = getattr(entry.model.config, "max_position_embeddings", None)
        n = int(inputs["input_ids"].shape[1])
        if limit and n >= limit:
            raise BackendError(f"prompt has {n} tokens but {entry.spec!r} takes at most {limit}; shorten the message")
        return inputs, stops + [s for s in self.stop_strings if s]

    # ---- generation -------------------------------------------------------------------------------------------
    def _generation_config(self, entry: LoadedModel) -> Any:
        model, tokenizer = entry.model, entry.tokenizer
        config = copy.deepcopy(model.generation_config)
        eos = _as_list(config.eos_token_id) + _as_list(tokenizer.eos_token_id) + _token_ids(tokenizer, END_OF_TURN)
        eos = list(dict.fromkeys(eos))
        config.eos_token_id = eos or None
        if config.pad_token_id is None:
            config.pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (eos[0] if eos else None)
        config.do_sample = False  # greedy: the same plan gives the same reply
        for knob in ("temperature", "top_p", "top_k", "min_p", "typical_p"):
            if hasattr(config, knob):
                setattr(config, knob, None)
        config.max_new_tokens = int(self.max_new_tokens)
        config.max_length = None
        return config

    def stream(self, plan: "Plan", style: "Style", request: "Request") -> Iterator[str]:
        """Yield the reply in pieces as the model writes it (generation runs in its own thread)."""
        entry = load_model(self.settings.transformers_model, self.settings.allow_downloads)
        inputs, stops = self._encode(entry, plan, style, request)
        prompt_length = int(inputs["input_ids"].shape[1])
        cancel = threading.Event()
        streamer = TextIteratorStreamer(entry.tokenizer, skip_prompt=True, skip_special_tokens=True)
        criteria = StoppingCriteriaList([StopOnStrings(entry.tokenizer, stops, prompt_length, cancel)])
        config = self._generation_config(entry)
        limit = getattr(entry.model.config, "max_position_embeddings", None)
        if limit:  # never past the model's context window
            config.max_new_tokens = max(1, min(config.max_new_tokens, int(limit) - prompt_length))
        failure: list[BaseException] = []

        def generate() -> None:
            started = time.perf_counter()
            try:
                with entry.lock, torch.inference_mode():
                    out = entry.model.generate(**inputs, generation_config=config, streamer=streamer,
                                               stopping_criteria=criteria)
                new = int(out.shape[1]) - prompt_length
                seconds = time.perf_counter() - started
                self.last_usage = {"prompt_tokens": prompt_length, "completion_tokens": new, "seconds": seconds,
                                   "tokens_per_s": new / seconds if seconds else 0.0}
            except BaseException as exc:  # reported to the reader below, never lost in the thread
                failure.append(exc)
            finally:
                streamer.text_queue.put(streamer.stop_signal)  # the reader never waits forever

        thread = threading.Thread(target=generate, name="tactful-generate", daemon=True)
        thread.start()
        try:
            yield from cut_at_stops(drop_reasoning(streamer), stops)
        finally:
            cancel.set()  # a reader that stopped early (or a stop string) ends the generation at the next token
        thread.join()
        if failure:
            exc = failure[0]
            raise BackendError(f"generation with {entry.spec!r} failed: {_one_line(exc)}") from exc

    def realize(self, plan: "Plan", style: "Style", request: "Request") -> str:
        reply = "".join(self.stream(plan, style, request)).strip()
        if not reply:
            raise BackendError(f"model {self.settings.transformers_model!r} returned an empty reply")
        return reply
