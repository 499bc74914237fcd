"""Rule train: train one base classifier on randomly ablated training images."""

import dataclasses
import logging
from pathlib import Path

import torch

from randablate.data import load_mnist
from randablate.devices import acquire_device
from randablate.encoding import channel_mean, get_encoding
from randablate.models import build_model, save_model
from randablate.seeding import derive_seed
from randablate.training import TrainSettings, train

logging.basicConfig(
    filename=snakemake.log[0], filemode="w", level=logging.INFO, format="%(asctime)s %(message)s"
)
log = logging.getLogger("train")
wc = snakemake.wildcards
k = int(wc.k)
torch.set_num_threads(snakemake.threads)


def main():
    images, labels = load_mnist(snakemake.params.data_dir, "train")
    seed = derive_seed(snakemake.params.seed, "train", wc.dataset, wc.encoding, wc.arch, k)
    settings = TrainSettings(**snakemake.params.settings, seed=seed)
    mean = channel_mean(images) if wc.encoding == "mean" else None
    encoding = get_encoding(wc.encoding, channels=images.shape[1], mean=mean)
    checkpoint = Path(snakemake.params.checkpoint)
    if checkpoint.exists():
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
        if state.get("settings") != dataclasses.asdict(settings) or state.get("k") != k:
            log.info("removing %s: it was made with other settings", checkpoint)
            checkpoint.unlink()
    torch.manual_seed(seed)
    model = build_model(wc.arch, encoding.out_channels, num_classes=10)
    log.info("k=%d encoding=%s arch=%s settings=%s", k, wc.encoding, wc.arch, settings)
    with acquire_device(snakemake.params.lock_dir, log=log) as device:
        result = train(model, encoding, k, images, labels, settings, checkpoint, device, log)
    meta = {
        "arch": wc.arch,
        "in_channels": encoding.out_channels,
        "num_classes": 10,
        "k": k,
        "dataset": wc.dataset,
        **encoding.describe(),
        "mean": mean,
        "seed": seed,
        "training": dict(snakemake.params.settings),
        "history": result["history"],
    }
    save_model(snakemake.output.model, model, meta)


try:
    main()
except Exception:
    log.exception("training failed")
    raise
