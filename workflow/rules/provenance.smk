rule provenance:
    output:
        provenance=report(
            PROVENANCE,
            caption="../report/provenance.rst",
            category="Provenance",
            labels={"file": "provenance.yaml", "scale": config["scale"]},
        ),
    log:
        log_of("provenance.log"),
    benchmark:
        benchmark_of("provenance.tsv")
    conda:
        "../envs/torch.yaml"
    resources:
        mem_mb=1000,
    params:
        config=config,
        repo=str(REPO),
    script:
        "../scripts/provenance.py"
