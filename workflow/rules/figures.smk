rule figure_certified_accuracy:
    input:
        certificates=table1_files(CERTIFICATES),
    output:
        figure=report(
            FIGURE_CERTIFIED_ACCURACY,
            caption="../../report/certified_accuracy.rst",
            category="Table 1: MNIST certificates",
            labels={
                "figure": "certified accuracy against radius",
                "scale": config["scale"],
            },
        ),
    log:
        "logs/results/figures/certified_accuracy_mnist.log",
    benchmark:
        "logs/benchmarks/results/figures/certified_accuracy_mnist.tsv"
    conda:
        "../../envs/analysis.yaml"
    resources:
        mem_mb=2000,
    params:
        k=config["table1"]["k"],
        scale=config["scale"],
        images=num_images(config),
        n=config["table1"]["n"],
    script:
        "../scripts/figure_certified_accuracy.py"
