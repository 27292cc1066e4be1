"""The optional demographic survey. Every question offers "Prefer not to say", and the
whole survey can be skipped: people owe us nothing about themselves."""

from __future__ import annotations

from dataclasses import dataclass

from redline.errors import RedlineError

PREFER_NOT = "Prefer not to say"


@dataclass(frozen=True)
class Question:
    key: str
    text: str
    options: tuple[str, ...]

    @property
    def choices(self) -> tuple[str, ...]:
        return (*self.options, PREFER_NOT)


QUESTIONS: tuple[Question, ...] = (
    Question("gender", "Gender", ("Woman", "Man", "Non-binary", "Another gender")),
    Question("age", "Age", ("18-24", "25-34", "35-44", "45-54", "55-64", "65 or older")),
    Question(
        "education",
        "Highest level of education",
        ("High school or less", "Some college", "Bachelor's degree", "Graduate degree"),
    ),
    Question("english", "Is English your first language?", ("Yes", "No")),
    Question(
        "ai_use",
        "How often do you use AI assistants?",
        ("Never", "A few times", "Monthly", "Weekly", "Daily"),
    ),
)


def answers_from_form(form: dict[str, str]) -> dict[str, str]:
    """Validated answers; unanswered questions are stored as "Prefer not to say"."""
    answers: dict[str, str] = {}
    for question in QUESTIONS:
        value = (form.get(question.key) or PREFER_NOT).strip()
        if value not in question.choices:
            raise RedlineError(f"'{value}' is not an answer to '{question.text}'")
        answers[question.key] = value
    return answers
