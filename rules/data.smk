rule prepare_dataset:
    output:
        train="results/data/{dataset}/train.npz",
        test="results/data/{dataset}/test.npz",
        indices="results/data/{dataset}/train_indices.txt",
    log:
        "logs/data/{dataset}.log",
    benchmark:
        "benchmarks/data/{dataset}.tsv"
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
