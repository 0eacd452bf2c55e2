"""Risk assessment tools as data (policies/tools/*.yaml), checked when the hub starts, and
the one place their answers are checked and scored.

A tool is a list of questions, each `yes_no`, `choice` (one of its options), `judgement`
(low, moderate or high) or `text`; every question must be answered. A counting tool
suggests a level by its number of "yes" answers; a judgement tool by its highest
judgement. The class of its answers (and of a clinical tool's shared summary) is the
tool's, so that the victim's answers reach her advocates and a clinician's reasons stay
clinical.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from marshmallow import Schema, ValidationError, fields, validate

from hub.policy import PolicyError
from hub.vocabulary import RISK_LEVELS

QUESTION_TYPES = ("yes_no", "choice", "judgement", "text")
JUDGEMENTS = ("low", "moderate", "high")
TEXT_LIMIT = 2000


@dataclass(frozen=True)
class Question:
    id: str
    type: str
    text: str
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class Tool:
    id: str
    name: str
    answers_class: str
    summary_class: str | None
    questions: tuple[Question, ...]
    count_yes: dict[str, int] | None  #: level -> the fewest "yes" answers that suggest it
    highest_judgement: dict[str, str] | None  #: judgement -> level

    def score(self, answers: dict) -> int | None:
        if self.count_yes is None:
            return None
        return sum(1 for q in self.questions if q.type == "yes_no" and answers[q.id] is True)

    def suggest(self, answers: dict) -> str:
        """The level the answers suggest; the assessor may set another, with a reason."""
        if self.count_yes is not None:
            score = self.score(answers)
            reached = [level for level, least in self.count_yes.items() if score >= least]
            return max(reached, key=RISK_LEVELS.index, default="standard")
        judged = [answers[q.id] for q in self.questions if q.type == "judgement"]
        return max((self.highest_judgement[j] for j in judged), key=RISK_LEVELS.index,
                   default="standard")

    def check(self, answers) -> dict:
        """The answers, each checked against its question; ValidationError names each
        field (``answers.<question>``) that is missing, unknown or of the wrong type."""
        if not isinstance(answers, dict):
            raise ValidationError({"answers": ["must be an object of question: answer"]})
        errors: dict[str, list[str]] = {}
        known = {q.id: q for q in self.questions}
        for name in answers:
            if name not in known:
                errors[f"answers.{name}"] = [f"not a question of {self.id}"]
        for q in self.questions:
            if q.id not in answers or answers[q.id] is None:
                errors[f"answers.{q.id}"] = ["an answer is required"]
            elif problem := _problem(q, answers[q.id]):
                errors[f"answers.{q.id}"] = [problem]
        if errors:
            raise ValidationError(errors)
        return {q.id: answers[q.id].strip() if q.type == "text" else answers[q.id]
                for q in self.questions}


def _problem(q: Question, value) -> str | None:
    if q.type == "yes_no":
        return None if isinstance(value, bool) else "must be true or false"
    if not isinstance(value, str):
        return "must be text"
    if q.type == "choice" and value not in q.options:
        return f"must be one of: {', '.join(q.options)}"
    if q.type == "judgement" and value not in JUDGEMENTS:
        return f"must be one of: {', '.join(JUDGEMENTS)}"
    if q.type == "text" and not value.strip():
        return "must not be empty"
    if len(value) > TEXT_LIMIT:
        return f"must be at most {TEXT_LIMIT} characters"
    return None


class _QuestionSchema(Schema):
    id = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_]{0,47}$"))
    type = fields.String(required=True, validate=validate.OneOf(QUESTION_TYPES))
    text = fields.String(required=True, validate=validate.Length(min=1, max=300))
    options = fields.List(fields.String(validate=validate.Regexp(r"^[a-z][a-z0-9_]*$")))


class _ScoringSchema(Schema):
    count_yes = fields.Dict(keys=fields.String(validate=validate.OneOf(RISK_LEVELS)),
                            values=fields.Integer(strict=True, validate=validate.Range(min=1)))
    highest_judgement = fields.Dict(keys=fields.String(validate=validate.OneOf(JUDGEMENTS)),
                                    values=fields.String(validate=validate.OneOf(RISK_LEVELS)))


class _ToolSchema(Schema):
    tool = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9-]{0,31}$"))
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    answers_class = fields.String(required=True)
    summary_class = fields.String()
    questions = fields.List(fields.Nested(_QuestionSchema), required=True,
                            validate=validate.Length(min=1))
    scoring = fields.Nested(_ScoringSchema, required=True)


def load(folder: str | Path, policy) -> dict[str, Tool]:
    """Every tool in ``folder``, or PolicyError naming the file and what is wrong."""
    tools: dict[str, Tool] = {}
    for path in sorted(Path(folder).glob("*.yaml")):
        tool = _load(path, policy)
        if tool.id != path.stem:
            raise PolicyError(f"tools/{path.name}: tool '{tool.id}' must match the file name")
        tools[tool.id] = tool
    return tools


def _load(path: Path, policy) -> Tool:
    where = f"tools/{path.name}"
    try:
        data = _ToolSchema().load(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyError(f"{where}: cannot be read as YAML: {exc}") from None
    except ValidationError as exc:
        raise PolicyError(f"{where}: {exc.messages}") from None
    for name in ("answers_class", "summary_class"):
        if name in data and not policy.may_file("risk_assessment", data[name]):
            raise PolicyError(f"{where}: {name} '{data[name]}' is not a class a "
                              "risk_assessment may be filed as (kinds.yaml)")
    questions = tuple(Question(q["id"], q["type"], q["text"], tuple(q.get("options", ())))
                      for q in data["questions"])
    ids = [q.id for q in questions]
    if len(set(ids)) != len(ids):
        raise PolicyError(f"{where}: question ids must be unique")
    for q in questions:
        if (q.type == "choice") != bool(q.options):
            raise PolicyError(f"{where}: question '{q.id}': options go with type choice only")
    scoring = data["scoring"]
    if len(scoring) != 1:
        raise PolicyError(f"{where}: scoring is either count_yes or highest_judgement")
    kinds = {q.type for q in questions}
    if "count_yes" in scoring and "yes_no" not in kinds:
        raise PolicyError(f"{where}: count_yes needs yes_no questions")
    if "highest_judgement" in scoring and (
            "judgement" not in kinds or set(scoring["highest_judgement"]) != set(JUDGEMENTS)):
        raise PolicyError(f"{where}: highest_judgement needs judgement questions and a level "
                          f"for each of {', '.join(JUDGEMENTS)}")
    return Tool(data["tool"], data["name"], data["answers_class"], data.get("summary_class"),
                questions, scoring.get("count_yes"), scoring.get("highest_judgement"))
