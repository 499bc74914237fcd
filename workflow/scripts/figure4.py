"""Rule figure4: one MNIST test image with NULL encoded uniquely, as the mean, and as noise."""

from randablate.data import load_mnist
from randablate.encoding import channel_mean
from randablate.figures import plot_null_encodings
from randablate.illustrations import null_encodings
from randablate.jobs import job_log
from randablate.seeding import derive_seed

with job_log(snakemake, "plotting Figure 4 failed") as log:
    p = snakemake.params
    train, _ = load_mnist(p.data_dir, "train")
    test, _ = load_mnist(p.data_dir, "test")
    mean = channel_mean(train)[0]
    seed = derive_seed(p.seed, "figure4", p.image)
    plot_null_encodings(null_encodings(test[p.image], p.k, mean, seed), snakemake.output.figure)
    log.info("test image %d, k = %d, training mean %.4f", p.image, p.k, mean)
