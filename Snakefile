"""randablate: rebuild the tables and figures of Levine & Feizi (AAAI 2020), "Robustness Certificates for
Sparse Adversarial Attacks by Randomized Ablation".

    snakemake results/tables/table1.csv --cores 8 --resources gpu=2   # the paper's scale
    snakemake --profile profiles/quick                                # real MNIST, reduced scale
    snakemake --report report.html

The default target builds every table and figure whose data sets the config makes available:
MNIST always; CIFAR-10 when cifar10.dir is set or cifar10.download is true; ImageNet when
imagenet.dir is set.
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
include: "workflow/rules/compared.smk"
include: "workflow/rules/l0compared.smk"


onsuccess:
    print_run_summary()


rule all:
    default_target: True
    input:
        default_targets(),
