"""Worlds a UNet can learn first: the proxy world, and the arms that measure what of the full world costs most.

The shipped run trained one UNet for 71,000 steps on the whole world at once — 1-3 objects and counted
groups, a 6x range of object sizes over 13 resolutions, the full caption grammar, the text encoder
fine-tuned — and its shapes stayed at chance (training/README.md). The same UNet, loss and schedule
learn shapes within ~7,500 steps on one CPU thread when the world is narrow: one medium object per
128-px picture (16x16 latents) at the size it has at 256 px (7-11.5 latent pixels across), captions
"a {colour} {shape} on a {background} background", the text encoder frozen. That is the **proxy**
(`recipe.py proxy`), kept as the recipe's regression run. Each **arm** is the proxy plus one thing of
the full world, trained from scratch the same way and judged the same way (48 held-in single-object
prompts at the arm's own size, DDIM 20 steps, EMA weights, guidance 1 / 4 / 7.5), so the arms' table
says which part of the full world costs most — the order in which a curriculum should add them.

Everything not named by an arm is the recipe's (shapes/train_unet.py): SD 1.5's schedule, ε-prediction,
offset noise 0.5, min-SNR-5, caption dropout 10 %, EMA 0.999, the CLIP-stage text encoder and the VAE.
"""
from __future__ import annotations

import copy
import itertools
import dataclasses
import json
import math
import os
import re
import time
import zlib
from dataclasses import dataclass, field
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from . import evaluate, grounding, world
from .checkpoints import inherited_text, load_tokenizer, load_vae
from .common import (SEED, Deadline, alphas_cumprod, load_optimizer_state, load_sharded, optimizer_state, prefixed,
                     save_sharded, setup_threads, step_with_ema, to_tensor, unprefixed, NUM_TRAIN_TIMESTEPS)
from .models import TextEncoder, UNet, UNetConfig
from .train_unet import MIN_SNR_GAMMA, OFFSET_NOISE

EVAL_GUIDANCE = (1.0, 4.0, 7.5)


@dataclass(frozen=True)
class World:
    """What the pictures of one training world hold."""
    latent: int = 16  # latent width: pictures are 8x that (16 -> 128 px)
    height: int = 0  # latent height; 0: square
    sizes: bool = False  # small / medium / large objects, the size said ("a small red star"); else medium, unsaid
    multi: bool = False  # half the pictures hold two or three objects or a counted group ("two red stars")
    grammar: bool = False  # the world's caption grammar: wordings, positions on the 3x3 grid, unsaid backgrounds
    scenes: int = 8000  # pictures encoded once into latents
    multi_share: float = 0.5  # with `multi`: the share of pictures holding several objects or a counted group
    # Several objects whose places the caption leaves unsaid are named left to right ("a red star and a blue
    # circle": the star is the left one). Only the captions change: the pictures, and so the latents, are
    # those of the same world without it (world_data shares them).
    reading_order: bool = False
    # The share of single-object pictures whose caption is rewritten the ways people type prompts (`typed_caption`:
    # no article or "an", the colour or background unsaid, "on blue", a full stop). Only the captions change, as
    # with reading_order: the latents are the plain world's.
    typed: float = 0.0
    # The share of the pictures whose background the grammar says (85 %) that have it dropped from their caption
    # ("a brown ring", "a red star and a blue circle"), drawn as `typed` is: only the captions change. A typed
    # caption keeps its words and loses its tail (some typed tails were already empty, so the share dropped is a
    # little under this); a grammar caption is drawn again with the background unsaid, its article, size and place
    # words drawn anew from the grammar's own. With `grammar` only. Round ten (training/README.md): prompts typed
    # with no background miss their colour more often than those that name one.
    unsaid: float = 0.0
    # Backgrounds are left unsaid only where they lie at least this far (RGB distance, the world's palette) from every
    # object's colour: a caption that would leave a near background unsaid says it (a typed caption keeps or gains a
    # tail, a grammar caption is drawn again with the background said), and `unsaid` drops only far ones. Only the
    # captions change. Round ten's contrast probe (diagnostics/unsaid_probe.py contrast): with no background said,
    # (w2) chose one under 140 from the named colour for 32 of 72 prompts (a uniform choice gives 24 %) and missed
    # the colour on 8 of those 32, against 3 of the 40 far ones — brown drawn red on orange, gray blue on blue.
    far: float = 0.0
    # A background the caption leaves unsaid is drawn plain: white, or black behind a white object (a picture holding
    # both says its background). The pictures whose captions say none are drawn again on it, so such a world has
    # latents of its own. "A brown star" is then a brown star on white, as clip art is, and not on a background the
    # UNet picks itself: round ten found the colour misses where it picks one near the object's (round eleven).
    plain: bool = False
    # With `plain`: the object colours drawn on black where the background is unsaid (white is always among them).
    plain_black: tuple[str, ...] = ("white",)
    # With `multi`: every several-object picture holds exactly two objects, never a counted group (the binding
    # proxy's world: which colour goes with which shape, and nothing else new).
    pairs: bool = False
    # The largest timestep trained on this world's pictures (not part of its key: the same latents). Below 1000 it
    # teaches only a two-pass picture's redraw: the app's second pass starts at t = 351 (strength 0.4 on the 20-step
    # grid), so t < 400 covers it — the layout is the first pass's, at a size where the UNet binds colours.
    t_max: int = 1000
    # Objects keep the world's own radii (fractions of the shorter side) below 256 px too: a 128-px layout whose
    # objects are the size the 256- and 512-px pictures drawn from it should hold, with room to place them.
    own_radii: bool = False
    # Below 256 px, objects at this multiple of the world's own radii (0: `own_radii`'s rule): 1 is own_radii, 2 the
    # 256-px size in latent pixels at 128 px. A 128-px layout binds colours when its objects are large and places
    # them when they are small (arms (x0)/(x1), (y0)/(y1)); the sizes between are measured by arms (z).
    radii: float = 0.0

    @property
    def lat_h(self) -> int:
        return self.height or self.latent

    def px(self) -> tuple[int, int]:
        return self.latent * 8, self.lat_h * 8

    def key(self) -> str:
        size = f"{self.latent * 8}px" if not self.height else f"{self.latent * 8}x{self.height * 8}px"
        share = f"-share{self.multi_share:g}" if self.multi and self.multi_share != 0.5 else ""
        share += "-pairs" if self.multi and self.pairs else ""
        return (f"{size}-sizes{int(self.sizes)}-multi{int(self.multi)}{share}-grammar{int(self.grammar)}"
                f"-n{self.scenes}" + ("-own" if self.own_radii else "") + (f"-r{self.radii:g}" if self.radii else "") + ("-reading" if self.reading_order else "") + (f"-typed{self.typed:g}" if self.typed else "")
                + (f"-unsaid{self.unsaid:g}" if self.unsaid else "") + (f"-far{self.far:g}" if self.far else "")
                + ("-plain" if self.plain else "")
                + ("-black" + "+".join(c for c in self.plain_black if c != "white") if self.plain and self.plain_black != ("white",) else ""))

    def pictures_key(self) -> str:
        """The key of the world whose pictures these are (the same scenes, perhaps captioned otherwise). With
        `plain` the captions choose which pictures are drawn on the plain background: its pictures are its own."""
        return self.key() if self.plain else self.scenes_key()

    def scenes_world(self) -> World:
        """The world whose scenes these are, captioned by the grammar alone and no background redrawn."""
        return dataclasses.replace(self, reading_order=False, typed=0.0, unsaid=0.0, far=0.0, plain=False)

    def scenes_key(self) -> str:
        return self.scenes_world().key()

    def radius_scale(self) -> float:
        """Below 256 px objects keep the size in latent pixels they have in the world's 256-px pictures; from
        256 px up they keep the world's own radii (fractions of the shorter side), as a person asking for "a
        red star" at 512 px expects."""
        if self.radii and 8 * min(self.latent, self.lat_h) < 256:
            return self.radii
        return 1.0 if self.own_radii else max(1.0, 256 / (8 * min(self.latent, self.lat_h)))


