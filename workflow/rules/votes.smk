rule votes_shard:
    input:
        data_input("test"),
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
        data=eval_data_params,
        positions=shard_range,
        settings=vote_settings,
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


# Table 7: the same images counted again with Lee et al.'s sampling (n0 = 100, n = 100,000).
use rule votes_shard as votes_shard_lee with:
    output:
        votes=f"{LEE_VOTES_DIR}/shard-{{shard}}-of-{{shards}}.npz",
    log:
        f"logs/{LEE_VOTES_DIR}/shard-{{shard}}-of-{{shards}}.log",
    benchmark:
        f"logs/benchmarks/{LEE_VOTES_DIR}/shard-{{shard}}-of-{{shards}}.tsv"
    params:
        checkpoint=f"{LEE_VOTES_DIR}/shard-{{shard}}-of-{{shards}}.partial.npz",
        data=eval_data_params,
        positions=shard_range,
        settings=lee_vote_settings,
        seed=config["seed"],
        # its own random streams, not prefixes of the standard run's (randablate.seeding)
        run="lee",
        lock_dir=config["compute"]["gpu_lock_dir"],


use rule votes_gather as votes_gather_lee with:
    input:
        lee_vote_shards,
    output:
        votes=f"{LEE_VOTES_DIR}/votes.npz",
    log:
        f"logs/{LEE_VOTES_DIR}/gather.log",
    benchmark:
        f"logs/benchmarks/{LEE_VOTES_DIR}/gather.tsv"


rule base_accuracy:
    input:
        data_input("test"),
        model=f"{MODEL_DIR}/model.pt",
    output:
        accuracy=BASE_ACCURACY,
    log:
        log_of("base_accuracy/{dataset}/{encoding}/{arch}/k{k}.log"),
    benchmark:
        benchmark_of("base_accuracy/{dataset}/{encoding}/{arch}/k{k}.tsv")
    conda:
        "../../envs/torch.yaml"
    threads: config["compute"]["votes"]["threads"]
    resources:
        gpu=1,
        mem_mb=config["compute"]["votes"]["mem_mb"],
    params:
        data=data_params,
        num_images=config["base_accuracy"]["num_images"],
        samples=config["base_accuracy"]["samples"],
        batch_size=config["table3"]["batch_size"],
        precision=config["table3"]["precision"],
        seed=config["seed"],
        lock_dir=config["compute"]["gpu_lock_dir"],
    script:
        "../scripts/base_accuracy.py"
