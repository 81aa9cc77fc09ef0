"""roletray: keeps AWS IAM role credentials fresh for every tool on the machine."""

__version__ = "0.1.0"
