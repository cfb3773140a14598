# Every evaluation trains on a (possibly poisoned) training set and tests on the clean test set.
# Paths: <output_dir>/eval/<protocol>/<target>/clean/ or .../<target>/<source>/<run>/<corr>/;
# a repeat with another training seed (a table's `seeds`) adds seed<n>/ to that folder; its rule
# is the plain one with only the paths and `seed` overridden (`use rule ... with:` keeps the
# other params).


rule evaluate_supervised_clean:
    input:
        train=f"{OUT}/data/{{target}}/train.npz",
        test=f"{OUT}/data/{{target}}/test.npz",
    output:
        metrics=f"{OUT}/eval/supervised/{{target}}/clean/metrics.json",
    log:
        f"{OUT}/logs/eval/supervised/{{target}}/clean.log",
    benchmark:
        f"{OUT}/benchmarks/eval/supervised/{{target}}/clean.tsv"
    conda:
        "../envs/tue.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=16000,
        runtime=600,
    params:
        config=supervised_config,
        quantisation=CFG.evaluation.quantisation,
        seed=CFG.seed,
        device=CFG.device,
    script:
        "../workflow_scripts/evaluate_supervised.py"


use rule evaluate_supervised_clean as evaluate_supervised_poisoned with:
    input:
        train=f"{OUT}/data/{{target}}/train.npz",
        test=f"{OUT}/data/{{target}}/test.npz",
        delta=poison_delta,
    output:
        metrics=f"{OUT}/eval/supervised/{{target}}/{{source}}/{{run}}/{{corr}}/metrics.json",
    log:
        f"{OUT}/logs/eval/supervised/{{target}}/{{source}}/{{run}}/{{corr}}.log",
    benchmark:
        f"{OUT}/benchmarks/eval/supervised/{{target}}/{{source}}/{{run}}/{{corr}}.tsv"


use rule evaluate_supervised_clean as evaluate_supervised_clean_seeded with:
    output:
        metrics=f"{OUT}/eval/supervised/{{target}}/clean/seed{{seed}}/metrics.json",
    log:
        f"{OUT}/logs/eval/supervised/{{target}}/clean/seed{{seed}}.log",
    benchmark:
        f"{OUT}/benchmarks/eval/supervised/{{target}}/clean/seed{{seed}}.tsv"
    params:
        seed=repeat_seed,


use rule evaluate_supervised_poisoned as evaluate_supervised_poisoned_seeded with:
    output:
        metrics=f"{OUT}/eval/supervised/{{target}}/{{source}}/{{run}}/{{corr}}/seed{{seed}}/metrics.json",
    log:
        f"{OUT}/logs/eval/supervised/{{target}}/{{source}}/{{run}}/{{corr}}/seed{{seed}}.log",
    benchmark:
        f"{OUT}/benchmarks/eval/supervised/{{target}}/{{source}}/{{run}}/{{corr}}/seed{{seed}}.tsv"
    params:
        seed=repeat_seed,


rule evaluate_linear_probe_clean:
    input:
        train=f"{OUT}/data/{{target}}/train.npz",
        test=f"{OUT}/data/{{target}}/test.npz",
    output:
        metrics=f"{OUT}/eval/linear_probe/{{backbone}}/{{target}}/clean/metrics.json",
    log:
        f"{OUT}/logs/eval/linear_probe/{{backbone}}/{{target}}/clean.log",
    benchmark:
        f"{OUT}/benchmarks/eval/linear_probe/{{backbone}}/{{target}}/clean.tsv"
    conda:
        "../envs/tue.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=16000,
        runtime=2880,
    params:
        setup=probe_setup,
        width=CFG.evaluation.ssl_width,
        quantisation=CFG.evaluation.quantisation,
        seed=CFG.seed,
        device=CFG.device,
    script:
        "../workflow_scripts/evaluate_linear_probe.py"


