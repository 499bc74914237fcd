# Beyond the paper: Corollary 1, Corollary 2, top-2 and top-3 certificates from the same votes.
COMPARED = paths(f"tables/{layout.CERTIFICATES_COMPARED}")
FIGURE_COMPARED = paths(f"figures/{layout.CERTIFICATES_COMPARED}", ".png")


rule certificates_compared:
    input:
        votes=lambda wildcards: table_files(VOTES.output, wildcards.dataset),
    output:
        table=reported(
            COMPARED.output,
            "certificates_compared",
            "Certificates compared",
            subcategory="{dataset}",
            table="certified accuracy under four certificates, {dataset}",
        ),
    log:
        COMPARED.log,
    benchmark:
        COMPARED.benchmark
    conda:
        "../envs/analysis.yaml"
    threads: job_threads("light")
    resources:
        **job_resources("light"),
    params:
        k=section_value("k"),
        alpha=section_value("alpha"),
    script:
        "../scripts/certificates_compared.py"


rule figure_certificates_compared:
    input:
        table=COMPARED.output,
    output:
        figure=reported(
            FIGURE_COMPARED.output,
            "certificates_compared",
            "Certificates compared",
            subcategory="{dataset}",
            figure="certified accuracy under four certificates, {dataset}",
        ),
    log:
        FIGURE_COMPARED.log,
    benchmark:
        FIGURE_COMPARED.benchmark
    conda:
        "../envs/analysis.yaml"
    threads: job_threads("light")
    resources:
        **job_resources("light"),
    params:
        **DATASET_FIGURE,
        alpha=section_value("alpha"),
    script:
        "../scripts/figure_certificates_compared.py"
