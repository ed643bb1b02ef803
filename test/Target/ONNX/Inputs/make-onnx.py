#!/usr/bin/env python3
"""Writes the small ONNX models of test/Target/ONNX, one per case name.

    make-onnx.py CASE OUT.onnx

Good cases exercise the converters and the symbolic shape evaluation; bad
cases each break one rule of BAD_INPUTS.md ("ONNX models"). Models are built
with onnx.helper (Debian's python3-onnx, ONNX 1.12) and saved without the
checker, so that broken ones can be written too.
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F, I64, BOOL = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL


def vi(name, dtype, shape):
    return helper.make_tensor_value_info(name, dtype, shape)


def const(name, values, dtype=np.int64):
    return numpy_helper.from_array(np.array(values, dtype=dtype), name)


def weight(name, shape, seed=0):
    rng = np.random.default_rng(seed)
    return numpy_helper.from_array(
        rng.standard_normal(shape).astype(np.float32), name)


def model(nodes, inputs, outputs, inits=(), opset=17, ir=8):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = ir
    return m


N = helper.make_node


def elementwise():
    nodes = [
        N("Add", ["x", "b"], ["add"], name="add"),
        N("Mul", ["add", "x"], ["mul"], name="mul"),
        N("Sub", ["mul", "half"], ["sub"], name="sub"),
        N("Div", ["sub", "b"], ["div"], name="div"),
        N("Pow", ["div", "two"], ["pow"], name="pow"),
        N("Sqrt", ["pow"], ["sqrt"], name="sqrt"),
        N("Tanh", ["sqrt"], ["tanh"], name="tanh"),
        N("Erf", ["tanh"], ["erf"], name="erf"),
        N("Neg", ["erf"], ["neg"], name="neg"),
        N("Relu", ["neg"], ["relu"], name="relu"),
        N("Sigmoid", ["relu"], ["y"], name="sigmoid"),
    ]
    return model(nodes, [vi("x", F, ["batch", 3])], [vi("y", F, ["batch", 3])],
                 [weight("b", [3]), const("half", 0.5, np.float32),
                  const("two", 2.0, np.float32)])


def contraction():
    nodes = [
        N("MatMul", ["x", "w"], ["mm"], name="proj"),
        N("Add", ["mm", "bias"], ["lin"], name="bias_add"),
        N("Gemm", ["flat", "g"], ["gemm"], name="gemm", transB=1, alpha=0.5),
        N("Transpose", ["lin"], ["t"], name="tr", perm=[0, 2, 1]),
        N("MatMul", ["lin", "t"], ["scores"], name="bmm"),
    ]
    return model(nodes, [vi("x", F, ["b", "s", 8]), vi("flat", F, [4, 8])],
                 [vi("scores", F, ["b", "s", "s"]), vi("gemm", F, [4, 5])],
                 [weight("w", [8, 6]), weight("bias", [6], 1),
                  weight("g", [5, 8], 2)])


def shape_chain():
    """torch.onnx.export's head split: Reshape(x, Concat(Shape dims, consts))."""
    nodes = [
        N("Shape", ["x"], ["shape"], name="shape"),
        N("Gather", ["shape", "zero"], ["b"], name="get_b", axis=0),
        N("Gather", ["shape", "one"], ["s"], name="get_s", axis=0),
        N("Unsqueeze", ["b", "axes0"], ["b1"], name="unsq_b"),
        N("Unsqueeze", ["s", "axes0"], ["s1"], name="unsq_s"),
        N("Concat", ["b1", "s1", "heads", "minus1"], ["newshape"],
          name="concat", axis=0),
        N("Reshape", ["x", "newshape"], ["split"], name="reshape"),
        N("Transpose", ["split"], ["y"], name="heads_first", perm=[0, 2, 1, 3]),
    ]
    return model(nodes, [vi("x", F, ["batch", "seq", 8])],
                 [vi("y", F, ["batch", 2, "seq", 4])],
                 [const("zero", 0), const("one", 1), const("axes0", [0]),
                  const("heads", [2]), const("minus1", [-1])])