use rule evaluate_linear_probe_clean as evaluate_linear_probe_poisoned with:
    input:
        train=f"{OUT}/data/{{target}}/train.npz",
        test=f"{OUT}/data/{{target}}/test.npz",
        delta=poison_delta,
    output:
        metrics=f"{OUT}/eval/linear_probe/{{backbone}}/{{target}}/{{source}}/{{run}}/{{corr}}/metrics.json",
    log:
        f"{OUT}/logs/eval/linear_probe/{{backbone}}/{{target}}/{{source}}/{{run}}/{{corr}}.log",
    benchmark:
        f"{OUT}/benchmarks/eval/linear_probe/{{backbone}}/{{target}}/{{source}}/{{run}}/{{corr}}.tsv"


use rule evaluate_linear_probe_clean as evaluate_linear_probe_clean_seeded with:
    output:
        metrics=f"{OUT}/eval/linear_probe/{{backbone}}/{{target}}/clean/seed{{seed}}/metrics.json",
    log:
        f"{OUT}/logs/eval/linear_probe/{{backbone}}/{{target}}/clean/seed{{seed}}.log",
    benchmark:
        f"{OUT}/benchmarks/eval/linear_probe/{{backbone}}/{{target}}/clean/seed{{seed}}.tsv"
    params:
        seed=repeat_seed,


use rule evaluate_linear_probe_poisoned as evaluate_linear_probe_poisoned_seeded with:
    output:
        metrics=f"{OUT}/eval/linear_probe/{{backbone}}/{{target}}/{{source}}/{{run}}/{{corr}}/seed{{seed}}/metrics.json",
    log:
        f"{OUT}/logs/eval/linear_probe/{{backbone}}/{{target}}/{{source}}/{{run}}/{{corr}}/seed{{seed}}.log",
    benchmark:
        f"{OUT}/benchmarks/eval/linear_probe/{{backbone}}/{{target}}/{{source}}/{{run}}/{{corr}}/seed{{seed}}.tsv"
    params:
        seed=repeat_seed,


# Beyond the paper (tables.robustness): the supervised recipe under a defense or with another
# model. Paths: <output_dir>/eval/robust/<defense>/<model>/<target>/clean/ or .../<source>/<run>/<corr>/
rule evaluate_robust_clean:
    input:
        train=f"{OUT}/data/{{target}}/train.npz",
        test=f"{OUT}/data/{{target}}/test.npz",
    output:
        metrics=f"{OUT}/eval/robust/{{defense}}/{{model}}/{{target}}/clean/metrics.json",
    log:
        f"{OUT}/logs/eval/robust/{{defense}}/{{model}}/{{target}}/clean.log",
    benchmark:
        f"{OUT}/benchmarks/eval/robust/{{defense}}/{{model}}/{{target}}/clean.tsv"
    wildcard_constraints:
        model=MODEL_REGEX,
    conda:
        "../envs/tue.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=16000,
        runtime=1440,
    params:
        config=robust_config,
        defense=robust_defense,
        quantisation=CFG.evaluation.quantisation,
        seed=CFG.seed,
        device=CFG.device,
    script:
        "../workflow_scripts/evaluate_robust.py"


use rule evaluate_robust_clean as evaluate_robust_poisoned with:
    input:
        train=f"{OUT}/data/{{target}}/train.npz",
        test=f"{OUT}/data/{{target}}/test.npz",
        delta=poison_delta,
    output:
        metrics=f"{OUT}/eval/robust/{{defense}}/{{model}}/{{target}}/{{source}}/{{run}}/{{corr}}/metrics.json",
    log:
        f"{OUT}/logs/eval/robust/{{defense}}/{{model}}/{{target}}/{{source}}/{{run}}/{{corr}}.log",
    benchmark:
        f"{OUT}/benchmarks/eval/robust/{{defense}}/{{model}}/{{target}}/{{source}}/{{run}}/{{corr}}.tsv"
