"""Rule figure1: an MNIST test image and randomly ablated samples with their base labels per k."""

from randablate.data import load_mnist
from randablate.figures import plot_ablated_samples
from randablate.illustrations import ablated_samples
from randablate.jobs import job_log
from randablate.seeding import derive_seed
from randablate.smoothing import load_smoothed
from randablate.tables import read_certificates, summarize

with job_log(snakemake, "plotting Figure 1 failed") as log:
    p = snakemake.params
    images, labels = load_mnist(p.data_dir, "test")
    image, label = images[p.image], int(labels[p.image])
    rows, accuracy = {}, {}
    for k, model, certs in zip(
        p.k, snakemake.input.models, snakemake.input.certificates, strict=True
    ):
        smoothed, _ = load_smoothed(model, k, device="cpu")
        seed = derive_seed(p.seed, "figure1", p.image, k)
        rows[k] = ablated_samples(image, smoothed.model, smoothed.encoding, k, p.samples, seed)
        accuracy[k] = summarize(read_certificates(certs))["accuracy_pct"]
        log.info("k = %d: base labels %s", k, rows[k][1].tolist())
    plot_ablated_samples(image.numpy(), label, rows, snakemake.output.figure, accuracy)
