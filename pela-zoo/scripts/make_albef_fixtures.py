"""Runs the authors' ALBEF code on a seeded small configuration and writes what it computes
for pela-zoo/tests/albef.rs.

The model code is the authors' own (`models/model_pretrain.py`, `models/xbert.py`,
`models/vit.py` of the public repository `salesforce/ALBEF`, commit
b9727e43c3040491774d1b22cc27718aa7772fac), read from a checkout given by `--albef`. Their
`ALBEF` class is built as it is, with two changes made from outside, neither touching any
forward pass:
- the image encoder is ViT-S-like and small (their class hard-codes ViT-B/16): the authors'
  `VisionTransformer` with other sizes;
- `BertForMaskedLM.from_pretrained` builds the model from the config instead of downloading
  `bert-base-uncased`, and `init_deit=False` skips the DeiT download.

Their code needs transformers 4.8.1 (README); 4.8–4.11 cannot import next to tokenizers
wheels for Python 3.11, so this runs it on transformers 4.16.2 (the last before xbert's
`tokenizer_class` docstring argument was renamed `processor_class`: the script renames it
back; it only formats docstrings). Pinned set:

    python3 -m venv --system-site-packages venv   # torch 2.15.0, timm 1.0.31
    venv/bin/pip install transformers==4.16.2 tokenizers==0.13.3 huggingface-hub==0.16.4 sacremoses
    git clone https://github.com/salesforce/ALBEF && git -C ALBEF checkout b9727e43
    venv/bin/python pela-zoo/scripts/make_albef_fixtures.py --albef ALBEF

Writes, in pela-zoo/tests/fixtures/:
- `albef_tiny.safetensors`: the model's whole state dict under the authors' keys (online
  model, momentum copy, queues, pointer), the momentum copy moved off the online weights;
- `albef_tiny_reference.safetensors`: the inputs, every encoder's hidden states, the ITC
  features and similarities against the queue, the ITM and MLM logits, and the ITC, ITM and
  MLM losses computed with the authors' formulas on fixed negatives and a fixed mask;
- `albef_sizes.json`: the parameter counts of the full-size model (online, momentum) and of
  the authors' PELA student at κ = 3 (their rank formula; `cls`, `_proj` and layers with
  fewer than 10 outputs dense).
"""

import argparse
import json
import os
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures")

TINY = {
    "image_res": 32,
    "patch": 16,
    "vision_width": 32,
    "vision_depth": 2,
    "vision_heads": 4,
    "embed_dim": 16,
    "queue_size": 8,
    "temp": 0.07,
    "momentum": 0.995,
    "mlm_probability": 0.15,
    "alpha": 0.4,
}
TINY_BERT = {
    "architectures": ["BertForMaskedLM"],
    "attention_probs_dropout_prob": 0.1,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "hidden_size": 32,
    "initializer_range": 0.02,
    "intermediate_size": 64,
    "layer_norm_eps": 1e-12,
    "max_position_embeddings": 16,
    "model_type": "bert",
    "num_attention_heads": 4,
    "num_hidden_layers": 4,
    "pad_token_id": 0,
    "type_vocab_size": 2,
    "vocab_size": 50,
    "fusion_layer": 2,
    "encoder_width": 32,
}


def import_albef(checkout, vision):
    """The authors' modules, with the two outside changes described above."""
    sys.path.insert(0, checkout)
    import transformers.file_utils as file_utils

    original = file_utils.add_code_sample_docstrings

    def compat(*args, tokenizer_class=None, **kwargs):
        return original(*args, processor_class=tokenizer_class, **kwargs)

    file_utils.add_code_sample_docstrings = compat
    import models.model_pretrain as pretrain
    from models.xbert import BertForMaskedLM

    BertForMaskedLM.from_pretrained = classmethod(lambda cls, name, config: cls(config))
    if vision is not None:
        authors_vit = pretrain.VisionTransformer
        pretrain.VisionTransformer = lambda **kw: authors_vit(**{**kw, **vision})
    return pretrain


def build(pretrain, config, bert_config_path):
    config = {**config, "bert_config": bert_config_path}
    return pretrain.ALBEF(text_encoder="bert-base-uncased", tokenizer=None, config=config,
                          init_deit=False)


def pela_params(model, kappa=3.0, omit=("cls", "_proj"), min_outputs=10):
    """The authors' PELA replacement, counted: every nn.Linear whose name contains none of
    `omit` and with at least `min_outputs` outputs becomes two factors of rank
    floor(in·out / (κ·(in + out))), the second keeping the bias."""
    total = sum(p.numel() for p in model.parameters())
    for name, module in model.named_modules():
        if not isinstance(module, torch.nn.Linear):
            continue
        if any(s in name for s in omit) or module.out_features < min_outputs:
            continue
        n_in, n_out = module.in_features, module.out_features
        rank = int(n_in * n_out / (kappa * (n_in + n_out)))
        total += rank * (n_in + n_out) - n_in * n_out
    return total


