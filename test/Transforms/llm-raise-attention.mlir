// RUN: llm-opt %s --llm-raise-attention --canonicalize -split-input-file | FileCheck %s
// The attention raising on hand-written graphs in the ONNX importer's form:
// the match, each mask form, and near misses that must stay as they are
// (and so still run correctly). Graphs exported by torch at opsets 14 and
// 17 are in test/Target/ONNX/raise.test.

// select(m, -big, s) drops where m: the kept mask is its negation.
// CHECK-LABEL: func.func @scaled_causal_mask
// CHECK: %[[KEEP:.*]] = linalg.generic {{.*}} ins(%{{.*}} : tensor<1x1x8x8xi1>)
// CHECK: arith.xori
// CHECK: llm.attention %{{.*}}, %{{.*}}, %{{.*}} mask %[[KEEP]] {num_heads = 4 : i64, scale = 1.250000e-01 : f64} : (tensor<2x8x64xf32>, tensor<2x8x64xf32>, tensor<2x8x64xf32>, tensor<1x1x8x8xi1>) -> tensor<2x8x64xf32>
// CHECK-NOT: linalg.batch_matmul
// CHECK-NOT: llm.softmax
func.func @scaled_causal_mask(%q: tensor<2x4x8x16xf32>, %kt: tensor<2x4x16x8xf32>, %v: tensor<2x4x8x16xf32>, %m: tensor<1x1x8x8xi1>) -> tensor<8x8x16xf32> {
  %zero = arith.constant 0.0 : f32
  %eight = arith.constant 8.0 : f32
  %big = arith.constant -3.40282347E+38 : f32
  %qc = tensor.collapse_shape %q [[0, 1], [2], [3]] : tensor<2x4x8x16xf32> into tensor<8x8x16xf32>
  %kc = tensor.collapse_shape %kt [[0, 1], [2], [3]] : tensor<2x4x16x8xf32> into tensor<8x16x8xf32>
  %e = tensor.empty() : tensor<8x8x8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<8x8x8xf32>) -> tensor<8x8x8xf32>
  %s = linalg.batch_matmul ins(%qc, %kc : tensor<8x8x16xf32>, tensor<8x16x8xf32>) outs(%z : tensor<8x8x8xf32>) -> tensor<8x8x8xf32>
  %s4 = tensor.expand_shape %s [[0, 1], [2], [3]] output_shape [2, 4, 8, 8] : tensor<8x8x8xf32> into tensor<2x4x8x8xf32>
  %e4 = tensor.empty() : tensor<2x4x8x8xf32>
  %x0 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s4 : tensor<2x4x8x8xf32>) outs(%e4 : tensor<2x4x8x8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %d = arith.divf %a, %eight : f32
    linalg.yield %d : f32
  } -> tensor<2x4x8x8xf32>
  %x1 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (0, 0, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%m, %x0 : tensor<1x1x8x8xi1>, tensor<2x4x8x8xf32>) outs(%e4 : tensor<2x4x8x8xf32>) {
  ^bb0(%c: i1, %a: f32, %o: f32):
    %d = arith.select %c, %big, %a : f32
    linalg.yield %d : f32
  } -> tensor<2x4x8x8xf32>
  %p = llm.softmax %x1 {axis = 3 : i64} : tensor<2x4x8x8xf32>
  %pc = tensor.collapse_shape %p [[0, 1], [2], [3]] : tensor<2x4x8x8xf32> into tensor<8x8x8xf32>
  %vc = tensor.collapse_shape %v [[0, 1], [2], [3]] : tensor<2x4x8x16xf32> into tensor<8x8x16xf32>
  %e2 = tensor.empty() : tensor<8x8x16xf32>
  %z2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<8x8x16xf32>) -> tensor<8x8x16xf32>
  %out = linalg.batch_matmul ins(%pc, %vc : tensor<8x8x8xf32>, tensor<8x8x16xf32>) outs(%z2 : tensor<8x8x16xf32>) -> tensor<8x8x16xf32>
  return %out : tensor<8x8x16xf32>
}

// -----

