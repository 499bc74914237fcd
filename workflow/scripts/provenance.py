"""Rule provenance: record the commit, package versions, hardware and config of this run."""

import logging

import yaml

from randablate.files import atomic_path
from randablate.provenance import collect

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
log = logging.getLogger("provenance")
try:
    record = collect(snakemake.params.config, snakemake.params.repo)
    with atomic_path(snakemake.output.provenance) as tmp:
        tmp.write_text(yaml.safe_dump(record, sort_keys=False))
    log.info("commit %s", record["git_commit"])
except Exception:
    log.exception("recording provenance failed")
    raise
