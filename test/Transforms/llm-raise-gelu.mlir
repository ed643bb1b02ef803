// RUN: llm-opt %s --llm-raise-gelu --canonicalize -split-input-file | FileCheck %s
// Exact and tanh GELU in the ONNX importer's form (one generic per node) to
// llm.gelu; a near miss stays. Graphs exported by torch at opsets 14 and 17
// are in test/Target/ONNX/raise.test.

// CHECK-LABEL: func.func @exact
// CHECK-NEXT: %[[Y:.*]] = llm.gelu %{{.*}} : tensor<2x8xf32>
// CHECK-NEXT: return %[[Y]]
func.func @exact(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %half = arith.constant 0.5 : f32
  %wrong = arith.constant 0.6 : f32
  %one = arith.constant 1.0 : f32
  %sqrt2 = arith.constant 1.41421354 : f32
  %three = arith.constant 3.0 : f32
  %c = arith.constant 4.471500e-02 : f32
  %k = arith.constant 0.797884583 : f32
  %e = tensor.empty() : tensor<2x8xf32>
  %v1 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<2x8xf32>) outs(%e : tensor<2x8xf32>) {
  ^bb0(%a0: f32, %o: f32):
    %r = arith.mulf %a0, %half : f32
    linalg.yield %r : f32
  } -> tensor<2x8xf32>
  %v2 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<2x8xf32>) outs(%e : tensor<2x8xf32>) {
  ^bb0(%a0: f32, %o: f32):
    %r = arith.divf %a0, %sqrt2 : f32
    linalg.yield %r : f32
  } -> tensor<2x8xf32>
  %v3 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%v2 : tensor<2x8xf32>) outs(%e : tensor<2x8xf32>) {
  ^bb0(%a0: f32, %o: f32):
    %r = math.erf %a0 : f32
    linalg.yield %r : f32
  } -> tensor<2x8xf32>
  %v4 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%v3 : tensor<2x8xf32>) outs(%e : tensor<2x8xf32>) {
  ^bb0(%a0: f32, %o: f32):
    %r = arith.addf %a0, %one : f32
    linalg.yield %r : f32
  } -> tensor<2x8xf32>
  %v5 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%v1, %v4 : tensor<2x8xf32>, tensor<2x8xf32>) outs(%e : tensor<2x8xf32>) {
  ^bb0(%a0: f32, %a1: f32, %o: f32):
    %r = arith.mulf %a0, %a1 : f32
    linalg.yield %r : f32
  } -> tensor<2x8xf32>
  return %v5 : tensor<2x8xf32>
}

// -----

