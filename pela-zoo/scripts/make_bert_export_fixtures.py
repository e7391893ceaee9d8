"""Checks that Hugging Face `transformers` loads `pela export --layout dense` of a BERT student
unchanged, and writes what it computes for pela-zoo/tests/bert_minilm.rs.

Runs the `pela` command (`$PELA`, or `cargo run -p pela-zoo --bin pela`) to compress
all-MiniLM-L6-v2 at its default κ = 2 and export the student as a Hugging Face folder, loads
that folder with `AutoModel` and `AutoTokenizer` (no key may be missing or left over) and,
when it is installed, with sentence-transformers (the same embeddings), and writes `tests/fixtures/minilm_k2_export_reference.json`: the token ids and the mean-pooled,
L2-normalised embeddings of fixed sentences. The Rust test computes the same student's
embeddings and asserts they match to 1e-4.

    pip install torch transformers sentence-transformers   # the last one optional
    python pela-zoo/scripts/make_bert_export_fixtures.py
"""

import json
import os
import shlex
import subprocess
import sys
import tempfile

import torch
import transformers
from transformers import AutoModel, AutoTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(HERE, "..", "tests", "fixtures", "minilm_k2_export_reference.json")
PELA = shlex.split(os.environ.get("PELA", "cargo run -q -p pela-zoo --bin pela --"))

SENTENCES = [
    "A man is playing a guitar.",
    "The new movie is awesome!",
    "Hundreds of people have been forced to vacate their homes.",
    "Tiger",
    "Rust and Burn make compressing transformers fun: PELA halves their linear layers.",
]


def pela(*args):
    subprocess.run([*PELA, *args, "--no-progress", "--quiet"], cwd=ROOT, check=True)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        student = os.path.join(tmp, "student.safetensors")
        folder = os.path.join(tmp, "hf")
        pela("compress", "--model", "all-MiniLM-L6-v2", "--output", student)
        pela("export", "--student", student, "--layout", "dense", "--output", folder)

        tokenizer = AutoTokenizer.from_pretrained(folder)
        model, info = AutoModel.from_pretrained(folder, output_loading_info=True)
        model.eval()
        problems = {k: v for k, v in info.items() if v}
        if problems:
            sys.exit(f"transformers did not load the export cleanly: {problems}")
        print(f"transformers loaded {folder}: {type(model).__name__}, "
              f"{sum(p.numel() for p in model.parameters()):,} parameters, no key missing or unused")

        batch = tokenizer(SENTENCES, padding=True, truncation=True, max_length=256,
                          return_tensors="pt")
        with torch.no_grad():
            tokens = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        embeddings = torch.nn.functional.normalize(pooled, dim=-1)
        ids = [
            [int(t) for t, m in zip(row, mask) if m]
            for row, mask in zip(batch["input_ids"], batch["attention_mask"])
        ]
        with open(os.path.join(folder, "config.json")) as f:
            config = json.load(f)
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            print("sentence-transformers is not installed: its check is skipped")
        else:
            encoder = SentenceTransformer(folder, device="cpu")
            encoded = torch.tensor(encoder.encode(SENTENCES))
            worst = float((encoded - embeddings).abs().max())
            if worst > 1e-5:
                sys.exit(f"SentenceTransformer's embeddings differ by {worst}")
            print(f"SentenceTransformer loads the folder: the same embeddings (max |diff| {worst:.1e})")

    reference = {
        "generator": f"transformers {transformers.__version__}, torch {torch.__version__}",
        "model": "all-MiniLM-L6-v2, `pela compress` at its default κ = 2, exported dense",
        "config": config,
        "sentences": SENTENCES,
        "input_ids": ids,
        "embeddings": [[round(float(x), 7) for x in row] for row in embeddings],
    }
    with open(OUT, "w") as f:
        json.dump(reference, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
