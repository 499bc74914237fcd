rule provenance:
    output:
        provenance=report(
            PROVENANCE.output,
            caption="../report/provenance.rst",
            category="Provenance",
            labels={"file": "provenance.yaml", "scale": config["scale"]},
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
