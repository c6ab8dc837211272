// Regional prompts: a prompt that names two or three objects ("a red star and a blue circle on a green
// background") is drawn with each object's own caption ("a red star in the top left on a green background")
// guiding only its own part of the latents — soft masks around a point per object that sum to one, as
// Regional Prompter and MultiDiffusion's region mode split a canvas. Forward passes only, so any ONNX UNet
// can run it: the conditional ε is Σ_r mask_r · ε(caption_r), then guidance as usual.
//
// Why: a UNet that draws one named object in its colour and place reliably often blends two objects' colours
// from one caption (the stand-in: 96–100 % for one object, 59 % both colours for two; training/README.md).
// Each object's caption alone is the task it does well. A pack turns it on by default with `image.regions`.
//
// training/shapes/regions.py is the same code: the recipe's figures are measured on these pictures, and
// test/core/pipeline/regions.test.ts and training/tests/test_regions.py check the same cases.

/** Where an object's own words put it (a 3×3 grid), as a point in the picture: x right, y down, fractions of
 *  the width and height (the stand-in world's cell centres). */
const ANCHORS = {
  'top left': [0.2, 0.2], top: [0.5, 0.2], 'top right': [0.8, 0.2],
  left: [0.2, 0.5], centre: [0.5, 0.5], right: [0.8, 0.5],
  'bottom left': [0.2, 0.8], bottom: [0.5, 0.8], 'bottom right': [0.8, 0.8],
} as const satisfies Record<string, readonly [number, number]>;
type Place = keyof typeof ANCHORS;

/** The phrase given to an object that names no place of its own. */
const PHRASES: Record<Place, string> = {
  'top left': 'in the top left', top: 'at the top', 'top right': 'in the top right',
  left: 'on the left', centre: 'in the centre', right: 'on the right',
  'bottom left': 'in the bottom left', bottom: 'at the bottom', 'bottom right': 'in the bottom right',
};

/** Places for objects that name none, by how many the prompt names; the seed picks one of the two (mirror
 *  images). Diagonal corners measured best for two (77 % both colours against 60 % for halves). */
const LAYOUTS: Record<2 | 3, readonly [readonly Place[], readonly Place[]]> = {
  2: [['top left', 'bottom right'], ['top right', 'bottom left']],
  3: [['top left', 'top right', 'bottom'], ['top', 'bottom left', 'bottom right']],
};

/** The masks' softness: weight_r ∝ exp(−|p − point_r|² / T), distances in fractions of width and height
 *  (0.075: one latent pixel wide across the diagonal of a 16×16 sketch). */
export const REGION_TEMPERATURE = 0.075;

// ASCII classes spelled out (not \s, \b, trim()): JavaScript's and Python's differ beyond ASCII, and the two
// parsers must agree on every prompt.
const S = '[ \\t\\n\\r\\f\\v]';
const PLACE = new RegExp(`(?<![A-Za-z0-9_])(?:in|at|on) the (top left|top right|bottom left|bottom right|top|bottom|left|right|centre|center|middle)(?: corner)?(?![A-Za-z0-9_])`, 'i');
const TAIL = new RegExp(`,|${S}+(?:on|with|against|in)${S}+(?:a|an)${S}`, 'gi');
// an Oxford comma (", and") is one separator
const SPLIT = new RegExp(`${S}*,${S}*(?:and${S}+)?|${S}+and${S}+`, 'i');
const AND = new RegExp(`${S}+and${S}+`, 'gi');
const trim = (t: string) => t.replace(new RegExp(`^${S}+|${S}+$`, 'g'), '');
// Each object is named with an article or a number ("a red star and a blue circle", "two stars and a ring"):
// "a red and blue star" or "a black and white cat" is one thing in two colours, drawn whole.
const NAMED = new RegExp(`^(?:a|an|the|one|two|three|four|five|six|seven|eight|nine|ten|another|some|[0-9]+)${S}`, 'i');

/** The most objects drawn apart: four or more, each in a corner-sized part of a small sketch, leave each too
 *  little room (the prompt is drawn whole, and the page says so). */
export const MAX_REGIONS = 3;

