// RUN: llm-opt --llm-build-train-step --split-input-file --verify-diagnostics %s | FileCheck %s
// RUN: not llm-opt --llm-build-train-step=distill=true %s --split-input-file 2>&1 | FileCheck %s --check-prefix=DISTILL

// DISTILL: error: llm-build-train-step: distillation takes a model with one head; 'forward' also returns next_sentence_logits

// A second head (BERT pretraining's next-sentence logits [batch, 1, 2])
// adds next_sentence_labels [batch] after labels; the loss is the sum of
// the two cross-entropies, and eval_step also returns the head's own loss
// and logits.

// CHECK-LABEL: func.func @eval_step(
// CHECK-SAME: %[[LABELS:[a-z0-9]+]]: tensor<2x3xi64> {llm.input = "labels"}, %[[NEXT:[a-z0-9]+]]: tensor<2xi64> {llm.input = "next_sentence_labels"})
// CHECK-SAME: -> (tensor<f32> {llm.name = "loss"}, tensor<f32> {llm.name = "next_sentence_loss"}, tensor<2x3x7xf32> {llm.name = "logits"}, tensor<2x1x2xf32> {llm.name = "next_sentence_logits"})
// CHECK: %[[MLM:.*]] = llm.cross_entropy %[[LOGITS:[^ ,]+]], %[[LABELS]]
// CHECK: %[[EXPANDED:.*]] = tensor.expand_shape %[[NEXT]] {{\[\[}}0, 1]] output_shape [2, 1] : tensor<2xi64> into tensor<2x1xi64>
// CHECK: %[[NSP:.*]] = llm.cross_entropy %[[NLOGITS:[^ ,]+]], %[[EXPANDED]]
// CHECK: %[[SUM:.*]] = arith.addf %[[MLM]], %[[NSP]] : tensor<f32>
// CHECK: return %[[SUM]], %[[NSP]], %[[LOGITS]], %[[NLOGITS]]
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: tensor<2x3xi64> {llm.input = "labels"}, %{{.*}}: tensor<2xi64> {llm.input = "next_sentence_labels"}, %{{.*}}: tensor<7x4xf32> {llm.input = "adam.m.emb"}
func.func @forward(%ids: tensor<2x3xi64> {llm.input = "input_ids"},
                   %emb: tensor<7x4xf32> {llm.param = "emb"},
                   %head: tensor<2x4xf32> {llm.param = "head"})
    -> (tensor<2x3x7xf32> {llm.name = "logits"},
        tensor<2x1x2xf32> {llm.name = "next_sentence_logits"}) {
  %x = llm.embedding %emb[%ids] : (tensor<7x4xf32>, tensor<2x3xi64>) -> tensor<2x3x4xf32>
  %logits = llm.linear %x, %emb : (tensor<2x3x4xf32>, tensor<7x4xf32>) -> tensor<2x3x7xf32>
  %cls = tensor.extract_slice %x[0, 0, 0] [2, 1, 4] [1, 1, 1] : tensor<2x3x4xf32> to tensor<2x1x4xf32>
  %next = llm.linear %cls, %head : (tensor<2x1x4xf32>, tensor<2x4xf32>) -> tensor<2x1x2xf32>
  return %logits, %next : tensor<2x3x7xf32>, tensor<2x1x2xf32>
}

// -----

// A second result that is not next-sentence logits [batch, 1, 2].

// expected-error @+1 {{llm-build-train-step: 'forward' must return logits [batch, seq, vocab], optionally followed by next_sentence_logits [batch, 1, 2]}}
func.func @forward(%ids: tensor<2x3xi64> {llm.input = "input_ids"},
                   %emb: tensor<7x4xf32> {llm.param = "emb"})
    -> (tensor<2x3x7xf32>, tensor<2x3x7xf32>) {
  %x = llm.embedding %emb[%ids] : (tensor<7x4xf32>, tensor<2x3xi64>) -> tensor<2x3x4xf32>
  %logits = llm.linear %x, %emb : (tensor<2x3x4xf32>, tensor<7x4xf32>) -> tensor<2x3x7xf32>
  return %logits, %logits : tensor<2x3x7xf32>, tensor<2x3x7xf32>
}