// The kept mask is Trilu's lower triangle of an all-true square: causal.
// CHECK-LABEL: func.func @trilu_causal
// CHECK: llm.attention %{{.*}}, %{{.*}}, %{{.*}} {causal, num_heads = 4 : i64, scale = 1.250000e-01 : f64} : (tensor<2x8x64xf32>, tensor<2x8x64xf32>, tensor<2x8x64xf32>) -> tensor<2x8x64xf32>
// CHECK-NOT: linalg.batch_matmul
func.func @trilu_causal(%q: tensor<2x4x8x16xf32>, %kt: tensor<2x4x16x8xf32>, %v: tensor<2x4x8x16xf32>) -> tensor<8x8x16xf32> {
  %zero = arith.constant 0.0 : f32
  %eight = arith.constant 8.0 : f32
  %big = arith.constant -3.40282347E+38 : f32
  %qc = tensor.collapse_shape %q [[0, 1], [2], [3]] : tensor<2x4x8x16xf32> into tensor<8x8x16xf32>
  %kc = tensor.collapse_shape %kt [[0, 1], [2], [3]] : tensor<2x4x16x8xf32> into tensor<8x16x8xf32>
  %e = tensor.empty() : tensor<8x8x8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<8x8x8xf32>) -> tensor<8x8x8xf32>
  %s = linalg.batch_matmul ins(%qc, %kc : tensor<8x8x16xf32>, tensor<8x16x8xf32>) outs(%z : tensor<8x8x8xf32>) -> tensor<8x8x8xf32>
  %s4 = tensor.expand_shape %s [[0, 1], [2], [3]] output_shape [2, 4, 8, 8] : tensor<8x8x8xf32> into tensor<2x4x8x8xf32>
  %e4 = tensor.empty() : tensor<2x4x8x8xf32>
  %x0 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s4 : tensor<2x4x8x8xf32>) outs(%e4 : tensor<2x4x8x8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %d = arith.divf %a, %eight : f32
    linalg.yield %d : f32
  } -> tensor<2x4x8x8xf32>
  %true = arith.constant true
  %false = arith.constant false
  %c0 = arith.constant 0 : index
  %e2d = tensor.empty() : tensor<8x8xi1>
  %ones = linalg.fill ins(%true : i1) outs(%e2d : tensor<8x8xi1>) -> tensor<8x8xi1>
  %tri = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%ones : tensor<8x8xi1>) outs(%e2d : tensor<8x8xi1>) {
  ^bb0(%in: i1, %out: i1):
    %ti = linalg.index 0 : index
    %tj = linalg.index 1 : index
    %td = arith.subi %tj, %ti : index
    %tc = arith.cmpi sle, %td, %c0 : index
    %ts = arith.select %tc, %in, %false : i1
    linalg.yield %ts : i1
  } -> tensor<8x8xi1>
  %tri4 = tensor.expand_shape %tri [[0, 1, 2], [3]] output_shape [1, 1, 8, 8] : tensor<8x8xi1> into tensor<1x1x8x8xi1>
  %x1 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (0, 0, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%tri4, %x0 : tensor<1x1x8x8xi1>, tensor<2x4x8x8xf32>) outs(%e4 : tensor<2x4x8x8xf32>) {
  ^bb0(%c: i1, %a: f32, %o: f32):
    %d = arith.select %c, %a, %big : f32
    linalg.yield %d : f32
  } -> tensor<2x4x8x8xf32>
  %p = llm.softmax %x1 {axis = 3 : i64} : tensor<2x4x8x8xf32>
  %pc = tensor.collapse_shape %p [[0, 1], [2], [3]] : tensor<2x4x8x8xf32> into tensor<8x8x8xf32>
  %vc = tensor.collapse_shape %v [[0, 1], [2], [3]] : tensor<2x4x8x16xf32> into tensor<8x8x16xf32>
  %e2 = tensor.empty() : tensor<8x8x16xf32>
  %z2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<8x8x16xf32>) -> tensor<8x8x16xf32>
  %out = linalg.batch_matmul ins(%pc, %vc : tensor<8x8x8xf32>, tensor<8x8x16xf32>) outs(%z2 : tensor<8x8x16xf32>) -> tensor<8x8x16xf32>
  return %out : tensor<8x8x16xf32>
}

