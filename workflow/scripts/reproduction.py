"""Rule reproduction: every number the paper prints beside ours, with tolerances."""

import logging

import pandas as pd

from randablate.scorecard import Tolerance, scorecard, summary
from randablate.tables import write_csv

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
log = logging.getLogger("reproduction")
try:
    p = snakemake.params
    paths = zip(p.names, snakemake.input.tables, strict=True)
    tables = {name: pd.read_csv(path) for name, path in paths}
    if "discussion_imagenet" in tables:  # the ImageNet medians are Discussion numbers too
        extra = tables.pop("discussion_imagenet")
        tables["discussion"] = pd.concat([tables["discussion"], extra], ignore_index=True)
    card = scorecard(tables, Tolerance(**p.tolerance), scale=p.scale)
    write_csv(card, snakemake.output.table)
    log.info("%s", summary(card))
except Exception:
    log.exception("building the scorecard failed")
    raise
