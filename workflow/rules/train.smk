# Models the authors released (authors_checkpoints.dir), imported instead of trained, and Table
# 1's models that train together (training.group_size), their job's logs under TABLE1_MODELS.
AUTHORS_MODELS = layout.authors_models(config)
TRAIN_GROUPS = layout.table1_training_groups(config, AUTHORS_MODELS)
TABLE1_MODELS = "models/mnist/{encoding}/{arch}".format(**config["table1"])
training_settings = by_wildcards(layout.training_settings, "dataset", "k")
TRAIN = paths(f"{layout.MODELS}/model", ".pt", job="train")


rule train:
    input:
        data_input("train"),
    output:
        model=TRAIN.output,
    log:
        TRAIN.log,
    benchmark:
        TRAIN.benchmark
    conda:
        "../envs/torch.yaml"
    threads: job_threads("train")
    resources:
        **job_resources("train"),
    params:
        **GPU_LOCK,
        checkpoint=f"{MODEL_DIR}/checkpoint.pt",
        data=data_params,
        settings=training_settings,
        seed=config["seed"],
        repo=str(REPO),
        compile=config["compute"]["train"]["compile"],
    script:
        "../scripts/train.py"


# With training.group_size > 1, Table 1's models train in groups, one job each (train_many); a
# rule without wildcards is preferred over rule train for the models it writes.
for group_ks in TRAIN_GROUPS:
    group = paths(f"{TABLE1_MODELS}/train-k{group_ks[0]}-to-k{group_ks[-1]}")

    rule:
        name:
            f"train_group_k{group_ks[0]}_to_k{group_ks[-1]}"
        input:
            mnist_files("train"),
        output:
            models=model_files(MODEL, "mnist", group_ks),
        log:
            group.log,
        benchmark:
            group.benchmark
        conda:
            "../envs/torch.yaml"
        threads: job_threads("train")
        resources:
            **job_resources("train"),
        params:
            **GPU_LOCK,
            checkpoints=model_files(f"{MODEL_DIR}/checkpoint.pt", "mnist", group_ks),
            ks=group_ks,
            settings=[layout.training_settings(config, "mnist", k) for k in group_ks],
            data={"dataset": "mnist", "dir": layout.data_dirs(config)["mnist"]},
            encoding=config["table1"]["encoding"],
            arch=config["table1"]["arch"],
            seed=config["seed"],
            repo=str(REPO),
            compile=config["compute"]["train"]["compile"],
        script:
            "../scripts/train_group.py"


# The models the authors released (authors_checkpoints.dir), imported instead of trained.
if AUTHORS_MODELS:

    ruleorder: import_authors_checkpoint > train

    rule import_authors_checkpoint:
        input:
            checkpoint=lambda wildcards: AUTHORS_MODELS[wildcards.model]["file"],
        output:
            model="{model}",
        log:
            "logs/{model}.import.log",
        wildcard_constraints:
            model="|".join(re.escape(path) for path in AUTHORS_MODELS),
        conda:
            "../envs/torch.yaml"
        threads: job_threads("light")
        resources:
            **job_resources("light"),
        params:
            model=lambda wildcards: AUTHORS_MODELS[wildcards.model],
            repo=str(REPO),
        script:
            "../scripts/import_authors_checkpoint.py"
