rule mnist:
    output:
        mnist_files(),
    log:
        "logs/data/mnist.log",
    benchmark:
        "logs/benchmarks/data/mnist.tsv"
    conda:
        "../../envs/torch.yaml"
    resources:
        mem_mb=2000,
    params:
        directory=lambda wildcards, output: os.path.dirname(output[0]),
        source_dir=config["mnist"]["source_dir"],
    script:
        "../scripts/mnist.py"
