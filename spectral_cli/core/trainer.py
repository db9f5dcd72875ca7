"""The one generic training loop: Adam, mini-batches, validation selection, checkpoint/resume.

Every family is trained by :class:`Trainer`. Its whole state (weights, optimizer, the best
weights so far, RNG states, position inside the epoch, running statistics, history) lives in one
atomically written ``state.safetensors``, saved at every epoch end and whenever a stop is
requested between two steps. Resuming restores all of it, regenerates the interrupted epoch's
data order from the saved shuffle-generator state and skips the batches already done, so an
interrupted-and-resumed CPU run ends with exactly the weights of an uninterrupted one.

Model selection uses one validation metric, the family's ``select`` (default ``val_acc``,
maximized); ties go to the lower validation loss. The test split is never touched here. How a
model trains is its :class:`~spectral_cli.core.registry.Task`: the loss (``None`` hits means a
regression: no training accuracy is recorded), the validation metrics by name (all go into the
history), a hook at each epoch start (e.g. a curriculum), the first selectable epoch, the
optimizer and a learning-rate schedule computed from the history (so it resumes exactly).
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from spectral_cli.core import distributed
from spectral_cli.core.checkpoint import (
    check_state_dict,
    flatten_state,
    load_checkpoint,
    save_tensors,
    unflatten_state,
)
from spectral_cli.core.errors import BadInput, Interrupted, RuntimeFailure
from spectral_cli.core.evaluation import (
    Observer,
    SilentObserver,
    SplitLike,
    evaluate,
)
from spectral_cli.core.registry import Metric, Task
from spectral_cli.core.schema import TrainConfig
from spectral_cli.core.signals import StopFlag

STATE_FAMILY = "train-state"


@dataclass
class LoopState:
    """Where the loop is; JSON-serializable."""

    epoch: int = 0  # epoch in progress, 0-based
    step: int = 0  # batches already done in that epoch
    loss_sum: float = 0.0
    correct: int = 0
    seen: int = 0
    epoch_seconds: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0  # 1-based; 0 = none yet
    best_value: float | None = None  # the selection metric at best_epoch
    best_val_loss: float = math.inf
    regression: bool = False  # the loss gave no hits: no train_acc in the history


class Trainer:
    """Trains ``model`` on ``train`` with model selection on ``val``."""

    def __init__(
        self,
        model: nn.Module,
        task: Task,
        cfg: TrainConfig,
        train: SplitLike,
        val: SplitLike,
        device: torch.device,
        seed: int,
        state_path: Path,
        *,
        select: Metric = Metric("val_acc", "max"),
        state_metadata: dict[str, str] | None = None,
        on_improved: Callable[[nn.Module], None] | None = None,
        observer: Observer | None = None,
        stop: StopFlag | None = None,
    ) -> None:
        self.model, self.task, self.cfg, self.device = model, task, cfg, device
        self.train, self.val = train, val
        self.state_path = state_path
        self.state_metadata = state_metadata or {}
        self.on_improved = on_improved
        self.observer = observer or SilentObserver()
        self.stop = stop or StopFlag()
        if select.mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', not {select.mode!r}")
        self.select = select
        # a family may bring its own (e.g. hmlp's FrequencyAwareOptimizer around Adam); its
        # state_dict must round-trip and its param_groups take lr / weight_decay on resume
        self.optimizer = task.optimizer or torch.optim.Adam(
            model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay
        )
        self.dist = distributed.current()
        self.params = [p for p in model.parameters() if p.requires_grad]
        distributed.broadcast_params(model)
        self.shuffle = torch.Generator().manual_seed(seed)
        self.epoch_shuffle_state = self.shuffle.get_state()
        self.state = LoopState()
        self.best_weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self.use_amp = cfg.amp and device.type == "cuda"
        half = self.use_amp and cfg.amp_dtype == "float16"  # fp16 needs loss scaling; bf16 not
        self.amp_dtype = torch.float16 if half else torch.bfloat16
        self.scaler = torch.amp.GradScaler("cuda") if half else None
        if cfg.amp and not self.use_amp:
            self.observer.log("train.amp is ignored on CPU (autocast is used on CUDA only)")

    # ---- state -----------------------------------------------------------------------------
    def save_state(self) -> None:
        """Write everything needed to resume, atomically (rank 0 only: ranks are identical)."""
        if not self.dist.primary:
            return
        tensors: dict[str, Tensor] = {}
        tensors.update({f"model.{k}": v for k, v in self.model.state_dict().items()})
        tensors.update({f"best.{k}": v for k, v in self.best_weights.items()})
        optim_skeleton = flatten_state(self.optimizer.state_dict(), "optim", tensors)
        tensors["rng.torch"] = torch.get_rng_state()
        tensors["rng.shuffle_epoch_start"] = self.epoch_shuffle_state
        if self.device.type == "cuda":
            tensors["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        meta = dict(self.state_metadata)
        meta["spectral.family"] = STATE_FAMILY
        meta["spectral.loop"] = json.dumps(asdict(self.state))
        meta["spectral.optimizer"] = json.dumps(optim_skeleton)
        if self.scaler is not None:
            meta["spectral.scaler"] = json.dumps(self.scaler.state_dict())
        save_tensors(self.state_path, tensors, meta)

    def load_state(self) -> None:
        """Restore a state written by :meth:`save_state` for the same model."""
        tensors, meta = load_checkpoint(self.state_path, STATE_FAMILY)
        expected = self.model.state_dict()
        model_sd = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
        best = {k[5:]: v for k, v in tensors.items() if k.startswith("best.")}
        check_state_dict(expected, model_sd, self.state_path)
        check_state_dict(expected, best, self.state_path)
        try:
            state = LoopState(**json.loads(meta["spectral.loop"]))
            self._check_position(state)
            self.model.load_state_dict(model_sd)
            self.best_weights = best
            optim = unflatten_state(json.loads(meta["spectral.optimizer"]), tensors)
            self.optimizer.load_state_dict(optim)
            if self.scaler is not None and "spectral.scaler" in meta:
                self.scaler.load_state_dict(json.loads(meta["spectral.scaler"]))
            self.state = state
            self.epoch_shuffle_state = tensors["rng.shuffle_epoch_start"]
            torch.set_rng_state(tensors["rng.torch"])
            if self.device.type == "cuda" and "rng.cuda" in tensors:
                torch.cuda.set_rng_state(tensors["rng.cuda"], self.device)
        except (KeyError, RuntimeError, ValueError, TypeError, AttributeError) as exc:
            raise BadInput(f"{self.state_path} does not match this model ({exc})") from None
        for group in self.optimizer.param_groups:  # the config's values (identical on resume)
            group["lr"], group["weight_decay"] = self.cfg.lr, self.cfg.weight_decay

    def _check_position(self, st: LoopState) -> None:
        """A state file's loop position must be one this config can reach (tamper check)."""
        steps = math.ceil(int(self.train.y.shape[0]) / self.cfg.batch_size)
        ints = ("epoch", "step", "correct", "seen", "best_epoch")
        if not all(type(getattr(st, k)) is int for k in ints):
            raise ValueError("loop position fields must be integers")
        bs = self.cfg.batch_size
        if not (
            0 <= st.step < steps
            and st.epoch >= 0
            and len(st.history) == st.epoch
            and 0 <= st.best_epoch <= st.epoch
            and 0 <= st.seen <= st.step * bs
        ):
            raise ValueError(
                f"loop position epoch {st.epoch} step {st.step} is impossible for "
                f"{steps} steps per epoch"
            )

    # ---- loop ------------------------------------------------------------------------------
    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.use_amp:
            return torch.autocast(device_type="cuda", dtype=self.amp_dtype)
        return contextlib.nullcontext()

    def _train_step(self, x: Tensor, y: Tensor, total: int) -> None:
        """One optimizer step on this rank's ``x, y`` of a global batch of ``total`` samples."""
        st, n = self.state, int(y.shape[0])
        loss, hits, value = None, None, 0.0
        if n:
            with self._autocast():
                loss, hits = self.task.loss(self.model, x, y)
            value = float(loss.detach())
        s_loss, s_hits, s_n, bad = value * n, float(hits or 0), n, not math.isfinite(value)
        if self.dist.active:  # every rank learns the batch's sums and whether any loss blew up
            s_loss, s_hits, sum_n, s_bad = distributed.sum_values(s_loss, s_hits, n, float(bad))
            s_n, bad, value = int(sum_n), s_bad > 0, s_loss / max(sum_n, 1)
        if bad:
            raise RuntimeFailure(
                f"loss became {value} at epoch {st.epoch + 1} step {st.step + 1}; the last good "
                f"checkpoint ({self.state_path}) is kept; start a new run with a lower train.lr or "
                "with train.grad_clip set"
            )
        self.optimizer.zero_grad(set_to_none=True)
        if loss is not None:
            (loss if self.scaler is None else self.scaler.scale(loss)).backward()
        distributed.average_gradients(self.params, n / total)
        if self.cfg.grad_clip is not None:
            if self.scaler is not None:
                self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        if self.scaler is None:
            self.optimizer.step()
        else:  # skips the step when the scaled gradients overflowed, then adapts the scale
            self.scaler.step(self.optimizer)
            self.scaler.update()
        st.loss_sum += s_loss
        if hits is None and n:
            st.regression = True
        else:
            st.correct += int(s_hits)
        st.seen += int(s_n)
        st.step += 1

    def _end_epoch(self, steps: int) -> None:
        """Validate, select, checkpoint; ``steps``: optimizer steps per epoch."""
        st = self.state
        t0 = time.perf_counter()
        if self.task.evaluate is None:
            bs = self.cfg.eval_batch_size
            val_loss, val_acc = evaluate(self.model, self.val, bs, self.device)
            raw: dict[str, float | None] = {"val_loss": val_loss, "val_acc": val_acc}
        else:
            was_training = self.model.training
            self.model.eval()
            raw = dict(self.task.evaluate(self.model))
            self.model.train(was_training)
        metrics = {k: float(v) for k, v in raw.items() if v is not None}
        if self.select.name not in metrics or "val_loss" not in metrics:
            raise ValueError(
                f"validation metrics {sorted(metrics)} lack {self.select.name!r}/val_loss"
            )
        st.epoch_seconds += time.perf_counter() - t0  # the validation pass counts too
        record: dict[str, float] = {
            "epoch": st.epoch + 1,
            "step": (st.epoch + 1) * steps,
            "loss": st.loss_sum / max(st.seen, 1),
        }
        if not st.regression:
            record["train_acc"] = st.correct / max(st.seen, 1)
        if self.task.lr_at is not None:
            record["lr"] = float(self.optimizer.param_groups[0]["lr"])
        record.update(metrics)
        record["seconds"] = st.epoch_seconds
        value, val_loss = metrics[self.select.name], metrics["val_loss"]
        if st.best_value is None:
            improved = True  # the first epoch
        elif value == st.best_value:
            improved = val_loss < st.best_val_loss
        else:
            improved = value > st.best_value if self.select.mode == "max" else value < st.best_value
        improved = improved and st.epoch + 1 >= self.task.select_from_epoch
        if improved:
            st.best_epoch, st.best_value, st.best_val_loss = st.epoch + 1, value, val_loss
            self.best_weights = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            if self.on_improved is not None:
                self.on_improved(self.model)
        st.history.append(record)
        st.epoch += 1
        st.step, st.loss_sum, st.correct, st.seen, st.epoch_seconds = 0, 0.0, 0, 0, 0.0
        st.regression = False
        self.epoch_shuffle_state = self.shuffle.get_state()
        self.save_state()
        self.observer.on_epoch(record, improved)

    def fit(self) -> LoopState:
        """Run until ``cfg.epochs`` epochs are done; raises Interrupted / RuntimeFailure."""
        self.model.train()
        n = int(self.train.y.shape[0])
        bs = self.cfg.batch_size
        steps = math.ceil(n / bs)
        if not self.state_path.exists():
            self.save_state()
        while self.state.epoch < self.cfg.epochs:
            self.shuffle.set_state(self.epoch_shuffle_state)
            order = torch.randperm(n, generator=self.shuffle)
            if self.task.on_epoch_start is not None:
                self.task.on_epoch_start(self.state.epoch)
            if self.task.lr_at is not None:  # also after a resume, which reset it to cfg.lr
                lr = float(self.task.lr_at(self.state.history))
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
            while self.state.step < steps:
                if self.dist.active and distributed.max_flags(self.stop.requested)[0]:
                    self.stop.request("SIGTERM (on another rank)")  # all ranks stop together
                if self.stop.requested:
                    self.save_state()
                    raise Interrupted(
                        f"{self.stop.signal_name} at epoch {self.state.epoch + 1} step "
                        f"{self.state.step}; state saved in {self.state_path.parent}, "
                        "continue with --resume"
                    )
                t0 = time.perf_counter()
                idx = order[self.state.step * bs : (self.state.step + 1) * bs]
                mine = idx[self.dist.rank :: self.dist.world]  # this rank's share of the batch
                self._train_step(
                    self.train.x[mine].to(self.device), self.train.y[mine].to(self.device), len(idx)
                )
                self.state.epoch_seconds += time.perf_counter() - t0
                self.observer.on_step(self.state.epoch + 1, self.state.step, steps)
            self._end_epoch(steps)
        return self.state
