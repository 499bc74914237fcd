CERTIFIED_ACCURACY = paths(layout.CERTIFIED_ACCURACY, ".png")
# The params of a figure of {dataset}'s certificate table: its name, images, n and the scale.
DATASET_FIGURE = dict(
    name=lambda wildcards: DATASETS[wildcards.dataset].title,
    images=lambda wildcards: num_images(config, wildcards.dataset),
    n=section_value("n"),
    scale=config["scale"],
)
# The params of Figures 1 and 4: the MNIST folder, figure<number>_k and _image, the seed.
MNIST_FIGURE = {
    number: dict(
        data_dir=lambda wildcards, input: os.path.dirname(input[0]),
        k=config["figures"][f"figure{number}_k"],
        image=config["figures"][f"figure{number}_image"],
        seed=config["seed"],
    )
    for number in (1, 4)
}


rule figure_certified_accuracy:
    input:
        certificates=lambda wildcards: table_files(
            CERTIFICATES.output, wildcards.dataset
        ),
        paper=lambda wildcards: PAPER_CERTIFICATES[wildcards.dataset],
    output:
        figure=reported(
            CERTIFIED_ACCURACY.output,
            "certified_accuracy",
            "Certified accuracy",
            subcategory="{dataset}",
            figure="certified accuracy against radius, {dataset}",
        ),
    log:
        CERTIFIED_ACCURACY.log,
    benchmark:
        CERTIFIED_ACCURACY.benchmark
    conda:
        "../envs/analysis.yaml"
    threads: job_threads("light")
    resources:
        **job_resources("light"),
    params:
        **DATASET_FIGURE,
        k=section_value("k"),
    script:
        "../scripts/figure_certified_accuracy.py"


rule figure1:
    input:
        mnist_files("test"),
        models=model_files(MODEL, "mnist", config["figures"]["figure1_k"]),
        certificates=model_files(
            CERTIFICATES.output, "mnist", config["figures"]["figure1_k"]
        ),
    output:
        figure=reported(
            FIGURES[1].output,
            "figure1",
            "Explanatory figures and numbers",
            figure="Figure 1: ablated samples",
        ),
    log:
        FIGURES[1].log,
    benchmark:
        FIGURES[1].benchmark
    conda:
        "../envs/torch.yaml"
    threads: job_threads("light")
    resources:
        **job_resources("light"),
    params:
        **MNIST_FIGURE[1],
        samples=config["figures"]["figure1_samples"],
    script:
        "../scripts/figure1.py"
