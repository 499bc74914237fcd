"""Rule votes_gather: join the vote shards of one model into one file, ordered by image index."""

import logging

from randablate.tables import merge_votes

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
log = logging.getLogger("gather")
try:
    images = merge_votes(list(snakemake.input), snakemake.output.votes)
    log.info("merged %d shards, %d images", len(snakemake.input), images)
except Exception:
    log.exception("gathering votes failed")
    raise
