// RUN: llm-opt %s --llm-raise-norms --canonicalize -split-input-file | FileCheck %s
// Decomposed LayerNorm and RMSNorm in the ONNX importer's form (one generic
// per node, keep-dim means over the last dim) to llm ops; near misses stay.
// Graphs exported by torch at opsets 14 and 17 are in
// test/Target/ONNX/raise.test.

// CHECK-LABEL: func.func @layer_norm
// CHECK-SAME: %[[X:[^:]*]]: tensor<2x8xf32>, %[[W:[^:]*]]: tensor<8xf32>, %[[B:[^:]*]]: tensor<8xf32>
// CHECK-NEXT: %[[Y:.*]] = llm.layer_norm %[[X]] weight %[[W]] bias %[[B]] {epsilon = 9.99999974{{[0-9]*}}E-6 : f64} : (tensor<2x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
// CHECK-NEXT: return %[[Y]]
func.func @layer_norm(%x: tensor<2x8xf32>, %w: tensor<8xf32>, %b: tensor<8xf32>) -> tensor<2x8xf32> {
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %n = arith.constant 8.0 : f32
  %seven = arith.constant 7.0 : f32
  %eps = arith.constant 1.0e-05 : f32
  %eT = tensor.empty() : tensor<2x8xf32>
  %eS = tensor.empty() : tensor<2x1xf32>
  %zS = linalg.fill ins(%zero : f32) outs(%eS : tensor<2x1xf32>) -> tensor<2x1xf32>
  %v1 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, 0)>], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<2x8xf32>) outs(%zS : tensor<2x1xf32>) {
  ^bb0(%a0: f32, %o: f32):
    %r = arith.addf %o, %a0 : f32
    linalg.yield %r : f32
  } -> tensor<2x1xf32>
  %v2 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%v1 : tensor<2x1xf32>) outs(%eS : tensor<2x1xf32>) {
  ^bb0(%a0: f32, %o: f32):
    %r = arith.divf %a0, %n : f32
    linalg.yield %r : f32
  } -> tensor<2x1xf32>
  %v3 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, 0)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%x, %v2 : tensor<2x8xf32>, tensor<2x1xf32>) outs(%eT : tensor<2x8xf32>) {
  ^bb0(%a0: f32, %a1: f32, %o: f32):
    %r = arith.subf %a0, %a1 : f32
    linalg.yield %r : f32
  } -> tensor<2x8xf32>
  %v4 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%v3, %v3 : tensor<2x8xf32>, tensor<2x8xf32>) outs(%eT : tensor<2x8xf32>) {
  ^bb0(%a0: f32, %a1: f32, %o: f32):
    %r = arith.mulf %a0, %a1 : f32
    linalg.yield %r : f32
  } -> tensor<2x8xf32>
  %v5 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, 0)>], iterator_types = ["parallel", "reduction"]} ins(%v4 : tensor<2x8xf32>) outs(%zS : tensor<2x1xf32>) {
  ^bb0(%a0: f32, %o: f32):
    %r = arith.addf %o, %a0 : f32
    linalg.yield %r : f32
  } -> tensor<2x1xf32>
  %v6 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%v5 : tensor<2x1xf32>) outs(%eS : tensor<2x1xf32>) {
  ^bb0(%a0: f32, %o: f32):
    %r = arith.divf %a0, %n : f32
    linalg.yield %r : f32
  } -> tensor<2x1xf32>
  %v7 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%v6 : tensor<2x1xf32>) outs(%eS : tensor<2x1xf32>) {
  ^bb0(%a0: f32, %o: f32):
    %r = arith.addf %a0, %eps : f32
    linalg.yield %r : f32
  } -> tensor<2x1xf32>
  %v8 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%v7 : tensor<2x1xf32>) outs(%eS : tensor<2x1xf32>) {
  ^bb0(%a0: f32, %o: f32):
    %r = math.sqrt %a0 : f32
    linalg.yield %r : f32
  } -> tensor<2x1xf32>
  %v9 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, 0)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%v3, %v8 : tensor<2x8xf32>, tensor<2x1xf32>) outs(%eT : tensor<2x8xf32>) {
  ^bb0(%a0: f32, %a1: f32, %o: f32):
    %r = arith.divf %a0, %a1 : f32
    linalg.yield %r : f32
  } -> tensor<2x8xf32>
  %v10 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%v9, %w : tensor<2x8xf32>, tensor<8xf32>) outs(%eT : tensor<2x8xf32>) {
  ^bb0(%a0: f32, %a1: f32, %o: f32):
    %r = arith.mulf %a0, %a1 : f32
    linalg.yield %r : f32
  } -> tensor<2x8xf32>
  %v11 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%v10, %b : tensor<2x8xf32>, tensor<8xf32>) outs(%eT : tensor<2x8xf32>) {
  ^bb0(%a0: f32, %a1: f32, %o: f32):
    %r = arith.addf %a0, %a1 : f32
    linalg.yield %r : f32
  } -> tensor<2x8xf32>
  return %v11 : tensor<2x8xf32>
}