// -----

// An added float mask ([B, 1, 1, T], BERT's padding mask) is the op's mask.
// CHECK-LABEL: func.func @padding_mask
// CHECK-SAME: %[[F:[^:]*]]: tensor<2x1x1x8xf32>
// CHECK: llm.attention %{{.*}}, %{{.*}}, %{{.*}} mask %[[F]] {num_heads = 4 : i64, scale = 1.250000e-01 : f64}
// CHECK-NOT: linalg.batch_matmul
func.func @padding_mask(%q: tensor<2x4x8x16xf32>, %kt: tensor<2x4x16x8xf32>, %v: tensor<2x4x8x16xf32>, %f: tensor<2x1x1x8xf32>) -> tensor<8x8x16xf32> {
  %zero = arith.constant 0.0 : f32
  %eight = arith.constant 8.0 : f32
  %big = arith.constant -3.40282347E+38 : f32
  %qc = tensor.collapse_shape %q [[0, 1], [2], [3]] : tensor<2x4x8x16xf32> into tensor<8x8x16xf32>
  %kc = tensor.collapse_shape %kt [[0, 1], [2], [3]] : tensor<2x4x16x8xf32> into tensor<8x16x8xf32>
  %e = tensor.empty() : tensor<8x8x8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<8x8x8xf32>) -> tensor<8x8x8xf32>
  %s = linalg.batch_matmul ins(%qc, %kc : tensor<8x8x16xf32>, tensor<8x16x8xf32>) outs(%z : tensor<8x8x8xf32>) -> tensor<8x8x8xf32>
  %s4 = tensor.expand_shape %s [[0, 1], [2], [3]] output_shape [2, 4, 8, 8] : tensor<8x8x8xf32> into tensor<2x4x8x8xf32>
  %e4 = tensor.empty() : tensor<2x4x8x8xf32>
  %x0 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s4 : tensor<2x4x8x8xf32>) outs(%e4 : tensor<2x4x8x8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %d = arith.divf %a, %eight : f32
    linalg.yield %d : f32
  } -> tensor<2x4x8x8xf32>
  %x2 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, 0, 0, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%x0, %f : tensor<2x4x8x8xf32>, tensor<2x1x1x8xf32>) outs(%e4 : tensor<2x4x8x8xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %d = arith.addf %a, %b : f32
    linalg.yield %d : f32
  } -> tensor<2x4x8x8xf32>
  %p = llm.softmax %x2 {axis = 3 : i64} : tensor<2x4x8x8xf32>
  %pc = tensor.collapse_shape %p [[0, 1], [2], [3]] : tensor<2x4x8x8xf32> into tensor<8x8x8xf32>
  %vc = tensor.collapse_shape %v [[0, 1], [2], [3]] : tensor<2x4x8x16xf32> into tensor<8x8x16xf32>
  %e2 = tensor.empty() : tensor<8x8x16xf32>
  %z2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<8x8x16xf32>) -> tensor<8x8x16xf32>
  %out = linalg.batch_matmul ins(%pc, %vc : tensor<8x8x8xf32>, tensor<8x8x16xf32>) outs(%z2 : tensor<8x8x16xf32>) -> tensor<8x8x16xf32>
  return %out : tensor<8x8x16xf32>
}

// -----