@dataclass(frozen=True)
class Run:
    """One training run in a world, from scratch."""
    world: World = field(default_factory=World)
    steps: int = 7500
    batch: int = 32
    lr: float = 5e-4  # AdamW peak; 200 warm-up steps, then a cosine down to a tenth
    warmup: int = 200
    weight_decay: float = 0.01
    high_noise_frac: float = 0.0  # share of timesteps drawn from t >= 500 (the shipped recipe's phases: 0.5)
    text_lr_scale: float = 0.0  # 0: the text encoder stays frozen; else it is fine-tuned at this share of the LR
    evals: tuple[int, ...] = (2500, 5000, 7500)  # steps at which the EMA weights are judged
    # Other worlds in the same run, each (world, share of the steps, batch); `world` takes the rest of the
    # steps at `batch`. One world per step: a batch holds pictures of one size.
    mix: tuple[tuple[World, float, int], ...] = ()
    init: str = ""  # a curriculum stage starts from this run's weights and EMA (a fresh optimiser and warm-up)
    # (prompt kind, px) judged; default: held-in at the world's size. px "512/256": 512 px in two passes, the
    # layout drawn at 256 px (evaluate.sample's `layout`).
    judge: tuple[tuple[str, int | str], ...] = ()
    guidance: tuple[float, ...] = EVAL_GUIDANCE  # guidance scales judged
    # The UNet's shape. A run may add zero-initialised blocks (UNetConfig.text_attention) to the weights it
    # starts from: they start as the identity, so the run begins where `init` ended.
    unet: UNetConfig = field(default_factory=UNetConfig)
    # Weight of the grounding loss on the cross-attention (shapes/grounding.py): the words naming each object's
    # colour and shape attended from its own pixels. 0: the diffusion loss alone.
    grounding: float = 0.0
    # The side the weights compose pictures at, where a run says so (its larger worlds teach only the redraw,
    # `World.t_max`); 0: export.layout_side's rule (256 where trained at 256 px).
    layout: int = 0

    def parts(self) -> list[tuple[World, float, int]]:
        rest = 1.0 - sum(share for _, share, _ in self.mix)
        assert rest > 0, "the mix leaves no share for the run's own world"
        return [(self.world, rest, self.batch), *self.mix]

    def judged(self) -> tuple[tuple[str, int | str], ...]:
        return self.judge or (("held_in", self.world.latent * 8),)


ARMS: dict[str, Run] = {
    "proxy": Run(),
    "a-high-noise": Run(high_noise_frac=0.5),
    "b-sizes": Run(world=World(sizes=True)),
    "c-multi": Run(world=World(multi=True)),
    # 256 px is 4x the pixels per step: the same wall-clock as the proxy buys a quarter of its steps.
    "d-256px": Run(world=World(latent=32), steps=1900, evals=(950, 1900)),
    "e-grammar": Run(world=World(grammar=True)),
    "f-text-tuned": Run(text_lr_scale=0.1),
    "g-batch16": Run(batch=16),
    # After the curriculum's stage 4 (two objects flat at 42-46 % count, 6-8 % both colours from its step 4,000
    # to 8,000): is it the share of several-object pictures? Stage 4's weights, 90 % several objects at 256 px.
    "h-two-share": Run(world=World(latent=32, multi=True, multi_share=0.9, scenes=3000, sizes=True, grammar=True),
                       batch=16, steps=3000, lr=2e-4, init="s4-multi", evals=(1500, 3000),
                       judge=(("two", 256), ("held_in", 256)), guidance=(4.0,)),
}
# ... and the text encoder fine-tuned with it (at 0.1x the LR), in case binding needs the prompt's states to move
ARMS["i-two-text"] = dataclasses.replace(ARMS["h-two-share"], text_lr_scale=0.1)
# ... or cross-attention at 16x16 (256 px), where two objects are 3-11 cells apart, added at zero (models.TextAttention)
ARMS["j-text-attn16"] = dataclasses.replace(ARMS["h-two-share"], unet=UNetConfig(text_attention=(False, True, False, False)))
# ... or the objects named left to right where the caption leaves their places unsaid: which colour goes to which
# object is then decided by where it is, as with named positions (96 % at stage 4), not by a coin the UNet must
# toss at high noise (training/diagnostics/binding_by_noise.py)
ARMS["k-reading-order"] = dataclasses.replace(ARMS["h-two-share"],
                                              world=dataclasses.replace(ARMS["h-two-share"].world, reading_order=True))
# After stages 5 and 6 (trained at 256-512 px with several objects in half of every world's pictures) drew one
# object for only 38-44 % of single-object prompts at 512 px: does 512 px learn "one object" from single-object
# pictures? Stage 4's weights; 60 % of the steps at 512 px with one object each, 256 px's worlds kept.
# Stage 7 draws prompts as people type them less well than the grammar's (shape 81-83 % against 100 %), and
# those that leave the background unsaid come out all in the named colour (diagnostics/typed_probe.py): stage 7's
# worlds with 30 % of their single-object captions typed (`typed_caption`), from stage 7's weights.
ARMS["m-typed"] = Run(world=World(latent=64, scenes=3000, typed=0.3, **dict(sizes=True, grammar=True)), batch=8,
                      steps=1500, lr=1e-4, init="s7-one512", evals=(750, 1500),
                      mix=((World(latent=32, typed=0.3, sizes=True, grammar=True), 0.3, 16),
                           (World(latent=32, multi=True, typed=0.3, sizes=True, grammar=True), 0.2, 16)),
                      judge=(("typed", 256), ("held_in", 256), ("held_in", "512/256"), ("two", 256)), guidance=(4.5,))
# (m) bought nothing with the encoder frozen: the UNet met the typed wordings only through states the encoder was
# never trained to give them. (m2) the same worlds and captions with the text encoder fine-tuned at 0.1x the LR.
ARMS["m2-typed-text"] = dataclasses.replace(ARMS["m-typed"], text_lr_scale=0.1)
ARMS["l-512-single"] = Run(world=World(latent=64, scenes=3000, **dict(sizes=True, grammar=True)), batch=8, steps=1500,
                           lr=1e-4, init="s4-multi", evals=(750, 1500),
                           mix=((World(latent=32, sizes=True, grammar=True), 0.25, 16),
                                (World(latent=32, multi=True, sizes=True, grammar=True), 0.15, 16)),
                           judge=(("held_in", 512), ("held_in", 256)), guidance=(4.0,))
# Binding measured where an arm costs under an hour (the proxy's 128 px, from scratch): can this UNet learn to draw two
# named objects, each in its own colour, when half its pictures hold exactly two ("a red star and a blue circle on
# a green background", the eval's own wording) — and does naming them left to right make it learnable?
ARMS["n-pairs"] = Run(world=World(multi=True, pairs=True), judge=(("two", 128), ("held_in", 128)), guidance=(4.0,))
ARMS["o-pairs-reading"] = dataclasses.replace(ARMS["n-pairs"], world=World(multi=True, pairs=True, reading_order=True))
# Round two (after (n) at step 7,500): does binding keep rising with more steps — (n) continued — and does
# cross-attention one level finer (8x8 at 128 px, each object cells of its own) learn it sooner, from scratch?
ARMS["n2-pairs-longer"] = dataclasses.replace(ARMS["n-pairs"], init="n-pairs", steps=5000, lr=3e-4, evals=(2500, 5000))
ARMS["p-pairs-attn"] = dataclasses.replace(ARMS["n-pairs"], unet=UNetConfig(text_attention=(False, True, False, False)))
# Round three (binding flat at 25-31 % from (n)'s step 5,000 to (n2)'s 12,500): (n2) continued 5,000 steps with the
# text encoder fine-tuned (its states may have to carry which colour goes with which shape: the frozen one was
# trained on single objects), or with half the timesteps from t >= 500, where the colours of two objects are decided
# (diagnostics/binding_by_noise.py); (n3) is the same 5,000 steps with neither, the control.
ARMS["n3-control"] = dataclasses.replace(ARMS["n2-pairs-longer"], init="n2-pairs-longer")
ARMS["q-pairs-text"] = dataclasses.replace(ARMS["n3-control"], text_lr_scale=0.1)
ARMS["r-pairs-high-noise"] = dataclasses.replace(ARMS["n3-control"], high_noise_frac=0.5)
# Neither lever beat the control at its step 2,500, which had risen from (n2)'s 29 % to 38 %: does binding keep
# rising with steps alone? (n4) the control continued 5,000 more.
ARMS["n4-longer"] = dataclasses.replace(ARMS["n3-control"], init="n3-control")
# (n4) found both colours rising ~3-4 points per 2,500 steps (46 % at 22,500): does the slope hold past 50 %?
ARMS["n5-longer"] = dataclasses.replace(ARMS["n3-control"], init="n4-longer", steps=10000,
                                        evals=(2500, 5000, 7500, 10000))
# Round four, the UNet's shape (every lever on the data, the text encoder, the noise levels and the sampler left
# binding where steps alone put it): arm (n) from scratch with twice the attention heads at the same width
# (head_dim 16: 6 heads at 96 channels, 8 at 128; no parameter or FLOP added), or with the attention levels wider
# (128 / 192 channels for 96 / 128: 10.4M parameters, 3.84 GFLOP a call at 512 px against 2.75).
ARMS["t-heads"] = dataclasses.replace(ARMS["n-pairs"], unet=UNetConfig(head_dim=16))
ARMS["u-wide-attn"] = dataclasses.replace(ARMS["n-pairs"], unet=UNetConfig(channels=(32, 64, 128, 192)))
# Round five, after diagnostics/layout_binding.py: (n4), trained at 128 px only, keeps single objects through the
# app's two passes from a 128-px sketch (256/128: 92 / 90 %, 512/128: 90 / 100 %) and half of its two objects'
# binding (46 % at 128 px; 17 % at 256/128, 27 % at 512/128): the redraw, at sizes it never saw, loses the rest.
# (v) teaches the redraw alone: from (n5), 256-px two-object pictures at t < 400 only, the 128-px world kept whole.
ARMS["v-redraw"] = Run(world=World(latent=32, multi=True, pairs=True, t_max=400), batch=16, steps=1500, lr=1e-4,
                       init="n5-longer", evals=(750, 1500), mix=((World(multi=True, pairs=True), 0.4, 32),), layout=128,
                       judge=(("two", "256/128"), ("two", "512/128"), ("held_in", "256/128"), ("two", 128)),
                       guidance=(4.0,))
