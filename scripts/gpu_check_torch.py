#!/usr/bin/env python3
"""PyTorch rows of `examples/gpu_check.rs` (`scripts/gpu-check`): the same two training steps
on the same GPU, images a second and `torch.cuda.max_memory_allocated`.

- `finetune`: the dense model's step: cross-entropy with label smoothing 0.1, backward, AdamW
  (weight decay 0.05).
- `distill`: the PELA κ = 2 step of `examples/training_benchmark.rs`: the frozen teacher's
  block outputs without gradients, the student's logits and block outputs, cross-entropy plus
  the mean over blocks of the mean squared difference, backward, AdamW. The student replaces
  each listed `nn.Linear` by the authors' `nn.Sequential(nn.Linear(d_in, r, bias=False),
  nn.Linear(r, d_out))` at the ranks pela chose.

The model is timm's `VisionTransformer` when timm is installed, else the same architecture
written below (patch embedding, class token, pre-norm blocks with fused qkv, GELU MLP): the
step's time does not depend on which. `f16` is the whole model in half precision, as Burn's
`Cuda<f16>` (not autocast). Each row starts from an empty cache; a row that fails (out of
memory, say) is reported as such.

Usage (the GPU check runs it for you): python3 scripts/gpu_check_torch.py SETTINGS.json, with
{"model": <pela's VitConfig JSON>, "batch": 256, "steps": 10, "warmup": 3,
"precision": ["f32", "f16"], "ranks": {"blocks.0.attn.qkv": 384, ...}}. Prints one JSON object.
"""
import json
import sys
import time

import torch
from torch import nn


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, mlp: int, qkv_bias: bool, eps: float):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = nn.Module()
        self.attn.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.attn.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = nn.Module()
        self.mlp.fc1 = nn.Linear(dim, mlp)
        self.mlp.fc2 = nn.Linear(mlp, dim)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.attn.qkv(self.norm1(x)).reshape(b, t, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        a = nn.functional.scaled_dot_product_attention(q, k, v)
        x = x + self.attn.proj(a.transpose(1, 2).reshape(b, t, d))
        return x + self.mlp.fc2(nn.functional.gelu(self.mlp.fc1(self.norm2(x))))


class Vit(nn.Module):
    def __init__(self, c: dict):
        super().__init__()
        dim, size, patch = c["d_model"], c["image_size"], c["patch_size"]
        self.patch_embed = nn.Conv2d(c["channels"], dim, patch, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, (size // patch) ** 2 + 1, dim) * 0.02)
        mlp = int(dim * c["mlp_ratio"])
        eps = c["layer_norm_eps"]
        self.blocks = nn.ModuleList(
            Block(dim, c["n_heads"], mlp, c["qkv_bias"], eps) for _ in range(c["depth"])
        )
        self.norm = nn.LayerNorm(dim, eps=eps)
        self.head = nn.Linear(dim, c["num_classes"])

    def forward(self, images):
        x = self.patch_embed(images).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x)[:, 0])


def model(c: dict) -> nn.Module:
    try:
        from timm.models.vision_transformer import VisionTransformer
    except ImportError:
        return Vit(c)
    return VisionTransformer(
        img_size=c["image_size"], patch_size=c["patch_size"], in_chans=c["channels"],
        num_classes=c["num_classes"], embed_dim=c["d_model"], depth=c["depth"],
        num_heads=c["n_heads"], mlp_ratio=c["mlp_ratio"], qkv_bias=c["qkv_bias"],
    )


def low_rank(student: nn.Module, ranks: dict) -> nn.Module:
    for path, rank in ranks.items():
        parent, name = student.get_submodule(path.rsplit(".", 1)[0]), path.rsplit(".", 1)[1]
        dense = getattr(parent, name)
        setattr(parent, name, nn.Sequential(
            nn.Linear(dense.in_features, rank, bias=False), nn.Linear(rank, dense.out_features)))
    return student


def row(settings: dict, step: str, dtype: torch.dtype) -> dict:
    c, batch = settings["model"], settings["batch"]
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    torch.manual_seed(0)
    device = torch.device("cuda")
    student = model(c).to(device, dtype).train()
    teacher = None
    if step == "distill":
        teacher = model(c).to(device, dtype).eval().requires_grad_(False)
        student = low_rank(student, settings["ranks"]).to(device, dtype)
    stores = {"teacher": [], "student": []}
    for name, m in (("teacher", teacher), ("student", student)):
        if m is not None and step == "distill":
            for block in m.blocks:
                block.register_forward_hook(lambda _m, _i, out, s=stores[name]: s.append(out))
    optimizer = torch.optim.AdamW(student.parameters(), lr=1e-4, weight_decay=0.05)
    task = nn.CrossEntropyLoss(label_smoothing=0.1)
    images = torch.randn(batch, c["channels"], c["image_size"], c["image_size"], device=device, dtype=dtype)
    labels = torch.randint(0, c["num_classes"], (batch,), device=device)

    def one() -> float:
        stores["teacher"].clear()
        stores["student"].clear()
        if teacher is not None:
            with torch.no_grad():
                teacher(images)
        loss = task(student(images), labels)
        if teacher is not None:
            pairs = list(zip(stores["student"], stores["teacher"]))
            loss = loss + sum(nn.functional.mse_loss(s, t) for s, t in pairs) / len(pairs)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.item()  # waits for the step's kernels

    for _ in range(settings["warmup"]):
        one()
    torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(settings["steps"]):
        loss = one()
    seconds = time.perf_counter() - started
    return {
        "images_per_second": batch * settings["steps"] / seconds,
        "final_loss": loss,
        "max_memory_allocated_bytes": torch.cuda.max_memory_allocated(),
        "max_memory_reserved_bytes": torch.cuda.max_memory_reserved(),
    }


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        settings = json.load(f)
    if not torch.cuda.is_available():
        sys.exit(f"torch {torch.__version__} sees no CUDA GPU (torch.cuda.is_available() is False)")
    dtypes = {"f32": torch.float32, "f16": torch.float16}
    rows = {}
    for precision in settings["precision"]:
        for step in ("finetune", "distill"):
            try:
                rows[f"{step}_{precision}"] = row(settings, step, dtypes[precision])
            except Exception as error:  # noqa: BLE001 — a failed row is a result
                rows[f"{step}_{precision}"] = {"error": f"{type(error).__name__}: {error}"}
    try:
        import timm
        architecture = f"timm {timm.__version__}"
    except ImportError:
        architecture = "the script's own ViT (no timm)"
    print(json.dumps({
        "versions": f"PyTorch {torch.__version__} (CUDA {torch.version.cuda}), {architecture}, "
                    f"{torch.cuda.get_device_name(0)}",
        "rows": rows,
    }))


if __name__ == "__main__":
    main()
