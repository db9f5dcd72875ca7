"""How a family's model is exported and run on user data (``spectral export`` / ``predict``).

Declared once per family, as the ``export`` field of its
:class:`~spectral_cli.core.registry.Family`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

EXPORT_FORMATS = ("onnx", "dense", "safetensors")


@dataclass(frozen=True)
class TensorSpec:
    """One named input or output of a family's model: its ONNX name and ``predict``'s array.

    ``dtype``: ``int64``, ``float32`` or ``model`` (the dtype of the model's weights).
    ``shape``: per axis ``"batch"`` (dynamic), a number, or names joined by ``*``
    (``"seq_len"``, ``"data.windows*model.window"``) looked up in the checkpoint's data info,
    else as dotted keys of its config. ``high``: integer values lie in ``[0, high)``;
    ``bound``: random test inputs are uniform in ``[-bound, bound]`` (default: standard
    normal). Both are names like the shape's.
    """

    name: str
    dtype: str
    shape: tuple[str | int, ...]
    high: str | None = None
    bound: str | None = None


@dataclass(frozen=True)
class RawInput:
    """What ``predict`` reads by default instead of the model input (raw signals for a token
    model, raw features for an MLP): ``spec`` is the user's array, ``prepare(cfg, info, array)
    -> model input array`` turns it into the model input exactly as training did (``info``: the
    checkpoint's data info, a dict), ``doc`` says how (for messages and help)."""

    spec: TensorSpec
    prepare: Callable[[Any, dict[str, Any], Any], Any]
    doc: str


@dataclass(frozen=True)
class ExportSignature:
    """How a family's model is exported and run on user data, declared once per family.

    * ``kind``: ``classifier`` (outputs ``logits``; labels are class ids), ``autoencoder``
      (first output is the reconstruction of the input) or ``regression`` (labels have the
      first output's shape; ``normalizer`` names the data-info value the MSE is divided by).
    * ``input`` / ``outputs``: the model's ``forward`` input and outputs, in order.
    * ``raw``: ``predict``'s default input when it is not the model input.
    * ``harmonic``: submodule holding a harmonic embedding (``amplitudes``, ``frequencies``,
      ``phases``, ``embedding_dim``); ONNX synthesizes its table inside the graph from them.
    * ``dense_into``: ``dense`` turns the model into this family by replacing the submodule
      ``embedding`` with its materialized ``nn.Embedding`` table (``vocab``: data-info key of
      the table's rows).
    * ``unsupported``: format -> why this family cannot be exported in it (exit 2).
    """

    kind: Literal["classifier", "autoencoder", "regression"]
    input: TensorSpec
    outputs: tuple[TensorSpec, ...]
    raw: RawInput | None = None
    harmonic: str | None = None
    dense_into: str | None = None
    embedding: str = "embedding"
    vocab: str = "vocab_size"
    normalizer: str | None = None
    unsupported: dict[str, str] = field(default_factory=dict)

    def refusal(self, fmt: str) -> str | None:
        """Why ``fmt`` is not available for this family (``None``: it is)."""
        if fmt == "dense" and self.dense_into is None:
            return self.unsupported.get(fmt, "it has no token embedding table to materialize")
        return self.unsupported.get(fmt)