# (v) lifted both colours at 256/128 from (n5)'s 27 % to 60 % in 1,500 steps (and at 128 px, 54 → 65 %): does it
# keep rising? (v2) (v) continued 1,500 more.
ARMS["v2-redraw-longer"] = dataclasses.replace(ARMS["v-redraw"], init="v-redraw")
# ... and the lever that measures, at 256 px from b3 (where b1-b2's binding at 128 px did not carry over): b3's
# worlds and mix for 2,000 more steps, with the lever (s) or without it (s0, the control).
ARMS["s0-b3-control"] = Run(world=World(latent=32, multi=True, pairs=True, sizes=True, grammar=True), batch=16,
                            steps=2000, lr=1.5e-4, init="b3-256px", evals=(1000, 2000),
                            mix=((World(multi=True, pairs=True, sizes=True, grammar=True), 0.3, 32),
                                 (World(latent=32, multi=True, pairs=True), 0.1, 16)),
                            judge=(("two", 256), ("held_in", 256)), guidance=(4.0,))
ARMS["s-b3-text"] = dataclasses.replace(ARMS["s0-b3-control"], text_lr_scale=0.1)
# Round six, (v)'s design at the wide world's width: compose at 128 px in the wide world (sizes, wordings, named
# places, typed captions, half the pictures two objects), and teach the redraw (t < 400) at 256 and 512 px in the
# same world. (x1): the 128-px layouts' objects at the world's own radii, the size they will have once redrawn;
# (x0), its control: at their 256-px size in latent pixels, as every 128-px world before (b2's pictures).
WIDE = dict(sizes=True, grammar=True)  # the world's sizes, wordings and places
_REDRAW = ((World(latent=32, multi=True, pairs=True, t_max=400, **WIDE), 0.3, 16),
           (World(latent=64, multi=True, pairs=True, scenes=1500, t_max=400, **WIDE), 0.2, 8))
ARMS["x1-layout128-own"] = Run(world=World(multi=True, pairs=True, own_radii=True, typed=0.3, **WIDE), steps=5000,
                               lr=2e-4, init="v2-redraw-longer", evals=(2500, 5000), mix=_REDRAW,
                               judge=(("two", "256/128"), ("position", "256/128"), ("held_in", "512/128")),
                               guidance=(4.0,))
ARMS["x0-layout128"] = dataclasses.replace(ARMS["x1-layout128-own"],
                                           world=World(multi=True, pairs=True, typed=0.3, **WIDE))
# (x1) at 2,500 steps placed named objects no better than chance (17 %) at 256/128, and bound both colours 38 %:
# with half the steps at 128 px, the layout world had had 1,250. (x2) continues it with the 128-px world at
# 65 % of the steps (the redraws 20 / 15 %).
ARMS["x2-layout128-longer"] = dataclasses.replace(
    ARMS["x1-layout128-own"], init="x1-layout128-own",
    mix=((_REDRAW[0][0], 0.2, 16), (_REDRAW[1][0], 0.15, 8)),
    judge=(("two", "256/128"), ("position", "256/128"), ("held_in", "512/128"), ("position", 128)))
# ... and in one pass at 128 px (x1) placed them 19 %, (x0) 14 %, where b2 had 56 %: the layout world's places
# are what is not learned. The UNet reads the prompt only at 4x4 and 2x2 at 128 px; (x3) is (x2) with
# cross-attention added at 8x8 (zero-initialised, `UNetConfig.text_attention`), where a 3x3 grid of places has
# cells of its own.
ARMS["x3-layout128-attn"] = dataclasses.replace(ARMS["x2-layout128-longer"],
                                                unet=UNetConfig(text_attention=(False, True, False, False)))
# (x2) at 5,000 steps placed named objects 79 % but bound both colours 29 % (v2: 58 %): which of the wide world's
# parts costs binding? At 128 px only, from (x2), judged through the redraw it already knows: (y0) the control, its
# 128-px world alone; (y1) the plain world (medium objects, the proxy's one wording, no places) at the same radii.
ARMS["y0-wide128"] = Run(world=ARMS["x2-layout128-longer"].world, steps=5000, lr=2e-4, init="x2-layout128-longer",
                         evals=(2500, 5000), judge=(("two", "256/128"),), guidance=(4.0,))
ARMS["y1-plain128"] = dataclasses.replace(ARMS["y0-wide128"], world=World(multi=True, pairs=True, own_radii=True))
# (y0)/(y1): the objects' size in latent pixels, not the wordings or places, is what costs binding at 128 px. (z) arms
# continue (x2) at 128 px only, as (y0) did (radii 1), judged the same way plus places in one 128-px pass: (z0) objects
# at 1.5x the world's radii, (z1) at 2x (the 256-px size in latent pixels, (x0)'s pictures).
ARMS["z0-radii1.5"] = dataclasses.replace(ARMS["y0-wide128"],
                                          world=dataclasses.replace(ARMS["y0-wide128"].world, own_radii=False, radii=1.5),
                                          judge=(("two", "256/128"), ("position", 128)))
ARMS["z1-radii2"] = dataclasses.replace(ARMS["z0-radii1.5"],
                                        world=dataclasses.replace(ARMS["z0-radii1.5"].world, radii=0.0))
# (z0)/(z1) at 2,500 steps bound both colours 33 / 29 % — as (y0) at radii 1 (29 %): from (x2), whose binding was
# lost in the wide world, no object size brings it back soon; (z0) placed named objects 100 % in one 128-px pass
# ((z1): 69 %). (x1)/(x2) had dropped the 128-px pairs world binding was learned in (b1-n5, (v)) from their mix:
# (w) arms keep it at 20 % beside the wide world at 1.5x radii (45 %) and the redraws (20 / 15 %). (w0) from (x0),
# which kept 50 % of binding and had not learned places; (w1) from (z0), which places and binds 33 %.
_BIND_KEPT = ((World(multi=True, pairs=True), 0.2, 32), (_REDRAW[0][0], 0.2, 16), (_REDRAW[1][0], 0.15, 8))
ARMS["w0-kept-pairs"] = Run(world=ARMS["z0-radii1.5"].world, steps=5000, lr=2e-4, init="x0-layout128",
                            evals=(2500, 5000), mix=_BIND_KEPT, guidance=(4.0,),
                            judge=(("two", "256/128"), ("position", "256/128"), ("position", 128), ("held_in", "512/128")))
ARMS["w1-kept-pairs-placed"] = dataclasses.replace(ARMS["w0-kept-pairs"], init="z0-radii1.5")
# (w1) at 2,500 steps: both colours 52 %, places 98 % at 256/128 — the kept pairs world brings binding back while
# places hold. (w2): (w1) with the pairs world at 30 % (the wide world 35 %).
ARMS["w2-more-pairs"] = dataclasses.replace(ARMS["w1-kept-pairs-placed"],
                                            mix=((_BIND_KEPT[0][0], 0.3, 32), *_BIND_KEPT[1:]))
# Session 21: w1's cross-attention is barely grounded (diagnostics/grounding_probe.py): the token loss of
# shapes/grounding.py is 0.64-0.74 at its three 4x4 layers and at chance at its 2x2 ones, against 0.742 for a map
# that attends every pixel alike, 0 for one that attends each object's words only from its own pixels. (g) arms:
# (w2) with the grounding loss added, at two weights.
# At w1 the loss's gradient is about as large as the diffusion loss's (norm 0.13 against 0.09-0.13) and 15-25x
# larger on the cross-attention's query and key weights: at 0.05 it is the diffusion loss's size there, at 0.25
# five times it.
ARMS["g1-grounded"] = dataclasses.replace(ARMS["w2-more-pairs"], grounding=0.05)
ARMS["g2-grounded-more"] = dataclasses.replace(ARMS["w2-more-pairs"], grounding=0.25)
# (w2) ships (session 21): both colours 59 % at 256 px, 44 % at 512 — the 4x redraw loses a quarter of what the sketch
# binds. (w3) arms go on from (w2), 2,500 steps at 1e-4, judged at 512 px too: (w3a) its own mix (more steps at a
# lower learning rate), (w3b) with the 512-px redraw world at 25 % of the steps (the wide world 25 %).
_JUDGE_512 = (("two", "256/128"), ("two", "512/128"), ("position", "256/128"), ("held_in", "512/128"))
ARMS["w3a-lower-lr"] = dataclasses.replace(ARMS["w2-more-pairs"], init="w2-more-pairs", steps=2500, lr=1e-4,
                                           evals=(1250, 2500), judge=_JUDGE_512)
ARMS["w3b-more-512"] = dataclasses.replace(ARMS["w3a-lower-lr"],
                                           mix=(ARMS["w2-more-pairs"].mix[0], _BIND_KEPT[1], (_BIND_KEPT[2][0], 0.25, 8)))
