"""Name normalisation: one canonical key per model, platform (with power mode) and precision."""
from __future__ import annotations

import pytest

from collectors.errors import InputError
from collectors.names import Names, precision


@pytest.fixture(scope="module")
def names() -> Names:
    return Names.load()


@pytest.mark.parametrize("given, expected", [
    ("ResNet-18", "resnet18"), ("ViT-B/16", "vit_b_16"), ("MobileNet-V3-Small", "mobilenet_v3_small"),
    ("EfficientNet-B0", "efficientnet_b0"), ("MaxViT-T", "maxvit_t"), ("VGG-16", "vgg16"),
    ("DeepLabV3-ResNet50", "deeplabv3_resnet50"), ("resnet18", "resnet18"), ("MyOwnNet-7", "MyOwnNet-7"),
])
def test_names_model_maps_graphs_display_names_to_builders(names, given, expected):
    assert names.model(given) == expected


@pytest.mark.parametrize("given, power_mode, expected", [
    ("Jetson-Orin-AGX-64GB", None, "jetson-orin-agx-64gb@30w"),  # graphs: the default mode
    ("jetson_orin_agx_30w", "30W", "jetson-orin-agx-64gb@30w"),  # calibration: hardware_id + thermal_profile
    ("jetson_orin_agx_50w", "50W", "jetson-orin-agx-64gb@50w"),
    ("NVIDIA Jetson AGX Orin Developer Kit", "MODE_50W", "jetson-orin-agx-64gb@50w"),  # device-tree + nvpmodel -q
    ("NVIDIA Jetson AGX Orin Developer Kit", "MAXN", "jetson-orin-agx-64gb@maxn"),
    ("Intel-i7-12700K-Alder-Lake", None, "intel-i7-12700k"),
    ("H100-SXM5-80GB", None, "h100-sxm5-80gb"),
    ("Some New Board", None, "some-new-board"),
])
def test_names_platform_is_one_slug_with_its_power_mode(names, given, power_mode, expected):
    assert names.platform(given, power_mode) == expected


def test_names_platform_refuses_two_different_power_modes(names):
    with pytest.raises(ValueError, match="says power mode 30w but the file says 50W"):
        names.platform("jetson_orin_agx_30w", "50W")


def test_names_precision_accepts_graphs_spellings_and_refuses_the_rest():
    assert [precision("f", "p", v) for v in ("FP32", "fp16", "bfloat16", "INT8")] == ["fp32", "fp16", "bf16", "int8"]
    with pytest.raises(InputError, match=r"f: precision = 'fp12': unknown precision"):
        precision("f", "precision", "fp12")
