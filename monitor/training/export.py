"""Export the fine-tuned model to ONNX, quantise it to int8, and write the shipped files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch

from monitor.analysis.learned import MANIFEST_FILE, MODEL_FILE, TOKENIZER_FILE
from monitor.training.quantize import quantize
from monitor.training.train import TwoHeadModel

OUTPUT_NAMES = ["pooled", "sentiment_logits", "stance_logits"]
INPUT_NAMES = ["input_ids", "attention_mask", "token_type_ids"]


def export_onnx(model: TwoHeadModel, path: Path) -> None:
    """The fp32 graph, with batch and sequence axes dynamic."""
    model.eval()
    example = (torch.ones(2, 12, dtype=torch.long), torch.ones(2, 12, dtype=torch.long),
               torch.zeros(2, 12, dtype=torch.long))
    axes = {name: {0: "batch", 1: "sequence"} for name in INPUT_NAMES}
    axes.update({name: {0: "batch"} for name in OUTPUT_NAMES})
    with torch.no_grad():
        torch.onnx.export(model, example, str(path), input_names=INPUT_NAMES, output_names=OUTPUT_NAMES,
                          dynamic_axes=axes, opset_version=17, do_constant_folding=True, dynamo=False)


def write_weights(model: TwoHeadModel, base_dir: Path, out: Path, work: Path, manifest: dict[str, Any]) -> Path:
    """Write model.onnx (int8), tokenizer.json and manifest.json into out; the fp32 graph stays in work."""
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    fp32 = work / "model-fp32.onnx"
    export_onnx(model, fp32)
    quantize(fp32, out / MODEL_FILE)
    shutil.copyfile(base_dir / "tokenizer.json", out / TOKENIZER_FILE)
    write_manifest(out, manifest)
    return fp32


def write_manifest(out: Path, manifest: dict[str, Any]) -> None:
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8")
