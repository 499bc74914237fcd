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
    resources:
        mem_mb=1000,
    params:
        config=config,
        repo=str(REPO),
    script:
        "../scripts/provenance.py"
