# One model's votes under a sampling scheme (sampling_scheme): "standard", its table's, or "lee",
# Lee et al.'s for Table 7 (n0 = 100, n = 100,000), on the same images.
rule votes_shard:
    input:
        data_input("test"),
        model=f"{MODEL_DIR}/model.pt",
    output:
        votes=VOTE_SHARD,
    log:
        f"logs/{VOTES_DIR}/shard-{{shard}}-of-{{shards}}.log",
    benchmark:
        f"logs/benchmarks/{VOTES_DIR}/shard-{{shard}}-of-{{shards}}.tsv"
    conda:
        "../envs/torch.yaml"
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
        # each scheme's own random streams, none a prefix of another's (randablate.seeding)
        run=scheme_value("run"),
        lock_dir=config["compute"]["gpu_lock_dir"],
        jobs_per_gpu=config["compute"]["jobs_per_gpu"],
    script:
        "../scripts/votes_shard.py"


rule votes_gather:
    input:
        shard_files(VOTE_SHARD, scheme_value("shards")),
    output:
        votes=f"{VOTES_DIR}/votes.npz",
    log:
        f"logs/{VOTES_DIR}/gather.log",
    benchmark:
        f"logs/benchmarks/{VOTES_DIR}/gather.tsv"
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=2000,
    script:
        "../scripts/votes_gather.py"


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
        "../envs/torch.yaml"
    threads: config["compute"]["votes"]["threads"]
    resources:
        gpu=1,
        mem_mb=config["compute"]["votes"]["mem_mb"],
    params:
        data=data_params,
        num_images=config["base_accuracy"]["num_images"],
        samples=config["base_accuracy"]["samples"],
        batch_size=config["base_accuracy"]["batch_size"],
        precision=config["base_accuracy"]["precision"],
        seed=config["seed"],
        lock_dir=config["compute"]["gpu_lock_dir"],
        jobs_per_gpu=config["compute"]["jobs_per_gpu"],
    script:
        "../scripts/base_accuracy.py"
