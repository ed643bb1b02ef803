// RUN: llm-opt %s --llm-raise-linear --canonicalize -split-input-file | FileCheck %s
// MatMul/Gemm on a weight, in the ONNX importer's form, to llm.linear; the
// bias add folds in; near misses stay as they are. Graphs exported by torch
// at opsets 14 and 17 are in test/Target/ONNX/raise.test.

// MatMul + Add of a [N] vector: layout in_out with a bias.
// CHECK-LABEL: func.func @matmul_bias
// CHECK-SAME: %[[X:[^:]*]]: tensor<?x64xf32>, %[[W:[^:]*]]: tensor<64x192xf32> {llm.param = "w"}, %[[B:[^:]*]]: tensor<192xf32> {llm.param = "b"}
// CHECK-NEXT: %[[Y:.*]] = llm.linear %[[X]], %[[W]] bias %[[B]] layout in_out : (tensor<?x64xf32>, tensor<64x192xf32>, tensor<192xf32>) -> tensor<?x192xf32>
// CHECK-NEXT: return %[[Y]]
func.func @matmul_bias(%x: tensor<?x64xf32>, %w: tensor<64x192xf32> {llm.param = "w"}, %b: tensor<192xf32> {llm.param = "b"}) -> tensor<?x192xf32> {
  %zero = arith.constant 0.0 : f32
  %c0 = arith.constant 0 : index
  %m = tensor.dim %x, %c0 : tensor<?x64xf32>
  %e = tensor.empty(%m) : tensor<?x192xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<?x192xf32>) -> tensor<?x192xf32>
  %p = linalg.matmul ins(%x, %w : tensor<?x64xf32>, tensor<64x192xf32>) outs(%z : tensor<?x192xf32>) -> tensor<?x192xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%p, %b : tensor<?x192xf32>, tensor<192xf32>) outs(%e : tensor<?x192xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %s = arith.addf %a, %c : f32
    linalg.yield %s : f32
  } -> tensor<?x192xf32>
  return %y : tensor<?x192xf32>
}

// -----

// Gemm with transB: the transposed [out, in] weight is read as out_in.
// CHECK-LABEL: func.func @gemm_trans_b
// CHECK-SAME: %[[X:[^:]*]]: tensor<4x8xf32>, %[[W:[^:]*]]: tensor<5x8xf32> {llm.param = "w"}
// CHECK-NEXT: %[[Y:.*]] = llm.linear %[[X]], %[[W]] : (tensor<4x8xf32>, tensor<5x8xf32>) -> tensor<4x5xf32>
// CHECK-NEXT: return %[[Y]]
func.func @gemm_trans_b(%x: tensor<4x8xf32>, %w: tensor<5x8xf32> {llm.param = "w"}) -> tensor<4x5xf32> {
  %zero = arith.constant 0.0 : f32
  %et = tensor.empty() : tensor<8x5xf32>
  %t = linalg.transpose ins(%w : tensor<5x8xf32>) outs(%et : tensor<8x5xf32>) permutation = [1, 0]
  %e = tensor.empty() : tensor<4x5xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<4x5xf32>) -> tensor<4x5xf32>
  %p = linalg.matmul ins(%x, %t : tensor<4x8xf32>, tensor<8x5xf32>) outs(%z : tensor<4x5xf32>) -> tensor<4x5xf32>
  return %p : tensor<4x5xf32>
}

// -----

// The product has a second use: raised without folding the add.
// CHECK-LABEL: func.func @two_uses
// CHECK: %[[P:.*]] = llm.linear %{{.*}}, %{{.*}} layout in_out : (tensor<4x8xf32>, tensor<8x5xf32>) -> tensor<4x5xf32>
// CHECK: linalg.generic {{.*}} ins(%[[P]], %{{.*}} : tensor<4x5xf32>, tensor<5xf32>)
// CHECK: return %[[P]], %{{.*}}
func.func @two_uses(%x: tensor<4x8xf32>, %w: tensor<8x5xf32> {llm.param = "w"}, %b: tensor<5xf32>) -> (tensor<4x5xf32>, tensor<4x5xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x5xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<4x5xf32>) -> tensor<4x5xf32>
  %p = linalg.matmul ins(%x, %w : tensor<4x8xf32>, tensor<8x5xf32>) outs(%z : tensor<4x5xf32>) -> tensor<4x5xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%p, %b : tensor<4x5xf32>, tensor<5xf32>) outs(%e : tensor<4x5xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %s = arith.addf %a, %c : f32
    linalg.yield %s : f32
  } -> tensor<4x5xf32>
  return %p, %y : tensor<4x5xf32>, tensor<4x5xf32>
}

