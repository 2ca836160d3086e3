"""Hybrid ranking: linear fusion of min-max normalized scores, and reciprocal rank fusion."""

from __future__ import annotations

import pytest

from searcher.semantic import fusion


def test_linear_puts_a_paragraph_strong_on_both_sides_first():
    lexical = [("a", 12.0), ("b", 8.0), ("c", 2.0)]
    semantic = {"a": 0.80, "b": 0.91, "c": 0.79, "d": 0.90}  # d: found by meaning only
    fused = fusion.linear(lexical, semantic, weight=0.6)
    assert [key for key, _ in fused] == ["b", "a", "d", "c"]
    scores = dict(fused)
    assert scores["a"] == pytest.approx(0.6 * 1.0 + 0.4 * (0.80 - 0.79) / 0.12)
    assert scores["d"] == pytest.approx(0.4 * (0.90 - 0.79) / 0.12)  # 0 on the lexical side


def test_linear_weight_one_is_the_lexical_order_and_zero_the_semantic_one():
    lexical = [("a", 3.0), ("b", 2.0), ("c", 1.0)]
    semantic = {"a": 0.1, "b": 0.3, "c": 0.2}
    assert [k for k, _ in fusion.linear(lexical, semantic, weight=1.0)] == ["a", "b", "c"]
    assert [k for k, _ in fusion.linear(lexical, semantic, weight=0.0)] == ["b", "c", "a"]


def test_linear_with_one_side_empty_or_flat():
    assert fusion.linear([], {"x": 0.5, "y": 0.7}) == [("y", pytest.approx(0.3)), ("x", 0.0)]
    assert [k for k, _ in fusion.linear([("x", 1.0)], {})] == ["x"]
    assert fusion.minmax({"p": 2.0, "q": 2.0}) == {"p": 1.0, "q": 1.0}
    assert fusion.linear([], {}) == []


def test_rrf_rewards_agreement_and_keeps_first_seen_order_on_ties():
    fused = fusion.rrf([["a", "b", "c"], ["c", "d", "a"]], k=60)
    assert [k for k, _ in fused] == ["a", "c", "b", "d"]
    assert dict(fused)["a"] == pytest.approx(1 / 61 + 1 / 63)
    assert [k for k, _ in fusion.rrf([["x"], ["y"]])] == ["x", "y"]
