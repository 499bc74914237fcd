# Tables 1, 3 and 6: certificates per k (MNIST, CIFAR-10, ImageNet). Tables 4 and 5: the
# base classifiers on CIFAR-10. Table 7: Lee et al.'s sampling. Table 8: the NULL encodings.


rule table1:
    input:
        certificates=table_files(CERTIFICATES, "mnist"),
        paper=PAPER_TABLE1,
    output:
        table=report(
            TABLE1,
            caption="../report/table1.rst",
            category="Table 1: MNIST certificates",
            labels={"table": "Table 1", "scale": config["scale"]},
        ),
        cells=result("tables/table1.cells.csv"),
    log:
        log_of("tables/table1.log"),
    benchmark:
        benchmark_of("tables/table1.tsv")
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=2000,
    params:
        k=config["table1"]["k"],
        alpha=config["table1"]["alpha"],
        scale=config["scale"],
    script:
        "../scripts/certificate_summary.py"


use rule table1 as table3 with:
    input:
        certificates=table_files(CERTIFICATES, "cifar10"),
        paper=PAPER_TABLES[3],
    output:
        table=report(
            TABLE.format(number=3),
            caption="../report/table3.rst",
            category="Table 3: CIFAR-10 certificates",
            labels={"table": "Table 3", "scale": config["scale"]},
        ),
        cells=result("tables/table3.cells.csv"),
    log:
        log_of("tables/table3.log"),
    benchmark:
        benchmark_of("tables/table3.tsv")
    params:
        k=config["table3"]["k"],
        alpha=config["table3"]["alpha"],
        scale=config["scale"],


use rule table1 as table6 with:
    input:
        certificates=table_files(CERTIFICATES, "imagenet"),
        paper=PAPER_TABLES[6],
    output:
        table=report(
            TABLE.format(number=6),
            caption="../report/table6.rst",
            category="Table 6: ImageNet certificates",
            labels={"table": "Table 6", "scale": config["scale"]},
        ),
        cells=result("tables/table6.cells.csv"),
    log:
        log_of("tables/table6.log"),
    benchmark:
        benchmark_of("tables/table6.tsv")
    params:
        k=config["table6"]["k"],
        alpha=config["table6"]["alpha"],
        scale=config["scale"],


rule table4:
    input:
        accuracy=model_files(
            BASE_ACCURACY, "cifar10", config["base_accuracy"]["k"], arch="resnet18"
        ),
        paper=PAPER_TABLES[4],
    output:
        table=report(
            TABLE.format(number=4),
            caption="../report/table45.rst",
            category="Tables 4 and 5: CIFAR-10 base classifiers",
            labels={"table": "Table 4 (ResNet18)", "scale": config["scale"]},
        ),
        cells=result("tables/table4.cells.csv"),
    log:
        log_of("tables/table4.log"),
    benchmark:
        benchmark_of("tables/table4.tsv")
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=1000,
    params:
        k=config["base_accuracy"]["k"],
        scale=config["scale"],
    script:
        "../scripts/table_base_accuracy.py"


use rule table4 as table5 with:
    input:
        accuracy=model_files(
            BASE_ACCURACY, "cifar10", config["base_accuracy"]["k"], arch="resnet50"
        ),
        paper=PAPER_TABLES[5],
    output:
        table=report(
            TABLE.format(number=5),
            caption="../report/table45.rst",
            category="Tables 4 and 5: CIFAR-10 base classifiers",
            labels={"table": "Table 5 (ResNet50)", "scale": config["scale"]},
        ),
        cells=result("tables/table5.cells.csv"),
    log:
        log_of("tables/table5.log"),
    benchmark:
        benchmark_of("tables/table5.tsv")


rule table7:
    input:
        lee=[
            model_files(CERTIFICATES, d, config["table7"][f"{d}_k"], sampling="lee")
            for d in ("mnist", "imagenet")
        ],
        standard=[
            model_files(CERTIFICATES, d, config["table7"][f"{d}_k"])
            for d in ("mnist", "imagenet")
        ],
        paper=PAPER_TABLES[7],
    output:
        table=report(
            TABLE.format(number=7),
            caption="../report/table7.rst",
            category="Table 7: comparison with Lee et al.",
            labels={"table": "Table 7", "scale": config["scale"]},
        ),
        cells=result("tables/table7.cells.csv"),
    log:
        log_of("tables/table7.log"),
    benchmark:
        benchmark_of("tables/table7.tsv")
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=1000,
    params:
        datasets=["MNIST", "ImageNet"],
        k=[config["table7"]["mnist_k"], config["table7"]["imagenet_k"]],
        scale=config["scale"],
    script:
        "../scripts/table7.py"