def positions():
    """Range(Shape) positions, ConstantOfShape, Expand, the expand(-1) idiom."""
    nodes = [
        N("Shape", ["ids"], ["shape"], name="shape"),
        N("Gather", ["shape", "one"], ["seq"], name="seq"),
        N("Range", ["zero", "seq", "one"], ["pos"], name="range"),
        N("Unsqueeze", ["pos", "axes0"], ["pos2"], name="unsq"),
        N("Gather", ["wpe", "pos2"], ["pe"], name="embed", axis=0),
        N("Gather", ["wte", "ids"], ["te"], name="tok", axis=0),
        N("Add", ["te", "pe"], ["h"], name="sum"),
        # expand(-1, -1, 4): Where(Equal(shape, -1), ones, shape)
        N("ConstantOfShape", ["three"], ["ones"], name="ones",
          value=helper.make_tensor("v", I64, [1], [1])),
        N("Mul", ["ones", "minus1"], ["neg"], name="neg"),
        N("Equal", ["target", "neg"], ["is_neg"], name="eq"),
        N("Where", ["is_neg", "ones", "target"], ["eshape"], name="where"),
        N("Expand", ["h", "eshape"], ["y"], name="expand"),
        N("ConstantOfShape", ["shape"], ["mask"], name="mask",
          value=helper.make_tensor("v", F, [1], [1.0])),
        N("Trilu", ["mask"], ["causal"], name="trilu", upper=0),
        N("Cast", ["causal"], ["maskb"], name="cast", to=BOOL),
        N("Not", ["maskb"], ["notm"], name="not"),
    ]
    return model(nodes, [vi("ids", I64, ["batch", "seq"])],
                 [vi("y", F, ["batch", "seq", 4]), vi("notm", BOOL, None)],
                 [const("zero", 0), const("one", 1), const("axes0", [0]),
                  const("three", [3]), const("minus1", -1),
                  const("target", [-1, -1, 4]),
                  weight("wpe", [16, 4]), weight("wte", [50, 4], 1)])


def gather_negative():
    """Gather on a parameter table with computed (negative) ids: llm.embedding
    after ONNX's wrap of negative indices."""
    nodes = [N("Sub", ["ids", "fifty"], ["shifted"], name="shift"),
             N("Gather", ["wte", "shifted"], ["y"], name="embed", axis=0)]
    return model(nodes, [vi("ids", I64, ["batch", "seq"])],
                 [vi("y", F, ["batch", "seq", 4])],
                 [const("fifty", 50), weight("wte", [50, 4], 1)])


def norms():
    nodes = [
        N("ReduceMean", ["x"], ["mean"], name="mean", axes=[-1]),
        N("Sub", ["x", "mean"], ["centered"], name="center"),
        N("Softmax", ["centered"], ["sm"], name="softmax", axis=-1),
        N("LogSoftmax", ["sm"], ["lsm"], name="logsoftmax", axis=1),
        N("LayerNormalization", ["lsm", "gamma", "beta"], ["y"], name="ln",
          axis=-1, epsilon=1e-5),
        N("Slice", ["y", "starts", "ends", "axes"], ["sliced"], name="slice"),
        N("Split", ["sliced", "split"], ["p0", "p1"], name="split", axis=2),
        N("Concat", ["p1", "p0"], ["z"], name="cat", axis=2),
        N("Squeeze", ["mean", "sq_axes"], ["m2"], name="squeeze"),
        N("Identity", ["m2"], ["m"], name="id"),
    ]
    return model(nodes, [vi("x", F, ["batch", "seq", 8])],
                 [vi("z", F, None), vi("m", F, None)],
                 [weight("gamma", [8]), weight("beta", [8], 1),
                  const("starts", [1, 0]), const("ends", [9223372036854775807, 6]),
                  const("axes", [1, 2]), const("split", [2, 4]),
                  const("sq_axes", [-1])])


def external_tensor(name, dims, keys):
    t = TensorProto()
    t.name = name
    t.data_type = F
    t.dims.extend(dims)
    t.data_location = TensorProto.EXTERNAL
    for key, value in keys:
        entry = t.external_data.add()
        entry.key, entry.value = key, value
    return t


