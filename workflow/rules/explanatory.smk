# Figures 2 and 4 and the Discussion's numbers: computed, no training needed.
DISCUSSION = paths(layout.DISCUSSION)


rule figure2:
    output:
        figure=reported(
            FIGURES[2].output,
            "figure2",
            "Explanatory figures and numbers",
            scale=False,
            figure="Figure 2: delta against rho",
        ),
    log:
        FIGURES[2].log,
    benchmark:
        FIGURES[2].benchmark
    conda:
        "../envs/analysis.yaml"
    threads: job_threads("light")
    resources:
        **job_resources("light"),
    params:
        k=config["figures"]["figure2_k"],
    script:
        "../scripts/figure2.py"


rule figure4:
    input:
        mnist_files(),
    output:
        figure=reported(
            FIGURES[4].output,
            "figure4",
            "Explanatory figures and numbers",
            scale=False,
            figure="Figure 4: encodings of NULL",
        ),
    log:
        FIGURES[4].log,
    benchmark:
        FIGURES[4].benchmark
    conda:
        "../envs/torch.yaml"
    threads: job_threads("light")
    resources:
        **job_resources("light"),
    params:
        **MNIST_FIGURE[4],
    script:
        "../scripts/figure4.py"


rule discussion:
    input:
        paper=PAPER_DISCUSSION,
    output:
        table=reported(
            DISCUSSION.output,
            "discussion",
            "Explanatory figures and numbers",
            scale=False,
            table="Discussion: information and one-pixel limits",
        ),
        cells=DISCUSSION.cells,
    log:
        DISCUSSION.log,
    benchmark:
        DISCUSSION.benchmark
    conda:
        "../envs/analysis.yaml"
    threads: job_threads("light")
    resources:
        **job_resources("light"),
    script:
        "../scripts/discussion.py"
