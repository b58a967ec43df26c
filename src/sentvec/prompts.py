"""Prompt choice: the one place that decides which prompt text goes in front of a query or a document.

The reference library's convention: a model names its prompts in ``config_sentence_transformers.json``
(``{"query": "query: ", "document": "passage: "}``); ``encode_query`` uses the ``"query"`` prompt and
``encode_document`` the first of ``"document"``, ``"passage"``, ``"corpus"``; with none of those, the model's
``default_prompt_name`` applies (as in plain ``encode``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence


class Role(str, enum.Enum):
    """What a text is in a search: a query, or a document of the corpus."""

    QUERY = "query"
    DOCUMENT = "document"


# Prompt names tried in order for each role.
ROLE_PROMPTS: dict[Role, tuple[str, ...]] = {
    Role.QUERY: ("query",),
    Role.DOCUMENT: ("document", "passage", "corpus"),
}


def first_prompt_name(prompts: Mapping[str, str], names: Sequence[str]) -> str | None:
    """The first of ``names`` that the model has a prompt for."""
    return next((name for name in names if name in prompts), None)


def role_prompt_name(prompts: Mapping[str, str], role: Role) -> str | None:
    """The prompt name a query or a document uses on a model with ``prompts`` (None: the model's default)."""
    return first_prompt_name(prompts, ROLE_PROMPTS[role])


def resolve_prompt(
    prompts: Mapping[str, str], default_prompt_name: str | None, prompt: str | None, prompt_name: str | None
) -> str | None:
    """The prompt text for one ``encode`` call: ``prompt`` itself, else the named prompt, else the default one.

    An unknown ``prompt_name`` is a ``ValueError`` listing the model's prompts; ``prompt=""`` means none.
    """
    if prompt is not None:
        return prompt
    name = prompt_name or default_prompt_name
    if name is None:
        return None
    if name not in prompts:
        raise ValueError(f"prompt_name {name!r} is not one of the model's prompts: {sorted(prompts)}")
    return prompts[name]
