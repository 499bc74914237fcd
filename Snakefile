"""randablate: rebuild the tables of Levine & Feizi (AAAI 2020), "Robustness Certificates for
Sparse Adversarial Attacks by Randomized Ablation".

    snakemake --cores 8 --resources gpu=2 results/tables/table1.csv   # the paper's scale
    snakemake --profile profiles/quick                                # real MNIST, reduced scale
    snakemake --report report.html
"""

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config.yaml"


validate(config, "workflow/schemas/config.schema.yaml", set_default=True)


report: "report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/votes.smk"
include: "workflow/rules/certificates.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/attack.smk"
include: "workflow/rules/provenance.smk"
include: "workflow/rules/explanatory.smk"


rule all:
    default_target: True
    input:
        TABLE1,
        FIGURE_CERTIFIED_ACCURACY,
        TABLE2,
        ATTACK_SOUNDNESS,
        FIGURE3,
        FIGURE5,
        PROVENANCE,
        FIGURE2,
        FIGURE4,
        DISCUSSION,
