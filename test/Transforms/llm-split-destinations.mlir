// RUN: llm-opt %s --split-input-file --llm-split-destinations | FileCheck %s

// One zero accumulator, CSE'd, is the destination of two projections and
// read by a third op: each projection gets its own fill and empty, placed
// right before it; the read keeps the original.

// CHECK-LABEL: func.func @two_projections(
// CHECK-SAME: %[[X:[^:]*]]: tensor<4x8xf32>, %[[W:[^:]*]]: tensor<8x8xf32>
// CHECK: %[[E0:.*]] = tensor.empty() : tensor<4x8xf32>
// CHECK: %[[Z:.*]] = linalg.fill {{.*}} outs(%[[E0]] :
// CHECK: %[[A:.*]] = linalg.add ins(%[[X]], %[[Z]] :
// CHECK: %[[E1:.*]] = tensor.empty() : tensor<4x8xf32>
// CHECK: %[[Z1:.*]] = linalg.fill {{.*}} outs(%[[E1]] :
// CHECK: %[[P1:.*]] = linalg.matmul ins(%[[A]], %[[W]] : {{.*}}) outs(%[[Z1]] :
// CHECK: %[[E2:.*]] = tensor.empty() : tensor<4x8xf32>
// CHECK: %[[Z2:.*]] = linalg.fill {{.*}} outs(%[[E2]] :
// CHECK: linalg.matmul ins(%[[P1]], %[[W]] : {{.*}}) outs(%[[Z2]] :
func.func @two_projections(%x: tensor<4x8xf32>, %w: tensor<8x8xf32>) -> tensor<4x8xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<4x8xf32>) -> tensor<4x8xf32>
  %a = linalg.add ins(%x, %z : tensor<4x8xf32>, tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) -> tensor<4x8xf32>
  %p1 = linalg.matmul ins(%a, %w : tensor<4x8xf32>, tensor<8x8xf32>) outs(%z : tensor<4x8xf32>) -> tensor<4x8xf32>
  %p2 = linalg.matmul ins(%p1, %w : tensor<4x8xf32>, tensor<8x8xf32>) outs(%z : tensor<4x8xf32>) -> tensor<4x8xf32>
  return %p2 : tensor<4x8xf32>
}

// -----

// A destination written inside a loop (an iteration argument's start) gets
// its clone before the loop, not in its body. A fill written once and read
// nowhere else stays where it is.

// CHECK-LABEL: func.func @loop(
// CHECK: %[[Z0:.*]] = linalg.fill
// CHECK: %[[P:.*]] = linalg.matmul {{.*}} outs(%[[Z0]] :
// CHECK: %[[Z1:.*]] = linalg.fill
// CHECK-NEXT: scf.for {{.*}} iter_args(%{{.*}} = %[[Z1]])
// CHECK-NOT: linalg.fill
// CHECK: return
func.func @loop(%x: tensor<4x8xf32>, %w: tensor<8x8xf32>, %n: index) -> (tensor<4x8xf32>, tensor<4x8xf32>) {
  %zero = arith.constant 0.0 : f32
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %e = tensor.empty() : tensor<4x8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<4x8xf32>) -> tensor<4x8xf32>
  %p = linalg.matmul ins(%x, %w : tensor<4x8xf32>, tensor<8x8xf32>) outs(%z : tensor<4x8xf32>) -> tensor<4x8xf32>
  %s = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %z) -> (tensor<4x8xf32>) {
    %next = linalg.add ins(%acc, %x : tensor<4x8xf32>, tensor<4x8xf32>) outs(%acc : tensor<4x8xf32>) -> tensor<4x8xf32>
    scf.yield %next : tensor<4x8xf32>
  }
  return %p, %s : tensor<4x8xf32>, tensor<4x8xf32>
}

// -----

// Written once: untouched.

// CHECK-LABEL: func.func @once(
// CHECK: tensor.empty
// CHECK-NOT: tensor.empty
// CHECK: linalg.fill
// CHECK-NOT: linalg.fill
// CHECK: return
func.func @once(%x: tensor<4x8xf32>, %w: tensor<8x8xf32>) -> tensor<4x8xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<4x8xf32>) -> tensor<4x8xf32>
  %p = linalg.matmul ins(%x, %w : tensor<4x8xf32>, tensor<8x8xf32>) outs(%z : tensor<4x8xf32>) -> tensor<4x8xf32>
  return %p : tensor<4x8xf32>
}
