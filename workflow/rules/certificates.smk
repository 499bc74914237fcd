rule certificates:
    input:
        votes=VOTES.output,
    output:
        certificates=CERTIFICATES.output,
    log:
        CERTIFICATES.log,
    benchmark:
        CERTIFICATES.benchmark
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=2000,
    params:
        alpha=scheme_value("alpha"),
        predict_from=scheme_value("predict_from"),
    script:
        "../scripts/certificates.py"