// x^3 as Pow, constants on either side, the product's operands swapped.
// CHECK-LABEL: func.func @tanh
// CHECK-NEXT: %[[Y:.*]] = llm.gelu %{{.*}} approximate tanh : tensor<2x8xf32>
// CHECK-NEXT: return %[[Y]]
func.func @tanh(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %half = arith.constant 0.5 : f32
  %wrong = arith.constant 0.6 : f32
  %one = arith.constant 1.0 : f32
  %sqrt2 = arith.constant 1.41421354 : f32
  %three = arith.constant 3.0 : f32
  %c = arith.constant 4.471500e-02 : f32
  %k = arith.constant 0.797884583 : f32
  %e = tensor.empty() : tensor<2x8xf32>
  %v1 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<2x8xf32>) outs(%e : tensor<2x8xf32>) {
  ^bb0(%a0: f32, %o: f32):
    %r = arith.mulf %a0, %half : f32
    linalg.yield %r : f32
  } -> tensor<2x8xf32>
  %v2 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<2x8xf32>) outs(%e : tensor<2x8xf32>) {
  ^bb0(%a0: f32, %o: f32):
    %r = math.powf %a0, %three : f32
    linalg.yield %r : f32
  } -> tensor<2x8xf32>
  %v3 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%v2 : tensor<2x8xf32>) outs(%e : tensor<2x8xf32>) {
  ^bb0(%a0: f32, %o: f32):
    %r = arith.mulf %c, %a0 : f32
    linalg.yield %r : f32
  } -> tensor<2x8xf32>
  %v4 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%x, %v3 : tensor<2x8xf32>, tensor<2x8xf32>) outs(%e : tensor<2x8xf32>) {
  ^bb0(%a0: f32, %a1: f32, %o: f32):
    %r = arith.addf %a0, %a1 : f32
    linalg.yield %r : f32
  } -> tensor<2x8xf32>
  %v5 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%v4 : tensor<2x8xf32>) outs(%e : tensor<2x8xf32>) {
  ^bb0(%a0: f32, %o: f32):
    %r = arith.mulf %a0, %k : f32
    linalg.yield %r : f32
  } -> tensor<2x8xf32>
  %v6 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%v5 : tensor<2x8xf32>) outs(%e : tensor<2x8xf32>) {
  ^bb0(%a0: f32, %o: f32):
    %r = math.tanh %a0 : f32
    linalg.yield %r : f32
  } -> tensor<2x8xf32>
  %v7 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%v6 : tensor<2x8xf32>) outs(%e : tensor<2x8xf32>) {
  ^bb0(%a0: f32, %o: f32):
    %r = arith.addf %one, %a0 : f32
    linalg.yield %r : f32
  } -> tensor<2x8xf32>
  %v8 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%v7, %v1 : tensor<2x8xf32>, tensor<2x8xf32>) outs(%e : tensor<2x8xf32>) {
  ^bb0(%a0: f32, %a1: f32, %o: f32):
    %r = arith.mulf %a0, %a1 : f32
    linalg.yield %r : f32
  } -> tensor<2x8xf32>
  return %v8 : tensor<2x8xf32>
}

// -----

// Near miss: 0.6 x (1 + erf(x / sqrt 2)) is not GELU.
// CHECK-LABEL: func.func @wrong_constant
// CHECK-NOT: llm.gelu
// CHECK: math.erf
func.func @wrong_constant(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %half = arith.constant 0.5 : f32
  %wrong = arith.constant 0.6 : f32
  %one = arith.constant 1.0 : f32
  %sqrt2 = arith.constant 1.41421354 : f32
  %three = arith.constant 3.0 : f32
  %c = arith.constant 4.471500e-02 : f32
  %k = arith.constant 0.797884583 : f32
  %e = tensor.empty() : tensor<2x8xf32>
  %v1 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<2x8xf32>) outs(%e : tensor<2x8xf32>) {
  ^bb0(%a0: f32, %o: f32):
    %r = arith.mulf %a0, %wrong : f32
    linalg.yield %r : f32
  } -> tensor<2x8xf32>
  %v2 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<2x8xf32>) outs(%e : tensor<2x8xf32>) {
  ^bb0(%a0: f32, %o: f32):
    %r = arith.divf %a0, %sqrt2 : f32
    linalg.yield %r : f32
  } -> tensor<2x8xf32>
  %v3 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%v2 : tensor<2x8xf32>) outs(%e : tensor<2x8xf32>) {
  ^bb0(%a0: f32, %o: f32):
    %r = math.erf %a0 : f32
    linalg.yield %r : f32
  } -> tensor<2x8xf32>
  %v4 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%v3 : tensor<2x8xf32>) outs(%e : tensor<2x8xf32>) {
  ^bb0(%a0: f32, %o: f32):
    %r = arith.addf %a0, %one : f32
    linalg.yield %r : f32
  } -> tensor<2x8xf32>
  %v5 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%v1, %v4 : tensor<2x8xf32>, tensor<2x8xf32>) outs(%e : tensor<2x8xf32>) {
  ^bb0(%a0: f32, %a1: f32, %o: f32):
    %r = arith.mulf %a0, %a1 : f32
    linalg.yield %r : f32
  } -> tensor<2x8xf32>
  return %v5 : tensor<2x8xf32>
}
