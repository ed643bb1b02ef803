// RUN: llm-opt --llm-autodiff --split-input-file --verify-diagnostics %s | FileCheck %s

// f_vjp takes f's arguments and a seed per result, returns f's results and
// the gradient of each float argument. A value used twice sums its
// gradients; llm.linear's input gradient is a linear with the other weight
// layout, its weight gradient a contraction over the rows.

// CHECK-LABEL: func.func @f_vjp(
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<4x9xf32>, %[[W:[a-z0-9]+]]: tensor<6x9xf32> {llm.param = "w"}, %{{.*}}: tensor<4xi64>,
// CHECK-SAME: %[[SEED:[a-z0-9]+]]: tensor<4x6xf32> {llm.input = "grad_result_0"})
// CHECK-SAME: -> (tensor<4x6xf32>, tensor<4x9xf32>, tensor<6x9xf32>)
// CHECK: %[[Y:.*]] = llm.linear %[[X]], %[[W]]
// CHECK: %[[Z:.*]] = arith.addf %[[Y]], %[[Y]]
// CHECK: %[[DY:.*]] = arith.addf %[[SEED]], %[[SEED]]
// CHECK: %[[DX:.*]] = llm.linear %[[DY]], %[[W]] layout in_out
// CHECK: %[[DW:.*]] = linalg.generic {{.*}} ins(%[[DY]], %[[X]] : tensor<4x6xf32>, tensor<4x9xf32>)
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: return %[[Z]], %[[DX]], %[[DW]]
func.func @f(%x: tensor<4x9xf32>, %w: tensor<6x9xf32> {llm.param = "w"}, %ids: tensor<4xi64>) -> tensor<4x6xf32> {
  %y = llm.linear %x, %w : (tensor<4x9xf32>, tensor<6x9xf32>) -> tensor<4x6xf32>
  %z = arith.addf %y, %y : tensor<4x6xf32>
  return %z : tensor<4x6xf32>
}

// -----

// An argument the result does not depend on gets zeros; the embedding's
// gradient is a scatter-add over the ids (a loop over positions).

// CHECK-LABEL: func.func @g_vjp(
// CHECK: scf.for
// CHECK: tensor.extract %{{.*}}[%{{.*}}] : tensor<6xi64>
// CHECK: tensor.insert_slice
// CHECK: linalg.fill
// CHECK: return
func.func @g(%ids: tensor<2x3xi64>, %t: tensor<10x4xf32>, %unused: tensor<5xf32>) -> tensor<2x3x4xf32> {
  %y = llm.embedding %t[%ids] : (tensor<10x4xf32>, tensor<2x3xi64>) -> tensor<2x3x4xf32>
  return %y : tensor<2x3x4xf32>
}

// -----

// A table used twice (GPT-2's tied embedding and LM head): the lookup's
// scatter-add starts from the head's weight gradient, already computed,
// instead of from zeros, and no sum of two tables follows. No loop keeps
// the llm.accumulates mark.

// CHECK-LABEL: func.func @tied_vjp(
// CHECK: %[[HEAD:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<2x3x10xf32>, tensor<2x3x4xf32>) outs(%{{.*}} : tensor<10x4xf32>)
// CHECK-NOT: linalg.fill {{.*}} -> tensor<10x4xf32>
// CHECK: %[[TABLE:.*]] = scf.for {{.*}} iter_args(%{{.*}} = %[[HEAD]]) -> (tensor<10x4xf32>)
// CHECK-NOT: llm.accumulates
// CHECK-NOT: arith.addf {{.*}} : tensor<10x4xf32>
// CHECK: return %{{.*}}, %[[TABLE]] :
func.func @tied(%ids: tensor<2x3xi64>, %t: tensor<10x4xf32>) -> tensor<2x3x10xf32> {
  %x = llm.embedding %t[%ids] : (tensor<10x4xf32>, tensor<2x3xi64>) -> tensor<2x3x4xf32>
  %y = llm.linear %x, %t : (tensor<2x3x4xf32>, tensor<10x4xf32>) -> tensor<2x3x10xf32>
  return %y : tensor<2x3x10xf32>
}

// -----

// llm.kl_div's gradient reaches the student's logits only: (softmax(s / T) -
// softmax(t / T)) / T per counted position; the teacher's logits and the
// temperature get zeros.

