// RUN: llm-opt %s --split-input-file --pass-pipeline="builtin.module(func.func(llm-pack-weights{panel=64}))" | FileCheck %s

// An [in, out] projection weight (GPT-2's Conv1D) becomes a packed
// argument in its place, named after the same checkpoint tensor.

// CHECK-LABEL: func.func @in_out(
// CHECK-SAME: %[[X:.*]]: tensor<?x128xf32>,
// CHECK-SAME: %[[W:.*]]: tensor<3x128x64xf32> {llm.packed = {layout = "in_out", panel = 64 : i64, shape = array<i64: 128, 192>}, llm.param = "h.0.attn.c_attn.weight"})
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #[[PANEL:.*]], #{{.*}}]
// CHECK-SAME: ins(%[[X]], %[[W]] : tensor<?x128xf32>, tensor<3x128x64xf32>)
func.func @in_out(%x: tensor<?x128xf32>, %w: tensor<128x192xf32> {llm.param = "h.0.attn.c_attn.weight"}) -> tensor<?x192xf32> {
  %c0 = arith.constant 0 : index
  %cst = arith.constant 0.0 : f32
  %m = tensor.dim %x, %c0 : tensor<?x128xf32>
  %e = tensor.empty(%m) : tensor<?x192xf32>
  %z = linalg.fill ins(%cst : f32) outs(%e : tensor<?x192xf32>) -> tensor<?x192xf32>
  %r = linalg.generic {
      indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                       affine_map<(d0, d1, d2) -> (d2, d1)>,
                       affine_map<(d0, d1, d2) -> (d0, d1)>],
      iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<?x128xf32>, tensor<128x192xf32>) outs(%z : tensor<?x192xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %c, %p : f32
    linalg.yield %s : f32
  } -> tensor<?x192xf32>
  return %r : tensor<?x192xf32>
}
// CHECK: #[[PANEL]] = affine_map<(d0, d1, d2) -> (d1 floordiv 64, d2, d1 mod 64)>

// -----

// A tied [out, in] table read by a gather and by the LM head: the gather
// keeps the original argument, the projection gets a packed copy (100 rows
// pad to two panels).

// CHECK-LABEL: func.func @tied(
// CHECK-SAME: %{{.*}}: tensor<100x32xf32> {llm.param = "wte.weight"},
// CHECK-SAME: %[[P:.*]]: tensor<2x32x64xf32> {llm.packed = {layout = "out_in", panel = 64 : i64, shape = array<i64: 100, 32>}, llm.param = "wte.weight"},
// CHECK-SAME: %{{.*}}: tensor<?x32xf32>)
// CHECK: tensor.extract
// CHECK: linalg.generic
// CHECK-SAME: ins(%{{.*}}, %[[P]] : tensor<?x32xf32>, tensor<2x32x64xf32>)
func.func @tied(%wte: tensor<100x32xf32> {llm.param = "wte.weight"}, %x: tensor<?x32xf32>) -> (f32, tensor<?x100xf32>) {
  %c0 = arith.constant 0 : index
  %cst = arith.constant 0.0 : f32
  %first = tensor.extract %wte[%c0, %c0] : tensor<100x32xf32>
  %m = tensor.dim %x, %c0 : tensor<?x32xf32>
  %e = tensor.empty(%m) : tensor<?x100xf32>
  %z = linalg.fill ins(%cst : f32) outs(%e : tensor<?x100xf32>) -> tensor<?x100xf32>
  %r = linalg.generic {
      indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                       affine_map<(d0, d1, d2) -> (d1, d2)>,
                       affine_map<(d0, d1, d2) -> (d0, d1)>],
      iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %wte : tensor<?x32xf32>, tensor<100x32xf32>) outs(%z : tensor<?x100xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %c, %p : f32
    linalg.yield %s : f32
  } -> tensor<?x100xf32>
  return %first, %r : f32, tensor<?x100xf32>
}

// -----

// Left alone: narrower than a panel, not a param, a private function, and
// a weight that is also the activation.

// CHECK-LABEL: func.func @narrow(
// CHECK-SAME: tensor<128x32xf32> {llm.param = "w"}
// CHECK-NOT: llm.packed
func.func @narrow(%x: tensor<?x128xf32>, %w: tensor<128x32xf32> {llm.param = "w"}, %z: tensor<?x32xf32>) -> tensor<?x32xf32> {
  %r = linalg.generic {
      indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                       affine_map<(d0, d1, d2) -> (d2, d1)>,
                       affine_map<(d0, d1, d2) -> (d0, d1)>],
      iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<?x128xf32>, tensor<128x32xf32>) outs(%z : tensor<?x32xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %c, %p : f32
    linalg.yield %s : f32
  } -> tensor<?x32xf32>
  return %r : tensor<?x32xf32>
}

// CHECK-LABEL: func.func @not_param(
// CHECK-SAME: %{{.*}}: tensor<128x64xf32>,
// CHECK-NOT: llm.packed
func.func @not_param(%x: tensor<?x128xf32>, %w: tensor<128x64xf32>, %z: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %r = linalg.generic {
      indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                       affine_map<(d0, d1, d2) -> (d2, d1)>,
                       affine_map<(d0, d1, d2) -> (d0, d1)>],
      iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<?x128xf32>, tensor<128x64xf32>) outs(%z : tensor<?x64xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %c, %p : f32
    linalg.yield %s : f32
  } -> tensor<?x64xf32>
  return %r : tensor<?x64xf32>
}

// CHECK-LABEL: func.func private @private_fn(
// CHECK-NOT: llm.packed
func.func private @private_fn(%x: tensor<?x128xf32>, %w: tensor<128x64xf32> {llm.param = "w"}, %z: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %r = linalg.generic {
      indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                       affine_map<(d0, d1, d2) -> (d2, d1)>,
                       affine_map<(d0, d1, d2) -> (d0, d1)>],
      iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<?x128xf32>, tensor<128x64xf32>) outs(%z : tensor<?x64xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %c, %p : f32
    linalg.yield %s : f32
  } -> tensor<?x64xf32>
  return %r : tensor<?x64xf32>
}

// CHECK-LABEL: func.func @self_product(
// CHECK-NOT: llm.packed
func.func @self_product(%w: tensor<64x64xf32> {llm.param = "w"}, %z: tensor<64x64xf32>) -> tensor<64x64xf32> {
  %r = linalg.generic {
      indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                       affine_map<(d0, d1, d2) -> (d2, d1)>,
                       affine_map<(d0, d1, d2) -> (d0, d1)>],
      iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%w, %w : tensor<64x64xf32>, tensor<64x64xf32>) outs(%z : tensor<64x64xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %c, %p : f32
    linalg.yield %s : f32
  } -> tensor<64x64xf32>
  return %r : tensor<64x64xf32>
}

