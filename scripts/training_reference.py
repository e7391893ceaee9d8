#!/usr/bin/env python3
"""PyTorch reference for `examples/training_benchmark.rs`: times one PELA distillation step of
a DeiT student against its frozen dense teacher, in float32 on the CPU, the best of `repeats`
steps after one warm-up step.

The step is the authors' DeiT objective (their `kd_alpha` = 1, RWP off): the teacher's block
outputs without gradients; the student's logits and block outputs; cross-entropy with label
smoothing 0.1 plus the mean over blocks of the mean squared difference of block outputs;
backward; an AdamW step (weight decay 0.05). The teacher is timm's model (seeded random
weights: the time does not depend on them); the student replaces each listed `nn.Linear` by the
authors' `nn.Sequential(nn.Linear(d_in, r, bias=False), nn.Linear(r, d_out))` at the ranks
pela chose.

Usage (the benchmark runs it for you):

    python3 -m pip install torch==2.15.0 timm==1.0.31   # once
    python3 scripts/training_reference.py SETTINGS.json

SETTINGS.json: {"model": "deit_tiny_patch16_224", "batch": 16, "repeats": 3,
"ranks": {"blocks.0.attn.qkv": 48, ...}}. Prints one JSON object on stdout: versions, thread
count and the best seconds of a step.
"""
import json
import sys

import timm
import torch

from forward_reference import low_rank_student
from timing import best_seconds


def block_outputs(model: torch.nn.Module, store: list) -> None:
    for block in model.blocks:
        block.register_forward_hook(lambda _module, _input, output: store.append(output))


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        settings = json.load(f)
    torch.manual_seed(0)
    teacher = timm.create_model(settings["model"], pretrained=False).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    torch.manual_seed(0)
    student = low_rank_student(
        timm.create_model(settings["model"], pretrained=False), settings["ranks"]
    ).train()
    teacher_blocks, student_blocks = [], []
    block_outputs(teacher, teacher_blocks)
    block_outputs(student, student_blocks)
    optimizer = torch.optim.AdamW(student.parameters(), lr=1e-4, weight_decay=0.05)
    task = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
    batch = settings["batch"]
    images = torch.randn(batch, 3, 224, 224)
    labels = torch.randint(0, 1000, (batch,))

    def step():
        teacher_blocks.clear()
        student_blocks.clear()
        with torch.no_grad():
            teacher(images)
        logits = student(images)
        features = sum(
            torch.nn.functional.mse_loss(s, t) for s, t in zip(student_blocks, teacher_blocks)
        ) / len(student_blocks)
        loss = task(logits, labels) + features
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.item()

    seconds = best_seconds(step, settings["repeats"])
    print(
        json.dumps(
            {
                "torch": torch.__version__,
                "timm": timm.__version__,
                "threads": torch.get_num_threads(),
                "seconds": seconds,
            }
        )
    )


if __name__ == "__main__":
    main()
