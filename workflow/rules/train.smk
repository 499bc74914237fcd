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
