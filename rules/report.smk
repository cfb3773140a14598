rule table:
    input:
        table_metrics_for,
    output:
        csv=report(
            f"{OUT}/tables/{{table}}.csv",
            caption="../report/table.rst",
            category="Tables",
            labels={"table": "{table}", "format": "csv"},
        ),
        md=f"{OUT}/tables/{{table}}.md",
    log:
        f"{OUT}/logs/report/{{table}}.log",
    wildcard_constraints:
        table="table[2-6]",
    conda:
        "../envs/tue.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        cells=table_cells_for,
        scale=scale_info(),
    script:
        "../workflow_scripts/report_table.py"


rule extra_table:
    input:
        metrics=table_metrics("extra"),
        sidecars=extra_sidecars(),
    output:
        csv=report(
            f"{OUT}/tables/extra.csv",
            caption="../report/table.rst",
            category="Tables",
            labels={"table": "extra", "format": "csv"},
        ),
        md=f"{OUT}/tables/extra.md",
    log:
        f"{OUT}/logs/report/extra.log",
    conda:
        "../envs/tue.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        cells=extra_cells(),
        scale=scale_info(),
    script:
        "../workflow_scripts/report_extra.py"


rule robustness_table:
    input:
        unique([cell.metrics_path for cell in ROBUST]),
        unique([cell.test_path for cell in ROBUST]),
    output:
        csv=report(
            f"{OUT}/tables/robustness.csv",
            caption="../report/table.rst",
            category="Tables",
            labels={"table": "robustness", "format": "csv"},
        ),
        md=f"{OUT}/tables/robustness.md",
        tex=f"{OUT}/tables/robustness.tex",
        png=f"{OUT}/figures/robustness.png",
        pdf=f"{OUT}/figures/robustness.pdf",
    log:
        f"{OUT}/logs/report/robustness.log",
    conda:
        "../envs/tue.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        cells=robust_cells(),
        defenses=defense_records(CFG),
        scale=scale_info(),
    script:
        "../workflow_scripts/report_robustness.py"


rule figure_bars:
    input:
        table_metrics("figure7"),
    output:
        png=report(
            f"{OUT}/figures/{{figure}}.png",
            caption="../report/figure_bars.rst",
            category="Figures",
            labels={"figure": "{figure}"},
        ),
        pdf=f"{OUT}/figures/{{figure}}.pdf",
    log:
        f"{OUT}/logs/report/{{figure}}.log",
    wildcard_constraints:
        figure="figure1|figure7",
    conda:
        "../envs/tue.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        cells=table_cells("figure7"),
        scale=scale_info(),
        dataset=CFG.tables.figure7.dataset,
        backbone=CFG.tables.figure7.backbone,
    script:
        "../workflow_scripts/report_bars.py"


rule figure_tsne:
    input:
        tsne_inputs_for,
    output:
        png=report(
            f"{OUT}/figures/{{figure}}.png",
            caption="../report/figure_tsne.rst",
            category="Figures",
            labels={"figure": "{figure}"},
        ),
        pdf=f"{OUT}/figures/{{figure}}.pdf",
    log:
        f"{OUT}/logs/report/{{figure}}.log",
    wildcard_constraints:
        figure="figure3|figure4|figure5",
    conda:
        "../envs/tue.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        panels=tsne_panels_for,
        settings=CFG.tables.tsne.model_dump(mode="json"),
        scale=scale_info(),
    script:
        "../workflow_scripts/report_tsne.py"


rule figure_samples:
    input:
        train=figure6_train(),
        deltas=list(figure6_perturbations().values()),
    output:
        png=report(
            f"{OUT}/figures/figure6.png",
            caption="../report/figure6.rst",
            category="Figures",
        ),
        pdf=f"{OUT}/figures/figure6.pdf",
    log:
        f"{OUT}/logs/report/figure6.log",
    conda:
        "../envs/tue.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        perturbations=figure6_perturbations(),
        classes=CFG.tables.figure6.classes,
        per_class=CFG.tables.figure6.samples_per_class,
        seed=CFG.seed,
        scale=scale_info(),
    script:
        "../workflow_scripts/report_samples.py"


rule markdown_report:
    input:
        tables=report_tables(),
        figures=report_figures(),
    output:
        f"{OUT}/report.md",
    log:
        f"{OUT}/logs/report/report.log",
    conda:
        "../envs/tue.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        scale=scale_info(),
        config=CFG.model_dump(mode="json"),
    script:
        "../workflow_scripts/report_markdown.py"