// -----

// Near miss: the added vector runs along the rows, not the columns (no
// bias of llm.linear); the projection itself is still raised.
// CHECK-LABEL: func.func @row_vector_add
// CHECK: %[[P:.*]] = llm.linear
// CHECK: linalg.generic {{.*}} ins(%[[P]], %{{.*}} : tensor<4x4xf32>, tensor<4xf32>)
func.func @row_vector_add(%x: tensor<4x8xf32>, %w: tensor<8x4xf32> {llm.param = "w"}, %r: tensor<4xf32>) -> tensor<4x4xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x4xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<4x4xf32>) -> tensor<4x4xf32>
  %p = linalg.matmul ins(%x, %w : tensor<4x8xf32>, tensor<8x4xf32>) outs(%z : tensor<4x4xf32>) -> tensor<4x4xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%p, %r : tensor<4x4xf32>, tensor<4xf32>) outs(%e : tensor<4x4xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %s = arith.addf %a, %c : f32
    linalg.yield %s : f32
  } -> tensor<4x4xf32>
  return %y : tensor<4x4xf32>
}

// -----

// Near misses: a product of two activations, and one accumulating into a
// non-zero init.
// CHECK-LABEL: func.func @not_projections
// CHECK-NOT: llm.linear
// CHECK: linalg.matmul
// CHECK: linalg.matmul
func.func @not_projections(%x: tensor<4x8xf32>, %y: tensor<8x5xf32>, %w: tensor<8x5xf32> {llm.param = "w"}, %acc: tensor<4x5xf32>) -> (tensor<4x5xf32>, tensor<4x5xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x5xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<4x5xf32>) -> tensor<4x5xf32>
  %p = linalg.matmul ins(%x, %y : tensor<4x8xf32>, tensor<8x5xf32>) outs(%z : tensor<4x5xf32>) -> tensor<4x5xf32>
  %q = linalg.matmul ins(%x, %w : tensor<4x8xf32>, tensor<8x5xf32>) outs(%acc : tensor<4x5xf32>) -> tensor<4x5xf32>
  return %p, %q : tensor<4x5xf32>, tensor<4x5xf32>
}

// -----

// An N-D MatMul as the importer writes it (rows collapsed, split again
// after) with the bias added to the split product: still the bias.
// CHECK-LABEL: func.func @split_rows_bias
// CHECK-SAME: %[[X:[^:]*]]: tensor<?x?x8xf32>, %[[W:[^:]*]]: tensor<8x6xf32> {llm.param = "w"}, %[[B:[^:]*]]: tensor<6xf32> {llm.param = "b"}
// CHECK: %[[C:.*]] = tensor.collapse_shape %[[X]]
// CHECK: %[[Y:.*]] = llm.linear %[[C]], %[[W]] bias %[[B]] layout in_out
// CHECK: %[[E:.*]] = tensor.expand_shape %[[Y]]
// CHECK: return %[[E]]
func.func @split_rows_bias(%x: tensor<?x?x8xf32>, %w: tensor<8x6xf32> {llm.param = "w"}, %b: tensor<6xf32> {llm.param = "b"}) -> tensor<?x?x6xf32> {
  %zero = arith.constant 0.0 : f32
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %xc = tensor.collapse_shape %x [[0, 1], [2]] : tensor<?x?x8xf32> into tensor<?x8xf32>
  %m = tensor.dim %xc, %c0 : tensor<?x8xf32>
  %e = tensor.empty(%m) : tensor<?x6xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<?x6xf32>) -> tensor<?x6xf32>
  %p = linalg.matmul ins(%xc, %w : tensor<?x8xf32>, tensor<8x6xf32>) outs(%z : tensor<?x6xf32>) -> tensor<?x6xf32>
  %d0 = tensor.dim %x, %c0 : tensor<?x?x8xf32>
  %d1 = tensor.dim %x, %c1 : tensor<?x?x8xf32>
  %p3 = tensor.expand_shape %p [[0, 1], [2]] output_shape [%d0, %d1, 6] : tensor<?x6xf32> into tensor<?x?x6xf32>
  %e3 = tensor.empty(%d0, %d1) : tensor<?x?x6xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d2)>, affine_map<(d0, d1, d2) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel"]} ins(%p3, %b : tensor<?x?x6xf32>, tensor<6xf32>) outs(%e3 : tensor<?x?x6xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %s = arith.addf %a, %c : f32
    linalg.yield %s : f32
  } -> tensor<?x?x6xf32>
  return %y : tensor<?x?x6xf32>
}
