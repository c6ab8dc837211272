"""The proxy world and its arms (shapes/curriculum.py): what the pictures hold, and a run that resumes."""
import json
import os
import subprocess
import sys
from unittest.mock import patch

import numpy as np
import pytest

from conftest import TRAINING
from shapes import curriculum, evaluate, world


def diameters(w: curriculum.World, n: int = 400) -> tuple[list[float], list]:
    rng = np.random.default_rng(0)
    scenes = [curriculum.sample_scene(rng, w) for _ in range(n)]
    return [2 * o.r * w.latent for s in scenes for o in s.objects], scenes


def test_the_proxy_draws_one_medium_object_at_its_256_px_size_in_latent_pixels():
    d, scenes = diameters(curriculum.World())
    assert all(len(s.objects) == 1 for s in scenes)
    # world.RADIUS's medium objects at 256 px are 0.22-0.36 of the side across: 7-11.5 latent pixels
    assert 7.0 <= min(d) and max(d) <= 11.6
    d256, _ = diameters(curriculum.World(latent=32))
    assert 7.0 <= min(d256) and max(d256) <= 11.6
    rng = np.random.default_rng(1)
    caps = [curriculum.caption(s, rng, curriculum.World()) for s in scenes]
    assert all(c.startswith("a ") and c.endswith(" background") and len(c.split()) == 7 for c in caps)
    assert not any((o.colour, o.shape) in world.HELD_OUT for s in scenes for o in s.objects)


def test_a_128_px_world_draws_its_objects_at_the_radii_it_is_told():
    """Below 256 px objects keep their 256-px size in latent pixels (2x the world's radii at 128 px); own_radii
    keeps the world's radii; `radii` any multiple between (arms (z)) — and each is a world of its own."""
    median = lambda w: float(np.median(diameters(w)[0]))  # noqa: E731
    base, own, mid = curriculum.World(), curriculum.World(own_radii=True), curriculum.World(radii=1.5)
    assert median(base) == pytest.approx(2 * median(own), rel=0.1)
    assert median(mid) == pytest.approx(1.5 * median(own), rel=0.1)
    assert len({base.key(), own.key(), mid.key()}) == 3 and mid.key().endswith("-r1.5")
    assert curriculum.World(latent=32, radii=1.5).radius_scale() == 1.0  # from 256 px up: the world's own


def test_each_arm_adds_its_one_thing():
    d, scenes = diameters(curriculum.World(sizes=True))
    assert min(d) < 6 and max(d) > 13  # small and large
    _, scenes = diameters(curriculum.World(multi=True))
    counts = [len(s.objects) for s in scenes]
    assert 0.35 < counts.count(1) / len(counts) < 0.65 and max(counts) == 3
    assert any(s.count_phrase for s in scenes)
    rng = np.random.default_rng(2)
    counted = next(s for s in scenes if s.count_phrase)
    assert curriculum.plain_caption(counted).split()[0] in ("two", "three")
    _, scenes = diameters(curriculum.World(grammar=True))
    caps = {curriculum.caption(s, rng, curriculum.World(grammar=True)) for s in scenes}
    assert any(" in the " in c or " on the " in c or " at the " in c for c in caps)  # positions said
    assert any("background" not in c for c in caps)  # backgrounds left unsaid