/** The objects a prompt names and what it says of them all (its tail: " on a green background"), or undefined
 *  where it names fewer than two or more than MAX_REGIONS (each with an article or a number). */
export function splitObjects(prompt: string): { objects: string[]; tail: string } | undefined {
  const parts = namedObjects(prompt);
  return parts && parts.objects.length <= MAX_REGIONS ? parts : undefined;
}

/** How many objects a prompt names, each with an article or a number (0 where it names fewer than two): the
 *  page says when there are too many to draw apart. */
export function objectCount(prompt: string): number {
  return namedObjects(prompt)?.objects.length ?? 0;
}

/** The tail starts after the last "and", at the first comma or " on a / with a / against a / in a"; trailing
 *  punctuation goes with it. */
function namedObjects(prompt: string): { objects: string[]; tail: string } | undefined {
  const text = trim(prompt);
  const ands = [...text.matchAll(AND)];
  if (!ands.length) return undefined;
  const last = ands[ands.length - 1]!;
  TAIL.lastIndex = last.index + last[0].length;
  const m = TAIL.exec(text);
  let body = m ? text.slice(0, m.index) : text;
  let tail = m ? text.slice(m.index) : '';
  const stripped = body.replace(/[.!?;: \t\n\r\f\v]+$/, '');
  tail = body.slice(stripped.length) + tail;
  body = stripped;
  const objects = body.split(SPLIT).map(trim);
  if (objects.length < 2 || !objects.every((o) => NAMED.test(o))) return undefined;
  return { objects, tail };
}

function placeOf(phrase: string): Place | undefined {
  const m = PLACE.exec(phrase);
  if (!m) return undefined;
  const p = m[1]!.toLowerCase();
  return p === 'center' || p === 'middle' ? 'centre' : (p as Place);
}

export interface Region {
  /** The object as the prompt names it ("a red star"). */
  readonly object: string;
  /** The caption this region is drawn from: the object, its place, and the prompt's tail. */
  readonly prompt: string;
  /** Its point: x right, y down, fractions of the width and height. */
  readonly point: readonly [number, number];
}

/** Each object's caption and point, or undefined where the prompt is drawn whole: it names fewer than two or
 *  more than three objects, or two of them the same place. */
export function planRegions(prompt: string, seed: number): Region[] | undefined {
  const parts = splitObjects(prompt);
  if (!parts) return undefined;
  const named = parts.objects.map(placeOf);
  const said = named.filter((p): p is Place => p !== undefined);
  if (new Set(said).size < said.length) return undefined;
  const free = LAYOUTS[parts.objects.length as 2 | 3][seed % 2]!.filter((p) => !said.includes(p));
  const spare = (Object.keys(ANCHORS) as Place[]).filter((p) => !said.includes(p) && !free.includes(p));
  return parts.objects.map((o, i) => {
    let place = named[i];
    let phrase = o;
    if (place === undefined) {
      place = (free.length ? free : spare).shift()!;
      phrase = `${o} ${PHRASES[place]}`;
    }
    return { object: o, prompt: `${phrase}${parts.tail}`, point: ANCHORS[place] };
  });
}

/** Each region's weight at every latent pixel, [regions][height × width] row-major, summing to one at each:
 *  a soft Voronoi split around the points. */
export function regionMasks(points: readonly (readonly [number, number])[], height: number, width: number): Float32Array[] {
  const masks = points.map(() => new Float32Array(height * width));
  const logits = new Float64Array(points.length);
  for (let y = 0; y < height; y++) {
    const py = (y + 0.5) / height;
    for (let x = 0; x < width; x++) {
      const px = (x + 0.5) / width;
      let top = -Infinity;
      points.forEach(([ax, ay], r) => {
        logits[r] = -((px - ax) ** 2 + (py - ay) ** 2) / REGION_TEMPERATURE;
        top = Math.max(top, logits[r]!);
      });
      let sum = 0;
      for (let r = 0; r < points.length; r++) sum += (logits[r] = Math.exp(logits[r]! - top));
      for (let r = 0; r < points.length; r++) masks[r]![y * width + x] = logits[r]! / sum;
    }
  }
  return masks;
}
