# Tables 1, 3 and 6: certificates per k (MNIST, CIFAR-10, ImageNet). Tables 4 and 5: the
# base classifiers on CIFAR-10. Table 7: Lee et al.'s sampling. Table 8: the NULL encodings.
DISCUSSION_IMAGENET = paths(layout.DISCUSSION_IMAGENET)


# Tables 1 and 3 to 8, one rule each (table<number>). What differs between them: their inputs,
# their place in the report (caption, category, label), their params and their script (the
# keys files, entry, values and code, named apart from Snakemake's directives).
TABLE_JOBS = {
    **{  # Tables 1, 3 and 6: a data set's certificates per k
        number: dict(
            files=dict(certificates=table_files(CERTIFICATES.output, dataset)),
            entry=(
                f"table{number}",
                f"Table {number}: {DATASETS[dataset].title} certificates",
                f"Table {number}",
            ),
            values=dict(k=section(dataset)["k"], alpha=section(dataset)["alpha"]),
            code="certificate_summary.py",
        )
        for dataset, number in layout.CERTIFICATE_TABLES.items()
    },
    **{  # Tables 4 and 5: the CIFAR-10 base classifiers of one architecture
        number: dict(
            files=dict(
                accuracy=model_files(
                    BASE_ACCURACY.output,
                    "cifar10",
                    config["base_accuracy"]["k"],
                    arch=arch,
                )
            ),
            entry=(
                "table45",
                "Tables 4 and 5: CIFAR-10 base classifiers",
                f"Table {number} ({arch_name})",
            ),
            values=dict(k=config["base_accuracy"]["k"]),
            code="table_base_accuracy.py",
        )
        for number, (arch, arch_name) in layout.BASE_ACCURACY_TABLES.items()
    },
    7: dict(  # Lee et al.'s sampling beside the standard one
        files=dict(
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
        ),
        entry=("table7", "Table 7: comparison with Lee et al.", "Table 7"),
        values=dict(
            datasets=["MNIST", "ImageNet"],
            k=[config["table7"]["mnist_k"], config["table7"]["imagenet_k"]],
        ),
        code="table7.py",
    ),
    8: dict(  # the NULL encodings
        files=dict(
            certificates=[
                model_files(CERTIFICATES.output, dataset, k, encoding=encoding)
                for dataset, k, encoding in layout.table8_rows(config)
            ]
        ),
        entry=("table8", "Table 8: NULL encodings", "Table 8"),
        values=dict(
            rows=[
                [DATASETS[dataset].title, k, encoding]
                for dataset, k, encoding in layout.table8_rows(config)
            ]
        ),
        code="table8.py",
    ),
}

for number, job in TABLE_JOBS.items():
    caption, category, label = job["entry"]

    rule:
        name:
            f"table{number}"
        input:
            **job["files"],
            paper=PAPER_TABLES[number],
        output:
            table=reported(TABLES[number].output, caption, category, table=label),
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
            **job["values"],
            scale=config["scale"],
            code=job["code"],  # the script: named by params, as a loop variable is late-bound
        script:
            "../scripts/{params.code}"


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
