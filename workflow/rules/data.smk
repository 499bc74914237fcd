rule mnist:
    output:
        mnist_files(),
    log:
        "logs/data/mnist.log",
    benchmark:
        "logs/benchmarks/data/mnist.tsv"
    conda:
        "../envs/torch.yaml"
    resources:
        mem_mb=2000,
    params:
        directory=lambda wildcards, output: os.path.dirname(output[0]),
        source_dir=config["mnist"]["source_dir"],
    script:
        "../scripts/mnist.py"


# CIFAR-10 is fetched only into <data_dir>/cifar10; a cifar10.dir of the user's is read in place.
if config["cifar10"]["dir"] is None:

    rule cifar10:
        output:
            cifar10_files(),
        log:
            "logs/data/cifar10.log",
        benchmark:
            "logs/benchmarks/data/cifar10.tsv"
        conda:
            "../envs/torch.yaml"
        resources:
            mem_mb=2000,
        params:
            root=lambda wildcards, output: os.path.dirname(os.path.dirname(output[0])),
            download=config["cifar10"]["download"],
        script:
            "../scripts/cifar10.py"


rule imagenet_subset:
    input:
        lambda wildcards: f"{imagenet_dir()}/val",
        indices=imagenet_indices_input,
    output:
        subset=report(
            IMAGENET_SUBSET,
            caption="../report/imagenet_subset.rst",
            category="Table 6: ImageNet certificates",
            labels={"table": "the certified validation images"},
        ),
    log:
        log_of("data/imagenet/val_subset.log"),
    benchmark:
        benchmark_of("data/imagenet/val_subset.tsv")
    conda:
        "../envs/torch.yaml"
    resources:
        mem_mb=2000,
    params:
        dir=lambda wildcards: imagenet_dir(),
        num_images=config["imagenet"]["num_images"],
        subset=config["imagenet"]["subset"],
        seed=config["seed"],
    script:
        "../scripts/imagenet_subset.py"
