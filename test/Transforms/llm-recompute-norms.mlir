// RUN: llm-opt %s --split-input-file --llm-autodiff --llm-recompute-norms="remarks=true" --verify-diagnostics | FileCheck %s

// A LayerNorm before a projection, then the LM loss: in the VJP, the
// projection's weight gradient reads a second layer_norm of the same
// input, computed after the loss; the first is read by the forward's
// projection only. The function without a gradient is left as it is.

// CHECK-LABEL: func.func @f(
// CHECK-COUNT-1: llm.layer_norm
// CHECK-NOT: llm.layer_norm
// CHECK: return

// CHECK-LABEL: func.func @f_vjp(
// CHECK-SAME: %[[X:[^:]*]]: tensor<2x5x4xf32>, %[[G:[^:]*]]: tensor<4xf32>, %[[B:[^:]*]]: tensor<4xf32>, %[[W:[^:]*]]: tensor<6x4xf32>
// CHECK: %[[N:.*]] = llm.layer_norm %[[X]] weight %[[G]] bias %[[B]]
// CHECK: %[[Y:.*]] = llm.linear %[[N]], %[[W]]
// CHECK: llm.cross_entropy %[[Y]]
// CHECK-NOT: %[[N]]
// CHECK: %[[R:.*]] = llm.layer_norm %[[X]] weight %[[G]] bias %[[B]]
// CHECK-NEXT: linalg.generic {{.*}} ins(%{{.*}}, %[[R]] :
// CHECK-NOT: %[[N]]
// CHECK: return
func.func @f(%x: tensor<2x5x4xf32>, %g: tensor<4xf32>, %b: tensor<4xf32>, %w: tensor<6x4xf32>, %labels: tensor<2x5xi64>) -> tensor<f32> {
  // expected-remark @below {{recomputed for the backward}}
  %n = llm.layer_norm %x weight %g bias %b : (tensor<2x5x4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<2x5x4xf32>
  %y = llm.linear %n, %w : (tensor<2x5x4xf32>, tensor<6x4xf32>) -> tensor<2x5x6xf32>
  %loss = llm.cross_entropy %y, %labels : (tensor<2x5x6xf32>, tensor<2x5xi64>) -> tensor<f32>
  return %loss : tensor<f32>
}

// -----

// Written by hand (private: llm-autodiff leaves it alone): the norm's
// output is read after the loss, but its input is not, so recomputing
// would keep the input alive instead of the output. Left alone.

// CHECK-LABEL: func.func private @input_dead(
// CHECK-COUNT-1: llm.layer_norm
// CHECK-NOT: llm.layer_norm
// CHECK: return
func.func private @input_dead(%x: tensor<2x5x4xf32>, %w: tensor<6x4xf32>, %labels: tensor<2x5xi64>) -> (tensor<f32>, tensor<2x5x6xf32>) {
  %e = arith.mulf %x, %x : tensor<2x5x4xf32>
  %n = llm.layer_norm %e : (tensor<2x5x4xf32>) -> tensor<2x5x4xf32>
  %y = llm.linear %n, %w : (tensor<2x5x4xf32>, tensor<6x4xf32>) -> tensor<2x5x6xf32>
  %loss = llm.cross_entropy %y, %labels : (tensor<2x5x6xf32>, tensor<2x5xi64>) -> tensor<f32>
  %z = llm.linear %n, %w : (tensor<2x5x4xf32>, tensor<6x4xf32>) -> tensor<2x5x6xf32>
  return %loss, %z : tensor<f32>, tensor<2x5x6xf32>
}

// -----

// An RMSNorm: the same.

// CHECK-LABEL: func.func @rms_vjp(
// CHECK: %[[N:.*]] = llm.rms_norm
// CHECK: llm.linear %[[N]],
// CHECK: llm.cross_entropy
// CHECK: llm.rms_norm
// CHECK-NOT: llm.rms_norm
// CHECK: return
func.func @rms(%x: tensor<2x5x4xf32>, %g: tensor<4xf32>, %w: tensor<6x4xf32>, %labels: tensor<2x5xi64>) -> tensor<f32> {
  // expected-remark @below {{recomputed for the backward}}
  %n = llm.rms_norm %x weight %g : (tensor<2x5x4xf32>, tensor<4xf32>) -> tensor<2x5x4xf32>
  %y = llm.linear %n, %w : (tensor<2x5x4xf32>, tensor<6x4xf32>) -> tensor<2x5x6xf32>
  %loss = llm.cross_entropy %y, %labels : (tensor<2x5x6xf32>, tensor<2x5xi64>) -> tensor<f32>
  return %loss : tensor<f32>
}
