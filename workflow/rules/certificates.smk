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
        alpha=config["table1"]["alpha"],
    script:
        "../scripts/certificates.py"
