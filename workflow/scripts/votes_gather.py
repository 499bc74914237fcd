"""Rule votes_gather: join the vote shards of one model into one file, ordered by image index."""

from randablate.files import merge_shards
from randablate.jobs import job_log

with job_log(snakemake, "gathering votes failed") as log:
    images = merge_shards(list(snakemake.input), snakemake.output.votes)
    log.info("merged %d shards, %d images", len(snakemake.input), images)
