"""twinforge: digital twins paired with generative AI."""

__version__ = "0.1.0"
