rule certificates:
    input:
        votes=f"{VOTES_DIR}/votes.npz",
    output:
        certificates=CERTIFICATES,
    log:
        log_of("certificates/{dataset}/{encoding}/{arch}/k{k}.log"),
    benchmark:
        benchmark_of("certificates/{dataset}/{encoding}/{arch}/k{k}.tsv")
    conda:
        "../../envs/analysis.yaml"
    resources:
        mem_mb=2000,
    params:
        alpha=lambda wildcards: section(wildcards.dataset)["alpha"],
        predict_from=lambda wildcards: prediction_stage(wildcards.dataset),
    script:
        "../scripts/certificates.py"


use rule certificates as certificates_lee with:
    input:
        votes=f"{LEE_VOTES_DIR}/votes.npz",
    output:
        certificates=LEE_CERTIFICATES,
    log:
        log_of("certificates/{dataset}/{encoding}/{arch}/k{k}-lee.log"),
    benchmark:
        benchmark_of("certificates/{dataset}/{encoding}/{arch}/k{k}-lee.tsv")
    params:
        alpha=config["table7"]["alpha"],
        predict_from=None,
