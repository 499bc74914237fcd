# The data sets: MNIST's IDX files, CIFAR-10, and the ImageNet validation subset (the authors'
# 400 images, or a seeded draw).
IMAGENET_SUBSET = paths(layout.IMAGENET_SUBSET)
# The authors' 400 ImageNet validation images (imagenet_indices.pth of their repository).
PAPER_IMAGENET_INDICES = PAPER / "imagenet_val_indices.csv"


rule mnist:
    output:
        mnist_files(),
    log:
        "logs/data/mnist.log",
    benchmark:
        "logs/benchmarks/data/mnist.tsv"
    conda:
        "../envs/torch.yaml"
    threads: job_threads("light")
    resources:
        **job_resources("light"),
    params:
        directory=output_dir,
        source_dir=config["mnist"]["source_dir"],
    script:
        "../scripts/mnist.py"


# CIFAR-10 is fetched only into <data_dir>/cifar10; a cifar10.dir of the user's is read in place.
if config["cifar10"]["dir"] is None:

    rule cifar10:
        output:
            layout.cifar10_files(config),
        log:
            "logs/data/cifar10.log",
        benchmark:
            "logs/benchmarks/data/cifar10.tsv"
        conda:
            "../envs/torch.yaml"
        threads: job_threads("light")
        resources:
            **job_resources("light"),
        params:
            root=lambda wildcards, output: os.path.dirname(os.path.dirname(output[0])),
            download=config["cifar10"]["download"],
        script:
            "../scripts/cifar10.py"


rule imagenet_subset:
    input:
        lambda wildcards: f"{layout.imagenet_dir(config)}/val",
        # the authors' list of validation images, when imagenet.subset is authors
        indices=(
            str(PAPER_IMAGENET_INDICES)
            if config["imagenet"]["subset"] == "authors"
            else []
        ),
    output:
        subset=reported(
            IMAGENET_SUBSET.output,
            "imagenet_subset",
            "Table 6: ImageNet certificates",
            scale=False,
            table="the certified validation images",
        ),
    log:
        IMAGENET_SUBSET.log,
    benchmark:
        IMAGENET_SUBSET.benchmark
    conda:
        "../envs/torch.yaml"
    threads: job_threads("light")
    resources:
        **job_resources("light"),
    params:
        dir=lambda wildcards: layout.imagenet_dir(config),
        num_images=config["imagenet"]["num_images"],
        subset=config["imagenet"]["subset"],
        seed=config["seed"],
    script:
        "../scripts/imagenet_subset.py"
