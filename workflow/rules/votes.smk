# One model's votes under a sampling scheme (sampling_scheme): "standard", its table's, or "lee",
# Lee et al.'s for Table 7 (n0 = 100, n = 100,000), on the same images.
vote_settings = by_wildcards(layout.vote_settings, "dataset", "sampling")
VOTE_SHARD = paths(f"{layout.VOTES}/{layout.SHARD}", ".npz")


rule votes_shard:
    input:
        data_input("test"),
        model=MODEL,
    output:
        votes=VOTE_SHARD.output,
    log:
        VOTE_SHARD.log,
    benchmark:
        VOTE_SHARD.benchmark
    conda:
        "../envs/torch.yaml"
    threads: job_threads("votes")
    resources:
        **job_resources("votes"),
    params:
        **shard_job_params(VOTE_SHARD, shard_range),
        settings=vote_settings,
        seed=config["seed"],
        # each scheme's own random streams, none a prefix of another's (randablate.seeding)
        run=scheme_value("run"),
    script:
        "../scripts/votes_shard.py"


rule votes_gather:
    input:
        shard_files(VOTE_SHARD.output, scheme_value("shards")),
    output:
        votes=VOTES.output,
    log:
        VOTES.log,
    benchmark:
        VOTES.benchmark
    conda:
        "../envs/analysis.yaml"
    threads: job_threads("light")
    resources:
        **job_resources("light"),
    script:
        "../scripts/votes_gather.py"


rule base_accuracy:
    input:
        data_input("test"),
        model=MODEL,
    output:
        accuracy=BASE_ACCURACY.output,
    log:
        BASE_ACCURACY.log,
    benchmark:
        BASE_ACCURACY.benchmark
    conda:
        "../envs/torch.yaml"
    threads: job_threads("votes")
    resources:
        **job_resources("votes"),
    params:
        **GPU_LOCK,
        data=data_params,
        num_images=config["base_accuracy"]["num_images"],
        samples=config["base_accuracy"]["samples"],
        batch_size=config["base_accuracy"]["batch_size"],
        precision=config["base_accuracy"]["precision"],
        seed=config["seed"],
    script:
        "../scripts/base_accuracy.py"
