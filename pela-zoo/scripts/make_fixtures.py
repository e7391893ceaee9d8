#!/usr/bin/env python3
"""Reference fixtures for pela-zoo's ViT tests, written by timm itself.

For two small, randomly initialised models built with timm's `VisionTransformer` (a DeiT and a
DeiT-III: layer scale, no class-token position embedding) this writes, under
`pela-zoo/tests/fixtures/`:

- `<name>.safetensors`: the timm state dict, timm's own keys;
- `<name>_fb.pth`: the same weights as Facebook's original files hold them (wrapped under
  `model`; DeiT-III's `gamma_1` / `gamma_2` for timm's `ls1.gamma` / `ls2.gamma`);
- `<name>_io.safetensors`: a seeded input batch, the logits, and every block's output (all
  tokens, before the final norm: the features PELA distils);
- `<name>_pela.safetensors` + `<name>_pela_io.safetensors`: the model compressed at κ = 2 the
  way the authors' code does it (SVD of Wᵀ in float64, `Sequential(Linear(in, r, bias=False),
  Linear(r, out))`, `head` left dense), and its logits;
- `reference.json`: parameter counts of the full-size timm models, dense and as the authors'
  κ = 2 students.

Rerun it after changing the models (needs `pip install torch timm safetensors`):

    python3 pela-zoo/scripts/make_fixtures.py

Everything is seeded, so a rerun with the same timm and torch versions rewrites the same files.
"""
import json
import math
from pathlib import Path

import numpy as np
import timm
import torch
from safetensors.torch import save_file
from timm.models.vision_transformer import VisionTransformer

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures"

# Small enough to commit (about 0.5 MB a model), large enough to exercise every part.
SMALL = dict(img_size=32, patch_size=8, embed_dim=64, depth=2, num_heads=4, num_classes=10)
MODELS = {
    "deit_test": dict(SMALL),
    "deit3_test": dict(SMALL, init_values=1e-6, no_embed_class=True),
}
# The authors' presets: κ and the name fragments of layers left dense.
RATIO = 2.0
DENSE = ("norm", "head", "patch_embed", "downsample")


def randomise(model: torch.nn.Module, seed: int) -> None:
    """Replaces every parameter by seeded noise, so no part is trivially zero or one (timm
    initialises layer scale at 1e-6 and biases at 0, which would hide mistakes)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=generator)
            if name.endswith("gamma") or (name.endswith("weight") and p.ndim == 1):
                p.copy_(1.0 + 0.2 * noise if "norm" in name else 0.5 + 0.2 * noise)
            else:
                fan_in = p.shape[1] if p.ndim >= 2 else 16
                p.copy_(noise / math.sqrt(fan_in) if p.ndim >= 2 else 0.1 * noise)


def block_outputs(model: VisionTransformer, x: torch.Tensor):
    """The logits and every block's output tokens."""
    features = []
    hooks = [b.register_forward_hook(lambda m, i, o: features.append(o)) for b in model.blocks]
    logits = model(x)
    for h in hooks:
        h.remove()
    return logits, features


def facebook_layout(state: dict) -> dict:
    """Facebook's DeiT / DeiT-III files: `gamma_1`/`gamma_2`, wrapped under `model`."""
    renamed = {
        k.replace("ls1.gamma", "gamma_1").replace("ls2.gamma", "gamma_2"): v
        for k, v in state.items()
    }
    return {"model": renamed}


def rank_for(d_in: int, d_out: int, ratio: float) -> int:
    return int(d_in * d_out / (ratio * (d_in + d_out)))


def compress_like_the_authors(model: torch.nn.Module, ratio: float, dense=DENSE) -> None:
    """The authors' replacement: each Linear that no `dense` fragment names and that has at least
    10 outputs becomes Sequential(Linear(in, r, bias=False), Linear(r, out)), from the SVD of
    Wᵀ in float64: U[:, :r]·√Σ and √Σ·Vᵀ[:r, :]. On the meta device (no values), the shapes
    only."""
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            full = f"{name}.{child_name}" if name else child_name
            if not isinstance(child, torch.nn.Linear) or any(d in full for d in dense):
                continue
            d_in, d_out = child.in_features, child.out_features
            if d_out < 10:
                continue
            r = rank_for(d_in, d_out, ratio)
            pair = torch.nn.Sequential(
                torch.nn.Linear(d_in, r, bias=False),
                torch.nn.Linear(r, d_out, bias=child.bias is not None),
            )
            if not child.weight.is_meta:
                w_t = child.weight.detach().double().numpy().T  # [in, out]
                u, s, vt = np.linalg.svd(w_t, full_matrices=False)
                down = u[:, :r] * np.sqrt(s[:r])  # [in, r]
                up = np.sqrt(s[:r])[:, None] * vt[:r, :]  # [r, out]
                with torch.no_grad():
                    pair[0].weight.copy_(torch.from_numpy(down.T).float())
                    pair[1].weight.copy_(torch.from_numpy(up.T).float())
                    if child.bias is not None:
                        pair[1].bias.copy_(child.bias)
            setattr(module, child_name, pair)


def count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    for seed, (name, kwargs) in enumerate(MODELS.items()):
        model = VisionTransformer(**kwargs).eval()
        randomise(model, seed)
        x = torch.randn(2, 3, SMALL["img_size"], SMALL["img_size"],
                        generator=torch.Generator().manual_seed(100 + seed))
        with torch.no_grad():
            logits, features = block_outputs(model, x)
        state = {k: v.contiguous() for k, v in model.state_dict().items()}
        save_file(state, OUT / f"{name}.safetensors")
        torch.save(facebook_layout(state), OUT / f"{name}_fb.pth")
        io = {"input": x, "logits": logits}
        io.update({f"features.{i}": f for i, f in enumerate(features)})
        save_file({k: v.contiguous() for k, v in io.items()}, OUT / f"{name}_io.safetensors")

        compress_like_the_authors(model, RATIO)
        with torch.no_grad():
            logits = model(x)
        state = {k: v.contiguous() for k, v in model.state_dict().items()}
        save_file(state, OUT / f"{name}_pela.safetensors")
        save_file({"input": x, "logits": logits.contiguous()}, OUT / f"{name}_pela_io.safetensors")

    reference = {"timm": timm.__version__, "torch": torch.__version__, "ratio": RATIO, "models": {}}
    for arch in ("deit_base_patch16_224", "deit3_large_patch16_224"):
        with torch.device("meta"):
            model = timm.create_model(arch)
            dense = count(model)
            compress_like_the_authors(model, RATIO)
            student = count(model)
        reference["models"][arch] = {"params": dense, "student_params": student}
    (OUT / "reference.json").write_text(json.dumps(reference, indent=2) + "\n")
    print(json.dumps(reference, indent=2))


if __name__ == "__main__":
    main()
