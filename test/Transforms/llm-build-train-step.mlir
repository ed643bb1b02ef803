// RUN: llm-opt --llm-build-train-step --split-input-file --verify-diagnostics %s | FileCheck %s
// RUN: llm-opt --llm-build-train-step=distill=true %s --split-input-file --verify-diagnostics | FileCheck %s --check-prefix=DISTILL

// train_step: forward's args, labels, the AdamW moments, the optimizer
// settings; loss and gradient norm out, parameters and moments updated in
// place (results marked llm.in_place), weight decay on matrices only.

// eval_step is the loss and the logits it is computed from; the gradient
// function does not survive.
// CHECK-LABEL: func.func @eval_step(
// CHECK-SAME: tensor<2x3xi64> {llm.input = "labels"}) -> (tensor<f32> {llm.name = "loss"}, tensor<2x3x7xf32> {llm.name = "logits"})
// CHECK-SAME: attributes {llm.unpacked_params}
// CHECK: %[[LOSS:.*]] = llm.cross_entropy %[[LOGITS:[^ ,]+]]
// CHECK: return %[[LOSS]], %[[LOGITS]]
// CHECK-NOT: func.func @forward_loss_vjp
// CHECK-NOT: func.func @forward_loss_vjp
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[IDS:[a-z0-9]+]]: tensor<2x3xi64> {llm.input = "input_ids"}
// CHECK-SAME: %[[EMB:[a-z0-9]+]]: tensor<7x4xf32> {llm.param = "emb"}
// CHECK-SAME: %[[B:[a-z0-9]+]]: tensor<7xf32> {llm.param = "b"}
// CHECK-SAME: tensor<2x3xi64> {llm.input = "labels"}
// CHECK-SAME: %[[ME:[a-z0-9]+]]: tensor<7x4xf32> {llm.input = "adam.m.emb"}
// CHECK-SAME: tensor<7xf32> {llm.input = "adam.m.b"}
// CHECK-SAME: %[[VE:[a-z0-9]+]]: tensor<7x4xf32> {llm.input = "adam.v.emb"}
// CHECK-SAME: tensor<7xf32> {llm.input = "adam.v.b"}
// CHECK-SAME: %[[OPT:[a-z0-9]+]]: tensor<8xf32> {llm.input = "optimizer"})
// CHECK-SAME: -> (tensor<f32> {llm.name = "loss"}, tensor<f32> {llm.name = "grad_norm"},
// CHECK-SAME: tensor<7x4xf32> {llm.in_place = "emb"}, tensor<7xf32> {llm.in_place = "b"},
// CHECK-SAME: tensor<7x4xf32> {llm.in_place = "adam.m.emb"}, tensor<7xf32> {llm.in_place = "adam.m.b"},
// CHECK-SAME: tensor<7x4xf32> {llm.in_place = "adam.v.emb"}, tensor<7xf32> {llm.in_place = "adam.v.b"})
// CHECK-SAME: attributes {llm.train_step, llm.unpacked_params}
// CHECK: %[[LOSS:.*]] = llm.cross_entropy
// CHECK: math.sqrt
// CHECK: arith.minimumf
// CHECK: linalg.generic {{.*}} outs(%[[EMB]], %[[ME]], %[[VE]] : tensor<7x4xf32>, tensor<7x4xf32>, tensor<7x4xf32>)
// CHECK: linalg.generic
// CHECK: return %[[LOSS]]
// distill_step: train_step's update on alpha * T^2 * KL(teacher || student)
// at temperature T + (1 - alpha) * cross-entropy, distill = [T, alpha].
// DISTILL-LABEL: func.func @train_step(
// DISTILL-LABEL: func.func @distill_step(
// DISTILL-SAME: tensor<2x3xi64> {llm.input = "labels"}
// DISTILL-SAME: %[[TEACHER:[a-z0-9]+]]: tensor<2x3x7xf32> {llm.input = "teacher_logits"}
// DISTILL-SAME: %[[D:[a-z0-9]+]]: tensor<2xf32> {llm.input = "distill"}
// DISTILL-SAME: tensor<7x4xf32> {llm.input = "adam.m.emb"}
// DISTILL-SAME: tensor<8xf32> {llm.input = "optimizer"})
// DISTILL-SAME: -> (tensor<f32> {llm.name = "loss"}, tensor<f32> {llm.name = "grad_norm"},
// DISTILL-SAME: attributes {llm.train_step, llm.unpacked_params}
// DISTILL-DAG: %[[T:.*]] = tensor.extract %[[D]][%c0
// DISTILL-DAG: %[[ALPHA:.*]] = tensor.extract %[[D]][%c1
// DISTILL-DAG: %[[HARD:.*]] = llm.cross_entropy
// DISTILL-DAG: %[[TT:.*]] = tensor.from_elements %[[T]] : tensor<f32>
// DISTILL-DAG: %[[SOFT:.*]] = llm.kl_div %{{.*}}, %[[TEACHER]], %{{.*}}, %[[TT]]
// DISTILL-DAG: %[[T2:.*]] = arith.mulf %[[T]], %[[T]] : f32
// DISTILL-DAG: arith.mulf %[[ALPHA]], %[[T2]] : f32
// DISTILL-DAG: arith.subf %{{.*}}, %[[ALPHA]] : f32
// DISTILL: math.sqrt
// DISTILL-NOT: func.func @distill_loss
func.func @forward(%ids: tensor<2x3xi64> {llm.input = "input_ids"},
                   %emb: tensor<7x4xf32> {llm.param = "emb"},
                   %b: tensor<7xf32> {llm.param = "b"}) -> tensor<2x3x7xf32> {
  %x = llm.embedding %emb[%ids] : (tensor<7x4xf32>, tensor<2x3xi64>) -> tensor<2x3x4xf32>
  %logits = llm.linear %x, %emb bias %b : (tensor<2x3x4xf32>, tensor<7x4xf32>, tensor<7xf32>) -> tensor<2x3x7xf32>
  return %logits : tensor<2x3x7xf32>
}

// -----

// A float input that is not a parameter cannot be trained.

// expected-error @+1 {{llm-build-train-step: float argument #1 is not a parameter (llm.param)}}
func.func @forward(%ids: tensor<2x3xi64>, %x: tensor<2x3x7xf32>) -> tensor<2x3x7xf32> {
  return %x : tensor<2x3x7xf32>
}