# Round ten (session 23): prompts typed with no background miss their colour more often (83 %) than every form that
# names one (96-100 %; diagnostics/typed_many.py). (w4u) is (w2) with half of its wide world's said backgrounds dropped from the captions (`World.unsaid`: the
# same pictures), 2,500 steps at 1e-4 as (w3a), judged on typed prompts at the pack's guidance.
_JUDGE_TYPED = (("typed", "256/128"), ("two", "256/128"), ("position", "256/128"), ("held_in", "512/128"))
ARMS["w4u-unsaid"] = dataclasses.replace(ARMS["w3a-lower-lr"], judge=_JUDGE_TYPED, guidance=(3.0,),
                                         world=dataclasses.replace(ARMS["w2-more-pairs"].world, unsaid=0.5))
# (w4f) is (w4u) with its unsaid backgrounds all far from the object's colour (`World.far` 140: brown is then never
# left unsaid on orange, red, gray, black or green, gray never on purple, brown, green or blue), the near ones said.
ARMS["w4f-far"] = dataclasses.replace(ARMS["w4u-unsaid"], world=dataclasses.replace(ARMS["w4u-unsaid"].world, far=140.0))
# Round eleven (session 25): (w4p) is (w4u) with every background its captions leave unsaid drawn plain (`World.plain`:
# white, black behind a white object). The same scenes and captions; the pictures that name no background redrawn.
ARMS["w4p-plain"] = dataclasses.replace(ARMS["w4u-unsaid"], world=dataclasses.replace(ARMS["w4u-unsaid"].world, plain=True))
# (w4p) drew every unsaid background white, and its one systematic miss left was gray drawn purple on white (8 of 11
# misses; 8 of 12 even with "on a white background" said, 12 of 12 on black, blue or yellow). (w4q): gray on black.
ARMS["w4q-plain-gray-black"] = dataclasses.replace(
    ARMS["w4p-plain"], world=dataclasses.replace(ARMS["w4p-plain"].world, plain_black=("white", "gray")))
# diagnostics/pair_probe.py: the UNet's x0 estimate gets gray on white right from t = 600 down and leans purple at
# t = 800, where the sketch commits to a colour. (w4h): (w4p) with half of each batch's timesteps from t >= 500
# (the curriculum draws them uniformly), 1,250 steps: does it move the estimate at t = 800?
ARMS["w4h-high-noise"] = dataclasses.replace(ARMS["w4p-plain"], high_noise_frac=0.5, steps=1250, evals=(1250,))
ARM_WHAT = {
    "proxy": "the proxy: one medium object, 128 px, plain captions, text encoder frozen, batch 32, t uniform",
    "a-high-noise": "(a) half of each batch's timesteps from t >= 500",
    "b-sizes": "(b) small / medium / large objects (5-15 latent px across), size said",
    "c-multi": "(c) half the pictures: 2-3 objects or a counted group",
    "d-256px": "(d) 256 px (32x32 latents), equal wall-clock (1,900 steps)",
    "e-grammar": "(e) the full caption grammar (wordings, grid positions, 15 % unsaid backgrounds)",
    "f-text-tuned": "(f) the text encoder fine-tuned at 0.1x the LR",
    "g-batch16": "(g) batch 16",
    "h-two-share": "(h) from stage 4: 90 % of the pictures with several objects (256 px)",
    "i-two-text": "(i) (h) with the text encoder fine-tuned at 0.1x the LR",
    "j-text-attn16": "(j) (h) with cross-attention added at 16x16 (zero-initialised)",
    "k-reading-order": "(k) (h) with several objects named left to right where their places are unsaid",
    "m2-typed-text": "(m2) (m) with the text encoder fine-tuned at 0.1x the LR",
    "l-512-single": "(l) from stage 4: 60 % of the steps at 512 px, one object per picture (256 px kept)",
    "m-typed": "(m) from stage 7: its worlds with 30 % of single-object captions typed",
    "n-pairs": "(n) the proxy with half its pictures holding two objects (from scratch, 128 px)",
    "o-pairs-reading": "(o) (n) with the two objects named left to right",
    "n2-pairs-longer": "(n2) (n) continued: 5,000 more steps in its world",
    "p-pairs-attn": "(p) (n) with cross-attention added one level finer (8x8 at 128 px), from scratch",
    "n3-control": "(n3) (n2) continued: 5,000 more steps in its world (the control of (q) and (r))",
    "q-pairs-text": "(q) (n3) with the text encoder fine-tuned at 0.1x the LR",
    "r-pairs-high-noise": "(r) (n3) with half of each batch's timesteps from t >= 500",
    "n4-longer": "(n4) (n3) continued: 5,000 more steps in its world (22,500 in all)",
    "n5-longer": "(n5) (n4) continued: 10,000 more steps (32,500 in all)",
    "t-heads": "(t) (n) with twice the attention heads (head_dim 16), from scratch",
    "u-wide-attn": "(u) (n) with the attention levels wider (128 / 192 channels), from scratch",
    "v-redraw": "(v) (n5) taught the redraw: 256-px two-object pictures at t < 400, the 128-px world kept",
    "v2-redraw-longer": "(v2) (v) continued 1,500 more steps",
    "x1-layout128-own": "(x1) (v2) in the wide world at 128 px, objects at the world's radii; redraws at 256 / 512",
    "x0-layout128": "(x0) (x1) with the 128-px objects at their 256-px size (b2's pictures)",
    "x2-layout128-longer": "(x2) (x1) continued, 65 % of the steps in the 128-px world",
    "x3-layout128-attn": "(x3) (x2) with cross-attention added at 8x8 at 128 px (zero-initialised)",
    "y0-wide128": "(y0) (x2) continued in its 128-px world alone (the control of (y1))",
    "y1-plain128": "(y1) (y0) in the plain world: medium objects, one wording, no places, at the world's radii",
    "z0-radii1.5": "(z0) (y0) with the 128-px objects at 1.5x the world's radii",
    "z1-radii2": "(z1) (y0) with the 128-px objects at 2x the world's radii (their 256-px size; (x0)'s pictures)",
    "w0-kept-pairs": "(w0) (x0) in the wide world at 1.5x radii, the 128-px pairs world kept at 20 %, redraws at 256 / 512",
    "w1-kept-pairs-placed": "(w1) (w0) from (z0), which places named objects",
    "w2-more-pairs": "(w2) (w1) with the 128-px pairs world at 30 % (the wide world 35 %)",
    "w3a-lower-lr": "(w3a) (w2) continued 2,500 steps at 1e-4, its own mix",
    "w3b-more-512": "(w3b) (w3a) with the 512-px redraw world at 25 % of the steps (the wide world 25 %)",
    "w4u-unsaid": "(w4u) (w2) continued as (w3a), half of the wide world's said backgrounds dropped from its captions",
    "w4f-far": "(w4f) (w4u), its backgrounds left unsaid only where far from the object's colour (RGB 140), the near ones said",
    "w4p-plain": "(w4p) (w4u), every background its captions leave unsaid drawn plain (white; black behind a white object)",
    "w4q-plain-gray-black": "(w4q) (w4p), a gray object's plain background black",
    "w4h-high-noise": "(w4h) (w4p) with half of each batch's timesteps from t >= 500, 1,250 steps",
    "g1-grounded": "(g1) (w2) with the cross-attention grounded in each object's pixels (weight 0.05)",
    "g2-grounded-more": "(g2) (g1) with the grounding loss at 0.25",
    "s0-b3-control": "(s0) b3 continued 2,000 steps in its worlds at 256 px (the control of (s))",
    "s-b3-text": "(s) (s0) with the text encoder fine-tuned at 0.1x the LR",
}


