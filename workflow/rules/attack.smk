# Table 2, Figures 3 and 5: Foolbox's Pointwise attack on the smoothed classifier (k = attack.k)
# and on the unprotected CNN (k = attack.baseline_k = d: no pixel ablated, so its smoothed
# classifier is the plain CNN).


rule attack_shard:
    input:
        mnist_files("test"),
        model=f"{MODEL_DIR}/model.pt",
    output:
        attack=ATTACK_SHARD,
    log:
        f"logs/{ATTACK_DIR}/shard-{{shard}}-of-{{shards}}.log",
    benchmark:
        f"logs/benchmarks/{ATTACK_DIR}/shard-{{shard}}-of-{{shards}}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: config["compute"]["attack"]["threads"]
    resources:
        gpu=1,
        mem_mb=config["compute"]["attack"]["mem_mb"],
    params:
        checkpoint=f"{ATTACK_DIR}/shard-{{shard}}-of-{{shards}}.partial.npz",
        data=eval_data_params,
        positions=attack_shard_range,
        settings=attack_settings(),
        batch_size=config["attack"]["batch_size"],
        precision=config["attack"]["precision"],
        seed=config["seed"],
        lock_dir=config["compute"]["gpu_lock_dir"],
        jobs_per_gpu=config["compute"]["jobs_per_gpu"],
    script:
        "../scripts/attack_shard.py"


rule attack_gather:
    input:
        shards=shard_files(ATTACK_SHARD, config["attack"]["shards"]),
        certificates=attack_certificates,
    output:
        attack=f"{ATTACK_DIR}/attack.npz",
        table=f"{ATTACK_DIR}/attack.csv",
    log:
        f"logs/{ATTACK_DIR}/gather.log",
    benchmark:
        f"logs/benchmarks/{ATTACK_DIR}/gather.tsv"
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=2000,
    script:
        "../scripts/attack_gather.py"


rule table2:
    input:
        unpack(table2_smoothed_inputs),
        baseline=attack_file(f"{ATTACK_DIR}/attack.csv", config["attack"]["baseline_k"]),
        paper=PAPER_TABLE2,
    output:
        table=report(
            TABLE2,
            caption="../report/table2.rst",
            category="Table 2: Pointwise attack on MNIST",
            labels={"table": "Table 2", "scale": config["scale"]},
        ),
        cells=result("tables/table2.cells.csv"),
    log:
        log_of("tables/table2.log"),
    benchmark:
        benchmark_of("tables/table2.tsv")
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=2000,
    params:
        k=config["attack"]["k"],
        baseline_k=config["attack"]["baseline_k"],
        settings=attack_settings(),
        scale=config["scale"],
    script:
        "../scripts/attack_table2.py"


rule attack_soundness:
    input:
        smoothed=attack_file(f"{ATTACK_DIR}/attack.csv", config["attack"]["k"]),
    output:
        table=report(
            ATTACK_SOUNDNESS,
            caption="../report/attack_soundness.rst",
            category="Table 2: Pointwise attack on MNIST",
            labels={"table": "attack vs certificate", "scale": config["scale"]},
        ),
    log:
        log_of("tables/attack_soundness.log"),
    benchmark:
        benchmark_of("tables/attack_soundness.tsv")
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=2000,
    params:
        alpha=config["attack"]["alpha"],
    script:
        "../scripts/attack_soundness.py"


rule figure3:
    input:
        attack=attack_file(f"{ATTACK_DIR}/attack.npz", config["attack"]["k"]),
    output:
        figure=report(
            FIGURE3,
            caption="../report/figure3.rst",
            category="Table 2: Pointwise attack on MNIST",
            labels={"figure": "Figure 3", "scale": config["scale"]},
        ),
    log:
        log_of("figures/figure3.log"),
    benchmark:
        benchmark_of("figures/figure3.tsv")
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=2000,
    params:
        skip=0,
        examples=config["attack"]["figure3_examples"],
        figure="Figure 3",
        k=config["attack"]["k"],
        n_query=config["attack"]["n_query"],
        scale=config["scale"],
    script:
        "../scripts/attack_figure.py"


rule figure5:
    input:
        attack=attack_file(f"{ATTACK_DIR}/attack.npz", config["attack"]["k"]),
    output:
        figure=report(
            FIGURE5,
            caption="../report/figure5.rst",
            category="Table 2: Pointwise attack on MNIST",
            labels={"figure": "Figure 5", "scale": config["scale"]},
        ),
    log:
        log_of("figures/figure5.log"),
    benchmark:
        benchmark_of("figures/figure5.tsv")
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=2000,
    params:
        skip=config["attack"]["figure3_examples"],
        examples=config["attack"]["figure5_examples"],
        figure="Figure 5",
        k=config["attack"]["k"],
        n_query=config["attack"]["n_query"],
        scale=config["scale"],
    script:
        "../scripts/attack_figure.py"
