"""Self-supervised learning: on-device augmentations, losses, heads, methods and the one loop.

Submodules: ``augment`` (SSLAugment, SupervisedAugment), ``config`` (typed configs, Table 7
defaults), ``losses``, ``heads``, ``methods`` (SSL_METHODS: simclr, moco, simsiam), ``optim`` and
``train`` (SSLTrainer, train_ssl, on :mod:`tue_core.loop`, the checkpointed epoch engine it shares
with the evaluations). Importing the package does no work.
"""