// CHECK-LABEL: func.func @kl_vjp(
// CHECK-SAME: %[[S:[a-z0-9]+]]: tensor<4x9xf32>, %[[T:[a-z0-9]+]]: tensor<4x9xf32>, %{{[a-z0-9]+}}: tensor<4xi64>, %[[TEMP:[a-z0-9]+]]: tensor<f32>
// CHECK: %[[TV:.*]] = tensor.extract %[[TEMP]][]
// CHECK: %[[SS:.*]] = linalg.generic {{.*}} ins(%[[S]] : tensor<4x9xf32>)
// CHECK: %[[Q:.*]] = llm.softmax %[[SS]]
// CHECK: %[[TS:.*]] = linalg.generic {{.*}} ins(%[[T]] : tensor<4x9xf32>)
// CHECK: %[[P:.*]] = llm.softmax %[[TS]]
// CHECK: %[[DS:.*]] = linalg.generic {{.*}} ins(%[[Q]], %[[P]], %{{.*}} : tensor<4x9xf32>, tensor<4x9xf32>, tensor<4xf32>)
// CHECK: arith.divf %{{.*}}, %[[TV]]
// CHECK: arith.subf
// CHECK: return %{{.*}}, %[[DS]], %{{.*}}, %{{.*}} : tensor<f32>, tensor<4x9xf32>, tensor<4x9xf32>, tensor<f32>
func.func @kl(%s: tensor<4x9xf32>, %t: tensor<4x9xf32>, %y: tensor<4xi64>, %temp: tensor<f32>) -> tensor<f32> {
  %0 = llm.kl_div %s, %t, %y, %temp : (tensor<4x9xf32>, tensor<4x9xf32>, tensor<4xi64>, tensor<f32>) -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

// A form without a gradient on the gradient path is an error naming the op.

func.func @h(%q: tensor<1x1x8xf32>, %kc: tensor<1x2x4x4xf32>, %pos: tensor<1xi64>) -> tensor<1x1x8xf32> {
  // expected-error @+1 {{'llm.attention' op gradient of the KV-cache form is not implemented}}
  %a, %k2, %v2 = llm.attention %q, %q, %q cache(%kc, %kc, %pos) {causal, num_heads = 2 : i64} : (tensor<1x1x8xf32>, tensor<1x1x8xf32>, tensor<1x1x8xf32>, tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>, tensor<1xi64>) -> (tensor<1x1x8xf32>, tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>)
  return %a : tensor<1x1x8xf32>
}

// -----

// Only functions of floating-point tensors are differentiated.

// expected-error @+1 {{llm-autodiff: 'ids' must return floating-point tensors, got 'tensor<4xi64>'}}
func.func @ids(%x: tensor<4xi64>) -> tensor<4xi64> {
  return %x : tensor<4xi64>
}

// -----

// Attention's gradient is one llm.attention_grad (tiled by
// llm-fuse-attention) when its mask needs none: a boolean mask, or a float
// mask computed from integers only (BERT's padding mask).

// CHECK-LABEL: func.func @attn_vjp(
// CHECK: %[[O:.*]] = llm.attention %[[Q:[a-z0-9]+]], %[[K:[a-z0-9]+]], %[[V:[a-z0-9]+]] mask %[[M:[a-z0-9]+]] {causal, num_heads = 2 : i64}
// CHECK: %{{.*}}, %{{.*}}, %{{.*}} = llm.attention_grad %[[Q]], %[[K]], %[[V]], %[[O]], %{{.*}} mask %[[M]] {causal, num_heads = 2 : i64}
// CHECK-NOT: llm.softmax
// CHECK: return
func.func @attn(%q: tensor<1x5x8xf32>, %k: tensor<1x5x8xf32>, %v: tensor<1x5x8xf32>, %m: tensor<1x1x1x5xi1>) -> tensor<1x5x8xf32> {
  %o = llm.attention %q, %k, %v mask %m {causal, num_heads = 2 : i64} : (tensor<1x5x8xf32>, tensor<1x5x8xf32>, tensor<1x5x8xf32>, tensor<1x1x1x5xi1>) -> tensor<1x5x8xf32>
  return %o : tensor<1x5x8xf32>
}

// -----

// CHECK-LABEL: func.func @padded_vjp(
// CHECK: llm.attention_grad
// CHECK-NOT: llm.softmax
// CHECK: return
func.func @padded(%q: tensor<1x5x8xf32>, %keep: tensor<1x1x1x5xi64>) -> tensor<1x5x8xf32> {
  %f = arith.sitofp %keep : tensor<1x1x1x5xi64> to tensor<1x1x1x5xf32>
  %o = llm.attention %q, %q, %q mask %f {num_heads = 2 : i64} : (tensor<1x5x8xf32>, tensor<1x5x8xf32>, tensor<1x5x8xf32>, tensor<1x1x1x5xf32>) -> tensor<1x5x8xf32>
  return %o : tensor<1x5x8xf32>
}

// -----

// A float mask that is an argument gets its gradient: the scores are
// materialized and softmaxed in the gradient instead.

// CHECK-LABEL: func.func @biased_vjp(
// CHECK-NOT: llm.attention_grad
// CHECK: llm.softmax
// CHECK: return
func.func @biased(%q: tensor<1x5x8xf32>, %bias: tensor<1x2x5x5xf32>) -> tensor<1x5x8xf32> {
  %o = llm.attention %q, %q, %q mask %bias {num_heads = 2 : i64} : (tensor<1x5x8xf32>, tensor<1x5x8xf32>, tensor<1x5x8xf32>, tensor<1x2x5x5xf32>) -> tensor<1x5x8xf32>
  return %o : tensor<1x5x8xf32>
}
