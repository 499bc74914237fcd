"""Rules figure3 and figure5: verified adversarial examples of the smoothed classifier, with L0."""

import logging

from randablate.attack_report import (
    load_attack,
    pick_examples,
    plot_adversarial_examples,
    run_summary,
)

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
log = logging.getLogger("attack_figure")
try:
    p = snakemake.params
    attack = load_attack(snakemake.input.attack)
    positions = pick_examples(attack, p.skip, p.examples)
    title = (
        f"{p.figure}: Pointwise attack on the smoothed classifier, k = {p.k}, "
        f"{p.n_query} samples per query ({p.scale} scale); top: clean, bottom: adversarial "
        f"on a fresh full query; {run_summary(attack)}"
    )
    plot_adversarial_examples(attack, positions, snakemake.output.figure, title)
    log.info("%d examples: image indices %s", len(positions), attack["index"][positions].tolist())
except Exception:
    log.exception("plotting failed")
    raise
