"""Typed configs of the four perturbation methods, discriminated by ``method``.

Defaults are the paper's (Appendix B.1) and, where the paper is silent, the public code's
(spec §2-§5). Per-backbone schedule fields of UCL and TUE left out of a config are filled from
:data:`TUE_SCHEDULES` / :data:`UCL_SCHEDULES`; TUE's loss weights from its ``mode``. Every check that
can fail runs here, when the config is built, so a bad value fails before any work starts.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, NonNegativeFloat, PositiveInt, model_validator

from tue_core.evaluate.supervised import SupervisedConfig
from tue_core.perturb.constraints import LinfBall, PatchLinfBall, check_eps, check_step_size
from tue_core.ssl.augment import AugmentConfig
from tue_core.ssl.config import (
    MoCoConfig,
    OptimizerConfig,
    SimCLRConfig,
    SimSiamConfig,
    SSLConfig,
    SSLTrainConfig,
)
from tue_core.strict import Strict

Backbone = Literal["simclr", "moco", "simsiam"]
Mode = Literal["paper", "released"]
EPS_DEFAULT = 8 / 255
STEP_SIZE_DEFAULT = 0.8 / 255


class DiagnosticsConfig(Strict):
    """The linear-separability diagnostic of delta alone (SN's ``test_linear_separability.py``)."""

    linear_steps: PositiveInt = 50  # LBFGS iterations
    linear_lr: Annotated[float, Field(gt=0)] = 0.5
    holdout_fraction: Annotated[float, Field(ge=0, lt=1)] = 0.2  # 0: train accuracy only
    max_samples: PositiveInt | None = None  # subsample very large sets (None: all)


class SurrogateConfig(Strict):
    """The network the min-min methods train alongside delta (``tue_core.models.build_model``)."""

    arch: str = "resnet18"
    width: PositiveInt = 64


class PGDMethodBase(Strict):
    """Fields shared by the PGD-made methods (EMN, UCL, TUE)."""

    eps: float = EPS_DEFAULT
    step_size: float = STEP_SIZE_DEFAULT
    batch_size: PositiveInt = 512  # model-phase and noise-phase batches
    init_path: str | None = None  # start from this perturbation file (e.g. CP-S from CP-C)
    diagnostics: DiagnosticsConfig = DiagnosticsConfig()

    @model_validator(mode="before")
    @classmethod
    def _schedule_updates_delta(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in ("epochs", "pgd_steps", "max_rounds"):
                value = data.get(key)
                if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 1:
                    raise ValueError(
                        f"{key} = {value} is a schedule that never updates delta; "
                        f"{key} must be >= 1"
                    )
        return data

    @model_validator(mode="after")
    def _check_ball(self) -> Any:
        check_eps(self.eps)
        check_step_size(self.step_size, self.eps)
        return self

    def constraint(self) -> LinfBall:
        """The set delta lives in (and how a PGD step moves in it): the per-pixel L-inf ball."""
        return LinfBall(self.eps)


# HanxunH's generation surrogate: ResNet-18, SGD lr 0.1 / momentum 0.9 / wd 5e-4, grad-norm clip
# 5.0, scheduler not stepped, no augmentation (spec §3).
EMN_TRAINER = SupervisedConfig(
    optimizer=OptimizerConfig(name="sgd", lr=0.1, momentum=0.9, weight_decay=5e-4),
    augment=False,
    grad_clip_norm=5.0,
)


class EMNConfig(PGDMethodBase):
    """Error-minimising noise (Huang et al. 2021), sample-wise; HanxunH defaults (spec §3).

    ``trainer`` supplies the surrogate (``model``, ``width``), its optimiser, gradient clipping and
    whether to augment; its ``epochs``/``batch_size``/``checkpoint_every`` are not used here (the
    schedule fields below drive the loop and ``batch_size`` above sets the batches).
    """

    method: Literal["emn"] = "emn"
    train_steps: PositiveInt = 10  # model steps between two PGD passes over the whole set
    pgd_steps: PositiveInt = 20  # PGD-20 (Appendix B.1)
    max_rounds: PositiveInt = 100  # rounds of (train_steps, full PGD pass); the stop is data-driven
    stop_accuracy: Annotated[float, Field(gt=0, le=1)] = 0.99  # stop when train acc on x+delta >
    random_start: bool = False  # the reference starts from zero
    trainer: SupervisedConfig = EMN_TRAINER

    @model_validator(mode="before")
    @classmethod
    def _trainer_over_emn_defaults(cls, data: Any) -> Any:
        """A partial ``trainer`` mapping overrides EMN's surrogate defaults key by key."""
        if isinstance(data, dict) and isinstance(data.get("trainer"), dict):
            merged = {**EMN_TRAINER.model_dump(), **data["trainer"]}
            return {**data, "trainer": merged}
        return data


class SNConfig(Strict):
    """Synthetic noise (Yu et al. 2022): ``eps`` is the per-pixel scale of the chosen norm.

    ``norm = "l2"`` (reference): each sample has L2 norm ``eps * sqrt(3 H W)``; the reference's
    default is ``--eps 6``, i.e. 6/255. ``norm = "linf"``: each sample has L-inf norm ``eps``.
    """

    method: Literal["sn"] = "sn"
    norm: Literal["l2", "linf"] = "l2"
    eps: float = 6 / 255
    patch_size: PositiveInt = 8
    class_sep: Annotated[float, Field(gt=0)] = 10.0
    diagnostics: DiagnosticsConfig = DiagnosticsConfig()

    @model_validator(mode="after")
    def _check_eps(self) -> SNConfig:
        check_eps(self.eps)
        return self


# Appendix B.1 + demo.sh: epochs, model steps per noise pass, PGD steps, random start, and whether
# BatchNorm stays in train mode in the noise step (TUE's SimSiam code never calls eval()).
TUE_SCHEDULES: dict[str, dict[str, Any]] = {
    "simclr": {"epochs": 40, "train_steps": 20, "pgd_steps": 20, "random_start": True},
    "moco": {"epochs": 200, "train_steps": 100, "pgd_steps": 5, "random_start": False},
    "simsiam": {"epochs": 50, "train_steps": 25, "pgd_steps": 20, "random_start": True},
}
# "UCL with SimCLR and SimSiam have the same settings as TUE. UCL with MoCo uses PGD-10" (B.1).
UCL_SCHEDULES: dict[str, dict[str, Any]] = {
    **TUE_SCHEDULES,
    "moco": {**TUE_SCHEDULES["moco"], "pgd_steps": 10},
}
PGD_TRAIN_MODE = {"simclr": False, "moco": False, "simsiam": True}  # TUE reference, spec §2.4
DROP_LAST = {"simclr": False, "moco": True, "simsiam": False}  # the reference's loaders
# The public demo's loss weights (ssl_weight, csd_weight) per backbone (spec §1.1).
RELEASED_WEIGHTS = {"simclr": (0.0, 0.1), "moco": (1.0, 1.0), "simsiam": (0.0, 0.1)}
# The generation surrogates' optimisers in renjie3/TUE (spec §2.4), none with an LR schedule.
GENERATION_OPTIMIZERS = {
    "simclr": OptimizerConfig(name="adam", lr=1e-3, weight_decay=1e-6),
    "moco": OptimizerConfig(name="sgd", lr=0.3, momentum=0.9, weight_decay=1e-4),
    "simsiam": OptimizerConfig(name="sgd", lr=0.06, momentum=0.9, weight_decay=5e-4),
}
TUE_AUGMENT = AugmentConfig()  # kornia RandomResizedCrop default scale (0.08, 1)
UCL_AUGMENT = AugmentConfig(crop_scale=(0.2, 1.0))  # contrastive-poisoning (spec §5)


def default_ssl_config(backbone: str) -> Any:
    return {"simclr": SimCLRConfig, "moco": MoCoConfig, "simsiam": SimSiamConfig}[backbone]()


class SSLMinMinBase(PGDMethodBase):
    """Fields shared by the SSL-surrogate methods (UCL, TUE): Eq. 6's alternation."""

    backbone: Backbone
    epochs: PositiveInt
    train_steps: PositiveInt  # S1 model steps between two S2 passes over the whole set
    pgd_steps: PositiveInt
    random_start: bool
    pgd_train_mode: bool  # BatchNorm in train mode during the noise steps
    drop_last: bool  # of the model-phase batches (MoCo's queue needs full batches)
    pgd_update_queue: bool = True  # MoCo: noise steps also enqueue keys (both references do)
    pgd_target_grad: bool = True  # MoCo/SimSiam: gradients through the key/target branch (k_grad)
    surrogate: SurrogateConfig = SurrogateConfig()
    ssl: SSLConfig | None = None  # None: the SSL module's defaults for ``backbone``
    # None: the reference's generation optimiser for ``backbone`` and the method's augmentation;
    # given: its optimiser and augmentation are used, its epochs/batch_size/drop_last replaced.
    train: SSLTrainConfig | None = None
    # S1, the surrogate's SSL steps. None: only when S2 runs the network. An S2 of CSD alone (TUE
    # released mode with SimCLR/SimSiam, ssl_weight 0) never reads the surrogate, so training it
    # cannot change delta and is skipped (same delta, tested); True trains it anyway, as the
    # reference code does.
    train_surrogate: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _fill_schedule(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "backbone" not in data:
            return data
        backbone = data["backbone"]
        table = cls._schedules()
        if backbone not in table:
            return data  # the Literal check reports the valid names
        defaults = {
            **table[backbone],
            "pgd_train_mode": PGD_TRAIN_MODE[backbone],
            "drop_last": DROP_LAST[backbone],
        }
        return {**defaults, **data}

    @classmethod
    def _schedules(cls) -> dict[str, dict[str, Any]]:
        return TUE_SCHEDULES

    @model_validator(mode="after")
    def _ssl_matches_backbone(self) -> Any:
        if self.ssl is not None and self.ssl.name != self.backbone:
            raise ValueError(
                f"ssl.name {self.ssl.name!r} does not match backbone {self.backbone!r}"
            )
        ssl = self.ssl_config()
        if self.backbone == "moco":
            if self.batch_size % ssl.bn_splits:
                raise ValueError(
                    f"MoCo's split BatchNorm needs batch_size divisible by ssl.bn_splits = "
                    f"{ssl.bn_splits}, got batch_size {self.batch_size}"
                )
            keys = self.batch_size * (2 if ssl.symmetric else 1)
            if keys > ssl.queue_size:
                raise ValueError(
                    f"MoCo enqueues {keys} keys per step but ssl.queue_size is {ssl.queue_size}"
                )
        return self

    def ssl_config(self) -> Any:
        return self.ssl if self.ssl is not None else default_ssl_config(self.backbone)

    def s2_uses_network(self) -> bool:
        """Whether the noise step (S2) evaluates the surrogate (UCL always does)."""
        return True

    def trains_surrogate(self) -> bool:
        """Whether S1 runs: ``train_surrogate``, or by default exactly when S2 uses the network."""
        return self.s2_uses_network() if self.train_surrogate is None else self.train_surrogate

    def train_config(self) -> SSLTrainConfig:
        """The surrogate's SSL training section, with this config's batches and epochs."""
        base = self.train or SSLTrainConfig(
            optimizer=GENERATION_OPTIMIZERS[self.backbone], augment=self._default_augment()
        )
        return base.model_copy(
            update={
                "epochs": self.epochs,
                "batch_size": self.batch_size,
                "drop_last": self.drop_last,
            }
        )

    def _default_augment(self) -> AugmentConfig:
        return TUE_AUGMENT


class UCLConfig(SSLMinMinBase):
    """Unsupervised contrastive poisoning (He, Zha & Katabi, ICLR 2023), sample-wise."""

    method: Literal["ucl"] = "ucl"

    @classmethod
    def _schedules(cls) -> dict[str, dict[str, Any]]:
        return UCL_SCHEDULES

    def _default_augment(self) -> AugmentConfig:
        return UCL_AUGMENT


class TUEConfig(SSLMinMinBase):
    """Transferable unlearnable examples (Eq. 5-6): ``ssl_weight * L_CL + csd_weight * CSD``.

    ``mode = "paper"``: both terms as Eq. 5 states; ``ssl_weight`` defaults to 1 and ``csd_weight``
    (lambda) to the public demo's value for the backbone (the paper does not state lambda); both
    must be > 0. ``mode = "released"``: the public demo's weights, ``(0, 0.1)`` for SimCLR and
    SimSiam, ``(1, 1)`` for MoCo; other values are refused.
    """

    method: Literal["tue"] = "tue"
    mode: Mode = "paper"
    ssl_weight: NonNegativeFloat | None = None
    csd_weight: NonNegativeFloat | None = None
    csd_detach_spread: bool = True  # the reference cuts the gradient through sigma_k

    @model_validator(mode="after")
    def _check_weights(self) -> TUEConfig:
        released = RELEASED_WEIGHTS[self.backbone]
        if self.mode == "released":
            given = (self.ssl_weight, self.csd_weight)
            if any(g is not None and g != r for g, r in zip(given, released, strict=True)):
                raise ValueError(
                    f"mode 'released' fixes (ssl_weight, csd_weight) = {released} for "
                    f"{self.backbone}; got {given}. Use mode 'paper' to choose the weights."
                )
        elif self.ssl_weight == 0 or self.csd_weight == 0:
            raise ValueError(
                "mode 'paper' optimises both terms of Eq. 5: ssl_weight and csd_weight must be > 0 "
                f"(got {self.ssl_weight}, {self.csd_weight}); use mode 'released' for the demo's"
            )
        return self

    def s2_uses_network(self) -> bool:
        """S2 runs the network unless its SSL term has weight 0 (released SimCLR/SimSiam)."""
        return self.weights()[0] != 0

    def weights(self) -> tuple[float, float]:
        """(ssl_weight, csd_weight) actually used."""
        if self.mode == "released":
            return RELEASED_WEIGHTS[self.backbone]
        ssl = 1.0 if self.ssl_weight is None else self.ssl_weight
        csd = RELEASED_WEIGHTS[self.backbone][1] if self.csd_weight is None else self.csd_weight
        return ssl, csd


class PatchTUEConfig(TUEConfig):
    """TUE with a block-constant delta (ours, beyond the paper): Eq. 5 with CSD computed on delta,
    optimised over ``delta = upsample_nearest(theta)`` with one value per ``patch_size`` block and
    channel, projected to the same L-inf ``eps`` (:class:`~tue_core.perturb.constraints.PatchLinfBall`).

    TUE's CSD drives delta to one pattern per class that is independent per pixel, which a crop
    shift of a few pixels decorrelates; SN's 8x8 patches survive such shifts (docs/tue-patch.md).
    ``patch_size`` defaults to SN's 8 and must divide the image size.
    """

    method: Literal["tue_patch"] = "tue_patch"  # type: ignore[assignment]
    patch_size: PositiveInt = 8

    def constraint(self) -> LinfBall:
        return PatchLinfBall(self.eps, patch=self.patch_size)


class ClasswiseRandomConfig(Strict):
    """Class-wise random noise, the control of class-wise shortcuts (``tue_core.perturb.classwise``):
    one fixed pattern per class, random signs times ``eps`` (``sign``) or uniform in [-eps, eps]."""

    method: Literal["classwise_random"] = "classwise_random"
    eps: float = EPS_DEFAULT
    pattern: Literal["sign", "uniform"] = "sign"
    diagnostics: DiagnosticsConfig = DiagnosticsConfig()

    @model_validator(mode="after")
    def _check_eps(self) -> ClasswiseRandomConfig:
        check_eps(self.eps)
        return self


PerturbConfig = Annotated[
    EMNConfig | SNConfig | UCLConfig | TUEConfig | PatchTUEConfig | ClasswiseRandomConfig,
    Field(discriminator="method"),
]
