# Tables 1, 3 and 6: certificates per k (MNIST, CIFAR-10, ImageNet). Tables 4 and 5: the
# base classifiers on CIFAR-10. Table 7: Lee et al.'s sampling. Table 8: the NULL encodings.
DISCUSSION_IMAGENET = paths(layout.DISCUSSION_IMAGENET)


# Tables 1, 3 and 6, one rule each (table<number>): a data set's certificates per k.
for dataset, number in layout.CERTIFICATE_TABLES.items():

    rule:
        name:
            f"table{number}"
        input:
            certificates=table_files(CERTIFICATES.output, dataset),
            paper=PAPER_TABLES[number],
        output:
            table=reported(
                TABLES[number].output,
                f"table{number}",
                f"Table {number}: {DATASETS[dataset].title} certificates",
                table=f"Table {number}",
            ),
            cells=TABLES[number].cells,
        log:
            TABLES[number].log,
        benchmark:
            TABLES[number].benchmark
        conda:
            "../envs/analysis.yaml"
        threads: job_threads("light")
        resources:
            **job_resources("light"),
        params:
            k=section(dataset)["k"],
            alpha=section(dataset)["alpha"],
            scale=config["scale"],
        script:
            "../scripts/certificate_summary.py"


# Tables 4 and 5, one rule each: the CIFAR-10 base classifiers of one architecture.
for number, (arch, arch_name) in layout.BASE_ACCURACY_TABLES.items():

    rule:
        name:
            f"table{number}"
        input:
            accuracy=model_files(
                BASE_ACCURACY.output,
                "cifar10",
                config["base_accuracy"]["k"],
                arch=arch,
            ),
            paper=PAPER_TABLES[number],
        output:
            table=reported(
                TABLES[number].output,
                "table45",
                "Tables 4 and 5: CIFAR-10 base classifiers",
                table=f"Table {number} ({arch_name})",
            ),
            cells=TABLES[number].cells,
        log:
            TABLES[number].log,
        benchmark:
            TABLES[number].benchmark
        conda:
            "../envs/analysis.yaml"
        threads: job_threads("light")
        resources:
            **job_resources("light"),
        params:
            k=config["base_accuracy"]["k"],
            scale=config["scale"],
        script:
            "../scripts/table_base_accuracy.py"


rule table7:
    input:
        lee=[
            model_files(
                CERTIFICATES.output, d, config["table7"][f"{d}_k"], sampling="lee"
            )
            for d in ("mnist", "imagenet")
        ],
        standard=[
            model_files(CERTIFICATES.output, d, config["table7"][f"{d}_k"])
            for d in ("mnist", "imagenet")
        ],
        paper=PAPER_TABLES[7],
    output:
        table=reported(
            TABLES[7].output,
            "table7",
            "Table 7: comparison with Lee et al.",
            table="Table 7",
        ),
        cells=TABLES[7].cells,
    log:
        TABLES[7].log,
    benchmark:
        TABLES[7].benchmark
    conda:
        "../envs/analysis.yaml"
    threads: job_threads("light")
    resources:
        **job_resources("light"),
    params:
        datasets=["MNIST", "ImageNet"],
        k=[config["table7"]["mnist_k"], config["table7"]["imagenet_k"]],
        scale=config["scale"],
    script:
        "../scripts/table7.py"


rule table8:
    input:
        certificates=[
            model_files(CERTIFICATES.output, dataset, k, encoding=encoding)
            for dataset, k, encoding in layout.table8_rows(config)
        ],
        paper=PAPER_TABLES[8],
    output:
        table=reported(
            TABLES[8].output, "table8", "Table 8: NULL encodings", table="Table 8"
        ),
        cells=TABLES[8].cells,
    log:
        TABLES[8].log,
    benchmark:
        TABLES[8].benchmark
    conda:
        "../envs/analysis.yaml"
    threads: job_threads("light")
    resources:
        **job_resources("light"),
    params:
        rows=[
            [DATASETS[dataset].title, k, encoding]
            for dataset, k, encoding in layout.table8_rows(config)
        ],
        scale=config["scale"],
    script:
        "../scripts/table8.py"


