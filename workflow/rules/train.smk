rule train:
    input:
        data_input("train"),
    output:
        model=f"{MODEL_DIR}/model.pt",
    log:
        f"logs/{MODEL_DIR}/train.log",
    benchmark:
        f"logs/benchmarks/{MODEL_DIR}/train.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: config["compute"]["train"]["threads"]
    resources:
        gpu=1,
        mem_mb=config["compute"]["train"]["mem_mb"],
    params:
        checkpoint=f"{MODEL_DIR}/checkpoint.pt",
        data=data_params,
        settings=training_settings,
        seed=config["seed"],
        lock_dir=config["compute"]["gpu_lock_dir"],
        repo=workflow.basedir,
    script:
        "../scripts/train.py"


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
            "../../envs/torch.yaml"
        resources:
            mem_mb=4000,
        params:
            model=lambda wildcards: AUTHORS_MODELS[wildcards.model],
            repo=workflow.basedir,
        script:
            "../scripts/import_authors_checkpoint.py"
