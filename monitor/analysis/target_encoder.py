"""A target's own fine-tuned encoder (`monitor stance train`, with the stance extra installed): the
base all-MiniLM-L6-v2 fine-tuned on the user's labels for the pair (target name, post), exported
like the shipped model (int8 ONNX, tokenizer, manifest) into a folder beside the target's model
file. At run time it is a ``LearnedModel`` over that folder: onnxruntime, no torch.

Why a whole encoder: a head over the shipped model's frozen features reads what that model learned
to see; fine-tuning every layer on the target's labels sees more. On P-Stance validation, each
averaged with the n-gram model (weight 0.3), head -> encoder: Trump 0.808 -> 0.822, Biden 0.792 ->
0.796, Bernie 0.721 -> 0.738 (README "Accuracy").

The folder is named by the hash of its weights, and the model's version covers that hash: a score
says which weights made it, and a folder that no longer matches is refused when loaded.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from monitor.analysis.learned import WEIGHT_BITS, LearnedModel
from monitor.analysis.stamps import MODEL_FILE, file_sha256

FORMAT = "target-encoder-1"
FOLDER_PREFIX = "encoder-"
# Fewer labelled examples than this: `stance train` trains a head by default. The base model knows no
# stance: on P-Stance Trump train samples (each averaged with the n-gram model; val F_avg, head /
# encoder) the head over the shipped model's features does better with few examples (100: 0.676 /
# 0.650; 300: 0.699 / 0.684), as well from 1,000 to 3,000 (0.750 / 0.750, 0.773 / 0.776, 0.804 /
# 0.804) at a quarter of the time, and the encoder better with the whole set (6,362: 0.808 / 0.822;
# Biden 5,805 and Bernie 5,056 too). README "Accuracy".
MIN_EXAMPLES = 5000


def weights_hash(folder: Path) -> str:
    """sha256 of the folder's model file."""
    return file_sha256(Path(folder) / MODEL_FILE)


@dataclass
class TargetEncoder:
    target_id: str
    target_name: str  # as the pairs were written in training ("Donald Trump")
    folder: Path  # model.onnx, tokenizer.json, manifest.json
    sha256: str  # of model.onnx
    meta: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def model(self) -> LearnedModel:
        return LearnedModel(self.folder)

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """N x 3 (against / none / favor) for the pairs (target name, text)."""
        return self.model.stance(texts, [self.target_name] * len(texts))

    def placed(self, target_dir: Path) -> TargetEncoder:
        """This encoder copied into ``target_dir`` (a folder named by its hash; kept if already there)."""
        destination = Path(target_dir) / self.folder_name
        if destination.resolve() != self.folder.resolve():
            if destination.exists():
                shutil.rmtree(destination)
            shutil.copytree(self.folder, destination)
        return TargetEncoder(self.target_id, self.target_name, destination, self.sha256, self.meta)

    @property
    def cpu_dependent(self) -> bool:
        """Trained before the weights were 7-bit (WEIGHT_BITS): its scores differ on CPUs without VNNI."""
        return self.meta.get("weight_bits") != WEIGHT_BITS

    @property
    def folder_name(self) -> str:
        """Its folder's name once saved: from its weights, so that the model's version (which covers
        its JSON) is the same before and after the save."""
        return f"{FOLDER_PREFIX}{self.sha256[:10]}"

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "target_id": self.target_id, "target_name": self.target_name,
                "folder": self.folder_name, "sha256": self.sha256, "meta": self.meta}

    @classmethod
    def from_json(cls, data: dict[str, Any], target_dir: Path) -> TargetEncoder:
        """The encoder a model file names, its folder under ``target_dir`` checked against its hash
        (OSError when missing, ValueError when the weights are not the ones trained)."""
        if data.get("format") != FORMAT:
            raise ValueError(f"not a target encoder (format {data.get('format')!r})")
        folder = Path(target_dir) / Path(str(data["folder"])).name
        found = weights_hash(folder)
        if found != data["sha256"]:
            raise ValueError(f"{folder / MODEL_FILE} is not the encoder this model was trained with "
                             f"(sha256 {found[:10]}, expected {str(data['sha256'])[:10]})")
        return cls(data["target_id"], data["target_name"], folder, data["sha256"], data.get("meta", {}))
