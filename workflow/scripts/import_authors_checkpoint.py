"""Rule import_authors_checkpoint: one of the authors' released models, saved in our format."""

from randablate.jobs import job_log
from randablate.models import load_authors_checkpoint, save_model
from randablate.provenance import git_commit, package_versions

with job_log(snakemake, "importing the authors' checkpoint failed") as log:
    m = snakemake.params.model
    model, meta = load_authors_checkpoint(
        snakemake.input.checkpoint, m["dataset"], m["encoding"], m["k"], m["arch"]
    )
    meta["provenance"] = {
        "git_commit": git_commit(snakemake.params.repo),
        "packages": package_versions(),
        "source": f"the authors' released checkpoint {snakemake.input.checkpoint}",
    }
    save_model(snakemake.output.model, model, meta)
    log.info("imported %s as %s", snakemake.input.checkpoint, snakemake.output.model)
