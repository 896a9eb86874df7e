"""Training, evaluation, export and quantization of the damage U-Net (PyTorch)."""
