"""A Keras 3 LSTM layer converted: through tf2onnx (one ONNX ``LSTM`` node; a masked call stays a
``Loop``) and through TFLiteConverter (a ``WHILE``, never the fused op), both columns pass the
agreement laws and skip the dtypes their converter or runtime refuses with its message, and a
converted model with two gate blocks (tf2onnx) or gate biases (LiteRT) swapped fails them. Each
runs with ``KERAS_BACKEND=tensorflow``, in a session of its own."""

import os
import subprocess
import sys

import pytest

from lstm_verify.config import options_from_env
from lstm_verify.runner import run_suite
from tests.catalogue import HERE

for module in ("keras", "tensorflow", "tf2onnx", "ai_edge_litert"):
    pytest.importorskip(module)

COLUMNS = ("keras-tensorflow-via-tf2onnx", "keras-tensorflow-via-tflite")
LAWS = ("test_gate_order", "test_sequence_agrees_with_reference", "test_variable_lengths",
        "test_reverse_equals_forward_on_reversed_input")
REFUSALS = {"keras-tensorflow-via-tf2onnx-float64": "LSTM operator does not support double yet",
            "keras-tensorflow-via-tflite-float64": "Some ops are not supported by the native TFLite runtime"}


@pytest.fixture(scope="module")
def columns_run():
    """Both columns, float32 and float64, a few laws."""
    options = options_from_env(adapters=",".join(COLUMNS), dtypes="float32,float64", fresh=True)
    return run_suite(options, 1, pytest_extra=("-k", " or ".join(LAWS)))


def test_converted_layers_pass_the_agreement_laws(columns_run):
    code, results, _ = columns_run
    passed = {(r.implementation, r.property) for r in results if r.status == "passed"}
    assert passed == {(f"{c}-float32", law) for c in COLUMNS for law in LAWS}, [(r.implementation, r.property,
                                                                                r.reason) for r in results]


def test_refused_dtypes_skip_with_the_converters_or_runtimes_message(columns_run):
    skipped = {r.implementation: r.reason for r in columns_run[1] if r.status == "skipped"}
    assert set(skipped) == set(REFUSALS) and all(REFUSALS[i] in skipped[i] for i in REFUSALS), skipped


@pytest.mark.parametrize("twin", ("Tf2OnnxSwappedForgetCell", "TfliteSwappedGateBiases"))
def test_laws_catch_a_converted_layer_with_swapped_gates(monkeypatch, twin):
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    laws = ("test_gate_order", "test_sequence_agrees_with_reference")
    options = options_from_env(impl=f"{HERE}/keras_converted.py:{twin}", kind="adapter", dtypes="float32",
                               fresh=True, shrink_seconds=0)
    code, results, _ = run_suite(options, 1, pytest_extra=("-k", " or ".join(laws)))
    assert {r.property: r.status for r in results} == dict.fromkeys(laws, "failed"), [r.reason for r in results]
    assert code == 1


EMITTED = """
from lstm_verify.adapters._keras_converted import Form
from lstm_verify.adapters.keras_tf2onnx import convert as to_onnx
from lstm_verify.adapters.keras_tflite import convert as to_tflite
from ai_edge_litert.interpreter import Interpreter
for masked in (False, True):
    print("ops", sorted({n.op_type for n in to_onnx(2, 3, "float32", Form(None, True, masked, False)).graph.node}
                 & {"LSTM", "Loop"}))
flatbuffer = to_tflite(2, 3, "float32", Form(2, True, False, False))
print("ops", sorted({o["op_name"] for o in Interpreter(model_content=flatbuffer)._get_ops_details()}
             & {"WHILE", "UNIDIRECTIONAL_SEQUENCE_LSTM"}))
"""


def test_what_each_converter_makes_of_a_keras_layer():
    """tf2onnx 1.17.0's Keras rewriter makes one ONNX LSTM node of the layer, but not of a masked call
    (a Loop); TensorFlow's converter makes a WHILE, not the fused op (Keras 3 sets no api_implements)."""
    out = subprocess.run([sys.executable, "-c", EMITTED], capture_output=True, text=True, check=True,
                         env={**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"})
    ops = [line for line in out.stdout.splitlines() if line.startswith("ops ")]  # Keras prints its export too
    assert ops == ["ops ['LSTM']", "ops ['Loop']", "ops ['WHILE']"], out.stdout + out.stderr
