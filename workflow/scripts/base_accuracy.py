"""Rule base_accuracy: the base classifier's accuracy on ablated training and test images."""

from randablate.base_accuracy_job import base_accuracy_and_save
from randablate.jobs import computing_job
from randablate.smoothing import GrantedSmoothed

with computing_job(snakemake, "measuring the base classifier failed") as (p, wc, log, grant):
    k, model = int(wc.k), snakemake.input.model
    base_accuracy_and_save(
        snakemake.output.accuracy,
        GrantedSmoothed(model, k, p.batch_size, p.precision, grant),
        data=p.data,
        encoding=wc.encoding,
        arch=wc.arch,
        num_images=p.num_images,
        samples=p.samples,
        seed=p.seed,
        log=log,
    )
