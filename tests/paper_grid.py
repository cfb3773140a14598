"""Job counts of the paper grid shared by the dry-run and cost-model tests."""

# The paper grid (config.yaml): 4 datasets; EMN and SN on CIFAR-10, CIFAR-100 and SVHN-small,
# UCL and TUE x 3 backbones on CIFAR-10 and CIFAR-100 (18 generations); 10 swaps per table on
# each of 2 datasets (20); 5 runs x 3 targets transferred from CIFAR-10 (15); 85 distinct
# evaluations (53 + 2 supervised, 24 + 6 linear-probe). Beyond the paper, the robustness grid:
# clean + 4 runs + the class-wise random control under 12 defenses and with 4 other architectures
# (102 cells: 6 are plain supervised runs, 5 of them Table 4's; the control adds 1 generation).
# The block-constant TUE variant (tue_patch) adds 1 generation, its 2 swaps, 3 supervised
# evaluations (tables.extra) and a robustness row (16 cells).
PAPER_ALL = {
    "prepare_dataset": 4,
    "generate_perturbation": 20,
    "swap_perturbation": 22,
    "transfer_perturbation": 15,
    "evaluate_supervised_clean": 2,
    "evaluate_supervised_poisoned": 57,
    "evaluate_linear_probe_clean": 6,
    "evaluate_linear_probe_poisoned": 24,
    "evaluate_robust_clean": 16,
    "evaluate_robust_poisoned": 96,
    "table": 5,
    "extra_table": 1,
    "robustness_table": 1,
    "figure_bars": 2,
    "figure_tsne": 3,
    "figure_samples": 1,
    "markdown_report": 1,
    "all": 1,
}

# The demo's robustness grid is smaller (clean + 2 runs + the control, 2 defenses, 1 other model);
# it has no tue_patch row. Its Table 3 trains each of its 4 cells with a second seed.
DEMO_ALL = {
    **PAPER_ALL,
    "evaluate_robust_clean": 3,
    "evaluate_robust_poisoned": 9,
    "evaluate_supervised_poisoned_seeded": 4,
}
