"""Rule provenance: record the commit, package versions, hardware and config of this run."""

import yaml

from randablate.files import atomic_path
from randablate.jobs import job_log
from randablate.provenance import collect

with job_log(snakemake, "recording provenance failed") as log:
    record = collect(snakemake.params.config, snakemake.params.repo)
    with atomic_path(snakemake.output.provenance) as tmp:
        tmp.write_text(yaml.safe_dump(record, sort_keys=False))
    log.info("commit %s", record["git_commit"])