// Near miss: softmax over the queries, not the keys.
// CHECK-LABEL: func.func @softmax_over_queries
// CHECK-NOT: llm.attention
// CHECK: llm.softmax %{{.*}} {axis = 2 : i64}
// CHECK: linalg.batch_matmul
func.func @softmax_over_queries(%q: tensor<2x4x8x16xf32>, %kt: tensor<2x4x16x8xf32>, %v: tensor<2x4x8x16xf32>) -> tensor<8x8x16xf32> {
  %zero = arith.constant 0.0 : f32
  %eight = arith.constant 8.0 : f32
  %big = arith.constant -3.40282347E+38 : f32
  %qc = tensor.collapse_shape %q [[0, 1], [2], [3]] : tensor<2x4x8x16xf32> into tensor<8x8x16xf32>
  %kc = tensor.collapse_shape %kt [[0, 1], [2], [3]] : tensor<2x4x16x8xf32> into tensor<8x16x8xf32>
  %e = tensor.empty() : tensor<8x8x8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<8x8x8xf32>) -> tensor<8x8x8xf32>
  %s = linalg.batch_matmul ins(%qc, %kc : tensor<8x8x16xf32>, tensor<8x16x8xf32>) outs(%z : tensor<8x8x8xf32>) -> tensor<8x8x8xf32>
  %s4 = tensor.expand_shape %s [[0, 1], [2], [3]] output_shape [2, 4, 8, 8] : tensor<8x8x8xf32> into tensor<2x4x8x8xf32>
  %e4 = tensor.empty() : tensor<2x4x8x8xf32>
  %x0 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s4 : tensor<2x4x8x8xf32>) outs(%e4 : tensor<2x4x8x8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %d = arith.divf %a, %eight : f32
    linalg.yield %d : f32
  } -> tensor<2x4x8x8xf32>
  %p = llm.softmax %x0 {axis = 2 : i64} : tensor<2x4x8x8xf32>
  %pc = tensor.collapse_shape %p [[0, 1], [2], [3]] : tensor<2x4x8x8xf32> into tensor<8x8x8xf32>
  %vc = tensor.collapse_shape %v [[0, 1], [2], [3]] : tensor<2x4x8x16xf32> into tensor<8x8x16xf32>
  %e2 = tensor.empty() : tensor<8x8x16xf32>
  %z2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<8x8x16xf32>) -> tensor<8x8x16xf32>
  %out = linalg.batch_matmul ins(%pc, %vc : tensor<8x8x8xf32>, tensor<8x8x16xf32>) outs(%z2 : tensor<8x8x16xf32>) -> tensor<8x8x16xf32>
  return %out : tensor<8x8x16xf32>
}

// -----

// Near miss: scores scaled by a tensor, not a scalar.
// CHECK-LABEL: func.func @tensor_scale
// CHECK-NOT: llm.attention
// CHECK: linalg.batch_matmul
func.func @tensor_scale(%q: tensor<2x4x8x16xf32>, %kt: tensor<2x4x16x8xf32>, %v: tensor<2x4x8x16xf32>, %w: tensor<2x4x8x8xf32>) -> tensor<8x8x16xf32> {
  %zero = arith.constant 0.0 : f32
  %eight = arith.constant 8.0 : f32
  %big = arith.constant -3.40282347E+38 : f32
  %qc = tensor.collapse_shape %q [[0, 1], [2], [3]] : tensor<2x4x8x16xf32> into tensor<8x8x16xf32>
  %kc = tensor.collapse_shape %kt [[0, 1], [2], [3]] : tensor<2x4x16x8xf32> into tensor<8x16x8xf32>
  %e = tensor.empty() : tensor<8x8x8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<8x8x8xf32>) -> tensor<8x8x8xf32>
  %s = linalg.batch_matmul ins(%qc, %kc : tensor<8x8x16xf32>, tensor<8x16x8xf32>) outs(%z : tensor<8x8x8xf32>) -> tensor<8x8x8xf32>
  %s4 = tensor.expand_shape %s [[0, 1], [2], [3]] output_shape [2, 4, 8, 8] : tensor<8x8x8xf32> into tensor<2x4x8x8xf32>
  %e4 = tensor.empty() : tensor<2x4x8x8xf32>
  %x0 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s4, %w : tensor<2x4x8x8xf32>, tensor<2x4x8x8xf32>) outs(%e4 : tensor<2x4x8x8xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %d = arith.mulf %a, %b : f32
    linalg.yield %d : f32
  } -> tensor<2x4x8x8xf32>
  %p = llm.softmax %x0 {axis = 3 : i64} : tensor<2x4x8x8xf32>
  %pc = tensor.collapse_shape %p [[0, 1], [2], [3]] : tensor<2x4x8x8xf32> into tensor<8x8x8xf32>
  %vc = tensor.collapse_shape %v [[0, 1], [2], [3]] : tensor<2x4x8x16xf32> into tensor<8x8x16xf32>
  %e2 = tensor.empty() : tensor<8x8x16xf32>
  %z2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<8x8x16xf32>) -> tensor<8x8x16xf32>
  %out = linalg.batch_matmul ins(%pc, %vc : tensor<8x8x8xf32>, tensor<8x8x16xf32>) outs(%z2 : tensor<8x8x16xf32>) -> tensor<8x8x16xf32>
  return %out : tensor<8x8x16xf32>
}

