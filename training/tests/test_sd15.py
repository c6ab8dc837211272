"""SD 1.5's networks at their real size (shapes/sd15.py): the published parameter counts, and activations that
stay inside fp16's range under the random initialisation."""
import torch

from shapes import sd15
from shapes.models import count_params


def test_the_networks_have_sd15s_parameter_counts():
    # diffusers' UNet2DConditionModel, CLIPTextModel (ViT-L/14) and AutoencoderKL's decoder + post_quant_conv
    # for runwayml/stable-diffusion-v1-5: 859,520,964 / 123,060,480 / 49,490,199 parameters.
    torch.manual_seed(0)
    assert count_params(sd15.ClipText()) == 123_060_480
    assert count_params(sd15.VaeDecoder15()) == 49_490_199
    unet = sd15.UNet15()
    assert count_params(unet) == 859_520_964
    # and its activations stay finite in fp16 (max 65,504) on random inputs
    with torch.no_grad():
        out = unet(torch.randn(1, 4, 8, 8), torch.tensor([999.0]), torch.randn(1, 77, 768))
    assert out.shape == (1, 4, 8, 8) and out.abs().max().item() < 1000


def test_the_macs_of_a_call_match_the_published_figures():
    # BK-SDM (Kim et al. 2023, Table 1) counts Conv and Linear layers at 512 px: U-Net 338.7 G MACs, decoder 1.24 T.
    # Ours add the attention matmuls (QK^T and AV), which that count leaves out.
    # on the meta device: the shapes, and so the count, without 1.24 T MACs of arithmetic (25 s on this CPU)
    vae = sd15.VaeDecoder15().eval().to("meta")
    macs = sd15.count_macs(vae, torch.randn(1, 4, 64, 64, device="meta"))
    attention = 2 * 4096 * 4096 * 512  # the decoder's one single-head attention at 64x64
    assert abs((macs - attention) / 1.24e12 - 1) < 0.02
