"""Robustness certificates for sparse adversarial attacks by randomized ablation."""

__version__ = "0.1.0"
