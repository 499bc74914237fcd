"""Rule votes_shard: count the base classifier's votes on one shard of the evaluated images."""

from randablate.jobs import computing_job
from randablate.votes import votes_job

with computing_job(snakemake, "vote counting failed") as (p, wc, log, grant):
    # read from the config, not params: neither may invalidate finished shards
    compute = snakemake.config["compute"]["votes"]
    votes_job(
        snakemake.output.votes,
        p.checkpoint,
        model_path=snakemake.input.model,
        data=p.data,
        positions=p.positions,
        settings=p.settings,
        base_seed=p.seed,
        # the sampling scheme's run: "standard", or "lee" (Table 7) with streams of its own
        run=p.run,
        dataset=wc.dataset,
        encoding=wc.encoding,
        arch=wc.arch,
        k=int(wc.k),
        grant=grant,
        compile=compute["compile"],
        checkpoint_seconds=compute["checkpoint_seconds"],
        log=log,
    )
