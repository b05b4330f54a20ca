"""Real weights: the llama.cpp backend and the text encoder."""

import numpy as np
import pytest

from langvad.errors import ModelError
from langvad.models import resolve_gguf
from langvad.models.assets import PACKAGED, packaged_available, read_stamp
from langvad.stages.score import choice_distribution, expected_score


def test_packaged_models_verify(qwen05):
    # qwen05 fixture assembled and verified the sha256 of the 0.5B model
    path, name = resolve_gguf("qwen2.5-coder-0.5b-instruct-q4")
    assert path.stat().st_size == 491400064
    if packaged_available("qwen2.5-coder-1.5b-instruct-q4_k_m"):
        p15, _ = resolve_gguf("qwen2.5-coder-1.5b-instruct-q4_k_m")
        stamp = read_stamp(p15.with_suffix(".sha256"))
        assert stamp is not None
        assert stamp.sha256 == PACKAGED["qwen2.5-coder-1.5b-instruct-q4_k_m"].sha256
        assert stamp.size == p15.stat().st_size


def test_unknown_and_missing_models(tmp_path):
    with pytest.raises(ModelError, match="unknown LLM"):
        resolve_gguf("gpt-17")
    with pytest.raises(ModelError, match="not found"):
        resolve_gguf(str(tmp_path / "nope.gguf"))
    with pytest.raises(ModelError, match="hf:OWNER/REPO/FILE.gguf"):
        resolve_gguf("hf:only-one-part")


def test_chat_is_greedy_and_deterministic(smollm):
    msgs = [{"role": "user", "content": "Name three colours."}]
    a = smollm.chat(msgs, max_tokens=12)
    b = smollm.chat(msgs, max_tokens=12, slot=1)
    assert a.text and a.text == b.text
    assert a.completion_tokens <= 12 and a.prompt_tokens > 5


def test_continuation_logprobs_force_the_text(smollm):
    text = " The cat sat on the mat, café and 17:18:48."
    ids, lps = smollm.continuation_logprobs("A sentence:", text)
    assert len(ids) == len(lps) >= 8 and all(lp <= 0 for lp in lps)
    # the same ids forced after the same prompt give the same log-probabilities
    ids2, lps2 = smollm.continuation_logprobs("A sentence:", ids)
    assert ids2 == ids and np.allclose(lps2, lps, atol=1e-4)
    # a likely continuation is likelier than a scrambled one of the same words
    _, scrambled = smollm.continuation_logprobs("A sentence:", " mat the cat on The sat.")
    _, plain = smollm.continuation_logprobs("A sentence:", " The cat sat on the mat.")
    assert sum(plain) > sum(scrambled)
    assert smollm.continuation_logprobs("A sentence:", "") == ([], [])


def test_choice_score_from_logprobs(qwen15):
    from langvad.config import Prompts
    from langvad.stages.prompts import score_messages

    p = Prompts()
    fight = score_messages(p, "A man punches another man until he falls and lies motionless.")
    calm = score_messages(p, "People walk calmly along a sunny campus walkway.")
    scores = []
    for m in (fight, calm):
        dist, calls = choice_distribution(lambda pre, m=m: qwen15.next_token_logprobs(m, pre))
        assert 1 <= calls <= 6 and sum(dist.values()) == pytest.approx(1.0)
        scores.append(expected_score(dist))
    assert scores[0] > scores[1]
    # prefix KV cache: the shared prompt prefix is reused by the next request
    qwen15.next_token_logprobs(fight, "[")
    before = dict(qwen15.stats)
    qwen15.next_token_logprobs(fight, "[0.", continuation=True)
    assert qwen15.stats["cached_tokens"] - before["cached_tokens"] > 50


def test_encoder_similarity(encoder):
    e = encoder.embed_texts(["a man punches a man", "two men fight", "a quiet empty street"])
    assert e.shape == (3, 384) and np.allclose(np.linalg.norm(e, axis=1), 1, atol=1e-5)
    assert e[0] @ e[1] > e[0] @ e[2]
    assert np.array_equal(
        e, encoder.embed_texts(["a man punches a man", "two men fight", "a quiet empty street"])
    )
