rule certificates:
    input:
        votes=f"{VOTES_DIR}/votes.npz",
    output:
        certificates=CERTIFICATES,
    log:
        "logs/results/certificates/{dataset}/{encoding}/{arch}/k{k}.log",
    benchmark:
        "logs/benchmarks/results/certificates/{dataset}/{encoding}/{arch}/k{k}.tsv"
    conda:
        "../../envs/analysis.yaml"
    resources:
        mem_mb=2000,
    params:
        alpha=lambda wildcards: section(wildcards.dataset)["alpha"],
    script:
        "../scripts/certificates.py"


use rule certificates as certificates_lee with:
    input:
        votes=f"{LEE_VOTES_DIR}/votes.npz",
    output:
        certificates=LEE_CERTIFICATES,
    log:
        "logs/results/certificates/{dataset}/{encoding}/{arch}/k{k}-lee.log",
    benchmark:
        "logs/benchmarks/results/certificates/{dataset}/{encoding}/{arch}/k{k}-lee.tsv"
    params:
        alpha=config["table7"]["alpha"],
