"""Rule figure4: one MNIST test image with NULL encoded uniquely, as the mean, and as noise."""

import logging

from randablate.data import load_mnist
from randablate.encoding import channel_mean
from randablate.illustrations import null_encodings, plot_null_encodings
from randablate.seeding import derive_seed, generator

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
log = logging.getLogger("figure4")
try:
    p = snakemake.params
    train, _ = load_mnist(p.data_dir, "train")
    test, _ = load_mnist(p.data_dir, "test")
    mean = channel_mean(train)[0]
    gen = generator(derive_seed(p.seed, "figure4", p.image))
    plot_null_encodings(null_encodings(test[p.image], p.k, mean, gen), snakemake.output.figure)
    log.info("test image %d, k = %d, training mean %.4f", p.image, p.k, mean)
except Exception:
    log.exception("plotting Figure 4 failed")
    raise
