"""Reports: the paper's Tables 2-6 beside ours, Figures 1/7 and 3-6, and ``results/report.md``.

Importing the package loads nothing heavy; import the module you need:

* :mod:`~tue_core.report.paper`: the paper's numbers (package data ``paper_results.csv``),
  :func:`load_paper_results`, :func:`expected_cells`, labels and vocabulary;
* :mod:`~tue_core.report.collect`: :func:`collect_results` (per-run records -> long frame),
  :func:`aggregate_results` (mean over seeds);
* :mod:`~tue_core.report.join`: :func:`join_with_paper` (each paper cell with ours and the diff);
* :mod:`~tue_core.report.tables`: :func:`build_table` / :func:`build_tables` in the paper's layout;
* :mod:`~tue_core.report.writers`: CSV / Markdown / LaTeX (:func:`write_table_outputs`);
* :mod:`~tue_core.report.scale`: the scale note printed under every table and figure;
* :mod:`~tue_core.report.palette` and :mod:`~tue_core.report.figure_io`: one look, PNG + PDF;
* :mod:`~tue_core.report.figures_bars` (Figure 1/7), :mod:`~tue_core.report.figures_tsne`
  (Figures 3-5, with :mod:`~tue_core.report.separability`), :mod:`~tue_core.report.figures_samples`
  (Figure 6);
* :mod:`~tue_core.report.markdown`: :func:`write_markdown_report`.
"""
