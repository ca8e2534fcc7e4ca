"""A trained Keras model -> one self-contained ONNX graph (tf2onnx), checked to give Keras's probabilities.

Keras keeps a Normalization layer's mean and variance as constant tensors, which a traced function captures;
tf2onnx turns every such capture into an extra graph input. `onnx_graph` folds them back in as initialisers, so
the graph reads exactly the model's inputs (`features`, or `frames` and `measures`) and gives `probabilities`:
ONNX Runtime can run it with nothing but the inputs (`models.load_onnx`). Imports TensorFlow, tf2onnx and onnx:
only training and `squat export` come here.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING

import numpy as np

from squatcli.errors import SquatError
from squatcli.models import ONNX_OPSET, ONNX_TOLERANCE, import_keras, onnx_session
from squatcli.pose import native_stderr_silenced

if TYPE_CHECKING:
    import keras
    import onnx

    from squatcli.inputs import InputSpec

OUTPUT = "probabilities"
FRONT_YAW, SIDE_YAW = 0.0, 90.0  # the views `sample_inputs` measures reps from (camera.view_yaw, in degrees)


def onnx_graph(model: keras.Model, spec: InputSpec, tolerance: float = ONNX_TOLERANCE) -> bytes:
    """The serialised ONNX graph of `model` (which reads `spec`'s inputs), refused (SquatError) if its
    probabilities on `sample_inputs(spec)` differ from Keras's by more than `tolerance`."""
    import_keras()  # TensorFlow first, with its logging quieted
    import onnx
    import tensorflow as tf
    import tf2onnx

    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    names = input_names(model)
    specs = {n: tf.TensorSpec((None, *t.shape[1:]), tf.float32, name=n) for n, t in zip(names, model.inputs)}
    arg = specs if len(names) > 1 else specs[names[0]]
    forward = tf.function(lambda x: model(x, training=False))
    traced = forward.get_concrete_function(arg).graph  # the trace tf2onnx converts (tf.function caches it)
    captured = {inner.name: outer.numpy() for inner, outer in zip(traced.internal_captures, traced.external_captures)
                if outer.dtype != tf.resource}  # fmt: skip
    with native_stderr_silenced():  # TensorFlow's graph optimiser logs each session it starts
        proto, _ = tf2onnx.convert.from_function(forward, input_signature=[arg], opset=ONNX_OPSET)
    fold_captures(proto.graph, names, captured)
    name_outputs(proto.graph)
    canonical_names(proto.graph)
    proto.graph.doc_string = f"squatcli {model.name}"  # tf2onnx's names the trace, numbered per process
    onnx.checker.check_model(proto)
    graph = proto.SerializeToString()
    check_same(model, graph, sample_inputs(spec), tolerance)
    return graph


def input_names(model: keras.Model) -> list[str]:
    """The model's input names (`features`, or `frames` and `measures`), in its order."""
    return [t.name.split(":")[0] for t in model.inputs]


def fold_captures(graph: onnx.GraphProto, names: list[str], captured: dict[str, np.ndarray]) -> None:
    """Turn every graph input that is not one of `names` into an initialiser holding its captured value (or drop
    it when no node reads it); anything else left over is an error."""
    from onnx import numpy_helper

    used = {name for node in graph.node for name in node.input}
    for extra in [i for i in graph.input if i.name not in names]:
        if extra.name not in captured:
            raise SquatError(f"cannot export: the graph needs an input {extra.name!r} the model does not have")
        if extra.name in used:
            graph.initializer.append(numpy_helper.from_array(captured[extra.name], extra.name))
        graph.input.remove(extra)


def name_outputs(graph: onnx.GraphProto) -> None:
    """Call the one output `probabilities` and the batch axis `N` (tf2onnx's names are `Identity:0`, `unk__57`)."""
    old = graph.output[0].name
    for node in graph.node:
        node.output[:] = [OUTPUT if o == old else o for o in node.output]
    graph.output[0].name = OUTPUT
    for value in [*graph.input, *graph.output]:
        value.type.tensor_type.shape.dim[0].dim_param = "N"


def canonical_names(graph: onnx.GraphProto) -> None:
    """Name the graph's inner tensors t0, t1, ... in the order nodes use them (initialisers sorted so) and its
    nodes by operation and position: tf2onnx's names depend on Python's hash seed, and the same model should
    export to the same bytes."""
    kept = {v.name for v in [*graph.input, *graph.output]} | {""}
    names: dict[str, str] = {}

    def rename(name: str) -> str:
        return name if name in kept else names.setdefault(name, f"t{len(names)}")

    for k, node in enumerate(graph.node):
        node.name = f"{node.op_type}_{k}"  # which of two merged duplicates keeps its name varies too
        node.input[:] = [rename(n) for n in node.input]
        node.output[:] = [rename(n) for n in node.output]
    for tensors in (graph.initializer, graph.value_info):
        for t in tensors:
            t.name = rename(t.name)
        order = {name: k for k, name in enumerate(names.values())}
        ordered = sorted(tensors, key=lambda t: order.get(t.name, -1))
        copies = [type(t)() for t in ordered]
        for copy, t in zip(copies, ordered):
            copy.CopyFrom(t)
        del tensors[:]
        tensors.extend(copies)


def sample_inputs(spec: InputSpec) -> dict[str, np.ndarray]:
    """`_sample_inputs(spec)` (computed once per spec in a process), copied."""
    return {k: v.copy() for k, v in _sample_inputs(spec).items()}


@functools.cache
def _sample_inputs(spec: InputSpec) -> dict[str, np.ndarray]:
    """Inputs of `spec` as squatcli computes them (inputs.compute) from synthetic people squatting well and with
    four faults, as the generator's pose estimator reports them, and for rep windows also as measured from a front
    and a side view (what lies along their depth axis NaN, as the Classifier gets it): what a graph is compared
    with its Keras model on. Inputs that synthetic clips cannot give: seeded normal noise of their shapes."""
    from squatcli.features import clip_features
    from squatcli.inputs import compute
    from squatcli.synth import example_clip

    rows = []
    try:
        for seed, label in enumerate(("good", "knees_in", "shallow", "knees_forward", "back_round")):
            clip = example_clip(seed=seed, label=label, severity=0.7)
            for view in (None, FRONT_YAW, SIDE_YAW) if spec.window == "rep" else (None,):
                mi = compute(spec, features=clip_features(clip.joints), joints=clip.joints,
                             feet=clip.feet if spec.feet else None, view=view)  # fmt: skip
                rows.append(mi.arrays)
    except ValueError:  # inputs a synthetic clip cannot give (a new kind of input): seeded noise of their shapes
        rng = np.random.default_rng(0)
        return {k: rng.normal(size=(16, *shape)).astype(np.float32) for k, shape in spec.shapes().items()}
    return {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}


def check_same(model: keras.Model, graph: bytes, inputs: dict[str, np.ndarray], tolerance: float) -> float:
    """The largest difference between Keras's and ONNX Runtime's probabilities on `inputs` (NaN set to 0, as
    only equality is checked: the Classifier imputes the training mean); SquatError above `tolerance`."""
    inputs = {k: np.nan_to_num(v.astype(np.float32)) for k, v in inputs.items()}
    keras_probs = np.asarray(model(inputs if len(inputs) > 1 else next(iter(inputs.values())), training=False))
    onnx_probs = onnx_session(graph).run(None, inputs)[0]
    worst = float(np.abs(keras_probs - onnx_probs).max())
    if not worst <= tolerance:
        raise SquatError(f"cannot export: the ONNX graph's probabilities differ from Keras's by {worst:.1e} "
                         f"(at most {tolerance:g} allowed)")  # fmt: skip
    return worst
