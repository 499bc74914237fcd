"""Rule import_authors_checkpoint: one of the authors' released models, saved in our format."""

from randablate.jobs import job_log
from randablate.models import import_authors_checkpoint

with job_log(snakemake, "importing the authors' checkpoint failed") as log:
    m = snakemake.params.model
    import_authors_checkpoint(
        snakemake.input.checkpoint,
        snakemake.output.model,
        dataset=m["dataset"],
        encoding=m["encoding"],
        k=m["k"],
        arch=m["arch"],
        repo=snakemake.params.repo,
    )
    log.info("imported %s as %s", snakemake.input.checkpoint, snakemake.output.model)