@pytest.fixture(scope="module")
def quick_work(tmp_path_factory):
    work = tmp_path_factory.mktemp("curriculum") / "work"
    env = {**os.environ, "TORCH_THREADS": "1", "OMP_NUM_THREADS": "1"}

    def recipe(*args):
        r = subprocess.run([sys.executable, str(TRAINING / "recipe.py"), *args, "--quick", "--work", str(work)],
                           env=env, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, f"{args} failed:\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}"
        return r.stdout

    for stage in ("vocab", "clip", "vae", "latents"):
        recipe(stage)
    return work, recipe


def test_an_arm_trains_judges_its_ema_weights_and_resumes(quick_work):
    from shapes.common import load_sharded, unprefixed

    work, recipe = quick_work
    recipe("proxy", "--arm", "f-text-tuned")
    state, meta = load_sharded(work / "curriculum" / "f-text-tuned")
    assert meta["step"] == 6
    ema = unprefixed("ema", state)
    # EMA kept by parameter name, for the UNet and the fine-tuned text encoder alike
    assert "unet.conv_in.weight" in ema and "text.token_embedding.weight" in ema
    evals = json.loads((work / "curriculum" / "f-text-tuned" / "evals.json").read_text())
    assert [(r["step"], r["guidance"]) for r in evals] == [(3, 7.5), (6, 7.5)]  # quick runs judge one guidance
    assert all(0 <= r["shape"] <= 1 for r in evals)
    # done: a second call trains nothing and keeps the figures
    out = recipe("proxy", "--arm", "f-text-tuned")
    assert "eval step" not in out
    assert load_sharded(work / "curriculum" / "f-text-tuned")[1]["evals"] == evals
    table = recipe("arms")
    assert "(f) the text encoder fine-tuned" in table and "| 6 |" in table


def test_the_proxy_keeps_the_text_encoder_frozen(quick_work):
    import torch
    from shapes import checkpoints
    from shapes.common import load_sharded, unprefixed

    work, recipe = quick_work
    recipe("proxy")
    state, _ = load_sharded(work / "curriculum" / "proxy")
    assert not any(k.startswith("text.") for k in state)
    assert not any(k.startswith("text.") for k in unprefixed("ema", state))
    clip = unprefixed("text", load_sharded(work / "clip")[0])
    assert torch.equal(checkpoints.load_clip_text(work).token_embedding.weight, clip["token_embedding.weight"])


def test_a_stage_is_judged_in_two_passes_where_it_says_so(quick_work):
    """Stage 7 judges 512 px also as the two-pass sampler draws it ("512/256": the layout at 256 px); its quick
    form judges 128 px from a 64-px layout (a 32-px one is too small for the UNet's four levels)."""
    work, recipe = quick_work
    recipe("proxy")
    recipe("curriculum", "--stage", "s7-one512")
    evals = json.loads((work / "curriculum" / "s7-one512" / "evals.json").read_text())
    assert {r["size"] for r in evals} == {64, "128/64"}
    assert all(0 <= r["one"] <= 1 for r in evals if r["kind"] == "held_in")
    assert "| 7. from stage 4" in recipe("stages") and "| 128/64 |" in recipe("stages")


def test_a_curriculum_stage_starts_from_the_last_one_and_mixes_worlds(quick_work):
    from shapes.common import load_sharded, unprefixed

    work, recipe = quick_work
    recipe("proxy")
    recipe("curriculum", "--stage", "s2-wide")
    before = unprefixed("unet", load_sharded(work / "curriculum" / "proxy")[0])
    state, meta = load_sharded(work / "curriculum" / "s2-wide")
    after = unprefixed("unet", state)
    # six steps inside the 200-step warm-up move the proxy's weights by ~1e-5 (a fresh start differs by ~0.1)
    assert max((after[k] - before[k]).abs().max().item() for k in before) < 1e-3
    assert meta["run"]["init"] == "proxy" and len(meta["run"]["mix"]) == 1
    evals = json.loads((work / "curriculum" / "s2-wide" / "evals.json").read_text())
    assert {r["kind"] for r in evals} == {"held_in", "position", "typed"}
    assert all("position" in r for r in evals if r["kind"] == "position")
    # the last stage mixes square and non-square worlds
    recipe("curriculum", "--stage", "s5-sizes")
    assert any("128x64px" in p.name for p in (work / "curriculum" / "data").iterdir())
    table = recipe("stages")
    assert "2. + sizes, wordings, positions" in table and "| typed | 64 |" in table and "5. + 256-512 px" in table


def test_a_run_may_add_cross_attention_at_zero_to_the_stage_it_starts_from(quick_work):
    """Arm (j): stage 4's UNet with cross-attention added at 16x16. The run starts exactly where the stage it
    starts from ended (the new blocks output zero), learns them, and its checkpoint says its UNet's shape, so
    the pack's export and eval build the same network."""
    import dataclasses
    import torch
    from shapes.checkpoints import load_stage
    from shapes.common import load_sharded, unprefixed

    work, recipe = quick_work
    recipe("proxy")
    arm = curriculum.ARMS["j-text-attn16"]
    assert arm.unet.text_attention == (False, True, False, False) and arm.world == curriculum.ARMS["h-two-share"].world
    run = dataclasses.replace(curriculum.quick(arm), init="proxy", steps=0, evals=())
    curriculum.train_run(work, "j-at-start", run, "cpu", 1.0)
    _, before, _ = load_stage(work, "proxy")
    _, after, _ = load_stage(work, "j-at-start")
    assert sorted(after.text_attention) == ["down2", "up10", "up11"] and not before.text_attention
    x, t, ctx = torch.randn(2, 4, 16, 16), torch.tensor([400.0]), torch.randn(2, 77, 128)
    with torch.no_grad():
        assert torch.equal(before(x, t, ctx), after(x, t, ctx))
    curriculum.train_run(work, "j-trained", dataclasses.replace(run, steps=3), "cpu", 1.0)
    state, meta = load_sharded(work / "curriculum" / "j-trained")
    assert meta["unet"]["text_attention"] == [False, True, False, False]
    assert unprefixed("unet", state)["text_attention.down2.proj_out.weight"].abs().max() > 0  # it learns
    assert "unet.text_attention.down2.proj_out.weight" in unprefixed("ema", state)


def test_objects_whose_places_are_unsaid_are_named_left_to_right_in_the_same_pictures(quick_work):
    """Arm (k): where a caption leaves several objects' places unsaid, it names them left to right; the scenes
    are the plain world's, so its encoded latents are reused, not encoded again."""
    import dataclasses
    import torch

    plain = curriculum.World(latent=32, multi=True, multi_share=1.0, grammar=True)
    reading = dataclasses.replace(plain, reading_order=True)
    assert reading.key() != plain.key() and reading.pictures_key() == plain.key()
    a, b = np.random.default_rng(3), np.random.default_rng(3)
    unsaid = 0
    for _ in range(300):
        p, r = curriculum.sample_scene(a, plain), curriculum.sample_scene(b, reading)
        assert sorted((o.cx, o.colour, o.shape) for o in p.objects) == sorted((o.cx, o.colour, o.shape) for o in r.objects)
        text = curriculum.caption(r, b, reading)
        curriculum.caption(p, a, plain)
        if len(r.objects) > 1 and not r.count_phrase and not any(o.position for o in r.objects):
            unsaid += 1
            assert [o.cx for o in r.objects] == sorted(o.cx for o in r.objects)
            # the caption names them in that order: each object's "<colour> <shape>" after the one on its left
            at = [text.index(f"{o.colour} {o.shape}") for o in r.objects]
            assert at == sorted(at), text
    assert unsaid > 50
    work, _ = quick_work
    tiny = curriculum.World(latent=8, multi=True, multi_share=1.0, scenes=12)
    first = curriculum.world_data(work, tiny)
    again = curriculum.world_data(work, dataclasses.replace(tiny, reading_order=True))
    assert torch.equal(first["latents"], again["latents"]) and first["captions"] != again["captions"]
    assert sorted(" ".join(sorted(c.split())) for c in first["captions"]) == \
        sorted(" ".join(sorted(c.split())) for c in again["captions"])  # the same words, reordered


def test_typed_captions_reword_single_objects_in_the_same_pictures(quick_work):
    """Arm (m): a share of single-object captions rewritten as people type prompts — the object's own colour and
    shape (or the colour unsaid), its place where it has one, the background as "on blue" or unsaid; the
    scenes, and so the latents, stay the plain world's."""
    import dataclasses
    import re
    import torch

    plain = curriculum.World(latent=32, sizes=True, grammar=True)
    typed = dataclasses.replace(plain, typed=0.3)
    assert typed.key() != plain.key() and typed.pictures_key() == plain.key()
    rng = np.random.default_rng(5)
    forms = {"no colour": 0, "on bg": 0, "bg unsaid": 0, "no article": 0}
    for _ in range(400):
        scene = curriculum.sample_scene(rng, plain)
        if len(scene.objects) > 1 or scene.count_phrase:
            continue
        o, text = scene.objects[0], curriculum.typed_caption(scene, rng)
        assert o.shape in re.findall(r"[a-z]+", text), text
        forms["no colour"] += o.colour not in text.split(" " + scene.background)[0]
        forms["on bg"] += text.rstrip(".!").endswith(f" on {scene.background}")
        forms["bg unsaid"] += scene.background not in text
        forms["no article"] += not re.match(r"(a|an|one) ", text)
    assert all(n > 10 for n in forms.values()), forms
    work, _ = quick_work
    tiny = curriculum.World(latent=8, scenes=24, sizes=True, grammar=True)
    first = curriculum.world_data(work, tiny)
    again = curriculum.world_data(work, dataclasses.replace(tiny, typed=0.5))
    assert torch.equal(first["latents"], again["latents"]) and first["captions"] != again["captions"]
    # the captions not rewritten are the plain world's, word for word: the scenes (and their captions' own
    # draws) were not moved by the rewriting's
    same = sum(a == b for a, b in zip(first["captions"], again["captions"]))
    assert 4 <= len(first["captions"]) - same and same >= 10


def test_a_world_may_hold_more_pictures_with_several_objects():
    _, scenes = diameters(curriculum.World(multi=True, multi_share=0.9))
    counts = [len(s.objects) for s in scenes]
    assert counts.count(1) / len(counts) < 0.2 and counts.count(2) / len(counts) > 0.35
    # the default worlds keep their names (their encoded data on disk stays theirs)
    assert curriculum.World(latent=32, multi=True, sizes=True, grammar=True).key() == "256px-sizes1-multi1-grammar1-n8000"
    assert curriculum.World(latent=32, multi=True, multi_share=0.9).key() == "256px-sizes0-multi1-share0.9-grammar0-n8000"


def test_a_pairs_world_holds_one_object_or_exactly_two_never_a_counted_group():
    """Arms (n)-(p): the binding proxy's world — half the pictures one object, half exactly two, named one by one."""
    w = curriculum.World(multi=True, pairs=True)
    _, scenes = diameters(w)
    counts = [len(s.objects) for s in scenes]
    assert set(counts) == {1, 2} and 0.35 < counts.count(2) / len(counts) < 0.65
    assert not any(s.count_phrase for s in scenes)
    rng = np.random.default_rng(0)
    assert all(" and a " in curriculum.caption(s, rng, w) for s in scenes if len(s.objects) == 2)
    assert w.key() == "128px-sizes0-multi1-pairs-grammar0-n8000"
    assert curriculum.World(pairs=True).key() == curriculum.World().key()  # without `multi` it changes nothing


def test_the_worlds_draws_stay_those_their_encoded_data_was_made_with():
    """A world's pictures are encoded once and kept under its key (work/curriculum/data/, and the stages trained on
    them): a change to sample_scene's draws for an existing world (as `pairs` might have made) would silently
    give the same key other pictures. Stage 4's world's first captions, as its data file holds them."""
    import itertools

    w = curriculum.World(latent=32, multi=True, sizes=True, grammar=True)
    drawn = [cap for _, cap in itertools.islice(curriculum.world_scenes(w), 6)]  # what world_data encodes
    assert drawn == [
        "a white circle at the bottom and a little green square on the right, red background",
        "one purple circle and a pink triangle on a red background",
        "a large yellow circle, pink background",
        "a large white triangle and a large white ring on a orange background",
        "two pink stars against a purple background",
        "one small purple circle in the top left corner, a green ring in the bottom left and a brown square in the "
        "top right on a blue background",
    ]


def test_the_binding_lineage_keeps_two_object_pictures_in_every_stage():
    """Arms (n)-(p): two objects are learned when they are there from the first step; the lineage that tries it
    starts at arm (n) itself and keeps a two-object world of its stage's size in every stage after."""
    chain = curriculum.lineage("b7-one512")
    assert chain == ["b1-pairs", "b1b-longer", "b2-wide", "b3-256px", "b4-multi", "b7-one512"]
    assert curriculum.STAGES["b1-pairs"] == curriculum.ARMS["n-pairs"]
    for name in chain:
        worlds = [w for w, _, _ in curriculum.STAGES[name].parts()]
        assert any(w.multi and w.pairs for w in worlds), name
        if worlds[0].latent <= 32:  # at the stage's own size where that is 128-256 px (b7's 512 px: one object)
            assert any(w.multi and w.pairs and w.latent == worlds[0].latent for w in worlds), name
        assert ("two", 128) in curriculum.STAGES[name].judged() or ("two", 256) in curriculum.STAGES[name].judged(), name
    # the pack ships from the layout lineage, which replaced this one (its eval beat stage 7's on every kind)
    assert curriculum.SHIPPED == curriculum.LAYOUT_LINEAGE[-1]


def test_the_arms_table_reads_each_judged_kind(tmp_path):
    folder = tmp_path / "curriculum" / "h-two-share"
    folder.mkdir(parents=True)
    rows = [{"step": 1500, "kind": "two", "size": 256, "guidance": 4.0, "background": 1.0, "count": 0.5, "colour": 0.25, "shapes": 0.125},
            {"step": 1500, "kind": "held_in", "size": 256, "guidance": 4.0, "background": 1.0, "colour": 1.0, "shape": 0.75}]
    (folder / "evals.json").write_text(json.dumps(rows))
    table = curriculum.arms_table(tmp_path)
    assert "— two (count / colours / shapes) | 1,500 | — | 50% / 25% / 12% | — |" in table
    assert "— held_in | 1,500 | — | 100% / 75% | — |" in table
    # a run judged at two sizes, whose eval counts the objects drawn for single-object prompts
    folder = tmp_path / "curriculum" / "l-512-single"
    folder.mkdir(parents=True)
    rows = [{"step": 750, "kind": "held_in", "size": s, "guidance": 4.0, "background": 1.0, "colour": 1.0, "shape": 0.5,
             "one": one} for s, one in ((512, 0.25), (256, 0.875))]
    (folder / "evals.json").write_text(json.dumps(rows))
    table = curriculum.arms_table(tmp_path)
    assert "one object per picture (256 px kept), 256 px (colour / shape / one object) | 750 | — | 100% / 50% / 88% | — |" in table
    assert ", 512 px (colour / shape / one object) | 750 | — | 100% / 50% / 25% | — |" in table
    # an arm judged at a scale of its own (arm (m): the pack's 4.5) gets a column
    folder = tmp_path / "curriculum" / "m-typed"
    folder.mkdir(parents=True)
    (folder / "evals.json").write_text(json.dumps([{"step": 750, "kind": "typed", "size": 256, "guidance": 4.5, "background": 1.0,
                                                    "colour": 0.75, "shape": 0.5, "one": 1.0}]))
    table = curriculum.arms_table(tmp_path)
    assert "| arm | step | guidance 1 | guidance 4 | guidance 4.5 | guidance 7.5 |" in table
    assert "typed (colour / shape / one object) | 750 | — | — | 75% / 50% / 100% | — |" in table


def test_a_world_is_encoded_to_the_vae_means_of_its_own_renders(quick_work):
    """world_data encodes in channels-last (twice as fast here): its latents are still the VAE's means of the
    world's renders, scene by scene, with the captions drawn alongside them."""
    import torch
    from shapes.checkpoints import load_vae
    from shapes.common import SEED, to_tensor
    import zlib

    work, _ = quick_work
    w = curriculum.World(latent=8, height=16, scenes=5)
    d = curriculum.world_data(work, w)
    assert d["latents"].shape == (5, 4, 16, 8) and d["latents"].is_contiguous()
    rng = np.random.default_rng(SEED * 41 + zlib.crc32(w.key().encode()))
    imgs, caps = [], []
    for _ in range(5):
        scene = curriculum.sample_scene(rng, w)
        caps.append(curriculum.caption(scene, rng, w))
        imgs.append(to_tensor(world.render(scene, *w.px())))
    with torch.no_grad():
        mean, _ = load_vae(work, "cpu").encoder(torch.stack(imgs))
    assert d["captions"] == caps
    assert (d["latents"].float() - mean).abs().max().item() < 2e-2  # fp16 storage of values up to ~10
    assert not list((work / "curriculum" / "data").glob("*.tmp"))


def test_the_judge_scores_positions_unsaid_colours_and_two_objects():
    from shapes import evaluate

    typed = evaluate.prompt_set("typed", 12, seed=3)
    assert any(not s.background for s, _ in typed) and any(not s.objects[0].colour for s, _ in typed)
    assert any(p != p.lower() for _, p in typed) and any(p.startswith("an ") for _, p in evaluate.prompt_set("typed", 60, 3))
    for scene, prompt in typed:
        assert world._place(scene.objects, np.random.default_rng(0), 1.0)
        o = scene.objects[0]
        drawn = world.Scene(scene.background or ("white" if o.colour != "white" else "black"),
                            [world.Obj(o.colour or "red", o.shape, None, None, o.cx, o.cy, o.r)])
        got = evaluate.score(scene, evaluate.judge(world.render(drawn, 256, 256)))
        assert got["shape"] and got.get("colour", True) and got.get("background", True), prompt
        assert ("colour" in got) == bool(o.colour) and ("background" in got) == bool(scene.background)
    for scene, prompt in evaluate.prompt_set("position", 9, seed=4):
        rng = np.random.default_rng(0)
        assert world._place(scene.objects, rng, 1.0)
        verdict = evaluate.judge(world.render(scene, 256, 256))
        assert evaluate.score(scene, verdict)["position"], prompt
        moved = world.Scene(scene.background, [world.Obj(o.colour, o.shape, o.size, o.position, 1 - o.cx, 1 - o.cy, o.r)
                                               for o in scene.objects])
        if scene.objects[0].position != "centre":
            assert not evaluate.score(scene, evaluate.judge(world.render(moved, 256, 256)))["position"], prompt
    for scene, prompt in evaluate.prompt_set("two", 4, seed=5):
        assert world._place(scene.objects, np.random.default_rng(1), 1.0)
        got = evaluate.score(scene, evaluate.judge(world.render(scene, 256, 256)))
        assert got["count"] and got["colour"] and got["shapes"], prompt


def test_training_survives_a_new_machine_through_the_committed_handoff(quick_work, tmp_path):
    """A finished stage, the CLIP-stage text encoder, the VAE and its scaling factor are written to the handoff
    folder (small enough to commit); a fresh work folder restored from it trains the next stage from the
    handed-off EMA weights without re-running clip, vae or the stage; another lineage is refused."""
    import shutil

    import torch
    from shapes import checkpoints, curriculum, handoff
    from shapes.common import load_sharded, save_sharded, unprefixed

    work, recipe = quick_work
    recipe("proxy")
    out = tmp_path / "checkpoints"
    handoff.save(work, out, stages=["proxy"])  # (other tests of this module may have trained later stages)
    assert {"clip-text.pt", "vae.pt", "vae_scaling.json", "lineage.json", "proxy.pt"} == {p.name for p in out.iterdir()
                                                                                         if p.is_file()}
    ema = unprefixed("ema", load_sharded(work / "curriculum" / "proxy")[0])
    kept = torch.load(out / "proxy.pt")["ema"]
    assert all(v.dtype == torch.float16 for v in kept.values())
    assert all((kept[k].float() - ema[k]).abs().max() <= 1e-3 * max(1.0, ema[k].abs().max().item()) for k in ema)

    fresh = tmp_path / "fresh"
    env_out = recipe_in(fresh, "restore", "--handoff", str(out))
    assert "proxy" in env_out and "vae" in env_out
    # nothing trains again: the restored clip, vae and proxy are done
    for stage in ("clip", "vae"):
        assert "step" not in recipe_in(fresh, stage)
    assert "done at step 6" in recipe_in(fresh, "proxy")
    # the next stage starts from the handed-off EMA (within the 6 warm-up steps' drift)
    assert "done at" not in recipe_in(fresh, "curriculum", "--stage", "s2-wide")
    after = unprefixed("unet", load_sharded(fresh / "curriculum" / "s2-wide")[0])
    assert max((after[k] - kept[f"unet.{k}"].float()).abs().max().item() for k in after) < 1e-3
    # the whole chain's steps: the proxy's 6 and stage 2's 6
    assert checkpoints.load_stage(fresh, "s2-wide")[2] == 12
    assert recipe_in(fresh, "stages").count("| 1. the proxy") >= 1

    # a stage cannot start from one that is not finished
    save_sharded(*_unfinished(fresh / "curriculum" / "s2-wide"))
    with pytest.raises(AssertionError, match="finish `s2-wide` first"):
        curriculum.train_run(fresh, "s3-256px", curriculum.quick(curriculum.STAGES["s3-256px"]), "cpu", 1.0)

    # a work folder with another VAE is not mixed with the handed-off stages
    other = tmp_path / "other"
    shutil.copytree(fresh, other)
    state, meta = load_sharded(other / "vae")
    save_sharded({k: v + 0.01 for k, v in state.items()}, other / "vae", meta)
    with pytest.raises(SystemExit, match="another lineage"):
        handoff.restore(other, out)
    with pytest.raises(SystemExit, match="another lineage"):
        handoff.save(other, out)


def _unfinished(folder):
    from shapes.common import load_sharded

    state, meta = load_sharded(folder)
    return state, folder, meta | {"step": 3}


def recipe_in(work, *args):
    env = {**os.environ, "TORCH_THREADS": "1", "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, str(TRAINING / "recipe.py"), *args, "--quick", "--work", str(work)],
                       env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"{args} failed:\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}"
    return r.stdout


def test_a_pack_from_a_curriculum_stage_with_its_guidance_chosen_by_measurement(quick_work, tmp_path):
    """guidance -> export -> eval -> samples from a curriculum stage: the measured guidance is the pack's
    default, the pack's step count is the chain's, and the eval judges every prompt kind at fp32 and int8."""
    work, recipe = quick_work
    recipe("proxy")
    recipe("curriculum", "--stage", "s2-wide")
    src = ("--from", "s2-wide")
    recipe("guidance", *src)
    chosen = json.loads((work / "guidance.json").read_text())
    assert chosen["source"] == "s2-wide" and str(chosen["chosen"]) in chosen["table"]
    # what export writes is what guidance.json says (a value no default could be)
    chosen["chosen"] = 5.25
    (work / "guidance.json").write_text(json.dumps(chosen))
    pack = tmp_path / "pack"
    recipe("export", *src, "--pack", str(pack), "--parity", str(tmp_path / "parity.json"))
    manifest = json.loads((pack / "manifest.json").read_text())
    assert manifest["defaults"]["guidanceScale"] == chosen["chosen"]
    assert manifest["trainingSteps"] == 12
    assert len(manifest["vae"]["latentRgbFactors"]) == 4
    # stage 2 trained at 128 px only, below the app's smallest size: SD 1.5's 512 stays the default
    assert manifest["image"]["trainedSizes"] == ["128x128"] and manifest["image"]["defaultWidth"] == 512
    # the prompts the app offers under its prompt box are the eval's measured examples
    assert manifest["examplePrompts"] == [prompt for prompt, _ in evaluate.EXAMPLE_PROMPTS]
    recipe("eval", *src)
    report = json.loads((work / "eval_report.json").read_text())
    assert report["source"] == "s2-wide" and f"guidance {chosen['chosen']:g}" in report["sampler"]
    kinds = {k.split()[0] for k in report["adherence"]}
    assert kinds == {"held_in", "held_out", "two", "two-whole", "three", "three-whole", "position", "typed"}
    assert "position" in report["adherence"]["position 256px int8"]
    samples = tmp_path / "samples"
    recipe("samples", *src, "--samples-dir", str(samples))
    verdicts = json.loads((samples / "samples.json").read_text())
    assert len(verdicts) == len(list(samples.glob("*.png"))) >= 6


def test_the_pack_defaults_to_the_largest_square_size_its_weights_were_trained_at():
    """Stage 4 trained at 128 and 256 px draws each object several times at 512 px: its pack opens at 256."""
    from shapes import export
    assert export.trained_sizes("s4-multi") == ["128x128", "256x256"]
    assert export.default_side(export.trained_sizes("s4-multi")) == 256
    assert export.default_side(export.trained_sizes("unet")) == 512  # the single long run: 256-512 px
    assert export.default_side(["128x128", "384x256"]) == 512  # no square the app allows: SD 1.5's
    # stage 7 (shipped) also trained at 512 px, on single objects; `recipe.py all` trains its lineage only
    from shapes import curriculum
    assert export.trained_sizes("s7-one512") == ["128x128", "256x256", "512x512"]
    assert curriculum.lineage("s7-one512") == ["proxy", "s2-wide", "s3-256px", "s4-multi", "s7-one512"]


def test_two_pass_pictures_are_laid_out_at_the_size_the_app_lays_them_out_at():
    """evaluate.layout_for and the app's layoutFor (test/core/pipeline/untrained-size.test.ts, the same sizes)
    agree, so the recipe's `512px/256` figures and samples are the pictures the app draws; the curriculum's
    stages compose at 256 px (the manifest's image.layoutSize), the single long run at every size it saw."""
    from shapes import export
    cases = {(512, 512): (256, 256), (768, 768): (256, 256), (640, 640): (256, 256), (768, 512): (320, 192),
             (384, 256): (320, 192), (256, 384): (192, 320), (512, 256): (256, 128), (320, 256): (256, 192),
             (768, 256): (384, 128), (768, 704): (256, 256), (512, 768): (192, 320), (448, 320): (256, 192)}
    for (w, h), lay in cases.items():
        assert evaluate.layout_for(w, h, 256) == lay, (w, h)
    assert evaluate.layout_for(256, 256, 256) is None
    # laid out at 128 px, a 3:2 picture keeps the short side the weights compose at (192x128), not a square sketch
    at128 = {(512, 512): (128, 128), (768, 768): (128, 128), (768, 512): (192, 128), (512, 768): (128, 192),
             (256, 192): (192, 128), (640, 512): (128, 128), (768, 256): (192, 64)}
    for (w, h), lay in at128.items():
        assert evaluate.layout_for(w, h, 128) == lay, (w, h)
    assert export.layout_side("s7-one512") == export.layout_side("s4-multi") == 256
    # the layout lineage composes at 128 px from v-redraw on (its larger worlds teach the redraw only)
    assert export.layout_side(curriculum.SHIPPED) == export.layout_side("v-redraw") == 128
    assert export.layout_side("n5-longer") is None  # (128 px only)
    assert export.trained_sizes(curriculum.SHIPPED) == ["128x128", "256x256", "512x512"]
    assert export.layout_side("unet") is None and export.layout_side("s2-wide") is None  # (128 px only)
    # a stage that says where it composes (the layout lineage: a 128-px sketch, redrawn larger) is laid out
    # there, and so is every stage after it that does not say otherwise
    import dataclasses
    sketch = dataclasses.replace(curriculum.STAGES["s3-256px"], layout=128)
    after = dataclasses.replace(curriculum.STAGES["s4-multi"], init="t-sketch")
    with patch.dict(curriculum.STAGES, {"t-sketch": sketch, "t-after": after}):
        assert export.layout_side("t-sketch") == export.layout_side("t-after") == 128
        assert export.layout_side("s4-multi") == 256


def test_a_stage_cut_off_by_the_end_of_a_session_resumes_from_its_step_in_the_next(quick_work, tmp_path):
    """An unfinished stage is handed off with its weights and EMA; restored, it resumes from that step (not from
    its start) with a fresh optimiser whose learning rate warms up again; finished, the partial file goes."""
    import shutil

    import torch
    from shapes import curriculum, handoff
    from shapes.common import load_sharded, save_sharded, unprefixed

    work, recipe = quick_work
    recipe("proxy")
    recipe("curriculum", "--stage", "s2-wide")
    cut = tmp_path / "cut"
    shutil.copytree(work, cut)
    state, meta = load_sharded(cut / "curriculum" / "s2-wide")
    save_sharded(state, cut / "curriculum" / "s2-wide", meta | {"step": 3, "evals": meta["evals"][:1]})
    out = tmp_path / "checkpoints"
    written = handoff.save(cut, out)
    assert any(w.startswith("s2-wide.partial.pt (step 3 of 6") for w in written), written
    saved = torch.load(out / "s2-wide.partial.pt")
    assert set(saved) == {"unet", "ema", "meta"} and saved["meta"]["step"] == 3

    fresh = tmp_path / "fresh"
    assert any(r.startswith("s2-wide (step 3, to resume") for r in handoff.restore(fresh, out))
    out_log = recipe_in(fresh, "curriculum", "--stage", "s2-wide")
    assert "eval step 6" in out_log and "eval step 3" not in out_log  # resumed at 3, judged at 6 only
    state6, meta6 = load_sharded(fresh / "curriculum" / "s2-wide")
    assert meta6["step"] == 6 and meta6["rewarm_from"] == 3
    steps = [r["step"] for r in json.loads((fresh / "curriculum" / "s2-wide" / "evals.json").read_text())]
    assert steps == [3] + [6] * 3  # the kept figure of step 3, then step 6's three prompt kinds
    run = curriculum.STAGES["s2-wide"]
    assert curriculum.learning_rate(run, 3, rewarm_from=3) == pytest.approx(curriculum.learning_rate(run, 0))
    # handed off again, finished: the partial file is replaced by the stage's own
    written = handoff.save(fresh, out)
    assert "s2-wide.pt" in written and not (out / "s2-wide.partial.pt").exists()


def test_the_committed_handoff_restores_into_a_fresh_work_folder(tmp_path):
    """training/checkpoints/ (what the next session starts from) is one lineage, restores, and every stage in it
    loads with the text encoder and the stages it started from."""
    import torch
    from shapes import checkpoints, curriculum, handoff

    lineage = json.loads((handoff.HANDOFF / "lineage.json").read_text())
    assert handoff.digest(torch.load(handoff.HANDOFF / "vae.pt")["model"]) == lineage["vae"]
    assert handoff.digest(torch.load(handoff.HANDOFF / "clip-text.pt")["text"]) == lineage["clip_text"]
    work = tmp_path / "work"
    handoff.restore(work)
    finished = [n for n in curriculum.STAGES if (handoff.HANDOFF / f"{n}.pt").exists()]
    assert finished and finished[0] == "proxy" and curriculum.SHIPPED in finished  # the pack's weights travel
    for name in finished:  # each with the stages it started from (stage 7 starts from stage 4, not 6), but those
        chain = curriculum.lineage(name)  # handed through (the layout lineage's: its last stage says their steps)
        assert set(chain) - curriculum.HANDED_THROUGH <= set(finished), (name, chain)
        text, unet, steps = checkpoints.load_stage(work, name)
        assert steps == sum(curriculum.STAGES[n].steps for n in chain)
    assert sum(p.stat().st_size for p in handoff.HANDOFF.rglob("*") if p.is_file()) < 120 * 2 ** 20


def test_two_passes_finish_at_the_size_asked_the_latents_of_a_picture_drawn_smaller():
    """evaluate.sample's two passes (the layout drawn at a trained size, finished at the size asked): with a UNet
    that predicts no noise, DDIM only rescales, so the result has a closed form — the first pass's latents
    upscaled, noised to the grid's timestep at `strength` with the second pass's own noise, rescaled to t = 0."""
    import torch
    from shapes.common import alphas_cumprod

    class Zero(torch.nn.Module):
        def forward(self, x, t, ctx):
            return torch.zeros_like(x)

    text = lambda ids: torch.zeros(len(ids), 77, 8)  # noqa: E731
    ids, empty = torch.zeros(2, 77, dtype=torch.int32), torch.zeros(1, 77, dtype=torch.int32)
    abar = alphas_cumprod().double()
    steps, seeds = 20, [3, 4]
    got = evaluate.sample_latents(text, Zero(), ids, empty, 64, 48, seeds, steps, 4.0, layout=(32, 24), strength=0.4)
    assert got.shape == (2, 4, 6, 8)
    low = torch.stack([torch.randn(4, 3, 4, generator=torch.Generator().manual_seed(s)) for s in seeds]).double()
    low = low * (abar[0] / abar[951]).sqrt()  # the first pass: 20 steps from t = 951
    up = torch.nn.functional.interpolate(low, size=(6, 8), mode="bilinear", align_corners=False)
    noise = torch.stack([torch.randn(4, 6, 8, generator=torch.Generator().manual_seed(s + 2 ** 20)) for s in seeds]).double()
    a = abar[351]  # 0.4 of 20 steps: the last 8, from t = 351
    want = (a.sqrt() * up + (1 - a).sqrt() * noise) * (abar[0] / a).sqrt()
    assert torch.allclose(got.double(), want, rtol=1e-4, atol=1e-4), (got.double() - want).abs().max()
    # without a layout, one pass at the size asked
    one = evaluate.sample_latents(text, Zero(), ids, empty, 64, 48, seeds, steps, 4.0)
    first = torch.stack([torch.randn(4, 6, 8, generator=torch.Generator().manual_seed(s)) for s in seeds]).double()
    assert torch.allclose(one.double(), first * (abar[0] / abar[951]).sqrt(), rtol=1e-4, atol=1e-4)


def test_a_frozen_stage_after_one_that_tuned_the_text_encoder_keeps_the_tuned_one(quick_work):
    """The text encoder a stage reads is the one its chain ended with: a stage that keeps it frozen after a stage
    that fine-tuned it (arm (q)'s lever, if a lineage takes it up) must not fall back to the CLIP-stage encoder,
    whose states its UNet no longer reads, in training, in its evals, or in the pack exported from it."""
    import dataclasses
    import torch
    from shapes import checkpoints
    from shapes.common import load_sharded, unprefixed

    work, recipe = quick_work
    recipe("proxy")
    tuned = dataclasses.replace(curriculum.quick(curriculum.ARMS["q-pairs-text"]), init="proxy", steps=3, evals=())
    curriculum.train_run(work, "tuned", tuned, "cpu", 1.0)
    frozen = dataclasses.replace(tuned, init="tuned", text_lr_scale=0.0, steps=2)
    curriculum.train_run(work, "frozen-after", frozen, "cpu", 1.0)
    assert not any(k.startswith("text.") for k in load_sharded(work / "curriculum" / "frozen-after")[0])
    want = unprefixed("text", unprefixed("ema", load_sharded(work / "curriculum" / "tuned")[0]))["token_embedding.weight"]
    clip = checkpoints.load_clip_text(work).token_embedding.weight
    assert not torch.equal(want, clip)  # (three steps moved it)
    for text in (checkpoints.inherited_text(work, "frozen-after"), checkpoints.load_stage(work, "frozen-after")[0]):
        assert torch.equal(text.token_embedding.weight, want)
    assert torch.equal(checkpoints.inherited_text(work, "proxy").token_embedding.weight, clip)


def test_retired_stages_are_not_handed_on(tmp_path):
    """Stages 5 and 6 were dead ends (no stage starts from them), and the first binding lineage (b1-b3) was replaced
    by the layout lineage: their figures stay in the README, their weights are not written to training/checkpoints/
    again (the 120 MiB cap is for the lineages that may ship). The layout lineage's stages before its last are
    handed through: only the last is written, with its chain's steps."""
    import dataclasses

    import torch
    from shapes import handoff
    from shapes.common import save_sharded

    last = curriculum.LAYOUT_LINEAGE[-1]
    for name, step in (("s5-sizes", None), ("s6-512", 10), ("b3-256px", None), ("s4-multi", None),
                       ("x2-layout128-longer", None), ("z0-radii1.5", 7), (last, None)):
        run = curriculum.STAGES[name]
        save_sharded({"unet.w": torch.zeros(1), "ema.unet.w": torch.zeros(1)}, tmp_path / "curriculum" / name,
                     {"step": step or run.steps, "run": dataclasses.asdict(run), "evals": [], "unet": {}})
    assert curriculum.RETIRED == {"s5-sizes", "s6-512", "b1-pairs", "b1b-longer", "b2-wide", "b3-256px"}
    assert curriculum.HANDED_THROUGH == set(curriculum.LAYOUT_LINEAGE[:-1])
    assert handoff.finished_stages(tmp_path) == ["s4-multi", last]
    assert handoff._save_unfinished(tmp_path, tmp_path / "out") == []


def test_a_stage_handed_off_without_the_stages_before_it_goes_on_from_its_chain_steps(tmp_path):
    """The layout lineage hands off its last stage only: restored into a fresh folder it says the whole chain's
    steps and is finished, so a stage after it can start from it — though none of the stages before it are there."""
    import dataclasses
    import json

    import torch
    from shapes import checkpoints, handoff
    from shapes.common import load_sharded, save_sharded

    chain = curriculum.lineage(curriculum.LAYOUT_LINEAGE[-1])
    assert chain == list(curriculum.LAYOUT_LINEAGE)
    work, out, fresh = tmp_path / "work", tmp_path / "handoff", tmp_path / "fresh"
    w = {"w": torch.ones(2)}
    for name in chain:  # the chain as trained here (tiny weights: only the steps and the files matter)
        run = curriculum.STAGES[name]
        save_sharded({"unet.w": w["w"], "ema.unet.w": w["w"]}, work / "curriculum" / name,
                     {"step": run.steps, "run": dataclasses.asdict(run), "evals": [], "unet": {}})
    save_sharded({"text.w": w["w"]}, work / "clip", {"step": 1})
    save_sharded({"model.w": w["w"]}, work / "vae", {"step": 1})
    (work / "vae_scaling.json").write_text(json.dumps({"scaling_factor": 0.6}))
    (work / "tokenizer").mkdir()
    total = sum(curriculum.STAGES[n].steps for n in chain)
    assert checkpoints.chain_steps(work, chain[-1]) == total
    written = handoff.save(work, out)
    assert [p for p in written if p.endswith(".pt") and p not in ("clip-text.pt", "vae.pt")] == [f"{chain[-1]}.pt"]
    handoff.restore(fresh, out)
    assert not (fresh / "curriculum" / chain[-2]).exists()
    ck = load_sharded(fresh / "curriculum" / chain[-1])
    assert ck and ck[1]["step"] >= curriculum.STAGES[chain[-1]].steps  # finished: a next stage may start from it
    assert checkpoints.chain_steps(fresh, chain[-1]) == total
    # `recipe.py all` goes on from it rather than training the ten stages before it again; from scratch, all of them
    assert curriculum.still_to_train(fresh, chain[-1]) == [chain[-1]]
    assert curriculum.still_to_train(tmp_path / "empty", chain[-1]) == chain
    partway = tmp_path / "partway"
    for name in chain[:3]:
        run = curriculum.STAGES[name]
        save_sharded({"unet.w": w["w"]}, partway / "curriculum" / name,
                     {"step": run.steps if name != chain[2] else 10, "run": dataclasses.asdict(run), "evals": [], "unet": {}})
    assert curriculum.still_to_train(partway, chain[-1]) == chain[1:]  # (the third cut off: it resumes)


def test_a_redraw_world_trains_only_the_timesteps_of_the_apps_second_pass():
    """Arm (v): a world with `t_max` teaches a two-pass picture's redraw (the app's second pass starts at t = 351) on
    the same latents as its full-range twin, and oversamples no high noise it does not have."""
    redraw = curriculum.World(latent=32, multi=True, pairs=True, t_max=400)
    assert redraw.key() == curriculum.World(latent=32, multi=True, pairs=True).key()  # the same encoded pictures
    run = curriculum.Run(world=redraw, high_noise_frac=0.5)
    t = curriculum.sample_timesteps(run, 4000, np.random.default_rng(0), redraw.t_max)
    assert int(t.max()) < 400 and int(t.min()) == 0
    # the app's redraw begins at the 20-step grid's timestep for strength 0.4, inside the range
    grid = (np.arange(20) * 50)[::-1] + 1
    assert grid[20 - 8] == 351 < redraw.t_max
    # a full-range world in the same run keeps its oversampling of t >= 500
    full = curriculum.sample_timesteps(run, 4000, np.random.default_rng(0))
    assert 0.7 < float((full >= 500).float().mean()) < 0.8
    assert curriculum.ARMS["v-redraw"].parts()[0][0].t_max == 400 and curriculum.ARMS["v-redraw"].parts()[1][0].t_max == 1000


def test_a_grounded_run_learns_from_the_same_diffusion_loss_plus_its_grounding(quick_work):
    """The grounding loss (shapes/grounding.py) is added to the diffusion loss, not in its place: a grounded run's
    first step sees the very loss its ungrounded twin sees (same weights, batch and noise), and records both."""
    import dataclasses

    import torch
    from shapes.common import load_sharded

    work, _ = quick_work
    # (judged at its one step: the EMA copy the judge draws with is made while the run keeps its attention)
    plain = dataclasses.replace(curriculum.quick(curriculum.ARMS["n-pairs"]), steps=1, evals=(1,))
    curriculum.world_data(work, plain.world)  # made first: encoding it draws from torch's generator (the VAE's init)
    losses = {}
    for name, weight in (("plain-twin", 0.0), ("grounded-twin", 0.25)):
        curriculum.train_run(work, name, dataclasses.replace(plain, grounding=weight), "cpu", 5)
        losses[name] = load_sharded(work / "curriculum" / name)[1]
    assert losses["grounded-twin"]["loss"] == pytest.approx(losses["plain-twin"]["loss"], rel=1e-5)
    assert losses["plain-twin"]["grounding_loss"] is None
    assert 0.3 < losses["grounded-twin"]["grounding_loss"] < 1.0  # words attended about evenly at the start
    # and the grounded words of the pairs world come with its data, on the 4x4 grid of the UNet's first attention
    ground = torch.load(work / "curriculum" / "data" / f"{plain.world.key()}-ground-v1-4x4.pt")
    assert ground["index"].shape[1] == 8 and (ground["index"][:, :3] >= 0).all()


def test_unsaid_backgrounds_drop_the_said_background_from_the_same_pictures(quick_work):
    """Round ten: a share of the captions that say their background lose it ("one brown ring"): a typed caption
    keeps its words and drops its tail; a grammar caption is drawn again with the background unsaid (its article,
    size and place words drawn anew, from the grammar's own); the pictures (latents) and the other captions stay
    the world's own, and a world without the share is captioned exactly as before the share existed."""
    import dataclasses
    import hashlib
    import torch

    work, _ = quick_work
    tiny = curriculum.World(latent=8, scenes=48, sizes=True, grammar=True, typed=0.3)
    told = dataclasses.replace(tiny, unsaid=0.5)
    assert told.key() != tiny.key() and told.pictures_key() == tiny.pictures_key()
    first, again = curriculum.world_data(work, tiny), curriculum.world_data(work, told)
    assert torch.equal(first["latents"], again["latents"])
    scenes = [s for s, _ in curriculum.world_scenes(told)]
    dropped = 0
    for scene, a, b in zip(scenes, first["captions"], again["captions"]):
        if a == b:
            continue
        # only a said background is dropped, and every object's colour and shape stay in the caption
        assert scene.background_said and scene.background in a and "background" not in b and f" on {scene.background}" not in b, (a, b)
        assert all(o.shape in b and (o.colour in a) == (o.colour in b) for o in scene.objects), (a, b)
        dropped += 1
    said = sum(s.background_said for s in scenes)
    assert 0.25 * said <= dropped <= 0.75 * said, (dropped, said)
    # a world without the share: its captions are those the typed world had before `unsaid` existed (commit 7a3919f)
    plain = "\n".join(c for _, c in curriculum.world_scenes(tiny))
    assert hashlib.sha256(plain.encode()).hexdigest()[:16] == "b9a23890d83f0ef5"


def test_far_leaves_unsaid_only_the_backgrounds_far_from_the_objects_colours():
    """Arm (w4f): with `far`, a background is left unsaid only where it lies at least that far from every object's
    colour; the near ones the world would have left unsaid are said (typed captions gain a tail, grammar captions
    are drawn again), on the same pictures, and every other caption stays the world's own."""
    import dataclasses

    plain = curriculum.World(latent=8, scenes=600, sizes=True, multi=True, grammar=True, typed=0.3)
    far = dataclasses.replace(plain, far=140.0)
    assert far.key() != plain.key() and far.pictures_key() == plain.pictures_key()
    near = lambda s: min(curriculum.colour_distance(o.colour, s.background) for o in s.objects) < 140  # noqa: E731
    rewritten = 0
    for (s, a), (s2, b) in zip(curriculum.world_scenes(plain), curriculum.world_scenes(far)):
        assert s == s2 and all(o.colour != s.background for o in s.objects)
        if a != b:  # only a near background the world left unsaid is rewritten, and it is said
            assert near(s) and s.background not in a and s.background in b, (a, b)
            assert all(o.shape in b for o in s.objects), b
            rewritten += 1
        else:
            assert s.background in b or not near(s), b
    assert rewritten > 20
    # with `unsaid` too: the backgrounds it drops are far ones
    both = dataclasses.replace(far, unsaid=0.5)
    unsaid = [s for s, c in curriculum.world_scenes(both) if s.background not in c]
    assert len(unsaid) > 200 and not any(near(s) for s in unsaid)
    assert curriculum.colour_distance("brown", "orange") < 140 < curriculum.colour_distance("brown", "yellow")


def test_plain_draws_the_backgrounds_a_caption_leaves_unsaid_white_on_the_same_scenes(quick_work, monkeypatch):
    """Arm (w4p): with `plain`, a picture whose caption names no background is drawn on white (black behind a white
    object; a picture holding both says its background); the scenes and every other caption stay the world's own,
    and world_data encodes only the redrawn pictures, reusing its scenes' world's latents for the rest."""
    import dataclasses
    import torch
    from shapes.checkpoints import load_vae
    from shapes.common import to_tensor

    base = curriculum.World(latent=8, scenes=600, sizes=True, multi=True, grammar=True, typed=0.3, unsaid=0.5)
    plain = dataclasses.replace(base, plain=True)
    assert plain.scenes_key() == base.pictures_key() and plain.pictures_key() == plain.key() != base.key()
    redrawn = said = 0
    for (s, a), (s2, b) in zip(curriculum.world_scenes(base), curriculum.world_scenes(plain)):
        assert s.objects == s2.objects
        if curriculum.says_background(b, s2):
            assert s2.background == s.background  # said: the world's own picture
            said += a != b  # rewritten only where white and black objects both left nothing plain to draw on
            if a != b:
                assert {o.colour for o in s.objects} >= {"white", "black"} and s.background in b
        else:
            assert a == b and s2.background == ("black" if any(o.colour == "white" for o in s.objects) else "white")
            redrawn += s2.background != s.background
    assert redrawn > 250 and said < 10
    # (w4q): a gray object's plain background is black, and a black object beside it leaves none plain
    obj = lambda *cs: world.Scene("blue", [world.Obj(c, "star", None, None) for c in cs])  # noqa: E731
    gray_black = ("white", "gray")
    assert [curriculum.plain_background(obj("gray"), b) for b in (("white",), gray_black)] == ["white", "black"]
    assert curriculum.plain_background(obj("gray", "black"), gray_black) is None
    with pytest.raises(AssertionError):  # a white object is never drawn on white
        curriculum.plain_background(obj("gray"), ("gray",))
    assert curriculum.plain_background(obj("red", "black")) == "white" and curriculum.plain_background(obj("white", "black")) is None
    assert dataclasses.replace(plain, plain_black=gray_black).key() == plain.key() + "-blackgray"
    assert curriculum.says_background("a red star, blue background!", world.Scene("blue", []))
    assert not curriculum.says_background("a red star", world.Scene("blue", []))

    work, _ = quick_work
    tiny = curriculum.World(latent=8, scenes=70, sizes=True, grammar=True, unsaid=0.5)
    own = curriculum.world_data(work, tiny.scenes_world())
    drawn = []
    render = world.render
    monkeypatch.setattr(world, "render", lambda scene, *a, **k: drawn.append(scene) or render(scene, *a, **k))
    d = curriculum.world_data(work, dataclasses.replace(tiny, plain=True))
    monkeypatch.undo()
    scenes = list(curriculum.world_scenes(dataclasses.replace(tiny, plain=True)))
    assert d["captions"] == [c for _, c in scenes]
    moved = [i for i, ((s, _), (s0, _)) in enumerate(zip(scenes, curriculum.world_scenes(tiny.scenes_world())))
             if s.background != s0.background]
    assert 15 < len(moved) < 70 and any(i >= 64 for i in moved)  # in both of its batches of 64
    assert drawn == [scenes[i][0] for i in moved]  # only the redrawn pictures are rendered and encoded
    kept = [i for i in range(70) if i not in moved]
    assert torch.equal(d["latents"][kept], own["latents"][kept])
    with torch.no_grad():
        mean, _ = load_vae(work, "cpu").encoder(torch.stack([to_tensor(world.render(scenes[i][0], 64, 64))
                                                             for i in moved]))
    assert torch.allclose(d["latents"][moved].float(), mean, atol=2e-2)
