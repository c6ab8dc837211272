"""Regional prompts' plan (shapes/regions.py): the same cases as the app's test/core/pipeline/regions.test.ts, so
the recipe's two-object figures are measured on the pictures the app draws."""
import math

import pytest
import torch

from shapes import regions


@pytest.mark.parametrize("prompt, objects, tail", [
    ("a red star and a blue circle on a green background", ["a red star", "a blue circle"], " on a green background"),
    ("a red star, a blue circle and a green ring, white background", ["a red star", "a blue circle", "a green ring"],
     ", white background"),
    ("A red star and a blue circle.", ["A red star", "a blue circle"], "."),
    ("a small red star in the top left and a blue circle against a pink background",
     ["a small red star in the top left", "a blue circle"], " against a pink background"),
    ("a cat and a dog sitting on a sofa, oil painting", ["a cat", "a dog sitting"], " on a sofa, oil painting"),
    ("a red star, and a blue circle", ["a red star", "a blue circle"], ""),
    ("a red star, a blue circle, and a green ring on a white background", ["a red star", "a blue circle", "a green ring"],
     " on a white background"),
    ("a red star AND a blue circle!", ["a red star", "a blue circle"], "!"),
    ("two red stars and a blue ring", ["two red stars", "a blue ring"], ""),
])
def test_split_names_the_objects_and_the_tail(prompt, objects, tail):
    assert regions.split(prompt) == (objects, tail)


@pytest.mark.parametrize("prompt", ["a red star on a green background", "two purple triangles on a white background",
                                    "a b, a c, a d and a e", " and a red star", "blue star",
                                    "a red star\u00a0and\u00a0a blue circle", "   ", "a red and blue star",
                                    "a black and white cat", "red star and blue circle"])
def test_split_names_no_two_or_three_objects(prompt):
    assert regions.split(prompt) is None


def test_plan_places_objects_in_diagonal_corners_by_seed_and_keeps_named_places():
    assert regions.plan("a red star and a blue circle on a green background", 0) == [
        ("a red star in the top left on a green background", (0.2, 0.2)),
        ("a blue circle in the bottom right on a green background", (0.8, 0.8))]
    assert [p for _, p in regions.plan("a red star and a blue circle on a green background", 1)] == [(0.8, 0.2), (0.2, 0.8)]
    assert regions.plan("a red star in the bottom left corner and a blue circle, white background", 0) == [
        ("a red star in the bottom left corner, white background", (0.2, 0.8)),
        ("a blue circle in the top left, white background", (0.2, 0.2))]
    assert [p for _, p in regions.plan("a red star in the middle and a blue ring at the top", 0)] == [(0.5, 0.5), (0.5, 0.2)]
    assert regions.plan("a red star, a blue circle and a green ring on a white background", 1) == [
        ("a red star at the top on a white background", (0.5, 0.2)),
        ("a blue circle in the bottom left on a white background", (0.2, 0.8)),
        ("a green ring in the bottom right on a white background", (0.8, 0.8))]
    assert regions.plan("a red star on the left and a blue circle at the left", 0) is None
    assert regions.plan("a red star on a green background", 0) is None


def test_masks_sum_to_one_and_split_along_the_bisector():
    a, b = regions.masks([(0.2, 0.2), (0.8, 0.8)], 4, 4)[:, 0]
    assert torch.allclose(a + b, torch.ones(4, 4))
    assert a[0, 0].item() == pytest.approx(1 / (1 + math.exp(-12)), abs=1e-6)
    assert a[0, 3].item() == pytest.approx(0.5, abs=1e-6) and a[3, 0].item() == pytest.approx(0.5, abs=1e-6)
    assert b[3, 3].item() == pytest.approx(a[0, 0].item(), abs=1e-6)


def test_the_eval_draws_two_objects_regional_and_one_object_as_before():
    """evaluate.Regional: a batch whose prompts name one object each is drawn whole (None); a mixed batch pads the
    single-object prompt with its own caption at weight zero."""
    from shapes import evaluate

    class Tok:
        def encode(self, p):
            return [[len(p)] * 77]
    assert evaluate.Regional.of(Tok(), ["a red star on a blue background"], [0]) is None
    r = evaluate.Regional.of(Tok(), ["a red star on a blue background", "a red star and a blue circle"], [0, 1])
    assert r.ids.shape == (2, 2, 77)
    m = r.masks(4, 4)
    assert torch.allclose(m[0, 0], torch.ones(1, 4, 4)) and torch.all(m[0, 1] == 0)
    assert torch.allclose(m[1].sum(0), torch.ones(1, 4, 4))
