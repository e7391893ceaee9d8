#!/usr/bin/env python3
"""Reference fixtures for pela-zoo's Swin tests, written by timm itself.

For a small, randomly initialised Swin built with timm's `SwinTransformer` (three stages; a
56-pixel image in patches of 4 gives a 14 × 14 grid, then 7 × 7 and 4 × 4: windows of 5 do not
divide the first two grids, so timm pads them, the odd 7 × 7 grid is padded before merging,
and the last stage's window shrinks to its grid and never shifts) this writes, under
`pela-zoo/tests/fixtures/`:

- `swin_test.safetensors`: the timm state dict, timm's own keys;
- `swin_test_ms.pth`: the same weights as Microsoft's original release files hold them
  (wrapped under `model`; each patch merging at the end of the stage before; the classifier
  `head`; the `relative_position_index` and `attn_mask` buffers included);
- `swin_test_io.safetensors`: a seeded input batch, the logits, every block's output tokens
  `[batch, height·width, dim]`, and the pooled feature before the head;
- `swin_test_pela.safetensors` + `swin_test_pela_io.safetensors`: the model compressed at
  κ = 1.5 the way the authors' Swin code does it (SVD of Wᵀ in float64,
  `Sequential(Linear(in, r, bias=False), Linear(r, out))`, DeiT's dense list plus
  `attn.proj`), and its logits;
- `swin_reference.json`: parameter counts of the full-size timm Swin presets, dense and as the
  authors' κ = 1.5 student.

Rerun it after changing the model (needs `pip install torch==2.15.0 timm==1.0.31 safetensors`):

    python3 pela-zoo/scripts/make_swin_fixtures.py

Everything is seeded, so a rerun with the same timm and torch versions rewrites the same files.
"""
import json
import re
import sys
from pathlib import Path

import timm
import torch
from safetensors.torch import save_file
from timm.models.swin_transformer import SwinTransformer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_fixtures import DENSE, OUT, compress_like_the_authors, count, randomise  # noqa: E402

SMALL = dict(img_size=56, patch_size=4, window_size=5, embed_dim=16, depths=(2, 2, 2),
             num_heads=(2, 4, 4), num_classes=10)
# The authors' Swin preset: κ = 1.5, DeiT's dense list plus the attention projection.
RATIO = 1.5
SWIN_DENSE = DENSE + ("attn.proj",)


def block_outputs(model: SwinTransformer, x: torch.Tensor):
    """The logits and every block's output tokens, [batch, height·width, dim]."""
    features = []
    hooks = [
        block.register_forward_hook(lambda m, i, o: features.append(o.flatten(1, 2)))
        for stage in model.layers for block in stage.blocks
    ]
    logits = model(x)
    for h in hooks:
        h.remove()
    return logits, features


def microsoft_layout(model: SwinTransformer, state: dict) -> dict:
    """Microsoft's files: merging at the end of the stage before, `head`, the buffers, all
    under `model`."""
    renamed = {}
    for key, value in state.items():
        key = re.sub(r"^layers\.(\d+)\.downsample",
                     lambda m: f"layers.{int(m.group(1)) - 1}.downsample", key)
        renamed[key.replace("head.fc.", "head.")] = value
    for name, buffer in model.named_buffers():
        if buffer is not None and ("relative_position_index" in name or "attn_mask" in name):
            renamed[name] = buffer.contiguous()
    return {"model": renamed}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    model = SwinTransformer(**SMALL).eval()
    randomise(model, 7)
    x = torch.randn(2, 3, SMALL["img_size"], SMALL["img_size"],
                    generator=torch.Generator().manual_seed(107))
    with torch.no_grad():
        logits, features = block_outputs(model, x)
        pooled = model.forward_head(model.forward_features(x), pre_logits=True)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, OUT / "swin_test.safetensors")
    torch.save(microsoft_layout(model, state), OUT / "swin_test_ms.pth")
    io = {"input": x, "logits": logits, "pooled": pooled}
    io.update({f"features.{i}": f for i, f in enumerate(features)})
    save_file({k: v.contiguous() for k, v in io.items()}, OUT / "swin_test_io.safetensors")

    compress_like_the_authors(model, RATIO, SWIN_DENSE)
    with torch.no_grad():
        logits = model(x)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, OUT / "swin_test_pela.safetensors")
    save_file({"input": x, "logits": logits.contiguous()}, OUT / "swin_test_pela_io.safetensors")

    reference = {"timm": timm.__version__, "torch": torch.__version__, "ratio": RATIO,
                 "dense": list(SWIN_DENSE), "models": {}}
    for arch in ("swin_tiny_patch4_window7_224", "swin_small_patch4_window7_224",
                 "swin_base_patch4_window7_224", "swin_base_patch4_window12_384"):
        with torch.device("meta"):
            model = timm.create_model(arch)
            dense = count(model)
            compress_like_the_authors(model, RATIO, SWIN_DENSE)
            student = count(model)
        reference["models"][arch] = {"params": dense, "student_params": student}
    (OUT / "swin_reference.json").write_text(json.dumps(reference, indent=2) + "\n")
    print(json.dumps(reference, indent=2))


if __name__ == "__main__":
    main()