# ------------------------------------------------------------------ the curriculum
# Each stage starts from the last one's weights, widens the world by what the arms say costs least first,
# and keeps a share of the earlier worlds so that nothing learned is forgotten. Stage 1 is the proxy itself.
STAGES: dict[str, Run] = {
    "proxy": ARMS["proxy"],  # stage 1, trained by `recipe.py proxy --arm proxy`
    # 2: small / medium / large, the world's wordings and grid positions, unsaid backgrounds — at 128 px.
    "s2-wide": Run(world=World(**WIDE), steps=6000, lr=3e-4, init="proxy", mix=((World(), 0.25, 32),),
                   evals=(3000, 6000), judge=(("held_in", 128), ("position", 128), ("typed", 128))),
    # 3: 256 px (32x32 latents), where objects have the world's own radii; 128 px kept.
    "s3-256px": Run(world=World(latent=32, **WIDE), batch=16, steps=4000, lr=2e-4, init="s2-wide",
                    mix=((World(**WIDE), 0.3, 32), (World(latent=32), 0.1, 16)), evals=(2000, 4000),
                    judge=(("held_in", 256), ("position", 256), ("held_out", 256)), guidance=(4.0, 7.5)),
    # 4: two or three objects and counted groups, at 256 px where they fit at their own size.
    "s4-multi": Run(world=World(latent=32, multi=True, **WIDE), batch=16, steps=8000, lr=2e-4, init="s3-256px",
                    mix=((World(latent=32, **WIDE), 0.3, 16), (World(**WIDE), 0.1, 32)), evals=(4000, 8000),
                    judge=(("held_in", 256), ("two", 256), ("position", 256)), guidance=(4.0, 7.5)),
    # 5: 256-512 px, square and not (the pack's 512x512 default among them), several objects kept.
    "s5-sizes": Run(world=World(latent=64, multi=True, scenes=3000, **WIDE), batch=8, steps=5000, lr=1.5e-4,
                    init="s4-multi", evals=(5000,),
                    mix=((World(latent=48, height=32, multi=True, scenes=3000, **WIDE), 0.15, 8),
                         (World(latent=32, height=48, multi=True, scenes=3000, **WIDE), 0.15, 8),
                         (World(latent=48, multi=True, scenes=3000, **WIDE), 0.15, 8),
                         (World(latent=32, multi=True, **WIDE), 0.25, 16)),
                    judge=(("held_in", 512), ("held_in", 256), ("two", 512)), guidance=(4.0,)),
    # 6: stage 5 left 512 px behind 256 (held-in 77 % / 83 % against 90 % / 92 % at guidance 4): half the steps
    # at 512 px, stage 5's worlds reweighted (none encoded anew).
    "s6-512": Run(world=World(latent=64, multi=True, scenes=3000, **WIDE), batch=8, steps=4000, lr=1e-4,
                  init="s5-sizes", evals=(2000, 4000),
                  mix=((World(latent=48, multi=True, scenes=3000, **WIDE), 0.15, 8),
                       (World(latent=48, height=32, multi=True, scenes=3000, **WIDE), 0.1, 8),
                       (World(latent=32, height=48, multi=True, scenes=3000, **WIDE), 0.1, 8),
                       (World(latent=32, multi=True, **WIDE), 0.15, 16)),
                  judge=(("held_in", 512), ("held_in", 256), ("two", 512)), guidance=(4.0,)),
    # 7 (from stage 4, not from 5-6): 512 px with one object per picture, where arm (l) found that finishing at
    # 512 px a layout drawn at 256 px (the two-pass sampler) keeps 256 px's colour and shape; stage 4's 256-px
    # worlds kept at 50 % so that 256 px keeps its colour (arm (l), with 25 % + 15 %, lost 4 points).
    "s7-one512": Run(world=World(latent=64, scenes=3000, **WIDE), batch=8, steps=3000, lr=1e-4, init="s4-multi",
                     mix=((World(latent=32, **WIDE), 0.3, 16), (World(latent=32, multi=True, **WIDE), 0.2, 16)),
                     evals=(1500, 3000), judge=(("held_in", 512), ("held_in", "512/256"), ("held_in", 256), ("two", 256)),
                     guidance=(4.0,)),
    # The binding lineage (arms (n)-(p)): two named objects from the first stage on, kept in every stage's mix.
    # Stage 4's lineage met two objects only after single objects were learned, and drew them merged or in one
    # colour (both colours right 3-8 %); the proxy with half its pictures holding two objects, from scratch,
    # drew two objects 77 % of the time and both colours 31 % by step 7,500 (arm (n)). Each stage is the
    # first lineage's of the same number with a pairs world of its size in its world or mix (training/README.md).
    "b1-pairs": ARMS["n-pairs"],
    # ... and 5,000 more steps in the same world (arm (n2)): single objects' shapes 67 % -> 98 %, both shapes of
    # two objects 0 % -> 35 %; both colours stay at 25-31 %.
    "b1b-longer": dataclasses.replace(ARMS["n2-pairs-longer"], init="b1-pairs"),
    "b2-wide": Run(world=World(multi=True, pairs=True, **WIDE), steps=6000, lr=3e-4, init="b1b-longer",
                   mix=((World(multi=True, pairs=True), 0.25, 32),), evals=(3000, 6000),
                   judge=(("held_in", 128), ("two", 128), ("position", 128)), guidance=(4.0,)),
    "b3-256px": Run(world=World(latent=32, multi=True, pairs=True, **WIDE), batch=16, steps=4000, lr=2e-4,
                    init="b2-wide", mix=((World(multi=True, pairs=True, **WIDE), 0.3, 32),
                                         (World(latent=32, multi=True, pairs=True), 0.1, 16)), evals=(2000, 4000),
                    judge=(("held_in", 256), ("two", 256), ("position", 256)), guidance=(4.0,)),
    "b4-multi": Run(world=World(latent=32, multi=True, **WIDE), batch=16, steps=8000, lr=2e-4, init="b3-256px",
                    mix=((World(latent=32, multi=True, pairs=True, **WIDE), 0.3, 16),
                         (World(multi=True, pairs=True, **WIDE), 0.1, 32)), evals=(4000, 8000),
                    judge=(("held_in", 256), ("two", 256), ("position", 256)), guidance=(4.0,)),
    "b7-one512": Run(world=World(latent=64, scenes=3000, **WIDE), batch=8, steps=3000, lr=1e-4, init="b4-multi",
                     mix=((World(latent=32, multi=True, pairs=True, **WIDE), 0.3, 16),
                          (World(latent=32, multi=True, **WIDE), 0.2, 16)),
                     evals=(1500, 3000), judge=(("held_in", "512/256"), ("held_in", 256), ("two", 256)),
                     guidance=(4.0,)),
}
# The layout lineage (sessions 16-20, training/README.md's rounds three to seven): two named objects from the first
# step, composed at 128 px where this UNet binds their colours, every larger size trained only to redraw the
# sketch (t < 400; the app's second pass). Its stages were run as arms and keep the arms' names; each starts
# from the one before (v-redraw is the first that composes at 128 px: `Run.layout`).
LAYOUT_LINEAGE = ("n-pairs", "n2-pairs-longer", "n3-control", "n4-longer", "n5-longer", "v-redraw", "v2-redraw-longer",
                  "x1-layout128-own", "x2-layout128-longer", "z0-radii1.5", "w2-more-pairs")
for _name in LAYOUT_LINEAGE:
    STAGES[_name] = ARMS[_name]
# Stages kept for the record (training/README.md's tables) but not handed on: dead ends no later stage starts from
# (5 and 6; the first binding lineage b1-b3, which the layout lineage replaced).
RETIRED = frozenset({"s5-sizes", "s6-512", "b1-pairs", "b1b-longer", "b2-wide", "b3-256px"})
# Stages whose weights are not handed on either: the layout lineage's before its last, 11 MB each. The last one
# carries the steps of the chain before it (`chain_steps`), so a restored folder goes on from it; `recipe.py all`
# trains the whole chain again from scratch.
HANDED_THROUGH = frozenset(LAYOUT_LINEAGE[:-1])
# The stage the shipped pack is exported from (`recipe.py guidance / export / eval / samples` default to it).
# The layout lineage's last (w2): it composes at 128 px, where this UNet binds two objects' colours, and redraws
# larger pictures from that sketch. (w1) before it was the first stage since stage 7 as good or better on every kind
# of the eval (two objects both colours right 41-44 % at 4.5 against stage 7's 3 %, named places 100 % against 92-94
# %, held-out pairs' shape 100 % against 75-83 %); (w2), its twin from (z0) with more of the 128-px pairs world (30 %
# of the steps against 20 %), binds both colours of the eval's 32 two-object prompts 19 times at 256 px and guidance
# 3 where (w1) did 11 times (diagnostics/two_misses.py; training/README.md). (w1) shipped in session 20.
SHIPPED = "w2-more-pairs"


def lineage(name: str) -> list[str]:
    """A stage and the stages it starts from, first first: what `recipe.py all` trains to reach it."""
    chain = []
    while name:
        chain.insert(0, name)
        name = STAGES[name].init
    return chain
STAGE_WHAT = {
    "proxy": "1. the proxy (one medium object, 128 px, plain captions)",
    "s2-wide": "2. + sizes, wordings, positions (128 px; 25 % proxy world)",
    "s3-256px": "3. + 256 px (30 % stage-2 world, 10 % 256-px proxy world)",
    "s4-multi": "4. + 2-3 objects and counted groups at 256 px (40 % single objects)",
    "s5-sizes": "5. + 256-512 px, square and not (25 % stage-4 world)",
    "s6-512": "6. stage 5's worlds, half the steps at 512 px",
    "s7-one512": "7. from stage 4: half the steps at 512 px, one object per picture (50 % stage-4 worlds)",
    "b1-pairs": "b1. the proxy, half its pictures two objects (arm (n))",
    "b1b-longer": "b1b. b1 continued, 5,000 steps (arm (n2))",
    "b2-wide": "b2. + sizes, wordings, positions (128 px; 25 % b1 world)",
    "b3-256px": "b3. + 256 px (30 % b2 world, 10 % 256-px b1 world)",
    "b4-multi": "b4. + three objects and counted groups at 256 px (40 % pairs worlds)",
    "b7-one512": "b7. half the steps at 512 px, one object per picture (50 % 256-px worlds)",
}


def still_to_train(work: Path, name: str, quick_run: bool = False) -> list[str]:
    """The stages `recipe.py all` trains to reach `name`: its lineage from the last stage already finished in
    `work` on (which trains nothing) — a restored folder may hold only the chain's last finished stage, the ones
    before it handed through (HANDED_THROUGH), and they need not be trained again to go on from it."""
    chain = lineage(name)
    finished = [i for i, stage in enumerate(chain) if (ck := load_sharded(work / "curriculum" / stage))
                and ck[1]["step"] >= (6 if quick_run else STAGES[stage].steps)]
    return chain[finished[-1]:] if finished else chain


