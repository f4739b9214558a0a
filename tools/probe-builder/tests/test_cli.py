"""The CLI's model choices are the registry's models (kept literal so the CLI starts without
importing the registry)."""

from probe_builder.cli import MODEL_CHOICES
from probe_builder.sources import MODELS


def test_model_choices_match_the_registry() -> None:
    assert set(MODEL_CHOICES) == set(MODELS)
