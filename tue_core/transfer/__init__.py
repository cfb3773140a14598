"""Data-wise transfer of perturbation sets (paper §3.2.2, §4.2, §5.3; issue 5).

* :mod:`~tue_core.transfer.swaps`: intra-/inter-class swapping (Tables 2 and 5);
* :mod:`~tue_core.transfer.interpolation`: strategies ``direct``, ``more_samples`` (Eq. 8),
  ``more_classes`` (Eq. 7), registered in :data:`~tue_core.transfer.strategies.STRATEGIES`;
* :mod:`~tue_core.transfer.mapping`: :func:`swap_perturbations`, :func:`transfer_perturbations`;
* :mod:`~tue_core.transfer.assignment`: the saved record of who got which perturbation;
* :mod:`~tue_core.transfer.variant`: writing a variant with its provenance;
* :mod:`~tue_core.transfer.protect` and :mod:`~tue_core.transfer.cli`: ``tue-protect``.
"""

from tue_core.transfer.assignment import Assignment, AssignmentError, load_assignment
from tue_core.transfer.config import MoreClassesOptions, MoreSamplesOptions, TransferConfig
from tue_core.transfer.interpolation import Direct, MoreClasses, MoreSamples
from tue_core.transfer.mapping import (
    check_labels_match,
    plan_transfer,
    swap_perturbations,
    transfer_perturbations,
)
from tue_core.transfer.resize import resize_perturbation
from tue_core.transfer.strategies import STRATEGIES
from tue_core.transfer.swaps import inter_class_swap, intra_class_swap
from tue_core.transfer.variant import save_variant

__all__ = [
    "STRATEGIES",
    "Assignment",
    "AssignmentError",
    "Direct",
    "MoreClasses",
    "MoreClassesOptions",
    "MoreSamples",
    "MoreSamplesOptions",
    "TransferConfig",
    "check_labels_match",
    "inter_class_swap",
    "intra_class_swap",
    "load_assignment",
    "plan_transfer",
    "resize_perturbation",
    "save_variant",
    "swap_perturbations",
    "transfer_perturbations",
]
