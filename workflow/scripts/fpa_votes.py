"""Rule fpa_votes: every submodel's vote on the images Table 1 certifies."""

from randablate.data import load_eval_images
from randablate.files import save_npz
from randablate.jobs import computing_job
from randablate.partition import count_ensemble_votes

with computing_job(snakemake, "counting the feature partition votes failed") as (p, _, log, grant):
    images, labels, indices = load_eval_images(p.data)
    with grant.acquire(log) as device:
        votes = count_ensemble_votes(
            snakemake.input.model, images, labels, indices, p.batch_size, p.precision, device, log
        )
    save_npz(snakemake.output.votes, votes)
