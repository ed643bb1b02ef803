// RUN: llm-opt --llm-derive-generation=if-decoder %s | FileCheck %s

// With if-decoder, a model that is not a decoder (here an encoder with
// bidirectional attention) is left as it is: llm-compile's default, so that
// encoders still compile.

// CHECK-LABEL: func.func @forward(
// CHECK-NOT: func.func @prefill
// CHECK-NOT: func.func @decode
module {
  func.func @forward(%ids: tensor<1x4xi64> {llm.input = "input_ids"},
                     %emb: tensor<20x8xf32> {llm.param = "emb"}) -> tensor<1x4x20xf32> {
    %x = llm.embedding %emb[%ids] : (tensor<20x8xf32>, tensor<1x4xi64>) -> tensor<1x4x8xf32>
    %a = llm.attention %x, %x, %x {num_heads = 2 : i64} : (tensor<1x4x8xf32>, tensor<1x4x8xf32>, tensor<1x4x8xf32>) -> tensor<1x4x8xf32>
    %logits = llm.linear %a, %emb : (tensor<1x4x8xf32>, tensor<20x8xf32>) -> tensor<1x4x20xf32>
    return %logits : tensor<1x4x20xf32>
  }
}
