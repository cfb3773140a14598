rule prepare_dataset:
    output:
        train=f"{OUT}/data/{{dataset}}/train.npz",
        test=f"{OUT}/data/{{dataset}}/test.npz",
        indices=f"{OUT}/data/{{dataset}}/train_indices.txt",
    log:
        f"{OUT}/logs/data/{{dataset}}.log",
    benchmark:
        f"{OUT}/benchmarks/data/{{dataset}}.tsv"
    conda:
        "../envs/tue.yaml"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=60,
    params:
        spec=dataset_spec,
    script:
        "../workflow_scripts/prepare_dataset.py"
