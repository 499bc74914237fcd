rule certificates:
    input:
        votes=f"{VOTES_DIR}/votes.npz",
    output:
        certificates=CERTIFICATES,
    log:
        log_of("certificates/{dataset}/{encoding}/{arch}/k{k}/{sampling}.log"),
    benchmark:
        benchmark_of("certificates/{dataset}/{encoding}/{arch}/k{k}/{sampling}.tsv")
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=2000,
    params:
        alpha=scheme_value("alpha"),
        predict_from=scheme_value("predict_from"),
    script:
        "../scripts/certificates.py"