// -----

// Near miss: a boolean and a float mask together (llm.attention takes one).
// CHECK-LABEL: func.func @two_masks
// CHECK-NOT: llm.attention
// CHECK: linalg.batch_matmul
func.func @two_masks(%q: tensor<2x4x8x16xf32>, %kt: tensor<2x4x16x8xf32>, %v: tensor<2x4x8x16xf32>, %m: tensor<1x1x8x8xi1>, %f: tensor<2x1x1x8xf32>) -> tensor<8x8x16xf32> {
  %zero = arith.constant 0.0 : f32
  %eight = arith.constant 8.0 : f32
  %big = arith.constant -3.40282347E+38 : f32
  %qc = tensor.collapse_shape %q [[0, 1], [2], [3]] : tensor<2x4x8x16xf32> into tensor<8x8x16xf32>
  %kc = tensor.collapse_shape %kt [[0, 1], [2], [3]] : tensor<2x4x16x8xf32> into tensor<8x16x8xf32>
  %e = tensor.empty() : tensor<8x8x8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<8x8x8xf32>) -> tensor<8x8x8xf32>
  %s = linalg.batch_matmul ins(%qc, %kc : tensor<8x8x16xf32>, tensor<8x16x8xf32>) outs(%z : tensor<8x8x8xf32>) -> tensor<8x8x8xf32>
  %s4 = tensor.expand_shape %s [[0, 1], [2], [3]] output_shape [2, 4, 8, 8] : tensor<8x8x8xf32> into tensor<2x4x8x8xf32>
  %e4 = tensor.empty() : tensor<2x4x8x8xf32>
  %x0 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s4 : tensor<2x4x8x8xf32>) outs(%e4 : tensor<2x4x8x8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %d = arith.divf %a, %eight : f32
    linalg.yield %d : f32
  } -> tensor<2x4x8x8xf32>
  %x1 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (0, 0, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%m, %x0 : tensor<1x1x8x8xi1>, tensor<2x4x8x8xf32>) outs(%e4 : tensor<2x4x8x8xf32>) {
  ^bb0(%c: i1, %a: f32, %o: f32):
    %d = arith.select %c, %big, %a : f32
    linalg.yield %d : f32
  } -> tensor<2x4x8x8xf32>
  %x2 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, 0, 0, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%x1, %f : tensor<2x4x8x8xf32>, tensor<2x1x1x8xf32>) outs(%e4 : tensor<2x4x8x8xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %d = arith.addf %a, %b : f32
    linalg.yield %d : f32
  } -> tensor<2x4x8x8xf32>
  %p = llm.softmax %x2 {axis = 3 : i64} : tensor<2x4x8x8xf32>
  %pc = tensor.collapse_shape %p [[0, 1], [2], [3]] : tensor<2x4x8x8xf32> into tensor<8x8x8xf32>
  %vc = tensor.collapse_shape %v [[0, 1], [2], [3]] : tensor<2x4x8x16xf32> into tensor<8x8x16xf32>
  %e2 = tensor.empty() : tensor<8x8x16xf32>
  %z2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<8x8x16xf32>) -> tensor<8x8x16xf32>
  %out = linalg.batch_matmul ins(%pc, %vc : tensor<8x8x8xf32>, tensor<8x8x16xf32>) outs(%z2 : tensor<8x8x16xf32>) -> tensor<8x8x16xf32>
  return %out : tensor<8x8x16xf32>
}
