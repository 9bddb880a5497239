"""``mccgan evaluate --patches DATASET --model model.pt``: the model on a dataset's test split.

The test patches are scored as one tall image: patch after patch, separated by
``HALO_PX`` rows of no data, so pixel metrics are exact and no SSIM window mixes two patches
(each patch's SSIM is cropped at its own borders, as scikit-image crops an image's). The
model runs on the patches a row block needs (eval mode, batch of the block), so memory stays
bounded by a block whatever the split's size.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import torch

from mccgan.data import Normalisation, SampleSet, denormalise
from mccgan.errors import DataError
from mccgan.evaluation.metrics import HALO_PX, score_scene
from mccgan.evaluation.scene import UNIT_REFLECTANCE, BoolArray, FloatArray
from mccgan.registry import model_spec
from mccgan.training.export import load_model
from sen_preproc.dataset import PatchDataset
from sen_preproc.errors import SenPrepError
from sen_preproc.progress import Progress

if TYPE_CHECKING:
    from mccgan.evaluation.evaluate import EvaluateConfig, Report

S2_FACTORS = {"reflectance_x10000": 1.0, "reflectance": 10000.0}


def score_patches(config: EvaluateConfig, progress: Progress) -> Report:
    from mccgan.evaluation.evaluate import COPY_LABEL, Report, _notes

    assert config.patches is not None and config.model is not None
    generator, document = load_model(config.model)
    spec = model_spec(str(document["model"]))
    normalisation = Normalisation.from_dict(document["normalisation"])
    try:
        patches = PatchDataset(config.patches, "test", kind=spec.kind)
    except SenPrepError as err:
        raise DataError(f"{err} (given as --patches)") from err
    if len(patches) == 0:
        raise DataError(
            f"{config.patches}: no {spec.kind} samples in the test split; write the dataset with "
            "senprep split --split ... (a non-zero test fraction) or --test-area"
        )
    bands = tuple(normalisation.target_bands)
    data_bands = tuple(n.split("_", 1)[-1] for n in patches.band_names(spec.target))
    if data_bands != bands:
        raise DataError(
            f"{config.patches}: the samples hold {', '.join(data_bands)}, {config.model} predicts "
            f"{', '.join(bands)}; evaluate a model trained on this band layout"
        )
    factor = np.float32(S2_FACTORS[normalisation.s2_unit])
    samples = SampleSet(patches, spec, normalisation)
    size = int(patches[0][spec.target].shape[-1])
    pitch = size + HALO_PX
    height = len(patches) * pitch - HALO_PX
    copy_key = "s2_I" if "s2_I" in spec.inputs and spec.target == "s2_II" else None

    @lru_cache(maxsize=16)
    def patch(index: int) -> tuple[FloatArray, FloatArray, FloatArray | None, BoolArray]:
        item = samples[index]
        raw = patches[index]
        with torch.inference_mode():
            pred = denormalise(generator(item["input"][None]).float(), normalisation.target)[
                0
            ].numpy()
        truth = raw[spec.target].astype(np.float32)
        valid = np.asarray(item["mask"][0].numpy(), dtype=bool) & np.isfinite(truth).all(axis=0)
        copy = raw[copy_key].astype(np.float32) * factor if copy_key else None
        if copy is not None:
            valid &= np.isfinite(copy).all(axis=0)
        return truth * factor, pred * factor, copy, valid

    labels = [str(document["model"])] + ([COPY_LABEL] if copy_key else [])

    def read_block(
        start: int, stop: int
    ) -> tuple[FloatArray, dict[str, FloatArray], dict[str, BoolArray]]:
        rows = stop - start
        truth = np.full((len(bands), rows, size), np.nan, np.float32)
        values = {label: np.full_like(truth, np.nan) for label in labels}
        valid = np.zeros((rows, size), bool)
        for index in range(start // pitch, min(len(patches), (stop - 1) // pitch + 1)):
            top = index * pitch
            lo, hi = max(start, top), min(stop, top + size)
            if lo >= hi:
                continue
            t, p, c, v = patch(index)
            src, dst = slice(lo - top, hi - top), slice(lo - start, hi - start)
            truth[:, dst] = t[:, src]
            values[labels[0]][:, dst] = p[:, src]
            if c is not None:
                values[COPY_LABEL][:, dst] = c[:, src]
            valid[dst] = v[src]
        return truth, values, {"all": valid}

    generator.eval()
    task = progress.start("evaluate", None, "block")
    try:
        ndvi = (bands.index("B4"), bands.index("B8")) if "B4" in bands and "B8" in bands else None
        scores = score_scene(read_block, height, size, bands, 10000.0 if config.data_range is None else config.data_range,
                             ndvi_bands=ndvi, block_rows=max(config.block_rows, pitch))  # fmt: skip
    finally:
        task.close()
    inputs = {"patches": str(config.patches), "model": str(config.model), "split": "test", "samples": len(patches),
              "model_checksum": str(document["checksum"])}  # fmt: skip
    data_range = 10000.0 if config.data_range is None else config.data_range
    return Report(scores, bands, UNIT_REFLECTANCE, data_range, inputs, notes=_notes(scores))
