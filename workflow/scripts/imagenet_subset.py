"""Rule imagenet_subset: the ImageNet validation images that Table 6 certifies."""

from randablate.data import imagenet_eval_subset, read_imagenet_indices
from randablate.files import write_csv
from randablate.jobs import job_log
from randablate.seeding import derive_seed

with job_log(snakemake, "choosing the ImageNet subset failed") as log:
    p = snakemake.params
    if p.subset == "authors":  # the authors' 400 images (their imagenet_indices.pth)
        indices = read_imagenet_indices(snakemake.input.indices)
        subset = imagenet_eval_subset(p.dir, p.num_images, indices=indices)
        how = f"listed in {snakemake.input.indices}"
    else:
        subset = imagenet_eval_subset(p.dir, p.num_images, derive_seed(p.seed, "imagenet-subset"))
        how = "drawn with a seed derived from the config's seed"
    write_csv(subset, snakemake.output.subset)
    log.info("%d validation images of %s/val, %s", len(subset), p.dir, how)
