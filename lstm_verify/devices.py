"""``--device``: where a TARGET runs, spelled as its framework spells it, read in one place.

========================  ==================================  ==========================
kind                      ``--device``                        column
========================  ==================================  ==========================
torch-cell, torch-lstm    ``cpu``, ``cuda``, ``cuda:N``       ``name-cuda-float32``
jax-step                  ``cpu``, ``gpu``, ``gpu:N``         ``name-gpu-float32``
tf-step                   ``CPU:0``, ``GPU:0``, ``GPU:N``     ``name-gpu-float32``
numpy-step, onnx,         ``cpu`` only (the adapter of
adapter                   ``--kind adapter`` names its own)
========================  ==================================  ==========================

Any framework's spelling is read for any framework (``gpu`` means ``cuda`` to torch, ``cuda:1``
means ``GPU:1`` to TensorFlow; case and TensorFlow's ``/device:`` prefix do not matter), so one
``LSTM_VERIFY_DEVICE`` serves every kind. The CPU and device 0 of an accelerator add nothing to
the column's name; device N adds N (``name-cuda1-float32``).

On an accelerator the kit runs float32 as float32: TF32 off (torch's ``fp32_precision = "ieee"``
for CUDA matmuls and cuDNN, which is ``allow_tf32 = False``; JAX's ``default_matmul_precision``
``highest``; TensorFlow's ``enable_tensor_float_32_execution(False)``), because a float32 column
is held to float32's error bound, as the built-in ``torch-cell-cuda`` and ``torch-lstm-cuda``
columns are. The precision each column declares follows (:meth:`Adapter.precision
<lstm_verify.adapters.Adapter.precision>`): ``ieee``, and cuDNN's approximate activations for an
``nn.LSTM`` run by cuDNN.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FRAMEWORKS = {"torch": "cuda", "jax": "gpu", "tensorflow": "GPU"}
"""Each framework that can run a TARGET off the CPU, and its name for an NVIDIA GPU."""
_SPELLING = re.compile(r"/?(?:device:)?(cpu|gpu|cuda)(?::(\d+))?", re.IGNORECASE)


class DeviceError(ValueError):
    """A ``--device`` that is misspelt, that the kind cannot run on, or that this machine lacks;
    the message is one line for the user."""


@dataclass(frozen=True)
class Device:
    """A device of one framework: the CPU, or accelerator ``index``."""

    framework: str | None
    """A key of :data:`FRAMEWORKS`; None for a kind that runs on the CPU only."""
    accelerator: bool = False
    index: int = 0

    @property
    def spec(self) -> str:
        """The framework's own name of the device: ``cpu``, ``cuda:0``, ``gpu:1``, ``/GPU:0``."""
        if self.framework == "tensorflow":
            return f"/{'GPU' if self.accelerator else 'CPU'}:{self.index}"
        return f"{FRAMEWORKS[self.framework]}:{self.index}" if self.accelerator else "cpu"

    @property
    def label(self) -> str:
        """What the device adds to a column's name: '' (the CPU), ``cuda``, ``gpu``, ``cuda1``."""
        if not self.accelerator:
            return ""
        return FRAMEWORKS[self.framework].lower() + (str(self.index) if self.index else "")

    def missing(self) -> str | None:
        """Why this machine cannot run on the device (the framework sees no such device), or None;
        imports the framework."""
        if not self.accelerator:
            return None
        if self.framework == "torch":
            import torch
            count, what = torch.cuda.device_count() if torch.cuda.is_available() else 0, "CUDA device"
        elif self.framework == "jax":
            import jax
            try:
                count = len(jax.devices("gpu"))
            except RuntimeError:
                count = 0
            what = "GPU"
        else:
            import tensorflow as tf
            count, what = len(tf.config.list_physical_devices("GPU")), "GPU"
        if count > self.index:
            return None
        seen = f"no {what}" if not count else f"{count} {what}{'s' * (count > 1)} (0 to {count - 1})"
        return f"{self.framework} sees {seen} on this machine"



def parse_device(spec: str | None, framework: str | None, kind: str = "") -> Device:
    """The device ``spec`` names (None or '': the CPU) for a TARGET of ``framework`` (None: a kind
    that runs on the CPU only; ``kind`` names it in the error). A :class:`DeviceError` for a
    spelling no framework uses, or an accelerator asked of a CPU-only kind."""
    if not spec:
        return Device(framework)
    found = _SPELLING.fullmatch(spec.strip())
    if not found:
        raise DeviceError(f"--device {spec}: not a device; cpu, cuda or cuda:N (torch), gpu or gpu:N (JAX), "
                          f"CPU:0 or GPU:N (TensorFlow)")
    accelerator, index = found[1].lower() != "cpu", int(found[2] or 0)
    if not accelerator and index:
        raise DeviceError(f"--device {spec}: there is one CPU device, cpu (CPU:0)")
    if accelerator and framework is None:
        raise DeviceError(f"--device {spec}: --kind {kind} runs on the CPU only")
    return Device(framework, accelerator, index)
