"""Name normalisation: one canonical key per model, platform (with power mode) and precision."""

from __future__ import annotations

import pytest

from collectors.errors import InputError
from collectors.names import BadPlatform, Names, precision


@pytest.fixture(scope="module")
def names() -> Names:
    return Names.load()


@pytest.mark.parametrize(
    "given, expected",
    [
        ("ResNet-18", "resnet18"),
        ("ViT-B/16", "vit_b_16"),
        ("MobileNet-V3-Small", "mobilenet_v3_small"),
        ("EfficientNet-B0", "efficientnet_b0"),
        ("MaxViT-T", "maxvit_t"),
        ("VGG-16", "vgg16"),
        ("DeepLabV3-ResNet50", "deeplabv3_resnet50"),
        ("resnet18", "resnet18"),
        ("MyOwnNet-7", "MyOwnNet-7"),
    ],
)
def test_names_model_maps_graphs_display_names_to_builders(names, given, expected):
    assert names.model(given) == expected


@pytest.mark.parametrize(
    "given, power_mode, expected",
    [
        ("Jetson-Orin-AGX-64GB", None, "jetson-orin-agx-64gb@30w"),  # graphs: the default mode
        ("jetson_orin_agx_30w", "30W", "jetson-orin-agx-64gb@30w"),  # calibration: hardware_id + thermal_profile
        ("jetson_orin_agx_50w", "50W", "jetson-orin-agx-64gb@50w"),
        ("NVIDIA Jetson AGX Orin Developer Kit", "MODE_50W", "jetson-orin-agx-64gb@50w"),  # device-tree + nvpmodel -q
        ("NVIDIA Jetson AGX Orin Developer Kit", "MAXN", "jetson-orin-agx-64gb@maxn"),
        ("Intel-i7-12700K-Alder-Lake", None, "intel-i7-12700k"),
        ("H100-SXM5-80GB", None, "h100-sxm5-80gb"),
        ("Some New Board", None, "some-new-board"),
        ("Jetson-Orin-AGX@50W", None, "jetson-orin-agx-64gb@50w"),  # a flag: alias, then the mode
        ("H200@700W", None, "nvidia-h200@700w"),
    ],
)
def test_names_platform_is_one_slug_with_its_power_mode(names, given, power_mode, expected):
    assert names.platform(given, power_mode) == expected


@pytest.mark.parametrize(
    "given, power_mode, message",
    [
        ("jetson_orin_agx_30w", "50W", r"'jetson_orin_agx_30w': two power modes \(30w, 50w\)"),
        ("Jetson-Orin-AGX@30W", "50W", r"two power modes \(30w, 50w\)"),
        ("", None, "empty name"),
        ("@@", None, "empty name"),
        ("jetson-orin-agx@banana", None, r"power mode 'banana': expected watts"),
    ],
)
def test_names_platform_refuses_what_cannot_be_one_slug(names, given, power_mode, message):
    with pytest.raises(BadPlatform, match=message):
        names.platform(given, power_mode)


def test_names_platform_map_proxies_go_through_the_aliases(tmp_path):
    path = tmp_path / "map.json"
    path.write_text('{"aliases": {"lab-box-7": "intel-i7-12700k"}, "proxies": {"H200": "H100"}}')
    names = Names.load(path)
    assert names.platform("Lab Box 7") == "intel-i7-12700k"
    assert names.proxies == {"nvidia-h200": "h100-sxm5-80gb"}


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"alias": {}}', r"map.json: alias = \{\}: unknown key \(expected aliases, default_power_modes, proxies\)"),
        ('{"proxies": {"nvidia-h200": 5}}', r"map.json: proxies.nvidia-h200 = 5: expected a non-empty name"),
        ('{"proxies": []}', r"map.json: proxies = \[\]: expected an object of name: name"),
        ("[1]", r"expected a JSON object"),
    ],
)
def test_names_platform_map_refuses_bad_shapes_in_one_line(tmp_path, text, message):
    path = tmp_path / "map.json"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        Names.load(path)


def test_names_precision_accepts_graphs_spellings_and_refuses_the_rest():
    assert [precision("f", "p", v) for v in ("FP32", "fp16", "bfloat16", "INT8")] == ["fp32", "fp16", "bf16", "int8"]
    with pytest.raises(InputError, match=r"f: precision = 'fp12': unknown precision"):
        precision("f", "precision", "fp12")


# -- a platform map goes through the same normalisation as every other name ---------------------------


def _map(tmp_path, text: str):
    path = tmp_path / "map.json"
    path.write_text(text)
    return path


def test_names_platform_map_alias_targets_are_canonical_slugs(tmp_path):
    aliases = '{"aliases": {"lab box": "My Lab Box", "orin 7": "Jetson Orin AGX 64GB@MODE_50W"}}'
    names = Names.load(_map(tmp_path, aliases))
    assert names.platform("Lab Box") == "my-lab-box"
    assert names.platform("orin_7") == "jetson-orin-agx-64gb@50w"


def test_names_platform_map_default_power_modes_are_canonical(tmp_path):
    names = Names.load(_map(tmp_path, '{"default_power_modes": {"My Board": "MODE_15W"}}'))
    assert names.platform("my board") == "my-board@15w"


@pytest.mark.parametrize(
    "text, message",
    [
        (
            '{"default_power_modes": {"jetson-orin-agx-64gb": "banana"}}',
            r"map.json: default_power_modes.jetson-orin-agx-64gb = 'banana': power mode 'banana': expected watts",
        ),
        ('{"aliases": {"lab box": "box@banana"}}', r"map.json: aliases.lab box = 'box@banana': power mode 'banana'"),
        ('{"aliases": {"--": "box"}}', r"map.json: aliases = '--': not a name \(no letter or digit\)"),
        ('{"proxies": {"@": "h100"}}', r"map.json: proxies = '@': not a name \(no letter or digit\)"),
        ('{"aliases": {"box": "a\\u0000b"}}', r"map.json: aliases.box = 'a\\x00b': contains a control character"),
    ],
)
def test_names_platform_map_refuses_what_no_name_could_be(tmp_path, text, message):
    with pytest.raises(InputError, match=message):
        Names.load(_map(tmp_path, text))
