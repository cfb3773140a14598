"""Self-supervised learning: on-device augmentations, losses, heads, methods and the one loop.

Submodules: ``augment`` (SSLAugment, SupervisedAugment), ``config`` (typed configs, Table 7
defaults), ``losses``, ``heads``, ``methods`` (SSL_METHODS: simclr, moco, simsiam), ``optim``,
``loop`` (checkpointed epoch engine shared with the evaluations) and ``train`` (SSLTrainer,
train_ssl). Importing the package does no work.
"""
