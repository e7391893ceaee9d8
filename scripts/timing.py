"""The timing rule of the PyTorch reference scripts: the best of `repeats` runs after one
warm-up run (other load on the machine can only slow a run down)."""
import time


def best_seconds(run, repeats: int) -> float:
    run()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best
