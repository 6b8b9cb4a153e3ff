"""HF reference side of TensorCore: model conversion, reference activations, the embedded model."""
from .compare import cosine_similarity, max_abs_diff  # noqa: F401
from .errors import TCError  # noqa: F401

__all__ = ["cosine_similarity", "max_abs_diff", "TCError"]
