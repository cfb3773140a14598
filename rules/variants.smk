rule swap_perturbation:
    input:
        delta=f"{OUT}/perturbations/{{dataset}}/{{run}}/delta.npz",
        train=f"{OUT}/data/{{dataset}}/train.npz",
    output:
        delta=f"{OUT}/variants/{{dataset}}/{{dataset}}/{{run}}/{{swap}}/perturbation.npz",
        assignment=f"{OUT}/variants/{{dataset}}/{{dataset}}/{{run}}/{{swap}}/assignment.npz",
    log:
        f"{OUT}/logs/variants/{{dataset}}/{{run}}/{{swap}}.log",
    benchmark:
        f"{OUT}/benchmarks/variants/{{dataset}}/{{run}}/{{swap}}.tsv"
    wildcard_constraints:
        swap="intra|inter",
    conda:
        "../envs/tue.yaml"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=30,
    params:
        seed=CFG.seed,
    script:
        "../workflow_scripts/swap_perturbation.py"


rule transfer_perturbation:
    input:
        delta=f"{OUT}/perturbations/{{source}}/{{run}}/delta.npz",
        target=f"{OUT}/data/{{target}}/train.npz",
    output:
        delta=f"{OUT}/variants/{{target}}/{{source}}/{{run}}/original/perturbation.npz",
        assignment=f"{OUT}/variants/{{target}}/{{source}}/{{run}}/original/assignment.npz",
    log:
        f"{OUT}/logs/variants/{{target}}/{{source}}/{{run}}/transfer.log",
    benchmark:
        f"{OUT}/benchmarks/variants/{{target}}/{{source}}/{{run}}/transfer.tsv"
    conda:
        "../envs/tue.yaml"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=30,
    params:
        transfer=CFG.transfer.model_dump(mode="json"),
        seed=CFG.seed,
    script:
        "../workflow_scripts/transfer_perturbation.py"
