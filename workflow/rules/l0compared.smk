# Beyond the paper, part two: feature partition aggregation (Hammoudeh & Lowd, AAAI 2024) certified
# on Table 1's test images beside randomized ablation (Corollaries 1 and 2, top-k, Lee et al.).
L0_COMPARED = paths(f"tables/{layout.L0_COMPARED}")
FPA_DIR = result(layout.FPA)
FPA_VOTES = paths(f"{layout.FPA}/votes", ".npz")
PAPER_FPA = REPO / "resources" / "fpa" / "hammoudeh_lowd_2024_mnist.csv"
FPA_TRAIN = paths(f"{layout.FPA}/ensemble", ".pt", job="train")
FIGURE_L0_COMPARED = paths(f"figures/{layout.L0_COMPARED}", ".png")


rule fpa_train:
    input:
        data_input("train"),
    output:
        model=FPA_TRAIN.output,
    log:
        FPA_TRAIN.log,
    benchmark:
        FPA_TRAIN.benchmark
    conda:
        "../envs/torch.yaml"
    threads: job_threads("train")
    resources:
        **job_resources("train"),
    params:
        **GPU_LOCK,
        checkpoints=f"{FPA_DIR}/checkpoints",
        data=data_params,
        order=config["fpa"]["order"],
        training=config["fpa"]["training"],
        seed=config["seed"],
        repo=str(REPO),
    script:
        "../scripts/fpa_train.py"


rule fpa_votes:
    input:
        data_input("test"),
        model=FPA_TRAIN.output,
    output:
        votes=FPA_VOTES.output,
    log:
        FPA_VOTES.log,
    benchmark:
        FPA_VOTES.benchmark
    conda:
        "../envs/torch.yaml"
    threads: job_threads("votes")
    resources:
        **job_resources("votes"),
    params:
        **GPU_LOCK,
        data=eval_data_params,
        batch_size=config["fpa"]["batch_size"],
        precision=config["fpa"]["precision"],
    script:
        "../scripts/fpa_votes.py"


rule l0_certificates_compared:
    input:
        standard=model_files(VOTES.output, "mnist", config["fpa"]["compare_k"]),
        lee=model_files(
            VOTES.output, "mnist", config["table7"]["mnist_k"], sampling="lee"
        ),
        fpa=layout.fpa_paths(config, FPA_VOTES.output),
        paper=PAPER_FPA,
    output:
        table=reported(
            L0_COMPARED.output,
            "l0_certificates_compared",
            "Certificates compared",
            subcategory="L0: randomized ablation and feature partition aggregation",
            table="median, certified accuracy at rho = 0 and cost, mnist",
        ),
        curves=reported(
            L0_COMPARED.file("_curves.csv"),
            "l0_certificates_compared",
            "Certificates compared",
            subcategory="L0: randomized ablation and feature partition aggregation",
            table="certified accuracy against rho, mnist",
        ),
    log:
        L0_COMPARED.log,
    benchmark:
        L0_COMPARED.benchmark
    conda:
        "../envs/analysis.yaml"
    threads: job_threads("light")
    resources:
        **job_resources("light"),
    params:
        k=config["fpa"]["compare_k"],
        lee_k=config["table7"]["mnist_k"],
        groups=config["fpa"]["groups"],
        alpha=config["table1"]["alpha"],
        lee_alpha=config["table7"]["alpha"],
        # read, not required: wall seconds of the jobs that counted the votes
        standard_benchmarks=[
            layout.vote_benchmarks(config, "standard", k)
            for k in config["fpa"]["compare_k"]
        ],
        lee_benchmarks=layout.vote_benchmarks(
            config, "lee", config["table7"]["mnist_k"]
        ),
        fpa_benchmarks=layout.fpa_paths(config, FPA_VOTES.benchmark),
    script:
        "../scripts/l0_certificates_compared.py"


rule figure_l0_certificates_compared:
    input:
        table=L0_COMPARED.output,
        curves=L0_COMPARED.file("_curves.csv"),
    output:
        figure=reported(
            FIGURE_L0_COMPARED.output,
            "l0_certificates_compared",
            "Certificates compared",
            subcategory="L0: randomized ablation and feature partition aggregation",
            figure="certified accuracy against rho, mnist",
        ),
    log:
        FIGURE_L0_COMPARED.log,
    benchmark:
        FIGURE_L0_COMPARED.benchmark
    conda:
        "../envs/analysis.yaml"
    threads: job_threads("light")
    resources:
        **job_resources("light"),
    params:
        images=num_images(config, "mnist"),
        scale=config["scale"],
    script:
        "../scripts/figure_l0_certificates_compared.py"