def external(out):
    """A weight in external data next to the model."""
    folder = os.path.dirname(os.path.abspath(out))
    w = np.arange(12, dtype=np.float32).reshape(3, 4)
    with open(os.path.join(folder, "weights.bin"), "wb") as f:
        f.write(b"\0" * 16 + w.tobytes())
    t = external_tensor("w", [3, 4], [("location", "weights.bin"),
                                      ("offset", "16"), ("length", "48")])
    return model([N("MatMul", ["x", "w"], ["y"], name="mm")],
                 [vi("x", F, [2, 3])], [vi("y", F, [2, 4])], [t])


def simple(inits=(), opset=17, ir=8):
    return model([N("Relu", ["x"], ["y"], name="relu")], [vi("x", F, [2, 3])],
                 [vi("y", F, [2, 3])], inits, opset, ir)


def with_external(location, offset="0", length=None):
    keys = [("location", location), ("offset", offset)]
    if length is not None:
        keys.append(("length", length))
    t = external_tensor("w", [3, 4], keys)
    return model([N("MatMul", ["x", "w"], ["y"], name="mm")],
                 [vi("x", F, [2, 3])], [vi("y", F, [2, 4])], [t])


def one_node(node, inputs, outputs, inits=(), opset=17):
    return model([node], inputs, outputs, inits, opset)


