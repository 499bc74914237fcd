"""Rules figure3 and figure5: verified adversarial examples of the smoothed classifier, with L0."""

from randablate.attack_report import pick_examples, run_summary
from randablate.figures import plot_adversarial_examples
from randablate.files import load_npz
from randablate.jobs import job_log

with job_log(snakemake, "plotting failed") as log:
    p = snakemake.params
    attack = load_npz(snakemake.input.attack)
    positions = pick_examples(attack, p.skip, p.examples)
    title = (
        f"{p.figure}: Pointwise attack on the smoothed classifier, k = {p.k}, "
        f"{p.n_query} samples per query ({p.scale} scale); top: clean, bottom: adversarial "
        f"on a fresh full query; {run_summary(attack)}"
    )
    plot_adversarial_examples(attack, positions, snakemake.output.figure, title)
    log.info("%d examples: image indices %s", len(positions), attack["index"][positions].tolist())
