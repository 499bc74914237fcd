"""Rule train: train one base classifier on randomly ablated training images."""

import logging

import torch

from randablate.data import load_training_data
from randablate.devices import acquire_device
from randablate.encoding import channel_mean, dataset_encoding
from randablate.models import build_model, save_model
from randablate.provenance import git_commit, hardware, package_versions
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
    data = snakemake.params.data
    training = load_training_data(data["dataset"], data["dir"])
    seed = derive_seed(snakemake.params.seed, "train", wc.dataset, wc.encoding, wc.arch, k)
    settings = TrainSettings(**snakemake.params.settings, seed=seed)
    # the mean encoding's NULL: the training images' channel means (ImageNet: the usual ones)
    mean = None
    if wc.encoding == "mean" and isinstance(training.images, torch.Tensor):
        mean = channel_mean(training.images)
    encoding = dataset_encoding(wc.encoding, data["dataset"], mean)
    torch.manual_seed(seed)
    model = build_model(wc.arch, encoding.out_channels, num_classes=training.num_classes)
    log.info("k=%d encoding=%s arch=%s settings=%s", k, wc.encoding, wc.arch, settings)
    with acquire_device(snakemake.params.lock_dir, log=log) as device:
        result = train(
            model,
            encoding,
            k,
            training.images,
            training.labels,
            settings,
            snakemake.params.checkpoint,
            device,
            log,
            discard_mismatched=True,
        )
    meta = {
        "arch": wc.arch,
        "in_channels": encoding.out_channels,
        "num_classes": training.num_classes,
        "k": k,
        "dataset": wc.dataset,
        **encoding.describe(),
        "seed": seed,
        "training": dict(snakemake.params.settings),
        "train_images": training.count,
        "history": result["history"],
        "provenance": {
            "git_commit": git_commit(snakemake.params.repo),
            "packages": package_versions(),
            "hardware": hardware(),
            "device": str(device),
        },
    }
    save_model(snakemake.output.model, model, meta)


try:
    main()
except Exception:
    log.exception("training failed")
    raise
