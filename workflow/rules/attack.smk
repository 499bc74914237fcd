# Table 2, Figures 3 and 5: Foolbox's Pointwise attack on the smoothed classifier (k = attack.k)
# and on the unprotected CNN (k = attack.baseline_k = d: no pixel ablated, so its smoothed
# classifier is the plain CNN).
ATTACK_SHARD = paths(f"{layout.ATTACK}/{layout.SHARD}", ".npz")
TABLE2 = TABLES[2]
ATTACK_SOUNDNESS = paths(layout.ATTACK_SOUNDNESS)


rule attack_shard:
    input:
        mnist_files("test"),
        model=MODEL,
    output:
        attack=ATTACK_SHARD.output,
    log:
        ATTACK_SHARD.log,
    benchmark:
        ATTACK_SHARD.benchmark
    conda:
        "../envs/torch.yaml"
    threads: job_threads("attack")
    resources:
        **job_resources("attack"),
    params:
        **shard_job_params(ATTACK_SHARD, attack_shard_range),
        settings=layout.attack_settings(config),
        batch_size=config["attack"]["batch_size"],
        precision=config["attack"]["precision"],
        seed=config["seed"],
    script:
        "../scripts/attack_shard.py"


rule attack_gather:
    input:
        shards=shard_files(ATTACK_SHARD.output, config["attack"]["shards"]),
        # the attacked model's certificates (each image's radius); none when k = d
        certificates=lambda wildcards: (
            CERTIFICATES.output.format(**wildcards, sampling="standard")
            if int(wildcards.k) < DATASETS["mnist"].d
            else []
        ),
    output:
        attack=ATTACK.output,
        table=ATTACK.file(".csv"),
    log:
        ATTACK.log,
    benchmark:
        ATTACK.benchmark
    conda:
        "../envs/analysis.yaml"
    threads: job_threads("light")
    resources:
        **job_resources("light"),
    script:
        "../scripts/attack_gather.py"


rule table2:
    input:
        unpack(table2_smoothed_inputs),
        baseline=attack_file(ATTACK.file(".csv"), config["attack"]["baseline_k"]),
        paper=PAPER_TABLES[2],
    output:
        table=reported(
            TABLE2.output,
            "table2",
            "Table 2: Pointwise attack on MNIST",
            table="Table 2",
        ),
        cells=TABLE2.cells,
    log:
        TABLE2.log,
    benchmark:
        TABLE2.benchmark
    conda:
        "../envs/analysis.yaml"
    threads: job_threads("light")
    resources:
        **job_resources("light"),
    params:
        k=config["attack"]["k"],
        baseline_k=config["attack"]["baseline_k"],
        settings=layout.attack_settings(config),
        scale=config["scale"],
    script:
        "../scripts/attack_table2.py"


rule attack_soundness:
    input:
        smoothed=attack_file(ATTACK.file(".csv"), config["attack"]["k"]),
    output:
        table=reported(
            ATTACK_SOUNDNESS.output,
            "attack_soundness",
            "Table 2: Pointwise attack on MNIST",
            table="attack vs certificate",
        ),
    log:
        ATTACK_SOUNDNESS.log,
    benchmark:
        ATTACK_SOUNDNESS.benchmark
    conda:
        "../envs/analysis.yaml"
    threads: job_threads("light")
    resources:
        **job_resources("light"),
    params:
        alpha=config["attack"]["alpha"],
    script:
        "../scripts/attack_soundness.py"


# Figures 3 and 5, one rule each (figure<number>): attacked images, Figure 5's after Figure 3's.
for number in (3, 5):
    skip, examples = layout.attack_figure_images(config, number)

    rule:
        name:
            f"figure{number}"
        input:
            attack=attack_file(ATTACK.output, config["attack"]["k"]),
        output:
            figure=reported(
                FIGURES[number].output,
                f"figure{number}",
                "Table 2: Pointwise attack on MNIST",
                figure=f"Figure {number}",
            ),
        log:
            FIGURES[number].log,
        benchmark:
            FIGURES[number].benchmark
        conda:
            "../envs/analysis.yaml"
        threads: job_threads("light")
        resources:
            **job_resources("light"),
        params:
            skip=skip,
            examples=examples,
            figure=f"Figure {number}",
            k=config["attack"]["k"],
            n_query=config["attack"]["n_query"],
            scale=config["scale"],
        script:
            "../scripts/attack_figure.py"
