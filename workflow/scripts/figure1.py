"""Rule figure1: an MNIST test image and randomly ablated samples with their base labels per k."""

import logging

from randablate.data import load_mnist
from randablate.illustrations import ablated_samples, plot_ablated_samples
from randablate.seeding import derive_seed, generator
from randablate.smoothing import load_smoothed
from randablate.tables import read_certificates, summarize

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
log = logging.getLogger("figure1")
try:
    p = snakemake.params
    images, labels = load_mnist(p.data_dir, "test")
    image, label = images[p.image], int(labels[p.image])
    rows, accuracy = {}, {}
    for k, model, certs in zip(
        p.k, snakemake.input.models, snakemake.input.certificates, strict=True
    ):
        smoothed, _ = load_smoothed(model, k, device="cpu")
        gen = generator(derive_seed(p.seed, "figure1", p.image, k))
        rows[k] = ablated_samples(image, smoothed.model, smoothed.encoding, k, p.samples, gen)
        accuracy[k] = summarize(read_certificates(certs))["accuracy_pct"]
        log.info("k = %d: base labels %s", k, rows[k][1].tolist())
    plot_ablated_samples(image, label, rows, snakemake.output.figure, accuracy)
except Exception:
    log.exception("plotting Figure 1 failed")
    raise
