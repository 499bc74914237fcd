rule table1:
    input:
        certificates=table1_files(CERTIFICATES),
        paper=PAPER_TABLE1,
        provenance=PROVENANCE,
    output:
        table=report(
            TABLE1,
            caption="../../report/table1.rst",
            category="Table 1: MNIST certificates",
            labels={"table": "Table 1", "scale": config["scale"]},
        ),
    log:
        "logs/results/tables/table1.log",
    benchmark:
        "logs/benchmarks/results/tables/table1.tsv"
    conda:
        "../../envs/analysis.yaml"
    resources:
        mem_mb=2000,
    params:
        k=config["table1"]["k"],
        alpha=config["table1"]["alpha"],
        scale=config["scale"],
        training=config["training"]["mnist"],
    script:
        "../scripts/table1.py"
