"""tue_core: the library behind tue-pipeline (Transferable Unlearnable Examples, Ren et al., ICLR 2023).

Importing the package does no work: no downloads, no seeding, no device queries.
"""

__version__ = "0.1.0"
