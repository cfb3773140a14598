rule generate_perturbation:
    input:
        train=f"{OUT}/data/{{dataset}}/train.npz",
    output:
        delta=f"{OUT}/perturbations/{{dataset}}/{{run}}/delta.npz",
        sidecar=f"{OUT}/perturbations/{{dataset}}/{{run}}/delta.json",
    log:
        f"{OUT}/logs/perturbations/{{dataset}}/{{run}}.log",
    benchmark:
        f"{OUT}/benchmarks/perturbations/{{dataset}}/{{run}}.tsv"
    conda:
        "../envs/tue.yaml"
    threads: 1
    resources:
        gpu=run_gpus,
        mem_mb=16000,
        runtime=720,
    params:
        config=run_config,
        seed=CFG.seed,
        device=CFG.device,
    script:
        "../workflow_scripts/generate_perturbation.py"
