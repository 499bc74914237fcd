"""Rule attack_shard: the Pointwise attack on the smoothed classifier, for one shard of images."""

from randablate.attack_job import attack_shard_and_save
from randablate.jobs import computing_job
from randablate.smoothing import GrantedSmoothed

with computing_job(snakemake, "attack failed") as (p, wc, log, grant):
    k, model = int(wc.k), snakemake.input.model
    # the first attack.num_images (smoothed classifier: attack.smoothed_images) of the images
    # Table 1 certifies
    attack_shard_and_save(
        snakemake.output.attack,
        p.checkpoint,
        GrantedSmoothed(model, k, p.batch_size, p.precision, grant),
        data=p.data,
        positions=p.positions,
        settings=p.settings,
        seed=p.seed,
        log=log,
    )