rule discussion_imagenet:
    input:
        certificates=table_files(CERTIFICATES.output, "imagenet"),
        paper=PAPER_DISCUSSION,
    output:
        table=reported(
            DISCUSSION_IMAGENET.output,
            "discussion_imagenet",
            "Table 6: ImageNet certificates",
            table="Discussion: ImageNet medians",
        ),
        cells=DISCUSSION_IMAGENET.cells,
    log:
        DISCUSSION_IMAGENET.log,
    benchmark:
        DISCUSSION_IMAGENET.benchmark
    conda:
        "../envs/analysis.yaml"
    threads: job_threads("light")
    resources:
        **job_resources("light"),
    params:
        k=config["table6"]["k"],
    script:
        "../scripts/discussion_imagenet.py"


rule reproduction:
    input:
        # each table's cells, written beside it
        cells=lambda wildcards: [
            layout.cells_file(table) for table in layout.built_tables(config).values()
        ],
    output:
        table=reported(
            REPRODUCTION.output,
            "reproduction",
            "1. Reproduction scorecard",
            scale=False,
            table="every number of the paper beside ours",
        ),
    log:
        REPRODUCTION.log,
    benchmark:
        REPRODUCTION.benchmark
    conda:
        "../envs/analysis.yaml"
    threads: job_threads("light")
    resources:
        **job_resources("light"),
    params:
        tolerance=config["scorecard"],
        scale=config["scale"],
    script:
        "../scripts/reproduction.py"


# The checked-in exports of runs: reference_export, the reference run's Table 1 and Table 8 rows
# at k = 45 (profiles/reference; README, "Reproduced at the paper's settings"), and
# reference_table1_export, all of Table 1's rows (profiles/gpu; README, "The paper's scale"). Each
# row's cells with 95% intervals beside the paper's, the scorecard of the copied tables' cells, and
# each model's per-image certificates and training history (layout.ReferenceExport).
for name, export in layout.reference_exports(config).items():

    rule:
        name:
            name
        input:
            certificates=[
                model_files(CERTIFICATES.output, "mnist", k, encoding=e)
                for k, e in export.models.values()
            ],
            models=[
                model_files(MODEL, "mnist", k, encoding=e)
                for k, e in export.models.values()
            ],
            tables=[TABLES[number].output for number in export.tables],
            # the paper's values of the exported rows
            cells=[TABLES[number].cells for number in export.tables],
            provenance=PROVENANCE.output,
        output:
            export.files,
        log:
            f"logs/{export.directory}.log",
        benchmark:
            f"logs/benchmarks/{export.directory}.tsv"
        conda:
            "../envs/torch.yaml"
        threads: job_threads("light")
        resources:
            **job_resources("light"),
        params:
            out_dir=output_dir,
            export=export,
            # its confidence sets the intervals' level
            tolerance=config["scorecard"],
            scale=config["scale"],
        script:
            "../scripts/reference_export.py"


# The reference run's Table 2 as checked in: the unprotected CNN attacked at the paper's attack
# settings, and the smoothed classifier where attack.smoothed is on (off in the profile: see its
# departures; profiles/reference/smoothed.yaml turns it on).
rule reference_table2:
    input:
        unpack(lambda wildcards: table2_smoothed_inputs(wildcards, certificates=False)),
        table2=TABLES[2].output,
        attack=attack_file(ATTACK.file(".csv"), config["attack"]["baseline_k"]),
        model=attack_file(MODEL, config["attack"]["baseline_k"]),
        paper=PAPER_TABLES[2],
    output:
        layout.reference_table2_files(config),
    log:
        "logs/reference/table2.log",
    benchmark:
        "logs/benchmarks/reference/table2.tsv"
    conda:
        "../envs/torch.yaml"
    threads: job_threads("light")
    resources:
        **job_resources("light"),
    params:
        out_dir=output_dir,
        k=config["attack"]["k"],
        baseline_k=config["attack"]["baseline_k"],
        confidence=config["scorecard"]["confidence"],
    script:
        "../scripts/reference_table2.py"
