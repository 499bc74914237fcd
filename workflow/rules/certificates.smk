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
    threads: job_threads("light")
    resources:
        **job_resources("light"),
    params:
        alpha=scheme_value("alpha"),
        predict_from=scheme_value("predict_from"),
    script:
        "../scripts/certificates.py"
