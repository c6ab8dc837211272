"""The grounding loss (shapes/grounding.py): which words are grounded where, and what the loss rewards."""
import numpy as np
import torch

from conftest import SHARED
from shapes import grounding, world
from shapes.bpe import ClipTokenizer
from shapes.models import UNet, UNetConfig

TOK = ClipTokenizer.from_files(SHARED / "clip-tokenizer")  # every word of the world is one token in CLIP's too


def two(colour_b: str = "blue", shape_b: str = "circle") -> world.Scene:
    return world.Scene("green", [world.Obj("red", "star", None, None, cx=0.25, cy=0.3, r=0.15),
                                 world.Obj(colour_b, shape_b, None, None, cx=0.75, cy=0.7, r=0.15)])


def grounded(scene: world.Scene, caption: str, cells: int = 4) -> dict[str, np.ndarray]:
    ids = TOK.encode(caption)[0]
    word_id = grounding.word_ids(TOK)
    masks = grounding._coverage(scene, 128, 128, cells, cells)
    words = grounding.grounded_words(scene, ids, word_id, masks)
    by_id = {v: k for k, v in word_id.items()}
    return {by_id[ids[k]]: m for k, m in words}


def test_each_objects_colour_and_shape_are_grounded_in_its_own_pixels_the_background_in_the_rest():
    g = grounded(two(), "a red star and a blue circle on a green background")
    assert set(g) == {"red", "star", "blue", "circle", "green"}
    # the red star stands top left (centre 0.25, 0.3), the blue circle bottom right (0.75, 0.7): on a 4x4 grid each
    # lies wholly in its own quarter
    assert g["red"].sum() > 0 and g["red"][2:].sum() + g["red"][:, 2:].sum() == 0 and np.array_equal(g["red"], g["star"])
    assert g["blue"].sum() > 0 and g["blue"][:2].sum() + g["blue"][:, :2].sum() == 0 and np.array_equal(g["blue"], g["circle"])
    assert g["green"][0, 3] == 1 and g["green"][2, 2] < 0.7
    np.testing.assert_allclose(g["red"] + g["blue"] + g["green"], 1.0, atol=1e-6)
    # a cell's value is the share of it the object covers: a circle of radius 0.15 covers pi * 0.15^2 of the picture
    assert abs(g["circle"].mean() - np.pi * 0.15 ** 2) < 0.005


def test_a_word_said_twice_or_unsaid_is_not_grounded_a_counted_groups_plural_covers_all_of_it():
    g = grounded(two("red", "circle"), "a red star and a red circle on a green background")
    assert set(g) == {"star", "circle", "green"}  # which "red" is which object's is not known: neither is grounded
    g = grounded(two(), "a star and a circle")  # typed: colours and background unsaid
    assert set(g) == {"star", "circle"}
    group = world.Scene("green", [world.Obj("red", "star", None, None, cx=x, cy=0.5, r=0.12) for x in (0.25, 0.75)],
                        count_phrase=True)
    g = grounded(group, "two red stars on a green background")
    assert set(g) == {"red", "stars", "green"}
    assert g["stars"][:, :2].sum() > 0.3 and g["stars"][:, 2:].sum() > 0.3  # both stars, left and right


def attention_like(maps: torch.Tensor, heads: int = 2) -> torch.nn.Module:
    """A stand-in cross-attention layer whose kept weights are `maps` [b, pixels, 77]."""
    layer = torch.nn.Module()
    layer.probs = maps[:, None].expand(-1, heads, -1, -1)
    return layer


def test_the_loss_is_zero_where_each_word_is_attended_only_inside_its_object_and_one_minus_its_area_where_uniform():
    mask = torch.zeros(1, grounding.MAX_WORDS, 4, 4)
    mask[0, 0, :2, :2] = 1.0  # word 5's object: the top-left quarter
    index = torch.full((1, grounding.MAX_WORDS), -1)
    index[0, 0] = 5
    inside = torch.full((1, 16, 77), 1 / 77)
    inside[0, :, 5] = 0.0
    inside[0, torch.tensor([0, 1, 4, 5]), 5] = 0.5
    assert grounding.grounding_loss([attention_like(inside)], index, mask).item() < 1e-6
    uniform = torch.full((1, 16, 77), 1 / 77)
    assert abs(grounding.grounding_loss([attention_like(uniform)], index, mask).item() - 0.75) < 1e-6
    # a coarser layer (2x2) sees the mask pooled: the object fills one cell of four
    coarse = torch.full((1, 4, 77), 1 / 77)
    coarse[0, :, 5] = torch.tensor([1.0, 0, 0, 0])
    assert grounding.grounding_loss([attention_like(coarse)], index, mask).item() < 1e-6
    # nothing grounded (a dropped caption): no loss
    assert grounding.grounding_loss([attention_like(uniform)], torch.full_like(index, -1), mask).item() == 0.0


def test_the_unets_cross_attention_keeps_its_weights_only_when_asked_and_the_loss_reaches_its_queries():
    torch.manual_seed(0)
    unet = UNet(UNetConfig())
    x, t, ctx = torch.randn(2, 4, 16, 16), torch.tensor([10, 500]), torch.randn(2, 77, 128)
    unet(x, t, ctx)
    layers = [m.attn2 for m in unet.modules() if type(m).__name__ == "SpatialTransformer"]
    assert all(getattr(a, "probs", None) is None for a in layers)  # off by default: export and eval keep nothing
    kept = grounding.keep_cross_attention(unet)
    assert kept == layers and len(kept) == 7  # down 2, mid 1, up 4
    unet(x, t, ctx)
    assert [tuple(a.probs.shape[2:]) for a in kept] == [(16, 77), (4, 77), (4, 77), (4, 77), (4, 77), (16, 77), (16, 77)]
    index = torch.tensor([[3, 4, -1, -1, -1, -1, -1, -1]] * 2)
    mask = torch.zeros(2, grounding.MAX_WORDS, 4, 4)
    mask[:, :2, :2, :2] = 1.0
    loss = grounding.grounding_loss(kept, index, mask)
    loss.backward()
    assert 0 < loss.item() < 1
    assert all(a.to_q.weight.grad.abs().sum() > 0 for a in kept)
    grounding.keep_cross_attention(unet, on=False)
    unet(x, t, ctx)
    assert all(a.probs is None for a in kept)
