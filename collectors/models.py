"""The networks a bench worker measures, and the random input batch each is fed.

Models: a torchvision builder name (`resnet18`, built with weights=None), or `module.path:factory`
for your own network, where `factory()` returns an `nn.Module`. The input is a random batch of the
model's input shape: the crop size of the torchvision builder's default weights (299 for
inception_v3), a ViT's own `image_size` (224 when built without weights), or, for a factory model,
its `parity_input_shape` attribute (without the batch dimension; default (3, 224, 224)).
"""

from __future__ import annotations

import importlib
from typing import Any

DEFAULT_IMAGE_SIZE = 224


def build_model(spec: str) -> Any:
    """An `nn.Module` in eval mode: a torchvision builder name, or `module.path:factory`."""
    if ":" in spec:
        module_name, _, factory = spec.partition(":")
        return getattr(importlib.import_module(module_name), factory)().eval()
    import torchvision

    return torchvision.models.get_model(spec, weights=None).eval()


def input_shape(spec: str, model: Any) -> tuple[int, ...]:
    """The shape of one input sample, without the batch dimension (see the module docstring)."""
    if hasattr(model, "parity_input_shape"):
        return tuple(model.parity_input_shape)
    if hasattr(model, "image_size"):  # torchvision ViTs: the size they were built for
        return (3, model.image_size, model.image_size)
    if ":" in spec:
        return (3, DEFAULT_IMAGE_SIZE, DEFAULT_IMAGE_SIZE)
    size = _default_weights_crop(spec)
    return (3, size, size)


def _default_weights_crop(name: str) -> int:
    import torchvision

    try:
        transforms = torchvision.models.get_model_weights(name).DEFAULT.transforms()
    except (ValueError, AttributeError, KeyError):
        return DEFAULT_IMAGE_SIZE
    crop = getattr(transforms, "crop_size", None)
    return int(crop[0]) if crop else DEFAULT_IMAGE_SIZE


def model_and_input(spec: str, conversion: str, batch_size: int, device: Any) -> tuple[Any, Any]:
    """The model on `device` and one random input batch there, in the conversion's data type:
    what Parity's timer and benchmarks/gpu_reference.py both run."""
    import torch

    from collectors.catalogue import by_name

    model = build_model(spec).to(device)
    dtype = getattr(torch, by_name()[conversion].data_dtype or "float32")
    return model, torch.randn(batch_size, *input_shape(spec, model), device=device).to(dtype)
