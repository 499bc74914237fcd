"""Rule imagenet_subset: the seeded subset of ImageNet validation images that Table 6 certifies."""

import logging

from randablate.data import imagenet_eval_subset
from randablate.seeding import derive_seed
from randablate.tables import write_csv

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
log = logging.getLogger("imagenet_subset")
try:
    p = snakemake.params
    subset = imagenet_eval_subset(p.dir, p.num_images, derive_seed(p.seed, "imagenet-subset"))
    write_csv(subset, snakemake.output.subset)
    log.info("%d validation images drawn from %s/val", len(subset), p.dir)
except Exception:
    log.exception("drawing the ImageNet subset failed")
    raise