def bad(case, out):
    x23 = [vi("x", F, [2, 3])]
    y = [vi("y", F, None)]
    if case == "bad-ir-version":
        return simple(ir=99)
    if case == "bad-no-opset":
        m = simple()
        del m.opset_import[:]
        return m
    if case == "bad-old-opset":
        return simple(opset=7)
    if case == "bad-unknown-op":
        return model([N("Relu", ["x"], ["r"], name="ok"),
                      N("FancyOp", ["r"], ["y"], name="fancy")], x23, y)
    if case == "bad-domain":
        return model([N("Gelu", ["x"], ["y"], name="gelu",
                        domain="com.microsoft")], x23, y)
    if case == "bad-undefined-input":
        return model([N("Add", ["x", "ghost"], ["y"], name="add")], x23, y)
    if case == "bad-missing-initializer":
        # The weight is named by the node but neither an input nor stored.
        return model([N("MatMul", ["x", "w"], ["y"], name="mm")], x23, y)
    if case == "bad-duplicate-output":
        return model([N("Relu", ["x"], ["r"], name="a"),
                      N("Neg", ["x"], ["r"], name="b"),
                      N("Identity", ["r"], ["y"], name="c")], x23, y)
    if case == "bad-cycle":
        return model([N("Add", ["x", "b"], ["a"], name="first"),
                      N("Relu", ["a"], ["b"], name="second"),
                      N("Identity", ["b"], ["y"], name="out")], x23, y)
    if case == "bad-missing-attribute":
        return model([N("Concat", ["x", "x"], ["y"], name="cat")], x23, y)
    if case == "bad-attribute-type":
        return model([N("Softmax", ["x"], ["y"], name="sm", axis=1.5)], x23, y)
    if case == "bad-dtype-mismatch":
        return model([N("Add", ["x", "i"], ["y"], name="add")],
                     x23 + [vi("i", I64, [2, 3])], y)
    if case == "bad-rank-mismatch":
        return model([N("MatMul", ["x", "w"], ["y"], name="mm")], x23, y,
                     [weight("w", [4, 5])])
    if case == "bad-gemm-rank":
        return model([N("Gemm", ["x3", "w"], ["y"], name="gemm")],
                     [vi("x3", F, [2, 3, 4])], y, [weight("w", [4, 5])])
    if case == "bad-negative-dim":
        t = TensorProto()
        t.name, t.data_type = "w", F
        t.dims.extend([-2, 3])
        return model([N("MatMul", ["x", "w"], ["y"], name="mm")], x23, y, [t])
    if case == "bad-reshape-two-minus1":
        return model([N("Reshape", ["x", "s"], ["y"], name="rs")], x23, y,
                     [const("s", [-1, -1])])
    if case == "bad-huge-dim":
        return model([N("Relu", ["x"], ["y"], name="relu")],
                     [vi("x", F, [2 ** 62, 4])], y)
    if case == "bad-overflow":
        return model([N("Relu", ["x"], ["y"], name="relu")],
                     [vi("x", F, [2 ** 40, 2 ** 40, 2 ** 40])], y)
    if case == "bad-huge-rank":
        return model([N("Relu", ["x"], ["y"], name="relu")],
                     [vi("x", F, [1] * 100000)], y)
    if case == "bad-huge-rank-initializer":
        t = TensorProto()
        t.name, t.data_type = "w", F
        t.dims.extend([1] * 100000)
        t.float_data.append(0.0)
        return model([N("Add", ["x", "w"], ["y"], name="add")], x23, y, [t])
    if case == "bad-external-absolute":
        return with_external(os.path.abspath(out) + ".bin")
    if case == "bad-external-dotdot":
        return with_external("../weights.bin")
    if case == "bad-external-symlink":
        folder = os.path.dirname(os.path.abspath(out))
        link = os.path.join(folder, "link.bin")
        if os.path.lexists(link):
            os.remove(link)
        os.symlink("/etc/passwd", link)
        return with_external("link.bin")
    if case == "bad-external-past-eof":
        folder = os.path.dirname(os.path.abspath(out))
        with open(os.path.join(folder, "short.bin"), "wb") as f:
            f.write(b"\0" * 40)
        return with_external("short.bin", offset="8")
    if case == "bad-external-length":
        folder = os.path.dirname(os.path.abspath(out))
        with open(os.path.join(folder, "short.bin"), "wb") as f:
            f.write(b"\0" * 400)
        return with_external("short.bin", offset="0", length="100")
    if case == "bad-external-missing":
        return with_external("nothing-here.bin")
    if case == "bad-raw-data-size":
        t = TensorProto()
        t.name, t.data_type = "w", F
        t.dims.extend([3, 4])
        t.raw_data = b"\0" * 20
        return model([N("MatMul", ["x", "w"], ["y"], name="mm")], x23, y, [t])
    if case == "bad-typed-data-size":
        t = TensorProto()
        t.name, t.data_type = "w", F
        t.dims.extend([3, 4])
        t.float_data.extend([1.0] * 5)
        return model([N("MatMul", ["x", "w"], ["y"], name="mm")], x23, y, [t])
    if case == "bad-subgraph":
        branch = helper.make_graph([N("Relu", ["x"], ["t"])], "then", [],
                                   [vi("t", F, [2, 3])])
        return model([N("If", ["c"], ["y"], name="if", then_branch=branch,
                        else_branch=branch)],
                     x23 + [vi("c", BOOL, [])], y)
    if case == "bad-nested-subgraph":
        # If inside If inside ... 200 levels: the protobuf nests too deep.
        leaf = helper.make_graph([N("Relu", ["x"], ["t"])], "leaf", [],
                                 [vi("t", F, [2, 3])])
        graph = leaf
        for level in range(200):
            node = N("If", ["c"], ["t"], then_branch=graph, else_branch=leaf)
            graph = helper.make_graph([node], "g%d" % level, [],
                                      [vi("t", F, [2, 3])])
        return model([N("If", ["c"], ["y"], name="outer", then_branch=graph,
                        else_branch=leaf)],
                     x23 + [vi("c", BOOL, [])], y)
    if case == "bad-unsupported-dtype":
        return model([N("Relu", ["x"], ["y"], name="relu")],
                     [vi("x", TensorProto.STRING, [2])], y)
    if case == "bad-no-graph-output":
        return model([N("Relu", ["x"], ["r"], name="relu")], x23, y)
    if case == "bad-needs-newer-opset":
        return model([N("LayerNormalization", ["x", "g"], ["y"], name="ln")],
                     x23, y, [weight("g", [3])], opset=14)
    raise SystemExit("unknown case " + case)


GOOD = {
    "elementwise": elementwise,
    "contraction": contraction,
    "shape-chain": shape_chain,
    "positions": positions,
    "norms": norms,
    "gather-negative": gather_negative,
}


def main():
    case, out = sys.argv[1], sys.argv[2]
    if case in GOOD:
        m = GOOD[case]()
    elif case == "external":
        m = external(out)
    else:
        m = bad(case, out)
    with open(out, "wb") as f:
        f.write(m.SerializeToString())


if __name__ == "__main__":
    main()
