"""Optional LLM judge (off by default): an OpenAI-compatible endpoint scores empathy, faithfulness and tone.

It adds to the offline scorers, never replaces them: its numbers go under "judge" in each scored line. Prompts live
in prompts/judge_*.j2. A judge failure is recorded in the line ("judge": {"error": ...}), never fatal for a run.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import openai
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assistant.locales import language_name
from assistant.settings import Settings

_JSON = re.compile(r"\{.*\}", re.S)


class JudgeVerdict(BaseModel):
    model_config = ConfigDict(extra="ignore")
    empathy: float = Field(ge=0, le=1)
    faithfulness: float | None = Field(default=None, ge=0, le=1)
    tone: float = Field(ge=0, le=1)
    rationale: str = ""


class OpenAIJudge:
    name = "openai"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.env = Environment(loader=FileSystemLoader(str(Path(settings.prompts_dir))), undefined=StrictUndefined,
                               autoescape=False, keep_trailing_newline=True)
        self.client = openai.OpenAI(base_url=settings.openai_base_url, api_key=settings.openai_api_key or "EMPTY",
                                    timeout=settings.openai_timeout_s, max_retries=0)
        self.client.organization = self.client.project = None

    def messages(self, reply: str, language: str, message: str | None, context: list[str] | None,
                 register: str | None) -> list[dict[str, str]]:
        system = self.env.get_template("judge_system.j2").render(
            has_context=bool(context), register=register, language_name=language_name(language))
        user = self.env.get_template("judge_user.j2").render(
            reply=reply.replace("</reply>", "</ reply>"), message=(message or "").replace("</customer_message>", ""),
            context=context or [])
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def judge(self, reply: str, language: str, message: str | None = None, context: list[str] | None = None,
              register: str | None = None) -> dict[str, object]:
        try:
            out = self.client.chat.completions.create(
                model=self.settings.openai_model, temperature=0, max_tokens=200,
                messages=self.messages(reply, language, message, context, register))  # type: ignore[arg-type]
            text = (out.choices[0].message.content or "") if out.choices else ""
            found = _JSON.search(text)
            if not found:
                return {"error": "the judge did not answer with a JSON object"}
            verdict = JudgeVerdict.model_validate(json.loads(found.group(0)))
            return {"model": self.settings.openai_model, **verdict.model_dump()}
        except (openai.OpenAIError, json.JSONDecodeError, ValidationError) as exc:
            return {"error": f"judge failed: {str(exc).splitlines()[0][:200]}"}


JUDGES = {"openai": OpenAIJudge}
