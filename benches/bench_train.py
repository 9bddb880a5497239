"""Speed and memory of ``mccgan train`` at the paper's size (256 x 256 px, ngf = ndf = 64).

Side by side, in one run, each configuration in a fresh process (its peak RSS is its own):

* ``loading``: the data pipeline alone (``senprep`` samples -> normalised, masked tensors),
  batches per second;
* ``bare``: a bare PyTorch loop of the same networks and losses (one discriminator step + one
  generator step on batches already in memory) - the floor the framework is measured against;
* ``bare+loading``: the same loop reading its batches from the DataLoader;
* ``mccgan``: ``mccgan.training.run.train`` (Lightning, logging, checkpoints, data pipeline),
  timed from batch end to batch end inside the epoch (validation and checkpoint writing at the
  epoch end are left out);
* ``pix2pix``: the original implementation (junyanz/pytorch-CycleGAN-and-pix2pix,
  ``unet_256`` + ``basic`` D, batch norm, dropout, vanilla GAN, λ 100, Adam 2e-4 / 0.5) run from
  the folder given with ``--pix2pix`` (a checkout of that repository; never copied into this
  one), on batches in memory (its own loader needs torchvision and RGB image files).

With ``--device cuda`` (when a GPU is available) the bare loop and mccgan also run with mixed
precision (and channels_last for the bare loop).

The data: a ``senprep synth`` region (12 x 12 km, two dates) through ``s2``, ``s1``, ``pair``
and ``split`` (256 px patches at stride 128), built once in ``--workdir``.

Usage: .venv/bin/python benches/bench_train.py [--workdir DIR] [--pix2pix DIR]
       [--batch-sizes 1,8] [--steps 8] [--rounds 3] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sen_preproc.testing.chain import process_synth_scene

DATES = ("2023-05-10", "2023-06-20")
WARMUP_STEPS = 2


def senprep(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "sen_preproc", *args, "-q"], check=True, stdout=subprocess.DEVNULL
    )


def build_dataset(work: Path) -> Path:
    """The 256 px dataset (reused when an earlier run of the bench built it)."""
    dataset = work / "dataset"
    if (dataset / "dataset.json").is_file():
        return dataset
    scene = work / "scene"
    senprep("synth", "-o", str(scene), "--size-km", "12", "--dates", ",".join(DATES), "--clouds", "0,0.1",
            "--seed", "3", "--overwrite")  # fmt: skip
    outputs = process_synth_scene(scene, work, lambda args: senprep(*args), options=["--overwrite"])
    pairs = [d.pair for d in outputs]
    senprep("split", "--ref", str(pairs[0]), "--target", str(pairs[1]), "-o", str(dataset), "--size", "256",
            "--stride", "128", "--split", "rows:0.7,0.3,0", "--max-invalid", "0.5", "--overwrite")  # fmt: skip
    return dataset


# ---------------------------------------------------------------- measurements (one per process)


def _loader(dataset: Path, batch: int) -> Any:
    from torch.utils.data import DataLoader

    from mccgan.config import build_config
    from mccgan.data import load_training_data
    from mccgan.registry import model_spec

    config = build_config({"data": [str(dataset)], "out": "unused"})
    data = load_training_data(config, model_spec("mccgan"))
    return DataLoader(data.train, batch_size=batch, shuffle=True, drop_last=True), data


def _networks(data: Any, device: str) -> tuple[Any, Any]:
    from mccgan.networks import init_weights
    from mccgan.registry import model_spec

    spec = model_spec("mccgan")
    generator = spec.build_generator(
        data.in_channels, data.out_channels, ngf=64, depth=8, norm="batch", dropout=True
    )
    assert spec.build_discriminator is not None
    discriminator = spec.build_discriminator(
        data.in_channels + data.out_channels, ndf=64, norm="batch"
    )
    init_weights(generator)
    init_weights(discriminator)
    return generator.to(device), discriminator.to(device)


def _batches(loader: Any, count: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while len(out) < count:
        for batch in loader:
            out.append(batch)
            if len(out) == count:
                break
    return out


def measure_loading(dataset: Path, batch: int, steps: int, **_: Any) -> list[float]:
    loader, _ = _loader(dataset, batch)
    times, start = [], time.perf_counter()
    while len(times) < steps + WARMUP_STEPS:
        for _batch in loader:
            now = time.perf_counter()
            times.append(now - start)
            start = now
            if len(times) == steps + WARMUP_STEPS:
                break
    return times[WARMUP_STEPS:]


def _bare_step(generator: Any, discriminator: Any, opt_g: Any, opt_d: Any, batch: dict[str, Any], device: str,
               amp: bool, channels_last: bool) -> None:  # fmt: skip
    """One D + one G step: the losses of mccgan.training.module (masked L1, BCE on logits)."""
    import torch
    import torch.nn.functional as F

    x = batch["input"].to(device, non_blocking=True)
    y = batch["target"].to(device, non_blocking=True)
    mask = batch["mask"].to(device, non_blocking=True)
    if channels_last:
        x, y = (
            x.contiguous(memory_format=torch.channels_last),
            y.contiguous(memory_format=torch.channels_last),
        )
    autocast = torch.autocast(device_type=device, dtype=torch.float16, enabled=amp)
    with autocast:
        fake = generator(x)
        zero = torch.zeros((), device=device, dtype=fake.dtype)
        real_pair = torch.cat([x, torch.where(mask, y, zero)], 1)
        for p in discriminator.parameters():
            p.requires_grad_(True)
        pred_real = discriminator(real_pair)
        pred_fake = discriminator(torch.cat([x, torch.where(mask, fake, zero).detach()], 1))
        loss_d = 0.5 * (
            F.binary_cross_entropy_with_logits(pred_real, torch.ones_like(pred_real))
            + F.binary_cross_entropy_with_logits(pred_fake, torch.zeros_like(pred_fake))
        )
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    for p in discriminator.parameters():
        p.requires_grad_(False)
    with autocast:
        pred = discriminator(torch.cat([x, torch.where(mask, fake, zero)], 1))
        weights = mask.to(fake.dtype).expand_as(fake)
        l1 = ((fake - y).abs() * weights).sum() / weights.sum().clamp_min(1.0)
        loss_g = F.binary_cross_entropy_with_logits(pred, torch.ones_like(pred)) + 100.0 * l1
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()


def measure_bare(dataset: Path, batch: int, steps: int, device: str = "cpu", loading: bool = False,
                 amp: bool = False, channels_last: bool = False, **_: Any) -> list[float]:  # fmt: skip
    import torch

    loader, data = _loader(dataset, batch)
    generator, discriminator = _networks(data, device)
    if channels_last:
        generator, discriminator = (
            m.to(memory_format=torch.channels_last) for m in (generator, discriminator)
        )
    generator.train()
    discriminator.train()
    opt_g = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    source = iter(_batches(loader, steps + WARMUP_STEPS)) if not loading else None
    stream = iter(loader)
    times = []
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    start = time.perf_counter()
    for _step in range(steps + WARMUP_STEPS):
        if source is not None:
            item = next(source)
        else:
            try:
                item = next(stream)
            except StopIteration:
                stream = iter(loader)
                item = next(stream)
        _bare_step(generator, discriminator, opt_g, opt_d, item, device, amp, channels_last)
        sync()  # timing only: one sync per step so that the step times are real
        now = time.perf_counter()
        times.append(now - start)
        start = now
    return times[WARMUP_STEPS:]


def measure_mccgan(dataset: Path, batch: int, steps: int, device: str = "cpu", precision: str = "32",
                   workdir: Path | None = None, **_: Any) -> list[float]:  # fmt: skip
    import shutil

    import torch
    from lightning.pytorch.callbacks import Callback

    from mccgan.config import build_config
    from mccgan.training.run import train

    class StepTimes(Callback):
        def __init__(self) -> None:
            self.ends: list[float] = []

        def on_train_batch_end(
            self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
        ) -> None:
            if device == "cuda":
                torch.cuda.synchronize()  # timing only
            self.ends.append(time.perf_counter())

    assert workdir is not None
    out = workdir / f"run_b{batch}_{device}_{precision}"
    shutil.rmtree(out, ignore_errors=True)  # this bench's own run of an earlier invocation
    config = build_config({"data": [str(dataset)], "out": str(out), "batch_size": batch, "epochs": 1,
                           "epochs_decay": 0, "limit_train_batches": steps + WARMUP_STEPS + 1,
                           "images_every_epochs": 0, "device": device, "precision": precision})  # fmt: skip
    timer = StepTimes()
    train(config, quiet=True, callbacks=[timer])
    ends = timer.ends[WARMUP_STEPS:]
    return [b - a for a, b in itertools.pairwise(ends)]


def measure_pix2pix(dataset: Path, batch: int, steps: int, pix2pix: Path | None = None, device: str = "cpu",
                    **_: Any) -> list[float]:  # fmt: skip
    import torch

    assert pix2pix is not None
    sys.path.insert(0, str(pix2pix))
    from models.pix2pix_model import Pix2PixModel  # the reference implementation's own code

    loader, data = _loader(dataset, batch)
    opt = argparse.Namespace(
        isTrain=True, gpu_ids=[0] if device == "cuda" else [], checkpoints_dir=tempfile.mkdtemp(), name="bench",
        preprocess="none", input_nc=data.in_channels, output_nc=data.out_channels, ngf=64, ndf=64,
        netG="unet_256", netD="basic", n_layers_D=3, norm="batch", no_dropout=False, init_type="normal",
        init_gain=0.02, gan_mode="vanilla", lambda_L1=100.0, lr=2e-4, beta1=0.5, direction="AtoB",
        pool_size=0, lr_policy="linear", epoch_count=1, n_epochs=100, n_epochs_decay=100, verbose=False,
        continue_train=False, load_iter=0, epoch="latest", device=device,
    )  # fmt: skip
    model = Pix2PixModel(opt)
    model.setup(opt)
    batches = _batches(loader, steps + WARMUP_STEPS)
    times = []
    start = time.perf_counter()
    for item in batches:
        model.set_input({"A": item["input"], "B": item["target"], "A_paths": [""], "B_paths": [""]})
        model.optimize_parameters()
        if device == "cuda":
            torch.cuda.synchronize()
        now = time.perf_counter()
        times.append(now - start)
        start = now
    return times[WARMUP_STEPS:]


MEASURES = {
    "loading": measure_loading,
    "bare": measure_bare,
    "bare+loading": lambda **kw: measure_bare(loading=True, **kw),
    "bare amp+channels_last": lambda **kw: measure_bare(amp=True, channels_last=True, **kw),
    "mccgan": measure_mccgan,
    "mccgan 16-mixed": lambda **kw: measure_mccgan(precision="16-mixed", **kw),
    "pix2pix": measure_pix2pix,
}


def child(args: argparse.Namespace) -> None:
    times = MEASURES[args.measure](dataset=args.dataset, batch=args.batch, steps=args.steps, device=args.device,
                                   pix2pix=args.pix2pix, workdir=args.workdir)  # fmt: skip
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    gpu_mb = 0.0
    if args.device == "cuda":
        import torch

        gpu_mb = torch.cuda.max_memory_allocated() / 2**20
    print(json.dumps({"times": times, "peak_mb": peak_mb, "gpu_mb": gpu_mb}))


def run_child(measure: str, dataset: Path, batch: int, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", measure, "--dataset", str(dataset), "--batch", str(batch),
               "--steps", str(args.steps), "--device", args.device, "--workdir", str(args.workdir)]  # fmt: skip
    if args.pix2pix:
        command += ["--pix2pix", str(args.pix2pix)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--pix2pix",
        type=Path,
        default=None,
        help="A checkout of junyanz/pytorch-CycleGAN-and-pix2pix.",
    )
    parser.add_argument("--batch-sizes", default="1,8")
    parser.add_argument(
        "--steps", type=int, default=8, help="Timed steps per run (after 2 warm-up steps)."
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="Runs of each configuration, interleaved."
    )
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--child", dest="measure", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--dataset", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        child(args)
        return
    args.workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="mccgan-train-bench-"))).resolve()
    args.workdir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    dataset = build_dataset(args.workdir)
    info = json.loads((dataset / "dataset.json").read_text())
    print(f"dataset: {dataset} ({info['counts']['train']} training samples of 256 x 256 px, "
          f"{time.perf_counter() - start:.0f} s to build)")  # fmt: skip
    measures = ["loading", "bare", "bare+loading", "mccgan"]
    if args.device == "cuda":
        measures += ["bare amp+channels_last", "mccgan 16-mixed"]
    if args.pix2pix:
        measures.append("pix2pix")
    print(f"device {args.device}, {args.rounds} interleaved runs x {args.steps} timed steps (after {WARMUP_STEPS} "
          "warm-up steps) per configuration")  # fmt: skip
    header = ("| batch | configuration | s/step median | s/step mean | steps/s | images/s | vs bare | vs pix2pix "
              "| peak RSS MB |")  # fmt: skip
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for batch in (int(b) for b in args.batch_sizes.split(",")):
        # rounds of every configuration, in a rotated order: the machine's drift and its
        # neighbours' load spread over all of them instead of favouring one
        results: dict[str, dict[str, Any]] = {
            m: {"times": [], "peak_mb": 0.0, "gpu_mb": 0.0} for m in measures
        }
        for round_index in range(args.rounds):
            shift = round_index % len(measures)
            for name in measures[shift:] + measures[:shift]:
                got = run_child(name, dataset, batch, args)
                results[name]["times"] += got["times"]
                results[name]["peak_mb"] = max(results[name]["peak_mb"], got["peak_mb"])
                results[name]["gpu_mb"] = max(results[name]["gpu_mb"], got["gpu_mb"])
        bare = statistics.median(results["bare"]["times"])
        reference = statistics.median(results["pix2pix"]["times"]) if "pix2pix" in results else None
        for name, result in results.items():
            median, mean = statistics.median(result["times"]), statistics.mean(result["times"])
            ratio = "" if name == "loading" else f"{median / bare:.3f}"
            versus = f"{median / reference:.3f}" if reference and name != "loading" else ""
            extra = f" (GPU {result['gpu_mb']:.0f} MB)" if result["gpu_mb"] else ""
            print(f"| {batch} | {name} | {median:.3f} | {mean:.3f} | {1 / median:.2f} | {batch / median:.1f} | "
                  f"{ratio} | {versus} | {result['peak_mb']:.0f}{extra} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