def sizes(checkout):
    """Parameter counts of the released architecture (ViT-B/16 at 256, BERT-base)."""
    pretrain = import_albef(checkout, None)
    config = {"image_res": 256, "vision_width": 768, "embed_dim": 256, "temp": 0.07,
              "queue_size": 65536, "momentum": 0.995, "mlm_probability": 0.15}
    model = build(pretrain, config, os.path.join(checkout, "configs", "config_bert.json"))
    online = [p for n, p in model.named_parameters() if "_m." not in n]
    momentum = [p for n, p in model.named_parameters() if "_m." in n]
    return {
        "online": sum(p.numel() for p in online),
        "momentum": sum(p.numel() for p in momentum),
        "pela_k3_total": pela_params(model),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--albef", required=True, help="a checkout of salesforce/ALBEF")
    args = parser.parse_args()
    checkout = os.path.abspath(args.albef)
    os.makedirs(OUT, exist_ok=True)

    with open(os.path.join(OUT, "albef_sizes.json"), "w") as f:
        json.dump(sizes(checkout), f, indent=1)
        f.write("\n")

    torch.manual_seed(0)
    vision = {"img_size": TINY["image_res"], "patch_size": TINY["patch"],
              "embed_dim": TINY["vision_width"], "depth": TINY["vision_depth"],
              "num_heads": TINY["vision_heads"]}
    pretrain = import_albef(checkout, vision)
    bert_path = os.path.join(OUT, "albef_tiny_bert_config.json")
    with open(bert_path, "w") as f:
        json.dump(TINY_BERT, f, indent=1)
        f.write("\n")
    model = build(pretrain, TINY, bert_path).eval()
    with torch.no_grad():
        # Move the momentum copy off the online weights, so that a loader mixing them up fails.
        for online, momentum in model.model_pairs:
            for p in momentum.parameters():
                p.add_(0.01 * torch.randn_like(p))
        model.temp.fill_(0.05)
        model.queue_ptr[0] = 2

    images = torch.randn(3, 3, TINY["image_res"], TINY["image_res"])
    # A vocabulary of 50: [PAD] 0, [CLS] 2, [SEP] 3, [MASK] 4.
    input_ids = torch.tensor([[2, 7, 12, 33, 3, 0], [2, 9, 45, 3, 0, 0], [2, 5, 6, 7, 8, 3]])
    mask = (input_ids != 0).long()

    hooks, vit_layers = [], []
    for block in model.visual_encoder.blocks:
        hooks.append(block.register_forward_hook(lambda m, i, o: vit_layers.append(o)))
    with torch.no_grad():
        image_embeds = model.visual_encoder(images)
        image_atts = torch.ones(image_embeds.shape[:-1], dtype=torch.long)
        image_feat = F.normalize(model.vision_proj(image_embeds[:, 0, :]), dim=-1)
        text = model.text_encoder.bert(input_ids, attention_mask=mask, return_dict=True,
                                       mode="text", output_hidden_states=True)
        text_embeds = text.last_hidden_state
        text_feat = F.normalize(model.text_proj(text_embeds[:, 0, :]), dim=-1)
        fused = model.text_encoder.bert(encoder_embeds=text_embeds, attention_mask=mask,
                                        encoder_hidden_states=image_embeds,
                                        encoder_attention_mask=image_atts, return_dict=True,
                                        mode="fusion", output_hidden_states=True)
        itm_logits = model.itm_head(fused.last_hidden_state[:, 0, :])
        mlm_logits = model.text_encoder(input_ids, attention_mask=mask,
                                        encoder_hidden_states=image_embeds,
                                        encoder_attention_mask=image_atts, return_dict=True,
                                        return_logits=True)

        # The momentum features and the ITC similarities, as model_pretrain.py computes them.
        alpha = TINY["alpha"]
        image_embeds_m = model.visual_encoder_m(images)
        image_feat_m = F.normalize(model.vision_proj_m(image_embeds_m[:, 0, :]), dim=-1)
        image_feat_all = torch.cat([image_feat_m.t(), model.image_queue.clone()], dim=1)
        text_m = model.text_encoder_m.bert(input_ids, attention_mask=mask, return_dict=True,
                                           mode="text")
        text_feat_m = F.normalize(model.text_proj_m(text_m.last_hidden_state[:, 0, :]), dim=-1)
        text_feat_all = torch.cat([text_feat_m.t(), model.text_queue.clone()], dim=1)
        sim_i2t_m = image_feat_m @ text_feat_all / model.temp
        sim_t2i_m = text_feat_m @ image_feat_all / model.temp
        sim_targets = torch.zeros(sim_i2t_m.size())
        sim_targets.fill_diagonal_(1)
        sim_i2t_targets = alpha * F.softmax(sim_i2t_m, dim=1) + (1 - alpha) * sim_targets
        sim_t2i_targets = alpha * F.softmax(sim_t2i_m, dim=1) + (1 - alpha) * sim_targets
        sim_i2t = image_feat @ text_feat_all / model.temp
        sim_t2i = text_feat @ image_feat_all / model.temp
        loss_i2t = -torch.sum(F.log_softmax(sim_i2t, dim=1) * sim_i2t_targets, dim=1).mean()
        loss_t2i = -torch.sum(F.log_softmax(sim_t2i, dim=1) * sim_t2i_targets, dim=1).mean()
        loss_ita = (loss_i2t + loss_t2i) / 2

        # ITM on fixed negatives (the authors draw them with torch.multinomial).
        neg_image = torch.tensor([2, 0, 1])  # the image paired with each text as a negative
        neg_text = torch.tensor([1, 2, 0])  # the text paired with each image as a negative
        text_all = torch.cat([text_embeds, text_embeds[neg_text]], dim=0)
        atts_all = torch.cat([mask, mask[neg_text]], dim=0)
        image_all = torch.cat([image_embeds[neg_image], image_embeds], dim=0)
        output_neg = model.text_encoder.bert(encoder_embeds=text_all, attention_mask=atts_all,
                                             encoder_hidden_states=image_all,
                                             encoder_attention_mask=torch.cat([image_atts] * 2),
                                             return_dict=True, mode="fusion")
        vl = torch.cat([fused.last_hidden_state[:, 0, :], output_neg.last_hidden_state[:, 0, :]])
        itm_all = model.itm_head(vl)
        itm_labels = torch.cat([torch.ones(3, dtype=torch.long), torch.zeros(6, dtype=torch.long)])
        loss_itm = F.cross_entropy(itm_all, itm_labels)

        # MLM on a fixed mask, with the momentum model's soft labels.
        masked_ids = input_ids.clone()
        labels = torch.full_like(input_ids, -100)
        for row, col, replacement in [(0, 2, 4), (1, 1, 4), (2, 4, 17)]:
            labels[row, col] = input_ids[row, col]
            masked_ids[row, col] = replacement
        logits_m = model.text_encoder_m(masked_ids, attention_mask=mask,
                                        encoder_hidden_states=image_embeds_m,
                                        encoder_attention_mask=image_atts, return_dict=True,
                                        return_logits=True)
        mlm = model.text_encoder(masked_ids, attention_mask=mask,
                                 encoder_hidden_states=image_embeds,
                                 encoder_attention_mask=image_atts, return_dict=True,
                                 labels=labels, soft_labels=F.softmax(logits_m, dim=-1),
                                 alpha=alpha)
    for hook in hooks:
        hook.remove()

    # The tied decoder weights are saved as the copies `torch.save` would write.
    state = {k: v.clone().contiguous() for k, v in model.state_dict().items()}
    save_file(state, os.path.join(OUT, "albef_tiny.safetensors"))
    n_text = TINY_BERT["fusion_layer"]
    reference = {
        "images": images,
        "input_ids": input_ids,
        "attention_mask": mask,
        "image_embeds": image_embeds,
        "text_embeds": text_embeds,
        "fused": fused.last_hidden_state,
        "image_feat": image_feat,
        "text_feat": text_feat,
        "image_feat_m": image_feat_m,
        "text_feat_m": text_feat_m,
        "sim_i2t": sim_i2t,
        "sim_t2i": sim_t2i,
        "itm_logits": itm_logits,
        "mlm_logits": mlm_logits,
        "loss_ita": loss_ita.reshape(1),
        "itm_all_logits": itm_all,
        "loss_itm": loss_itm.reshape(1),
        "neg_image": neg_image,
        "neg_text": neg_text,
        "masked_ids": masked_ids,
        "mlm_labels": labels,
        "mlm_logits_masked": mlm.logits,
        "mlm_logits_m": logits_m,
        "loss_mlm": mlm.loss.reshape(1),
    }
    for i, x in enumerate(vit_layers):
        reference[f"vit_layer_{i}"] = x
    # hidden_states[0] is the input of the first layer; the rest are the layers' outputs.
    for i, x in enumerate(text.hidden_states[1:]):
        reference[f"text_layer_{i}"] = x
    for i, x in enumerate(fused.hidden_states[1:]):
        reference[f"fusion_layer_{i}"] = x
    assert len(text.hidden_states) - 1 == n_text
    save_file({k: v.clone().contiguous() for k, v in reference.items()},
              os.path.join(OUT, "albef_tiny_reference.safetensors"))
    print({k: list(v.shape) for k, v in reference.items()})


if __name__ == "__main__":
    main()