def quick(run: Run) -> Run:
    """Tiny budgets, for the recipe's own tests: 128-px worlds at most, 40 scenes each, 6 steps."""
    def small(w: World) -> World:  # at most 128 px, the aspect kept roughly (latent sides stay multiples of 8)
        k = 16 / max(w.latent, w.lat_h, 16)
        side = lambda n: max(8, 8 * round(n * k / 8))  # noqa: E731
        return dataclasses.replace(w, scenes=40, latent=side(w.latent), height=side(w.height) if w.height else 0)
    return dataclasses.replace(run, steps=6, evals=(3, 6), world=small(run.world),
                               mix=tuple((small(w), share, 2) for w, share, _ in run.mix),
                               judge=tuple((kind, 64 if isinstance(px, int) else "128/64") for kind, px in run.judged()),
                               guidance=run.guidance[-1:])


# ------------------------------------------------------------------ the world's pictures and captions
def sample_scene(rng: np.random.Generator, w: World) -> world.Scene:
    colours = list(world.COLOURS)
    while True:
        background = colours[rng.integers(len(colours))]
        fg = [c for c in colours if c != background]
        n, counted = 1, False
        if w.multi and rng.random() < w.multi_share:  # the world's mix of its multi-object kinds
            k = rng.random()
            counted = k < 0.25 and not w.pairs
            n = 2 if w.pairs else int(rng.integers(2, 4)) if counted else (2 if k < 0.7 else 3)
        sizes = [None, "small", "large"] if w.sizes else [None]
        if counted:
            colour, shape = fg[rng.integers(len(fg))], world.SHAPES[rng.integers(len(world.SHAPES))]
            small = [s for s in sizes if s != "large"]  # the world's counted groups are never large
            size = small[rng.integers(len(small))]
            objs = [world.Obj(colour, shape, size, None) for _ in range(n)]
        else:
            cells = list(world.POSITIONS)
            rng.shuffle(cells)
            with_pos = w.grammar and rng.random() < 0.6
            objs = []
            for i in range(n):
                size = sizes[rng.integers(len(sizes))]
                objs.append(world.Obj(fg[rng.integers(len(fg))], world.SHAPES[rng.integers(len(world.SHAPES))],
                                      None if n == 3 and size == "large" else size, cells[i] if with_pos else None))
            if with_pos and n > 1 and not world._cells_compatible(objs):
                continue
        if {(o.colour, o.shape) for o in objs} & world.HELD_OUT:
            continue
        # Grid cells do not check overlaps: several objects on the grid keep the world's own radii.
        top = 1.0 if n > 1 and any(o.position for o in objs) else w.radius_scale()
        # Several objects may not fit at the 256-px scale in 128 px: shrink until they do (never below the world's).
        for attempt in range(8):
            if world._place(objs, rng, w.latent / w.lat_h, max(1.0, top * 0.88 ** attempt)):
                break
        else:
            continue
        if w.reading_order and n > 1 and not counted and not any(o.position for o in objs):
            objs.sort(key=lambda o: o.cx)  # no random draw: the scenes stay the plain world's, in naming order
        return world.Scene(background, objs, background_said=not w.grammar or rng.random() < 0.85,
                           count_phrase=counted)


def plain_caption(scene: world.Scene) -> str:
    """The proxy's one wording: "a red star on a blue background", "two small pink hearts on a …"."""
    objs = scene.objects
    if scene.count_phrase:
        o = objs[0]
        body = " ".join(x for x in (world._COUNT_WORDS[len(objs)], o.size, o.colour, world.PLURAL[o.shape]) if x)
    else:
        parts = [" ".join(x for x in ("a", o.size, o.colour, o.shape) if x) for o in objs]
        body = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"{body} on a {scene.background} background"


def caption(scene: world.Scene, rng: np.random.Generator, w: World) -> str:
    return world.caption(scene, rng) if w.grammar else plain_caption(scene)


def typed_caption(scene: world.Scene, rng: np.random.Generator, background: bool = True, must: bool = False) -> str:
    """A single object's caption as people type prompts: "orange star", "an orange star.", "a star" (colour
    unsaid, 15 %), "orange star on blue", "orange star, blue background!", with its size and place where the
    scene has them. (Capitals need no rewriting: the tokenizer lower-cases, as CLIP's does.) `must`: the background
    is said, whatever the draw (the same draws, so the captions after it stay as they were)."""
    pick = lambda xs: xs[rng.integers(len(xs))]  # noqa: E731
    o = scene.objects[0]
    colour = "" if rng.random() < 0.15 else o.colour
    first = next(w for w in (o.size and pick(world._SIZE_WORDS[o.size]), colour, o.shape) if w)
    article = pick(["", "", "an" if first[0] in "aeiou" else "a", "one"])
    body = " ".join(w for w in (article, o.size and pick(world._SIZE_WORDS[o.size]), colour, o.shape) if w)
    if o.position is not None:
        body += " " + pick(world._POS_PHRASES[o.position])
    bg = scene.background
    tail = pick(["", "", f" on {bg}", f" on a {bg} background", f", {bg} background", f" {bg} background",
                 f" with a {bg} background"])
    tail = tail if background else ""  # (drawn all the same: the captions after it stay as they were)
    if must and not tail:
        tail = f" on a {bg} background"
    return body + tail + pick(["", "", ".", "!"])


def world_scenes(w: World) -> Iterator[tuple[world.Scene, str]]:
    """The world's scenes and captions, in the order its encoded data holds them (the draws are seeded by the
    world's key: replaying them gives the same scenes without rendering)."""
    rng = np.random.default_rng(SEED * 41 + zlib.crc32(w.scenes_key().encode()))
    # typed captions draw from a generator of their own, so that the scenes stay the plain world's
    typed_rng = np.random.default_rng(SEED * 43 + zlib.crc32(dataclasses.replace(w, unsaid=0.0, far=0.0, plain=False).key().encode()))
    # and dropped backgrounds from one more: a world's other captions stay those of the world without them (`plain`
    # redraws pictures, not captions: its captions are those of the world without it)
    unsaid_rng = np.random.default_rng(SEED * 47 + zlib.crc32(dataclasses.replace(w, plain=False).key().encode()))
    # and the captions `plain` has say their background from one more still
    plain_rng = np.random.default_rng(SEED * 53 + zlib.crc32(w.key().encode()))
    assert not (w.unsaid or w.far or w.plain) or w.grammar, \
        "`unsaid`, `far` and `plain` rewrite the grammar's backgrounds: a world with `grammar`"
    for _ in range(w.scenes):
        scene = sample_scene(rng, w)
        cap = caption(scene, rng, w)
        near = bool(w.far) and min(colour_distance(o.colour, scene.background) for o in scene.objects) < w.far
        drop = w.unsaid and scene.background_said and not near and unsaid_rng.random() < w.unsaid
        typed = w.typed and len(scene.objects) == 1 and not scene.count_phrase and typed_rng.random() < w.typed
        if typed:
            cap = typed_caption(scene, typed_rng, background=not drop, must=near)
        elif drop:
            cap = world.caption(dataclasses.replace(scene, background_said=False), unsaid_rng)
        elif near and not scene.background_said:
            cap = world.caption(dataclasses.replace(scene, background_said=True), unsaid_rng)
        if w.plain and not says_background(cap, scene):
            bg = plain_background(scene, w.plain_black)
            if bg is not None:
                scene = dataclasses.replace(scene, background=bg)
            else:  # white and black objects both (never a typed caption's one object): the caption says its background
                cap = world.caption(dataclasses.replace(scene, background_said=True), plain_rng)
        yield scene, cap


def plain_background(scene: world.Scene, black: tuple[str, ...] = ("white",)) -> str | None:
    """The background a caption that names none is drawn on (`World.plain`): white, black behind an object in one of
    `black`'s colours, and none where that would hide an object (a black one beside it)."""
    assert "white" in black and "black" not in black, "white is drawn on black, and black never is (World.plain_black)"
    bg = "black" if any(o.colour in black for o in scene.objects) else "white"
    return None if any(o.colour == bg for o in scene.objects) else bg


def says_background(cap: str, scene: world.Scene) -> bool:
    """Whether a caption names its scene's background (a colour no object of the scene has)."""
    return re.search(rf"(?<![a-z]){scene.background}(?![a-z])", cap.lower()) is not None


def colour_distance(a: str, b: str) -> float:
    """Two of the world's colours' distance in RGB (0-255 each)."""
    return float(np.linalg.norm(np.subtract(world.COLOURS[a], world.COLOURS[b], dtype=np.float64)))


