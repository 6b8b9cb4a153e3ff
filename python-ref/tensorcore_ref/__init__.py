"""HF reference side of TensorCore."""
