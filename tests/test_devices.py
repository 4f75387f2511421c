"""Device profiles: every shipped profile loads, is fully priced and cited; bad profiles fail clearly."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from hearpipe.blocks.base import Context
from hearpipe.budget.cost import OP_KINDS, Cost, KernelCall
from hearpipe.budget.device import DeviceProfile
from hearpipe.budget.profiles import list_devices, load_device
from hearpipe.config import load_model
from hearpipe.errors import InvalidInput

SHIPPED = list_devices()
# Numbers a profile states; each must have a citation (or a marked estimate) in `sources`.
CITED_FIELDS = ("clock_mhz", "usable_mips", "ram_kib", "rom_kib", "max_latency_ms", "sample_rates_hz")


def test_the_required_device_classes_are_shipped():
    names = {p.stem for p in SHIPPED}
    assert {"hearing-aid-dsp", "cortex-m55-ethos-u55", "desktop"} <= names
    assert names & {"cortex-m7", "cortex-m4f"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_profile_loads_by_path_and_by_name(path: Path):
    by_path = load_device(path)
    assert isinstance(by_path, DeviceProfile)
    assert by_path.name == path.stem  # `hearpipe devices` and --device use the file stem
    assert load_device(path.stem) == by_path
    assert set(by_path.cycles_per_op) == set(OP_KINDS)
    assert all(v > 0 for v in by_path.cycles_per_op.values())


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_number_is_cited(path: Path):
    dev = load_device(path)
    wanted = {*CITED_FIELDS, "arithmetic", "word_bits"} | {f"cycles_per_op.{k}" for k in OP_KINDS}
    wanted |= {f"kernels.{k}" for k in dev.kernels} | (
        {"implementation", "weight_memory"} if dev.kernels else set()
    )
    missing = sorted(wanted - set(dev.sources))
    assert not missing, f"{path.name}: no source for {missing}"
    unexpected = sorted(set(dev.sources) - wanted)
    assert not unexpected, f"{path.name}: sources for unknown fields {unexpected}"
    short = sorted(k for k, v in dev.sources.items() if len(v.strip()) < 10)
    assert not short, f"{path.name}: empty or token citations for {short}"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_profile_is_physically_consistent(path: Path):
    dev = load_device(path)
    # MIPS are counted as cycles (docs/devices.md): the graph cannot get more cycles than the clock.
    assert dev.usable_mips <= dev.clock_mhz
    assert all(8000 <= fs <= 96000 for fs in dev.sample_rates_hz)
    if dev.fixed:
        assert dev.word_bits in (16, 24, 32)
        # a 16-bit MAC is never dearer than a 32-bit one (mac8 can be: int8 must be widened for SMLAD)
        assert dev.cycles_per_op["mac16"] <= dev.cycles_per_op["mac32"]
        assert dev.max_latency_ms <= 10  # hearing-aid class devices (domain.md section 2)


def test_hearing_aid_dsp_is_24_bit_fixed():
    dev = load_device("hearing-aid-dsp")
    assert dev.arithmetic == "fixed" and dev.word_bits == 24


def test_npu_makes_int8_macs_far_cheaper_than_cpu_macs():
    npu = load_device("cortex-m55-ethos-u55")
    assert npu.cycles_per_op["mac8"] * 10 <= npu.cycles_per_op["mac16"]


def test_cycles_of_q15_macs_without_a_kernel_record_on_the_cortex_m7():
    # Independent arithmetic: 64 q15 MACs per frame at 16 kHz is 1.024 M MACs/s; priced per operation
    # (no kernel record) SMLAD does 2 per cycle, so 0.512 M cycles/s.
    dev = load_device("cortex-m7")
    cost = Cost(ops=Counter(mac16=64), frame_rate_hz=16000.0)
    assert dev.cycles_per_s(cost) == pytest.approx((512_000.0,) * 3)


def test_a_kernel_record_replaces_the_per_operation_price_of_what_it_covers():
    # a 64-tap q15 FIR called once per 32-sample block: per sample 1/32 call, 1 output, 64 MACs
    dev = load_device("cortex-m4f")
    ops = Counter(mac16=64, add=1, cmp=2)
    fir = KernelCall("fir_q15", 1 / 32, 1, 64, ops)
    p = dev.kernels["fir_q15"]
    assumed, low, high = dev.cycles_per_s(Cost(ops=ops + Counter(mul=3), kernels=[fir], frame_rate_hz=1.0))
    expected = p.overhead / 32 + p.per_output + 64 * p.per_mac
    assert assumed == pytest.approx(expected + 3 * dev.cycles_per_op["mul"])  # the 3 muls: per operation
    assert (low, high) == pytest.approx((assumed, expected * 2.005 + 3))  # Keil -O3: 2x GCC


# ---- bad profiles -----------------------------------------------------------------------------


def _write_variant(tmp_path: Path, edit) -> Path:
    doc = yaml.safe_load(Path(list_devices()[0]).read_text(encoding="utf-8"))
    edit(doc)
    out = tmp_path / "bad.yaml"
    out.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return out


def test_missing_op_price_names_the_field_and_the_kind(tmp_path: Path):
    path = _write_variant(tmp_path, lambda d: d["cycles_per_op"].pop("butterfly"))
    with pytest.raises(InvalidInput) as e:
        load_model(DeviceProfile, path)
    msg = str(e.value)
    assert str(path) in msg and "cycles_per_op" in msg and "butterfly" in msg and "missing" in msg


def test_unknown_op_kind_is_refused_with_the_known_kinds(tmp_path: Path):
    path = _write_variant(tmp_path, lambda d: d["cycles_per_op"].update(mac4=0.1))
    with pytest.raises(InvalidInput, match=r"cycles_per_op.*unknown operation kinds \['mac4'\].*mac8"):
        load_model(DeviceProfile, path)


def test_unknown_field_is_named(tmp_path: Path):
    path = _write_variant(tmp_path, lambda d: d.update(clock_ghz=0.6))
    with pytest.raises(InvalidInput, match=r"clock_ghz: unknown field"):
        load_model(DeviceProfile, path)


@pytest.mark.parametrize("value", [-600, 0])
def test_non_positive_clock_is_refused(tmp_path: Path, value: float):
    path = _write_variant(tmp_path, lambda d: d.update(clock_mhz=value))
    with pytest.raises(InvalidInput, match=rf"clock_mhz: .*greater than 0.*got {value}"):
        load_model(DeviceProfile, path)


def test_missing_required_field_and_bad_arithmetic(tmp_path: Path):
    def edit(d):
        d.pop("ram_kib")
        d["arithmetic"] = "fixed24"

    path = _write_variant(tmp_path, edit)
    with pytest.raises(InvalidInput) as e:
        load_device(path)
    msg = str(e.value)
    assert "ram_kib: required field is missing" in msg
    assert "arithmetic" in msg and "fixed24" in msg


def test_unknown_device_name_suggests_the_nearest():
    with pytest.raises(InvalidInput, match=r"unknown device 'cortex-m8'.*did you mean"):
        load_device("cortex-m8")


def test_word_and_value_bytes():
    """Bytes of a stored word (DeviceProfile.word_bytes) and of an edge value: int32 spectra stay 4 bytes
    on a 16-bit DSP; a graph prepared without a device stores float32."""
    m4 = load_device("cortex-m4f")
    assert (m4.word_bytes, m4.value_bytes("q15"), m4.value_bytes("int32")) == (2, 2, 4)
    assert (load_device("hearing-aid-dsp").word_bytes, load_device("desktop").word_bytes) == (4, 4)
    assert m4.model_copy(update={"arithmetic": "float64"}).value_bytes("float") == 8
    assert Context(16000.0, 1).word_bytes == 4


def test_uncited_custom_profile_loads_with_a_note(tmp_path, capsys):
    doc = yaml.safe_load(Path(list_devices()[0]).read_text())
    doc.pop("sources")
    doc.pop("kernels", None)
    path = tmp_path / "mychip.yaml"
    path.write_text(yaml.safe_dump({**doc, "name": "mychip"}))
    assert load_device(path).name == "mychip"
    assert "no sources: its numbers are uncited" in capsys.readouterr().err
    with pytest.raises(InvalidInput, match="a profile file's path"):
        load_device("mychip")
