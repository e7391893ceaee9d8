#!/usr/bin/env python3
"""PyTorch reference for `examples/layer_benchmark.rs`: times a dense `nn.Linear` and its
low-rank pair (`nn.Linear(d_in, r, bias=False)` then `nn.Linear(r, d_out)`, the authors'
`Sequential`) on `[batch, tokens, d_in]` inputs, forward and backward (the loss `y.sum()`), in
float32.

Usage (the benchmark runs it for you):

    python3 -m pip install torch       # once
    python3 scripts/layer_reference.py '[[batch, tokens, d_in, d_out, rank], ...]' REPEATS

Prints one JSON object on stdout: PyTorch's version, its thread count, and per shape the best
seconds of `repeats` runs of the dense layer and of the pair.
"""
import json
import sys

import torch
from timing import best_seconds


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    shapes = json.loads(sys.argv[1])
    repeats = int(sys.argv[2])
    torch.manual_seed(0)
    results = []
    for batch, tokens, d_in, d_out, rank in shapes:
        x = torch.randn(batch, tokens, d_in)
        dense = torch.nn.Linear(d_in, d_out)
        pair = torch.nn.Sequential(
            torch.nn.Linear(d_in, rank, bias=False), torch.nn.Linear(rank, d_out)
        )

        def step(layer):
            def run():
                layer.zero_grad(set_to_none=True)
                layer(x).sum().backward()

            return run

        results.append(
            {
                "dense": best_seconds(step(dense), repeats),
                "pair": best_seconds(step(pair), repeats),
            }
        )
    print(
        json.dumps(
            {
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()
