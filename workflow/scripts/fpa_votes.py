"""Rule fpa_votes: every submodel's vote on the images Table 1 certifies."""

import torch

from randablate.data import load_eval_images
from randablate.devices import acquire_device
from randablate.files import save_npz
from randablate.jobs import job_log
from randablate.partition import count_ensemble_votes

torch.set_num_threads(snakemake.threads)
p = snakemake.params
with job_log(snakemake, "counting the feature partition votes failed") as log:
    images, labels, indices = load_eval_images(p.data)
    with acquire_device(p.lock_dir, log=log) as device:
        votes = count_ensemble_votes(
            snakemake.input.model, images, labels, indices, p.batch_size, p.precision, device, log
        )
    save_npz(snakemake.output.votes, votes)
