rule votes_shard:
    input:
        mnist_files("test"),
        model=f"{MODEL_DIR}/model.pt",
    output:
        votes=f"{VOTES_DIR}/shard-{{shard}}-of-{{shards}}.npz",
    log:
        f"logs/{VOTES_DIR}/shard-{{shard}}-of-{{shards}}.log",
    benchmark:
        f"logs/benchmarks/{VOTES_DIR}/shard-{{shard}}-of-{{shards}}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: config["compute"]["votes"]["threads"]
    resources:
        gpu=1,
        mem_mb=config["compute"]["votes"]["mem_mb"],
    params:
        checkpoint=f"{VOTES_DIR}/shard-{{shard}}-of-{{shards}}.partial.npz",
        data_dir=lambda wildcards, input: os.path.dirname(input[0]),
        positions=shard_range,
        stages={
            "select": config["table1"]["n0"],
            "bound": config["table1"]["n"],
            "predict": config["table1"]["n_predict"],
        },
        batch_size=config["table1"]["batch_size"],
        precision=config["table1"]["precision"],
        seed=config["seed"],
        lock_dir=config["compute"]["gpu_lock_dir"],
    script:
        "../scripts/votes_shard.py"


rule votes_gather:
    input:
        vote_shards,
    output:
        votes=f"{VOTES_DIR}/votes.npz",
    log:
        f"logs/{VOTES_DIR}/gather.log",
    benchmark:
        f"logs/benchmarks/{VOTES_DIR}/gather.tsv"
    conda:
        "../../envs/analysis.yaml"
    resources:
        mem_mb=2000,
    script:
        "../scripts/votes_gather.py"
