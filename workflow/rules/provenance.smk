rule provenance:
    output:
        provenance=reported(
            PROVENANCE.output, "provenance", "Provenance", file="provenance.yaml"
        ),
    log:
        PROVENANCE.log,
    benchmark:
        PROVENANCE.benchmark
    conda:
        "../envs/torch.yaml"
    threads: job_threads("light")
    resources:
        **job_resources("light"),
    params:
        config=config,
        repo=str(REPO),
    script:
        "../scripts/provenance.py"