// -----

// LLaMA's form: x * (1 / sqrt(mean(x^2) + eps)), then weight * that.
// CHECK-LABEL: func.func @rms_norm
// CHECK-SAME: %[[X:[^:]*]]: tensor<2x8xf32>, %[[W:[^:]*]]: tensor<8xf32>
// CHECK-NEXT: %[[Y:.*]] = llm.rms_norm %[[X]] weight %[[W]] {epsilon = 9.99999974{{[0-9]*}}E-6 : f64} : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
// CHECK-NEXT: return %[[Y]]
func.func @rms_norm(%x: tensor<2x8xf32>, %w: tensor<8xf32>) -> tensor<2x8xf32> {
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %n = arith.constant 8.0 : f32
  %seven = arith.constant 7.0 : f32
  %eps = arith.constant 1.0e-05 : f32
  %eT = tensor.empty() : tensor<2x8xf32>
  %eS = tensor.empty() : tensor<2x1xf32>
  %zS = linalg.fill ins(%zero : f32) outs(%eS : tensor<2x1xf32>) -> tensor<2x1xf32>
  %v1 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%x, %x : tensor<2x8xf32>, tensor<2x8xf32>) outs(%eT : tensor<2x8xf32>) {
  ^bb0(%a0: f32, %a1: f32, %o: f32):
    %r = arith.mulf %a0, %a1 : f32
    linalg.yield %r : f32
  } -> tensor<2x8xf32>
  %v2 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, 0)>], iterator_types = ["parallel", "reduction"]} ins(%v1 : tensor<2x8xf32>) outs(%zS : tensor<2x1xf32>) {
  ^bb0(%a0: f32, %o: f32):
    %r = arith.addf %o, %a0 : f32
    linalg.yield %r : f32
  } -> tensor<2x1xf32>
  %v3 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%v2 : tensor<2x1xf32>) outs(%eS : tensor<2x1xf32>) {
  ^bb0(%a0: f32, %o: f32):
    %r = arith.divf %a0, %n : f32
    linalg.yield %r : f32
  } -> tensor<2x1xf32>
  %v4 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%v3 : tensor<2x1xf32>) outs(%eS : tensor<2x1xf32>) {
  ^bb0(%a0: f32, %o: f32):
    %r = arith.addf %a0, %eps : f32
    linalg.yield %r : f32
  } -> tensor<2x1xf32>
  %v5 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%v4 : tensor<2x1xf32>) outs(%eS : tensor<2x1xf32>) {
  ^bb0(%a0: f32, %o: f32):
    %r = math.sqrt %a0 : f32
    linalg.yield %r : f32
  } -> tensor<2x1xf32>
  %v6 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%v5 : tensor<2x1xf32>) outs(%eS : tensor<2x1xf32>) {
  ^bb0(%a0: f32, %o: f32):
    %r = arith.divf %one, %a0 : f32
    linalg.yield %r : f32
  } -> tensor<2x1xf32>
  %v7 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, 0)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%x, %v6 : tensor<2x8xf32>, tensor<2x1xf32>) outs(%eT : tensor<2x8xf32>) {
  ^bb0(%a0: f32, %a1: f32, %o: f32):
    %r = arith.mulf %a0, %a1 : f32
    linalg.yield %r : f32
  } -> tensor<2x8xf32>
  %v8 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%w, %v7 : tensor<8xf32>, tensor<2x8xf32>) outs(%eT : tensor<2x8xf32>) {
  ^bb0(%a0: f32, %a1: f32, %o: f32):
    %r = arith.mulf %a0, %a1 : f32
    linalg.yield %r : f32
  } -> tensor<2x8xf32>
  return %v8 : tensor<2x8xf32>
}

