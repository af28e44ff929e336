"""The cache of converted models (``lstm_verify.cache.cached_conversion``): a conversion is read back
instead of made again, a changed key part or source converts again, a corrupt entry is rebuilt, and
a model patched from a cached conversion computes what one from a fresh conversion does."""

import os

import numpy as np
import pytest

from lstm_verify import cache
from lstm_verify.cache import cached_conversion


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A cache folder of this test's own (``conversions/`` inside it)."""
    monkeypatch.setattr(cache, "_conversions", tmp_path / "conversions")
    cache._source.cache_clear()
    yield tmp_path / "conversions"
    cache._source.cache_clear()


class Converter:
    """A convert function that counts its calls."""

    def __init__(self, model: bytes = b"model bytes") -> None:
        self.model, self.calls = model, 0

    def __call__(self) -> bytes:
        self.calls += 1
        return self.model


CODE = (__name__,)


def test_past_the_limit_the_least_recently_used_entries_go(folder):
    """Every change to a converter adapter makes a new set of entries: the folder stays bounded, and
    a read keeps an entry (its time renewed) over one converted later but not read since."""
    for k in range(4):
        cached_conversion(("form", k), Converter(bytes(100)), CODE)
    entries = sorted(folder.iterdir(), key=lambda e: e.stat().st_mtime)
    for age, entry in enumerate(entries):
        os.utime(entry, (1000 + age, 1000 + age))
    convert = Converter(bytes(100))
    cached_conversion(("form", 0), convert, CODE)  # the oldest, read: now the newest
    assert convert.calls == 0
    size = entries[0].stat().st_size
    cache.prune(folder, 3 * size)  # 4 entries over a limit of 3: down to 1.5, the newest one kept
    assert sorted(folder.iterdir()) == [entries[0]]
    cache.prune(folder, 3 * size)
    assert sorted(folder.iterdir()) == [entries[0]], "under the limit nothing goes"


def test_a_second_build_reads_the_entry_and_does_not_convert(folder):
    convert = Converter()
    assert cached_conversion(("form", (2, 3), "float32"), convert, CODE) == b"model bytes"
    assert cached_conversion(("form", (2, 3), "float32"), convert, CODE) == b"model bytes"
    assert convert.calls == 1
    assert [p.suffix for p in folder.iterdir()] == [".bin"]  # no temporary file left behind


@pytest.mark.parametrize("changed", [("form", (2, 4), "float32"), ("form", (2, 3), "float64"),
                                     ("other form", (2, 3), "float32"), ("form", (2, 3), "float32", "tensorflow 2.22")])
def test_a_changed_key_part_converts_again(folder, changed):
    convert = Converter()
    cached_conversion(("form", (2, 3), "float32"), convert, CODE)
    cached_conversion(changed, convert, CODE)
    assert convert.calls == 2


def test_a_changed_source_converts_again(folder, tmp_path, monkeypatch):
    module = tmp_path / "converter_module.py"
    module.write_text("SCALE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    convert = Converter()
    cached_conversion(("form",), convert, ("converter_module",))
    module.write_text("SCALE = 2\n")
    cache._source.cache_clear()  # a new process hashes the files afresh
    cached_conversion(("form",), convert, ("converter_module",))
    cached_conversion(("form",), convert, ("converter_module",))
    assert convert.calls == 2


@pytest.mark.parametrize("damage", [lambda b: b[:-1], lambda b: b[:10], lambda b: b"", lambda b: b[:-1] + b"?"])
def test_a_corrupt_entry_is_rebuilt(folder, damage):
    convert = Converter()
    cached_conversion(("form",), convert, CODE)
    (entry,) = folder.iterdir()
    entry.write_bytes(damage(entry.read_bytes()))
    assert cached_conversion(("form",), convert, CODE) == b"model bytes"
    assert cached_conversion(("form",), convert, CODE) == b"model bytes"
    assert convert.calls == 2


def test_without_a_cache_folder_or_a_source_file_it_converts(folder, monkeypatch):
    convert = Converter()
    cached_conversion(("form",), convert, (len,))  # a builtin: no file to hash
    cached_conversion(("form",), convert, (len,))
    monkeypatch.setattr(cache, "_conversions", None)
    cached_conversion(("form",), convert, CODE)
    assert convert.calls == 3
    assert not folder.exists()


def _litert(monkeypatch):
    pytest.importorskip("ai_edge_litert")
    from lstm_verify.adapters import litert_lstm
    calls = []
    convert = litert_lstm.LiteRtAdapter.convert
    monkeypatch.setattr(litert_lstm.LiteRtAdapter, "convert", lambda self, key: calls.append(key) or convert(self, key))
    return litert_lstm.LiteRtAdapter, calls


def _tf2onnx(monkeypatch):
    pytest.importorskip("tf2onnx")
    from lstm_verify.adapters import tf2onnx_lstm
    calls = []
    convert = tf2onnx_lstm.convert
    monkeypatch.setattr(tf2onnx_lstm, "convert", lambda *args: calls.append(args) or convert(*args))
    return tf2onnx_lstm.TfBlockViaTf2Onnx, calls


def _torch_onnx(monkeypatch):
    pytest.importorskip("onnxruntime")
    from lstm_verify.adapters import torch_onnx
    calls = []
    export = torch_onnx._export
    monkeypatch.setattr(torch_onnx, "_export", lambda config: calls.append(config) or export(config))

    def build() -> torch_onnx.TorchOnnxAdapter:
        monkeypatch.setattr(torch_onnx, "_EXPORTED", {})  # what a new process starts with
        return torch_onnx.TorchOnnxAdapter()
    return build, calls


@pytest.mark.parametrize("converter", [_litert, _tf2onnx, _torch_onnx])
def test_a_cached_conversion_computes_what_a_fresh_one_does(folder, monkeypatch, converter):
    """Three adapters (each with an empty in-process cache): the first converts and writes the
    entry, the second reads it, the third converts without a cache folder; all agree exactly."""
    build, calls = converter(monkeypatch)
    from lstm_verify.params import Params
    params = Params.uniform_init(2, 3, np.random.default_rng(0))
    xs = np.random.default_rng(1).normal(size=(4, 2, 2)).astype(np.float32)
    state = (np.full((2, 3), 0.5, np.float32), np.full((2, 3), -0.25, np.float32))

    def outputs() -> list[np.ndarray]:
        adapter = build()
        native = {k: v.astype(np.float32) for k, v in adapter.layout.to_native(params).items()}
        hs, (h, c) = adapter.load(native, "float32").sequence(xs, state)
        return [hs, h, c]

    first = outputs()
    assert len(calls) == 1 and len(list(folder.iterdir())) == 1
    second = outputs()
    assert len(calls) == 1, "the second adapter converted again instead of reading the entry"
    monkeypatch.setattr(cache, "_conversions", None)
    fresh = outputs()
    assert len(calls) == 2
    for cached, converted, read in zip(first, fresh, second):
        np.testing.assert_array_equal(read, converted)
        np.testing.assert_array_equal(cached, converted)


def test_a_refusal_is_kept_as_a_conversion_is(folder):
    pytest.importorskip("ai_edge_litert")
    from lstm_verify.adapters.litert_lstm import cached_refusal
    calls = []

    def refused() -> bytes:
        calls.append(1)
        raise ValueError("float64 is not supported")
    for _ in range(2):
        assert cached_refusal(("form", "float64"), refused, CODE) == "ValueError: float64 is not supported"
    assert len(calls) == 1
