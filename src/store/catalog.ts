// The models the app knows by name. A catalog entry says what the model is and what its ONNX export
// looks like, and what the app should do with it (defaults, sizes) where the export's configs cannot
// say (SD-Turbo's one step without guidance). It holds no weights and no fixed URL: the person gives
// the address of a copy they host or trust (or picks the folder on disk); sizes and SHA-256s are pinned
// by the first verified download.
import type { LayoutHints } from './diffusers-layout';

export interface CatalogEntry extends LayoutHints {
  readonly description: string;
  /** Where the public export lives (a repository and revision), shown to the person; not fetched. */
  readonly repository: string;
  /** The files of that layout, as published. */
  readonly layout: readonly string[];
  /** Approximate download, for the person to judge before starting. */
  readonly approxBytes: number;
}

const SD_LAYOUT = ['model_index.json', 'scheduler/scheduler_config.json', 'tokenizer/vocab.json', 'tokenizer/merges.txt',
  'tokenizer/special_tokens_map.json', 'tokenizer/tokenizer_config.json', 'text_encoder/model.onnx', 'unet/model.onnx',
  'unet/weights.pb (or model.onnx_data)', 'vae_decoder/model.onnx', 'vae_decoder/config.json'];

export const CATALOG: readonly CatalogEntry[] = [
  {
    id: 'sd-1.5', name: 'Stable Diffusion 1.5',
    description: 'The model of the MWC demo: CLIP ViT-L/14 text encoder (768-wide), ε-prediction, 512×512, PNDM 20 steps, guidance 7.5.',
    repository: 'huggingface.co/runwayml/stable-diffusion-v1-5, revision "onnx" (or an optimum export of it)',
    layout: SD_LAYOUT, approxBytes: 2_750_000_000,
    defaults: { steps: 20, guidanceScale: 7.5, scheduler: 'pndm' }, image: { defaultWidth: 512, defaultHeight: 512 },
  },
  {
    id: 'sd-2.1-base', name: 'Stable Diffusion 2.1-base',
    description: 'OpenCLIP ViT-H text encoder (1024-wide, pads with "!" = id 0), ε-prediction, 512×512.',
    repository: 'an ONNX export (optimum or diffusers\' script) of stabilityai/stable-diffusion-2-1-base',
    layout: SD_LAYOUT, approxBytes: 2_600_000_000,
    defaults: { steps: 20, guidanceScale: 7.5, scheduler: 'ddim' }, image: { defaultWidth: 512, defaultHeight: 512 },
  },
  {
    id: 'sd-turbo', name: 'SD-Turbo',
    description: 'SD 2.1 distilled for one step: no guidance (guidance 1 skips the unconditional pass), trailing timesteps, 512×512.',
    repository: 'an ONNX export of stabilityai/sd-turbo',
    layout: SD_LAYOUT, approxBytes: 2_600_000_000,
    defaults: { steps: 1, guidanceScale: 1, scheduler: 'euler' }, image: { defaultWidth: 512, defaultHeight: 512 },
  },
];
