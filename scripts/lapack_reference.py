#!/usr/bin/env python3
"""LAPACK reference for `examples/init_benchmark.rs`: times numpy's SVD on the benchmark's
weights and computes their optimal rank-r truncation errors.

Usage (the benchmark runs it for you):

    python3 -m pip install numpy        # once
    python3 scripts/lapack_reference.py DIR

DIR holds `manifest.json` (a list of {"name", "rank"}) and one `<name>.npy` per weight, written
by the benchmark. Prints one JSON object on stdout: numpy's version and BLAS, and per weight the
seconds of `np.linalg.svd(w, full_matrices=False)` in float64 (LAPACK gesdd), the seconds of
`torch.linalg.svd(w, full_matrices=False)` in float64 when PyTorch is installed (with
`torch.get_num_threads()` threads), and the optimal Frobenius error sqrt(sum of the discarded
sigma^2).
"""
import json
import os
import sys
import time

import numpy as np


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    folder = sys.argv[1]
    with open(os.path.join(folder, "manifest.json")) as f:
        manifest = json.load(f)
    try:
        import torch
    except ImportError:
        torch = None
    results = []
    for entry in manifest:
        w = np.load(os.path.join(folder, entry["name"] + ".npy")).astype(np.float64)
        start = time.perf_counter()
        _, sigma, _ = np.linalg.svd(w, full_matrices=False)
        seconds = time.perf_counter() - start
        optimal = float(np.sqrt(np.sum(sigma[entry["rank"]:] ** 2)))
        result = {"name": entry["name"], "seconds": seconds, "optimal_error": optimal}
        if torch is not None:
            tensor = torch.from_numpy(w)
            start = time.perf_counter()
            torch.linalg.svd(tensor, full_matrices=False)
            result["torch_seconds"] = time.perf_counter() - start
        results.append(result)
    blas = "unknown"
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]["name"]
    except Exception:  # older numpy: no dict mode
        pass
    print(json.dumps({
        "numpy": np.__version__,
        "blas": blas,
        "torch": None if torch is None else torch.__version__,
        "torch_threads": None if torch is None else torch.get_num_threads(),
        "results": results,
    }))


if __name__ == "__main__":
    main()
