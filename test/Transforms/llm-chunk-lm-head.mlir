// RUN: llm-opt %s --split-input-file --llm-autodiff --llm-chunk-lm-head="rows=2 remarks=true" --verify-diagnostics | FileCheck %s

// The LM head and its mean loss as llm-autodiff differentiates them: in
// the VJP, one loop over the batch and, inside, over chunks of 2 of the 5
// positions computes the logits, the loss (a running sum, divided by the
// count of labelled positions after the loop), the softmax and its
// gradient, the rows of the input gradient and, in place, the weight
// gradient. Nothing of shape [2, 5, 7] is left; the forward function,
// which has no gradient, keeps its loss whole.

// CHECK-LABEL: func.func @f(
// CHECK: llm.cross_entropy {{.*}} -> tensor<f32>

// CHECK-LABEL: func.func @f_vjp(
// CHECK-SAME: %[[H:[^:]*]]: tensor<2x5x4xf32>, %[[W:[^:]*]]: tensor<7x4xf32>, %[[Y:[^:]*]]: tensor<2x5xi64>
// CHECK-NOT: tensor<2x5x7xf32>
// CHECK: %[[DH0:.*]] = tensor.empty() : tensor<2x5x4xf32>
// CHECK-NEXT: %[[R:.*]]:3 = scf.for %[[B:.*]] = %{{.*}} to %{{.*}} step %c1 iter_args(%[[SUM:.*]] = %{{.*}}, %[[DH:.*]] = %[[DH0]], %[[DW:.*]] = %{{.*}}) -> (tensor<f32>, tensor<2x5x4xf32>, tensor<7x4xf32>)
// CHECK: scf.for %[[S:.*]] = %{{.*}} to %{{.*}} step %c2 iter_args(%[[SUM1:.*]] = %[[SUM]], %[[DH1:.*]] = %[[DH]], %[[DW1:.*]] = %[[DW]])
// CHECK: %[[N:.*]] = affine.min #{{.*}}(%[[S]])
// CHECK: %[[HC:.*]] = tensor.extract_slice %[[H]][%[[B]], %[[S]], 0] [1, %[[N]], 4] [1, 1, 1]
// CHECK: %[[LC:.*]] = llm.linear %[[HC]], %[[W]] : (tensor<1x?x4xf32>, tensor<7x4xf32>) -> tensor<1x?x7xf32>
// CHECK: %[[YC:.*]] = tensor.extract_slice %[[Y]][%[[B]], %[[S]]] [1, %[[N]]]
// CHECK: %[[LOSS:.*]] = llm.cross_entropy %[[LC]], %[[YC]] reduction sum
// CHECK: linalg.generic {{.*}} ins(%[[LOSS]] : tensor<f32>) outs(%[[SUM1]] : tensor<f32>)
// CHECK: %[[P:.*]] = llm.softmax %[[LC]]
// CHECK: %[[DL:.*]] = linalg.generic {{.*}} ins(%[[P]], {{.*}} : tensor<1x?x7xf32>, tensor<1x?xi64>, tensor<1x?xf32>)
// CHECK: %[[DX:.*]] = llm.linear %[[DL]], %[[W]] layout in_out
// CHECK: tensor.insert_slice %[[DX]] into %[[DH1]][%[[B]], %[[S]], 0] [1, %[[N]], 4]
// CHECK: %[[HC2:.*]] = tensor.extract_slice %[[H]][%[[B]], %[[S]], 0]
// CHECK: linalg.generic {{.*}}iterator_types = ["reduction", "reduction", "parallel", "parallel"]{{.*}} ins(%[[DL]], %[[HC2]] : {{.*}}) outs(%[[DW1]] : tensor<7x4xf32>)
// CHECK: %[[COUNT:.*]] = linalg.generic {{.*}} ins(%[[Y]] : tensor<2x5xi64>)
// CHECK: %[[MEAN:.*]] = arith.divf %[[R]]#0, %[[COUNT]] : tensor<f32>
// CHECK: return %[[MEAN]], %[[R]]#1, %[[R]]#2
func.func @f(%h: tensor<2x5x4xf32>, %w: tensor<7x4xf32>, %labels: tensor<2x5xi64>) -> tensor<f32> {
  %logits = llm.linear %h, %w : (tensor<2x5x4xf32>, tensor<7x4xf32>) -> tensor<2x5x7xf32>
  // expected-remark @below {{LM head and loss computed over chunks of 2 rows}}
  %loss = llm.cross_entropy %logits, %labels : (tensor<2x5x7xf32>, tensor<2x5xi64>) -> tensor<f32>
  return %loss : tensor<f32>
}

