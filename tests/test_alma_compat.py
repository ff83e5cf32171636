"""Alma imports on this torch through collectors.alma_compat, and only the removed APIs fail."""

from __future__ import annotations

import importlib
import re

import pytest
import torch

from collectors import alma_compat
from collectors.catalogue import UnknownConversion, load_catalogue, precision_of, validate_names


def test_missing_torch_apis_are_exactly_the_absent_names() -> None:
    missing = alma_compat.missing_torch_apis()
    for qualified in missing:
        module_name, _, name = qualified.rpartition(".")
        assert module_name in alma_compat.ALMA_TORCH_IMPORTS
        assert name in alma_compat.ALMA_TORCH_IMPORTS[module_name]
    if torch.__version__ >= (2, 11):  # TorchVersion compares as a version, not as text
        assert "torch.ao.quantization.quantize_pt2e.convert_pt2e" in missing


def test_alma_imports_and_a_placeholder_says_what_was_removed() -> None:
    alma = alma_compat.import_alma()
    assert hasattr(alma, "benchmark_model")
    for qualified in alma_compat.missing_torch_apis():
        module_name, _, name = qualified.rpartition(".")
        placeholder = getattr(importlib.import_module(module_name), name)
        with pytest.raises(
            alma_compat.RemovedTorchAPI, match=re.escape(f"{name} was removed in torch {torch.__version__}")
        ):
            placeholder()


def test_missing_names_are_remembered_from_before_the_placeholders() -> None:
    before = alma_compat.missing_torch_apis()
    alma_compat.import_alma()
    assert alma_compat.missing_torch_apis() == before


def test_catalogue_is_alma_s_72_conversions_in_id_order() -> None:
    catalogue = load_catalogue()
    assert [c.alma_id for c in catalogue] == list(range(72))
    assert catalogue[0].name == "EAGER" and catalogue[2].device_override == "CPU"
    assert catalogue[43].name == "FP16+EAGER" and catalogue[43].data_dtype == "float16"


@pytest.mark.parametrize(
    ("name", "precision"),
    [
        ("EAGER", "fp32"),
        ("FP16+COMPILE_CUDAGRAPHS", "fp16"),
        ("BF16+EAGER", "bf16"),
        ("EXPORT+AI8WI8_STATIC_QUANTIZED", "int8"),
        ("OPTIMUM_QUANTO_WI4", "int8"),
        ("TORCHAO_QUANT_I4_WEIGHT_ONLY", "int8"),
    ],
)
def test_precision_follows_the_conversion_name(name: str, precision: str) -> None:
    assert precision_of(name) == precision


def test_unknown_conversion_suggests_the_real_name() -> None:
    with pytest.raises(UnknownConversion) as error:
        validate_names(["EAGER", "COMPILE_INDUCTOR"])
    assert str(error.value).startswith(
        "unknown conversion 'COMPILE_INDUCTOR': Alma 0.3.7 would silently skip it. "
        "Did you mean COMPILE_INDUCTOR_DEFAULT"
    )


def test_known_names_come_back_in_the_order_given() -> None:
    assert [c.name for c in validate_names(["ONNX_CPU", "EAGER"])] == ["ONNX_CPU", "EAGER"]
