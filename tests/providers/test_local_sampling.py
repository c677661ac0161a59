"""The embedded model's sampling (responsa/providers/local_sampling.py): pure functions."""

from __future__ import annotations

from responsa.providers.local_sampling import FALLBACK_SAMPLING, request_sampling, sampling_defaults


def test_the_ggufs_recommendation_wins_over_the_fallback_per_option() -> None:
    # as llama.cpp's converter writes them from generation_config.json (metadata values are strings)
    metadata = {"general.sampling.temp": "0.6", "general.sampling.top_k": "20", "general.name": "x"}
    assert sampling_defaults(metadata) == (
        {"temperature": 0.6, "top_p": 0.9, "repeat_penalty": 1.1, "top_k": 20},
        True,
    )
    assert sampling_defaults({"tokenizer.ggml.eos_token_id": "2"}) == (FALLBACK_SAMPLING, False)


def test_request_values_win() -> None:
    request = {
        "model": "m",
        "messages": [],
        "temperature": 0.0,
        "seed": 3,
        "extra_body": {"repetition_penalty": 1.3, "top_k": 5, "ignore_eos": True},
    }
    options = request_sampling(FALLBACK_SAMPLING, request, (0, 2))
    assert options == {
        "temperature": 0.0,
        "top_p": 0.9,
        "repeat_penalty": 1.3,
        "seed": 3,
        "top_k": 5,
        "logit_bias": {0: float("-inf"), 2: float("-inf")},
    }
    assert request_sampling(FALLBACK_SAMPLING, {"model": "m", "messages": []}, (2,)) == FALLBACK_SAMPLING
