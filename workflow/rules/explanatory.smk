# Figures 2 and 4 and the Discussion's numbers: computed, no training needed.


rule figure2:
    output:
        figure=report(
            FIGURE2,
            caption="../report/figure2.rst",
            category="Explanatory figures and numbers",
            labels={"figure": "Figure 2: delta against rho"},
        ),
    log:
        log_of("figures/figure2.log"),
    benchmark:
        benchmark_of("figures/figure2.tsv")
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=1000,
    params:
        k=config["figures"]["figure2_k"],
    script:
        "../scripts/figure2.py"


rule figure4:
    input:
        mnist_files(),
    output:
        figure=report(
            FIGURE4,
            caption="../report/figure4.rst",
            category="Explanatory figures and numbers",
            labels={"figure": "Figure 4: encodings of NULL"},
        ),
    log:
        log_of("figures/figure4.log"),
    benchmark:
        benchmark_of("figures/figure4.tsv")
    conda:
        "../envs/torch.yaml"
    resources:
        mem_mb=2000,
    params:
        data_dir=lambda wildcards, input: os.path.dirname(input[0]),
        k=config["figures"]["figure4_k"],
        image=config["figures"]["figure4_image"],
        seed=config["seed"],
    script:
        "../scripts/figure4.py"


rule discussion:
    input:
        paper=PAPER_DISCUSSION,
    output:
        table=report(
            DISCUSSION,
            caption="../report/discussion.rst",
            category="Explanatory figures and numbers",
            labels={"table": "Discussion: information and one-pixel limits"},
        ),
        cells=result("tables/discussion.cells.csv"),
    log:
        log_of("tables/discussion.log"),
    benchmark:
        benchmark_of("tables/discussion.tsv")
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=1000,
    script:
        "../scripts/discussion.py"