// -----

// Per-position losses, [rows, classes] logits and a bias: one loop over
// chunks of rows; each chunk's losses are written into the result, and the
// bias gradient (a sum over the rows) is accumulated like the weight's.

// CHECK-LABEL: func.func @none_vjp(
// CHECK-SAME: %[[H:[^:]*]]: tensor<5x4xf32>
// CHECK-NOT: tensor<5x7xf32>
// CHECK: tensor.empty() : tensor<5x4xf32>
// CHECK-NEXT: %[[R:.*]]:4 = scf.for %[[S:.*]] = %{{.*}} to %{{.*}} step %c2 iter_args(%[[L:[^ ]*]] = %{{.*}}, {{.*}}) -> (tensor<5xf32>, tensor<5x4xf32>, tensor<7xf32>, tensor<7x4xf32>)
// CHECK: %[[N:.*]] = affine.min
// CHECK: %[[LC:.*]] = llm.linear {{.*}} bias {{.*}} -> tensor<?x7xf32>
// CHECK: %[[LOSS:.*]] = llm.cross_entropy %[[LC]], {{.*}} reduction none {{.*}} -> tensor<?xf32>
// CHECK: tensor.insert_slice %[[LOSS]] into %[[L]][%[[S]]] [%[[N]]] [1]
// CHECK: return %[[R]]#0,
func.func @none(%h: tensor<5x4xf32>, %w: tensor<7x4xf32>, %b: tensor<7xf32>, %labels: tensor<5xi64>) -> tensor<5xf32> {
  %logits = llm.linear %h, %w bias %b : (tensor<5x4xf32>, tensor<7x4xf32>, tensor<7xf32>) -> tensor<5x7xf32>
  // expected-remark @below {{LM head and loss computed over chunks of 2 rows}}
  %loss = llm.cross_entropy %logits, %labels reduction none {ignore_index = 2 : i64} : (tensor<5x7xf32>, tensor<5xi64>) -> tensor<5xf32>
  return %loss : tensor<5xf32>
}

// -----

// The logits are a result too (an eval step returns them): their gradient
// adds the seed's, nothing is chunked.

// CHECK-LABEL: func.func @logits_returned_vjp(
// CHECK-NOT: scf.for
// CHECK: llm.cross_entropy {{.*}} : (tensor<2x5x7xf32>, tensor<2x5xi64>) -> tensor<f32>
// CHECK: llm.softmax {{.*}} : tensor<2x5x7xf32>
func.func @logits_returned(%h: tensor<2x5x4xf32>, %w: tensor<7x4xf32>, %labels: tensor<2x5xi64>) -> (tensor<f32>, tensor<2x5x7xf32>) {
  %logits = llm.linear %h, %w : (tensor<2x5x4xf32>, tensor<7x4xf32>) -> tensor<2x5x7xf32>
  %loss = llm.cross_entropy %logits, %labels : (tensor<2x5x7xf32>, tensor<2x5xi64>) -> tensor<f32>
  return %loss, %logits : tensor<f32>, tensor<2x5x7xf32>
}

// -----

// The logits do not come from a projection: nothing to chunk.

// CHECK-LABEL: func.func @no_projection_vjp(
// CHECK-NOT: scf.for
// CHECK: return
func.func @no_projection(%logits: tensor<2x5x7xf32>, %labels: tensor<2x5xi64>) -> tensor<f32> {
  %loss = llm.cross_entropy %logits, %labels : (tensor<2x5x7xf32>, tensor<2x5xi64>) -> tensor<f32>
  return %loss : tensor<f32>
}