def world_data(work: Path, w: World, device: str = "cpu") -> dict:
    """The world's pictures, encoded once by the recipe's VAE (latent means, fp16) with their token ids."""
    path = work / "curriculum" / "data" / f"{w.key()}.pt"
    if path.exists():
        return torch.load(path)
    vae, tok = load_vae(work, device), load_tokenizer(work)
    # A world that differs from another only in its captions (reading_order, typed) reuses that world's latents.
    same = work / "curriculum" / "data" / f"{w.pictures_key()}.pt"
    shared = torch.load(same)["latents"] if w.pictures_key() != w.key() and same.exists() else None
    # channels-last halves the encoder's time on this CPU (oneDNN's convolutions; 16 pictures at 256 px:
    # 3.4 s -> 1.7 s, the latents within 1e-3 of the default layout's); training the UNet gains nothing from it
    encoder = vae.encoder.to(memory_format=torch.channels_last)
    pw, ph = w.px()
    # A `plain` world redraws only the pictures whose captions leave their background unsaid: the others are its
    # scenes' world's, whose latents it reuses where they are already encoded.
    base_path = work / "curriculum" / "data" / f"{w.scenes_key()}.pt"
    base = torch.load(base_path)["latents"] if w.plain and base_path.exists() else None
    base_scenes = world_scenes(w.scenes_world()) if base is not None else None
    lat, ids, caps = [], [], []
    scenes = world_scenes(w)
    for i in range(0, w.scenes, 64):
        imgs, fresh = [], []
        for k, (scene, cap) in enumerate(itertools.islice(scenes, 64)):
            own = base_scenes is None or next(base_scenes)[0].background != scene.background
            if shared is None and own:
                imgs.append(to_tensor(world.render(scene, pw, ph)))
                fresh.append(k)
            caps.append(cap)
            ids.append(tok.encode(cap)[0])
        if shared is None:
            n = len(caps) - i  # this batch's pictures
            batch = base[i:i + n].clone() if base is not None else None
            if imgs:
                with torch.no_grad():
                    mean, _ = encoder(torch.stack(imgs).to(device).contiguous(memory_format=torch.channels_last))
                mean = mean.cpu().contiguous().half()
                if batch is None:
                    batch = mean
                else:
                    batch[fresh] = mean
            lat.append(batch)
    d = {"latents": shared if shared is not None else torch.cat(lat), "ids": torch.tensor(ids, dtype=torch.int32), "captions": caps}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")  # two processes may make the same world at once
    torch.save(d, tmp)
    tmp.replace(path)
    print(f"curriculum data {w.key()}: {len(caps)} scenes, {len(set(caps))} captions", flush=True)
    return d


def world_ground(work: Path, w: World, factor: int) -> dict:
    """The world's grounded words and their masks (shapes/grounding.py) on the grid of the UNet's finest
    SpatialTransformer (the latent grid over `factor`), made once from the replayed scenes."""
    cols, rows = w.latent // factor, w.lat_h // factor
    # (v1: grounding.py's rules as first written; a change to them names its files anew)
    path = work / "curriculum" / "data" / f"{w.key()}-ground-v1-{cols}x{rows}.pt"
    if path.exists():
        return torch.load(path)
    pw, ph = w.px()
    scenes = list(world_scenes(w))
    # the replayed scenes must be those the world's data was encoded from, in its order
    assert [cap for _, cap in scenes] == world_data(work, w)["captions"], f"{w.key()}: the scenes drawn now are not its data's"
    d = grounding.world_grounding(scenes, load_tokenizer(work), pw, ph, cols, rows)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    torch.save(d, tmp)
    tmp.replace(path)
    return d


# ------------------------------------------------------------------ training
def learning_rate(run: Run, step: int, rewarm_from: int = 0) -> float:
    """Warm-up, then a cosine to a tenth; a run resumed without its optimiser state (a stage handed off
    unfinished, shapes/handoff.py) warms up again from where it resumed."""
    warm = min(1.0, (step - rewarm_from + 1) / run.warmup)
    return run.lr * warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(step, run.steps) / run.steps)))


def sample_timesteps(run: Run, n: int, rng: np.random.Generator, t_max: int = NUM_TRAIN_TIMESTEPS) -> torch.Tensor:
    t = rng.integers(0, t_max, n)
    if t_max == NUM_TRAIN_TIMESTEPS:  # (a redraw-only world has no high noise to oversample)
        high = rng.random(n) < run.high_noise_frac
        t[high] = rng.integers(500, NUM_TRAIN_TIMESTEPS, int(high.sum()))
    return torch.from_numpy(t)


def diffusion_loss(unet: UNet, x0: torch.Tensor, t: torch.Tensor, ctx: torch.Tensor, noise: torch.Tensor,
                   abar: torch.Tensor) -> torch.Tensor:
    """The recipe's loss: ε-prediction (Ho et al. 2020 eq. 14) weighted by min-SNR-5 (Hang et al. 2023)."""
    a = abar[t].view(-1, 1, 1, 1)
    xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
    per_sample = (unet(xt, t, ctx) - noise).pow(2).mean(dim=(1, 2, 3))
    snr = abar[t] / (1 - abar[t])
    return (per_sample * snr.clamp(max=MIN_SNR_GAMMA) / snr).mean()


def scaling_factor(work: Path) -> float:
    path = work / "vae_scaling.json"
    assert path.exists(), f"run `recipe.py latents` first ({path} is missing)"
    return json.loads(path.read_text())["scaling_factor"]


def train_run(work: Path, name: str, run: Run, device: str, minutes: float, prompts: int = 48) -> int:
    """Train (or resume) one run for up to `minutes`, judging its EMA weights at `run.evals`; returns the step."""
    setup_threads()
    torch.manual_seed(SEED)
    folder = work / "curriculum" / name
    done = load_sharded(folder)
    if done and done[1]["step"] >= run.steps:  # finished (here, or handed off by another session)
        print(f"{name}: done at step {done[1]['step']}")
        return done[1]["step"]
    tok = load_tokenizer(work)
    factor = scaling_factor(work)
    parts = run.parts()
    datas = [world_data(work, w, device) for w, _, _ in parts]
    shares = np.array([share for _, share, _ in parts])
    empty = torch.tensor(tok.encode("")[0], dtype=torch.int32)
    # The encoder the chain it starts from ended with (the CLIP-stage one unless a stage up it fine-tuned one); a
    # run that tunes it goes on from there, and its own checkpoint then holds it.
    text = inherited_text(work, run.init).to(device)
    unet = UNet(run.unet).to(device)
    tuned = run.text_lr_scale > 0
    named = dict(prefixed("unet", dict(unet.named_parameters())))
    groups = [{"params": list(unet.parameters()), "scale": 1.0}]
    if tuned:
        named.update(prefixed("text", dict(text.named_parameters())))
        groups.append({"params": list(text.parameters()), "scale": run.text_lr_scale})
    else:
        text.requires_grad_(False)
    opt = torch.optim.AdamW(groups, lr=run.lr, weight_decay=run.weight_decay)
    ema = {k: p.detach().clone() for k, p in named.items()}
    start, evals, rewarm = 0, [], 0
    ck = done
    if not ck and run.init:  # a curriculum stage: the last stage's weights and EMA, a fresh optimiser
        before = load_sharded(work / "curriculum" / run.init)
        assert before and before[1]["step"] >= before[1]["run"]["steps"], \
            f"finish `{run.init}` first: this stage starts from it"
        missing, unexpected = unet.load_state_dict(unprefixed("unet", before[0]), strict=False)
        assert not unexpected and all(k.startswith("text_attention.") for k in missing), \
            f"`{run.init}`'s UNet is not this run's, less blocks added at zero: {(missing + unexpected)[:4]}"
        if tuned and any(k.startswith("text.") for k in before[0]):  # the tuned encoder's raw weights go on training
            text.load_state_dict(unprefixed("text", before[0]))
        kept = unprefixed("ema", before[0])
        ema = {k: kept.get(k, v).to(device).clone() for k, v in ema.items()}
    if ck:
        state, meta = ck
        unet.load_state_dict(unprefixed("unet", state))
        if tuned:
            text.load_state_dict(unprefixed("text", state))
        ema = {k: v.to(device) for k, v in unprefixed("ema", state).items()}
        assert set(ema) == set(named), "the checkpoint's EMA does not match this run's parameters"
        if "optimizer" in meta:
            load_optimizer_state(opt, {k: v.to(device) for k, v in state.items()}, meta["optimizer"])
        start, evals, rewarm = meta["step"], meta["evals"], meta.get("rewarm_from", 0)
    frozen = []
    if not tuned:  # the frozen encoder's output per distinct caption of each world, computed once
        for d in datas:
            uniq, inverse = torch.unique(torch.cat([d["ids"], empty[None]]), dim=0, return_inverse=True)
            with torch.no_grad():
                hidden = torch.cat([text(uniq[i:i + 256].to(device)) for i in range(0, len(uniq), 256)])
            frozen.append((hidden, inverse[:-1], inverse[-1]))

    def save(step: int) -> None:
        flat, opt_meta = optimizer_state(opt)
        state = {**prefixed("unet", unet.state_dict()), **prefixed("ema", ema), **flat}
        if tuned:
            state.update(prefixed("text", text.state_dict()))
        save_sharded(state, folder, {"step": step, "run": dataclasses.asdict(run), "evals": evals,
                                     "unet": dataclasses.asdict(run.unet), "optimizer": opt_meta, "rewarm_from": rewarm,
                                     # the last 100 steps' mean losses (the diffusion loss alone, and the grounding's)
                                     "loss": float(np.mean(hist[-100:])) if hist else None,
                                     "grounding_loss": float(np.mean(hist_g[-100:])) if hist_g else None})

    grounds, attn = [], []
    if run.grounding:
        cell = 2 ** run.unet.attention.index(True)  # the finest cross-attention's grid, in latent pixels
        grounds = [world_ground(work, w, cell) for w, _, _ in parts]
        attn = grounding.keep_cross_attention(unet)
    abar = alphas_cumprod().to(device)
    params = [p for g in groups for p in g["params"]]
    deadline = Deadline(minutes)
    step, t0, hist, hist_g = start, time.time(), [], []
    while step < run.steps and not deadline.passed():
        lr = learning_rate(run, step, rewarm)
        for g in opt.param_groups:
            g["lr"] = lr * g["scale"]
        rng = np.random.default_rng(SEED * 43 + step)
        part = int(rng.choice(len(parts), p=shares / shares.sum())) if len(parts) > 1 else 0
        batch, d = parts[part][2], datas[part]
        idx = torch.from_numpy(rng.integers(0, len(d["latents"]), batch))
        x0 = d["latents"][idx].float().to(device) * factor
        drop = torch.from_numpy(rng.random(batch) < 0.1)  # caption dropout for classifier-free guidance
        if frozen:
            hidden, which, empty_at = frozen[part]
            ctx = hidden[torch.where(drop, empty_at, which[idx])]
        else:
            ids = d["ids"][idx].clone()
            ids[drop] = empty
            ctx = text(ids.to(device))
        t = sample_timesteps(run, batch, rng, parts[part][0].t_max).to(device)
        noise = torch.randn_like(x0) + OFFSET_NOISE * torch.randn(batch, x0.shape[1], 1, 1, device=device)
        loss = diffusion_loss(unet, x0, t, ctx, noise, abar)
        hist.append(loss.item())  # the diffusion loss alone, comparable across runs
        if grounds:
            index = torch.where(drop[:, None], -1, grounds[part]["index"][idx]).to(device)
            ground = grounding.grounding_loss(attn, index, grounds[part]["mask"][idx].to(device))
            loss = loss + run.grounding * ground
            hist_g.append(ground.item())
        step += 1
        step_with_ema(opt, loss, params, ema, list(named.items()), step)
        for a in attn:  # the kept weights hold the step's graph: let it go (and let the EMA copy be made)
            a.probs = None
        if step % 100 == 0:
            grounded = f" grounding {np.mean(hist_g[-100:]):.4f}" if hist_g else ""
            print(f"{name} step {step}/{run.steps} loss {np.mean(hist[-100:]):.4f}{grounded} lr {lr:.2e} "
                  f"{(time.time() - t0) / (step - start):.2f}s/step", flush=True)
        if step in run.evals:
            evals += judge_ema(work, run, text, unet, ema, step, prompts)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "evals.json").write_text(json.dumps(evals, indent=1) + "\n")
        if step % 500 == 0 or step in run.evals:
            save(step)
    save(step)
    print(f"{name}: saved at step {step}")
    return step