// -----

// Near miss: the "mean" divides by 7 over a dim of 8.
// CHECK-LABEL: func.func @wrong_count
// CHECK-NOT: llm.layer_norm
// CHECK: math.sqrt
func.func @wrong_count(%x: tensor<2x8xf32>, %w: tensor<8xf32>, %b: tensor<8xf32>) -> tensor<2x8xf32> {
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %n = arith.constant 8.0 : f32
  %seven = arith.constant 7.0 : f32
  %eps = arith.constant 1.0e-05 : f32
  %eT = tensor.empty() : tensor<2x8xf32>
  %eS = tensor.empty() : tensor<2x1xf32>
  %zS = linalg.fill ins(%zero : f32) outs(%eS : tensor<2x1xf32>) -> tensor<2x1xf32>
  %v1 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, 0)>], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<2x8xf32>) outs(%zS : tensor<2x1xf32>) {
  ^bb0(%a0: f32, %o: f32):
    %r = arith.addf %o, %a0 : f32
    linalg.yield %r : f32
  } -> tensor<2x1xf32>
  %v2 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%v1 : tensor<2x1xf32>) outs(%eS : tensor<2x1xf32>) {
  ^bb0(%a0: f32, %o: f32):
    %r = arith.divf %a0, %seven : f32
    linalg.yield %r : f32
  } -> tensor<2x1xf32>
  %v3 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, 0)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%x, %v2 : tensor<2x8xf32>, tensor<2x1xf32>) outs(%eT : tensor<2x8xf32>) {
  ^bb0(%a0: f32, %a1: f32, %o: f32):
    %r = arith.subf %a0, %a1 : f32
    linalg.yield %r : f32
  } -> tensor<2x8xf32>
  %v4 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%v3, %v3 : tensor<2x8xf32>, tensor<2x8xf32>) outs(%eT : tensor<2x8xf32>) {
  ^bb0(%a0: f32, %a1: f32, %o: f32):
    %r = arith.mulf %a0, %a1 : f32
    linalg.yield %r : f32
  } -> tensor<2x8xf32>
  %v5 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, 0)>], iterator_types = ["parallel", "reduction"]} ins(%v4 : tensor<2x8xf32>) outs(%zS : tensor<2x1xf32>) {
  ^bb0(%a0: f32, %o: f32):
    %r = arith.addf %o, %a0 : f32
    linalg.yield %r : f32
  } -> tensor<2x1xf32>
  %v6 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%v5 : tensor<2x1xf32>) outs(%eS : tensor<2x1xf32>) {
  ^bb0(%a0: f32, %o: f32):
    %r = arith.divf %a0, %n : f32
    linalg.yield %r : f32
  } -> tensor<2x1xf32>
  %v7 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%v6 : tensor<2x1xf32>) outs(%eS : tensor<2x1xf32>) {
  ^bb0(%a0: f32, %o: f32):
    %r = arith.addf %a0, %eps : f32
    linalg.yield %r : f32
  } -> tensor<2x1xf32>
  %v8 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%v7 : tensor<2x1xf32>) outs(%eS : tensor<2x1xf32>) {
  ^bb0(%a0: f32, %o: f32):
    %r = math.sqrt %a0 : f32
    linalg.yield %r : f32
  } -> tensor<2x1xf32>
  %v9 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, 0)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%v3, %v8 : tensor<2x8xf32>, tensor<2x1xf32>) outs(%eT : tensor<2x8xf32>) {
  ^bb0(%a0: f32, %a1: f32, %o: f32):
    %r = arith.divf %a0, %a1 : f32
    linalg.yield %r : f32
  } -> tensor<2x8xf32>
  %v10 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%v9, %w : tensor<2x8xf32>, tensor<8xf32>) outs(%eT : tensor<2x8xf32>) {
  ^bb0(%a0: f32, %a1: f32, %o: f32):
    %r = arith.mulf %a0, %a1 : f32
    linalg.yield %r : f32
  } -> tensor<2x8xf32>
  %v11 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%v10, %b : tensor<2x8xf32>, tensor<8xf32>) outs(%eT : tensor<2x8xf32>) {
  ^bb0(%a0: f32, %a1: f32, %o: f32):
    %r = arith.addf %a0, %a1 : f32
    linalg.yield %r : f32
  } -> tensor<2x8xf32>
  return %v11 : tensor<2x8xf32>
}
