"""Rule base_accuracy: the base classifier's accuracy on ablated training and test images."""

import json

import torch

from randablate.data import load_eval_images
from randablate.devices import acquire_device
from randablate.files import atomic_path
from randablate.jobs import job_log
from randablate.seeding import derive_seed
from randablate.smoothing import base_accuracy, load_smoothed

wc = snakemake.wildcards
k = int(wc.k)
torch.set_num_threads(snakemake.threads)


def main():
    p = snakemake.params
    images, labels, _ = load_eval_images(p.data, 0, p.num_images)
    seed = derive_seed(p.seed, "base-accuracy", wc.dataset, wc.encoding, wc.arch, k)
    with acquire_device(p.lock_dir, log=log, jobs_per_gpu=p.jobs_per_gpu) as device:
        smoothed, meta = load_smoothed(
            snakemake.input.model, k, batch_size=p.batch_size, precision=p.precision, device=device
        )
        test = base_accuracy(smoothed, images, labels, p.samples, seed, log=log)
    # the authors' released models (rule import_authors_checkpoint) carry no training history
    final = meta["history"][-1] if meta["history"] else {"accuracy": None, "epoch": None}
    result = {
        "k": k,
        "train_accuracy": final["accuracy"],
        "train_epoch": final["epoch"],
        "train_images": meta.get("train_images"),
        "test_accuracy": test,
        "images": len(labels),
        "samples": p.samples,
    }
    with atomic_path(snakemake.output.accuracy) as tmp:
        tmp.write_text(json.dumps(result, indent=1))
    log.info("%s", result)


with job_log(snakemake, "measuring the base classifier failed") as log:
    main()