def with_ema(module: torch.nn.Module, ema: dict[str, torch.Tensor], prefix: str) -> torch.nn.Module:
    """A copy of `module` holding the EMA weights kept under `prefix` (its own weights where none are kept)."""
    m = copy.deepcopy(module).eval()
    grounding.keep_cross_attention(m, on=False)  # judged, not trained: nothing to keep
    own = unprefixed(prefix, ema)
    with torch.no_grad():
        for n, p in m.named_parameters():
            if n in own:
                p.copy_(own[n])
    return m


def judge_ema(work: Path, run: Run, text: TextEncoder, unet: UNet, ema: dict[str, torch.Tensor], step: int,
              prompts: int) -> list[dict]:
    te, un = with_ema(text, ema, "text"), with_ema(unet, ema, "unet")
    # Read once per judged step, not once per guidance scale and batch.
    tok, decoder, scaling = load_tokenizer(work), load_vae(work).decoder, scaling_factor(work)
    rows = []
    for kind, size in run.judged():
        for g in run.guidance:
            row = judge_prompts(tok, decoder, scaling, te, un, kind, size, g, prompts)
            rows.append({"step": step, "kind": kind, "size": size, "guidance": g, **row})
            print(f"  eval step {step} {kind} {size}px guidance {g}: " + "  ".join(f"{k} {v:.0%}" for k, v in row.items()),
                  flush=True)
    return rows


def judge_prompts(tok, decoder: torch.nn.Module, scaling: float, text: TextEncoder, unet: UNet, kind: str,
                  size: int | str, guidance: float, n: int) -> dict:
    """`recipe.py eval`'s prompts of one kind (held-in single objects: its own 48), DDIM 20 steps, its judge. A
    size "512/256" is 512 px in two passes from a layout drawn at 256 px (evaluate.sample's `layout`)."""
    px, _, lay = str(size).partition("/")
    side, layout = int(px), ((int(lay), int(lay)) if lay else None)
    empty = torch.tensor([tok.encode("")[0]], dtype=torch.int32)
    scenes = evaluate.prompt_set(kind, n, seed=99 + len(kind))
    ids = torch.tensor([tok.encode(p)[0] for _, p in scenes], dtype=torch.int32)
    imgs = np.concatenate([evaluate.sample(text, unet, decoder, ids[i:i + 8], empty, side, side,
                                           list(range(i, min(n, i + 8))), guidance=guidance, scaling=scaling,
                                           layout=layout)
                           for i in range(0, n, 8)])
    return evaluate.mean_scores([evaluate.score(s, evaluate.judge(im)) for (s, _), im in zip(scenes, imgs)])


# ------------------------------------------------------------------ stages
def stage_proxy(work: Path, arm: str, device: str, minutes: float, quick_run: bool = False) -> int:
    run = ARMS[arm]
    return train_run(work, arm, quick(run) if quick_run else run, device, minutes, prompts=4 if quick_run else 48)


def stage_curriculum(work: Path, stage: str, device: str, minutes: float, quick_run: bool = False) -> int:
    run = STAGES[stage]
    if quick_run:
        # the quick chain: each stage from its lineage's first (the proxy; the layout lineage's n-pairs)
        run = dataclasses.replace(quick(run), init=run.init and lineage(stage)[0])
    return train_run(work, stage, run, device, minutes, prompts=4 if quick_run else 48)


def arms_table(work: Path) -> str:
    """The arms' figures as a markdown table: colour / shape per guidance at each judged step."""
    found = {name: json.loads(path.read_text()) for name in ARMS
             if (path := work / "curriculum" / name / "evals.json").exists()}
    # the usual scales, and any other an arm was judged at (arm (m): the pack's 4.5)
    scales = sorted(set(EVAL_GUIDANCE) | {r["guidance"] for rows in found.values() for r in rows})
    lines = ["| arm | step | " + " | ".join(f"guidance {g:g}" for g in scales) + " |", "| --- | --- | " + " | ".join("---" for _ in scales) + " |"]
    for name, rows in found.items():
        kinds = list(dict.fromkeys(r.get("kind", "held_in") for r in rows))
        for kind in kinds:  # held-in single objects: colour / shape; two objects: count / both colours / both shapes
            sizes = sorted({r.get("size", 0) for r in rows if r.get("kind", "held_in") == kind}, key=str)
            for step, size in sorted({(r["step"], r.get("size", 0)) for r in rows if r.get("kind", "held_in") == kind},
                                     key=lambda ss: (ss[0], str(ss[1]))):
                judged = [r for r in rows if r["step"] == step and r.get("size", 0) == size and r.get("kind", "held_in") == kind]
                measures = ("count", "colour", "shapes") if kind == "two" else \
                    ("colour", "shape", "one") if all("one" in r for r in judged) else ("colour", "shape")
                what = ARM_WHAT[name] + ("" if kinds == ["held_in"] else f" — {kind}") + \
                    ("" if len(sizes) == 1 else f", {size} px") + \
                    (" (count / colours / shapes)" if kind == "two" else " (colour / shape / one object)" if "one" in measures else "")
                cells = {r["guidance"]: " / ".join(f"{r[m]:.0%}" for m in measures)
                         for r in judged}
                lines.append(f"| {what} | {step:,} | " + " | ".join(cells.get(g, "—") for g in scales) + " |")
    return "\n".join(lines)


MEASURES = ("colour", "shape", "one", "position", "count", "shapes")


def stages_table(work: Path) -> str:
    """The curriculum's figures: each stage's judged prompt kinds and sizes per guidance at each judged step."""
    lines = ["| stage | step | prompts | px | guidance | background | colour | shape | one object | position | count | both shapes |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name in STAGES:
        path = work / "curriculum" / name / "evals.json"
        if not path.exists():
            continue
        for r in json.loads(path.read_text()):
            cells = [f"{r[k]:.0%}" if k in r else "—" for k in ("background", *MEASURES)]
            lines.append(f"| {STAGE_WHAT[name]} | {r['step']:,} | {r.get('kind', 'held_in')} | {r['size']} | "
                         f"{r['guidance']:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
