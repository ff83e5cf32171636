"""parity probe: every conversion, runnable or unavailable with a precise reason and fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from collectors.catalogue import by_name
from collectors.probe import Host, check, probe
from reporter.cli import main


class FakeHost(Host):
    """This machine's facts, with a few overridden for the case under test."""

    def __init__(
        self,
        device: str = "cpu",
        *,
        missing: tuple[str, ...] = (),
        cuda: bool | None = None,
        providers: tuple[str, ...] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(device, **kwargs)
        self._found.update({name: False for name in missing})
        if cuda is not None:
            self.__dict__["cuda_available"] = cuda
        if providers is not None:
            self.__dict__["ort_providers"] = providers


def availability(name: str, host: Host):
    return check(by_name()[name], host)


def test_probe_covers_all_72_and_eager_runs_on_cpu() -> None:
    results = probe("cpu")
    assert len(results) == 72
    assert availability("EAGER", Host("cpu")).runnable


@pytest.mark.parametrize(
    "name",
    [
        "BF16+EAGER",
        "NATIVE_CONVERT_AI8WI8_STATIC_QUANTIZED",
        "OPTIMIM_QUANTO_Wf8E5M2+COMPILE_CUDAGRAPHS",
        "COMPILE_OPENVINO",
    ],
)
def test_known_broken_conversions_are_unavailable(name: str) -> None:
    result = availability(name, Host("cuda"))
    assert (result.runnable, result.category) == (False, "known-broken")
    assert "Alma 0.3.7" in result.reason


def test_cuda_only_conversion_on_cpu_says_to_use_cuda() -> None:
    result = availability("COMPILE_CUDAGRAPHS", Host("cpu"))
    assert (result.category, result.fix) == ("needs-cuda", "run with --device cuda on a CUDA machine")


def test_cuda_device_without_cuda_is_unavailable() -> None:
    result = availability("EAGER", FakeHost("cuda", cuda=False))
    # One category for one cause: CUDA is not there for this run, whether not asked for or absent.
    assert result.category == "needs-cuda" and "torch.cuda.is_available() is False" in result.reason
    onnx_cpu = availability("ONNX_CPU", FakeHost("cuda", cuda=False))
    assert (onnx_cpu.runnable, onnx_cpu.runs_on) == (True, "cpu")  # runs on the CPU anyway


def test_removed_torch_api_names_the_api_and_the_version() -> None:
    host = FakeHost("cpu")
    host.__dict__["missing_torch_apis"] = ["torch.ao.quantization.quantize_pt2e.convert_pt2e"]
    result = availability("EXPORT+AI8WI8_STATIC_QUANTIZED", host)
    assert result.category == "removed-torch-api"
    assert result.reason.startswith("needs torch.ao.quantization.quantize_pt2e.convert_pt2e")
    assert f"removed in torch {host.torch.__version__}" in result.reason


def test_missing_package_gives_the_pip_command() -> None:
    result = availability(
        "COMPILE_TENSORRT",
        FakeHost("cuda", cuda=True, missing=("tensorrt", "torch_tensorrt"), system_site_glob="/nonexistent"),
    )
    assert result.reason == "missing package: tensorrt, torch_tensorrt"
    assert result.fix == "pip install tensorrt torch-tensorrt"


def test_system_tensorrt_outside_the_venv_says_to_recreate_it(tmp_path: Path) -> None:
    site = tmp_path / "python3.10" / "dist-packages"
    (site / "tensorrt").mkdir(parents=True)
    host = FakeHost(
        "cuda",
        cuda=True,
        missing=("tensorrt", "torch_tensorrt"),
        system_site_glob=str(tmp_path / "python3*" / "dist-packages"),
    )
    result = availability("COMPILE_TENSORRT", host)
    assert result.category == "not-in-venv" and str(site / "tensorrt") in result.reason
    assert "--system-site-packages" in result.fix


def test_onnx_gpu_without_the_cuda_provider_is_unavailable() -> None:
    host = FakeHost("cuda", cuda=True, providers=("CPUExecutionProvider",))
    result = availability("ONNX_GPU", host)
    assert result.category == "no-provider" and "onnxruntime-gpu" in result.fix
    host = FakeHost("cuda", cuda=True, providers=("CUDAExecutionProvider", "CPUExecutionProvider"))
    assert availability("ONNX_GPU", host).runnable


def test_probe_json_lists_every_conversion(capsys) -> None:
    assert main(["probe", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 72 and set(rows[0]) == {
        "alma_id",
        "conversion",
        "runnable",
        "category",
        "reason",
        "fix",
        "runs_on",
    }
    assert max(len(r["reason"] or "") for r in rows) > 100  # the full text; the table cuts it


def test_probe_table_ends_with_a_count(capsys) -> None:
    assert main(["probe"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("conversions can run on cpu here")


def test_probe_count_agrees_with_the_status_column() -> None:
    from reporter.commands.probe import _status, count_line

    host = FakeHost("cuda", cuda=False)
    results = [availability(name, host) for name in ("EAGER", "ONNX_CPU", "COMPILE_CUDAGRAPHS")]
    assert [_status(a, "cuda") for a in results] == ["unavailable", "runnable on cpu", "unavailable"]
    assert count_line(results, "cuda") == (
        "0 of 3 conversions can run on cuda here; 1 more runs on the cpu even with --device cuda (ONNX_CPU)"
    )
    assert count_line([availability("EAGER", Host("cpu"))], "cpu") == "1 of 1 conversions can run on cpu here"


def test_probe_table_cuts_long_reasons(capsys) -> None:
    from reporter.commands.probe import FIX_WIDTH, REASON_WIDTH

    assert main(["probe"]) == 0
    out = capsys.readouterr().out
    assert "…" in out and "parity probe --json" in out
    widest = max(len(line) for line in out.splitlines() if "OPENVINO" in line)
    assert widest < 60 + REASON_WIDTH + FIX_WIDTH + 25  # id, conversion, status and the gaps