rule table8:
    input:
        certificates=[
            model_files(CERTIFICATES, dataset, k, encoding=encoding)
            for dataset, k, encoding in table8_rows()
        ],
        paper=PAPER_TABLES[8],
    output:
        table=report(
            TABLE.format(number=8),
            caption="../report/table8.rst",
            category="Table 8: NULL encodings",
            labels={"table": "Table 8", "scale": config["scale"]},
        ),
        cells=result("tables/table8.cells.csv"),
    log:
        log_of("tables/table8.log"),
    benchmark:
        benchmark_of("tables/table8.tsv")
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=1000,
    params:
        rows=[
            [DATASETS[dataset].title, k, encoding]
            for dataset, k, encoding in table8_rows()
        ],
        scale=config["scale"],
    script:
        "../scripts/table8.py"


rule discussion_imagenet:
    input:
        certificates=table_files(CERTIFICATES, "imagenet"),
        paper=PAPER_DISCUSSION,
    output:
        table=report(
            DISCUSSION_IMAGENET,
            caption="../report/discussion_imagenet.rst",
            category="Table 6: ImageNet certificates",
            labels={"table": "Discussion: ImageNet medians", "scale": config["scale"]},
        ),
        cells=result("tables/discussion_imagenet.cells.csv"),
    log:
        log_of("tables/discussion_imagenet.log"),
    benchmark:
        benchmark_of("tables/discussion_imagenet.tsv")
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=1000,
    params:
        k=config["table6"]["k"],
    script:
        "../scripts/discussion_imagenet.py"


rule reproduction:
    input:
        # each table's cells, written beside it
        cells=lambda wildcards: [
            table.removesuffix(".csv") + ".cells.csv"
            for table in built_tables().values()
        ],
    output:
        table=report(
            REPRODUCTION,
            caption="../report/reproduction.rst",
            category="1. Reproduction scorecard",
            labels={"table": "every number of the paper beside ours"},
        ),
    log:
        log_of("tables/reproduction.log"),
    benchmark:
        benchmark_of("tables/reproduction.tsv")
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=1000,
    params:
        tolerance=config["scorecard"],
        scale=config["scale"],
    script:
        "../scripts/reproduction.py"


# The reference run's results as checked in (profiles/reference; README, "Reproduced at the
# paper's settings"): Table 1's and Table 8's MNIST rows with 95% intervals beside the paper's.
rule reference_export:
    input:
        certificates=[
            model_files(CERTIFICATES, "mnist", config["table8"]["mnist_k"], encoding=e)
            for e in ("multichannel", "mean")
        ],
        models=[
            model_files(
                f"{MODEL_DIR}/model.pt",
                "mnist",
                config["table8"]["mnist_k"],
                encoding=e,
            )
            for e in ("multichannel", "mean")
        ],
        table1=TABLE1,
        table8=TABLE.format(number=8),
        # the paper's values of the exported rows
        cells=[result("tables/table1.cells.csv"), result("tables/table8.cells.csv")],
        scorecard=REPRODUCTION,
        provenance=PROVENANCE,
    output:
        REFERENCE_FILES,
    log:
        "logs/reference/export.log",
    benchmark:
        "logs/benchmarks/reference/export.tsv"
    conda:
        "../envs/torch.yaml"
    resources:
        mem_mb=2000,
    params:
        out_dir=lambda wildcards, output: os.path.dirname(output[0]),
        k=config["table8"]["mnist_k"],
        confidence=config["scorecard"]["confidence"],
    script:
        "../scripts/reference_export.py"


# The reference run's Table 2 as checked in: the unprotected CNN attacked at the paper's attack
# settings, and the smoothed classifier where attack.smoothed is on (off in the profile: see its
# departures; profiles/reference/smoothed.yaml turns it on).
rule reference_table2:
    input:
        unpack(smoothed_attack_input),
        table2=TABLE2,
        attack=attack_file(f"{ATTACK_DIR}/attack.csv", config["attack"]["baseline_k"]),
        model=attack_file(f"{MODEL_DIR}/model.pt", config["attack"]["baseline_k"]),
        paper=PAPER_TABLE2,
    output:
        REFERENCE_TABLE2_FILES,
    log:
        "logs/reference/table2.log",
    benchmark:
        "logs/benchmarks/reference/table2.tsv"
    conda:
        "../envs/torch.yaml"
    resources:
        mem_mb=2000,
    params:
        out_dir=lambda wildcards, output: os.path.dirname(output[0]),
        k=config["attack"]["k"],
        baseline_k=config["attack"]["baseline_k"],
        confidence=config["scorecard"]["confidence"],
    script:
        "../scripts/reference_table2.py"
