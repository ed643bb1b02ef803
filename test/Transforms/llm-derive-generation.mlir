// RUN: llm-opt --llm-derive-generation --split-input-file --verify-diagnostics %s | FileCheck %s

// A GPT-2-style decoder: learned positions, fused QKV, a final norm and a
// tied LM head. prefill gathers each sequence's last row before the norm
// and head; decode takes one token per sequence. Caches are [B, KVH, C, D]
// with C the module's sequence bound.

// CHECK-LABEL: func.func @forward(
// CHECK-LABEL: func.func @prefill(
// CHECK-SAME: tensor<?x?xi64> {llm.input = "input_ids"}
// CHECK-SAME: %[[POS:[a-z0-9]+]]: tensor<?xi64> {llm.input = "cache_position"}
// CHECK-SAME: %[[LEN:[a-z0-9]+]]: tensor<?xi64> {llm.input = "lengths"}
// CHECK-SAME: {llm.param = "wte"}
// CHECK-SAME: %[[KC:[a-z0-9]+]]: tensor<?x2x16x4xf32> {llm.input = "cache.key.0"}
// CHECK-SAME: %[[VC:[a-z0-9]+]]: tensor<?x2x16x4xf32> {llm.input = "cache.value.0"}
// CHECK-SAME: -> (tensor<?x50xf32>, tensor<?x2x16x4xf32> {llm.in_place = "cache.key.0"}, tensor<?x2x16x4xf32> {llm.in_place = "cache.value.0"})
// CHECK: %[[P:.*]] = linalg.generic {{.*}} ins(%[[POS]] : tensor<?xi64>)
// CHECK: linalg.index 1
// CHECK: arith.addi
// CHECK: llm.positional_encoding learned {{.*}} positions %[[P]]
// CHECK: %[[A:.*]], %[[UC:.*]]:2 = llm.attention {{.*}} cache(%[[KC]], %[[VC]], %[[POS]]) {causal, {{.*}}scale = 5.000000e-01 : f64}
// CHECK: %[[R:.*]] = arith.addf
// CHECK: %[[ROWS:.*]] = linalg.generic {{.*}} ins(%[[LEN]] : tensor<?xi64>)
// CHECK: tensor.extract %[[R]]
// CHECK: } -> tensor<?x1x8xf32>
// CHECK: %[[N:.*]] = llm.layer_norm %[[ROWS]] {{.*}} -> tensor<?x1x8xf32>
// CHECK: %[[H:.*]] = llm.linear %[[N]], {{.*}} -> tensor<?x1x50xf32>
// CHECK: %[[L:.*]] = tensor.collapse_shape %[[H]] {{\[}}[0, 1], [2]] : tensor<?x1x50xf32> into tensor<?x50xf32>
// CHECK: return %[[L]], %[[UC]]#0, %[[UC]]#1
// CHECK-LABEL: func.func @decode(
// CHECK-SAME: %[[IDS:[a-z0-9]+]]: tensor<?x1xi64> {llm.input = "input_ids"}
// CHECK-SAME: {llm.input = "cache_position"}
// CHECK-SAME: -> (tensor<?x50xf32>, tensor<?x2x16x4xf32> {llm.in_place = "cache.key.0"}, tensor<?x2x16x4xf32> {llm.in_place = "cache.value.0"})
// CHECK: tensor.cast %[[IDS]] : tensor<?x1xi64> to tensor<?x?xi64>
// CHECK: llm.attention {{.*}} cache(
// CHECK: %[[LOGITS:.*]] = llm.linear
// CHECK: tensor.cast %[[LOGITS]] : tensor<?x?x50xf32> to tensor<?x1x50xf32>
// CHECK: tensor.collapse_shape
module attributes {llm.max_positions = 16 : i64} {
  func.func @forward(%ids: tensor<?x?xi64> {llm.input = "input_ids"},
                     %wte: tensor<50x8xf32> {llm.param = "wte"},
                     %wpe: tensor<16x8xf32> {llm.param = "wpe"},
                     %wqkv: tensor<8x24xf32> {llm.param = "qkv"},
                     %g: tensor<8xf32> {llm.param = "ln_f.weight"}) -> tensor<?x?x50xf32> {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %b = tensor.dim %ids, %c0 : tensor<?x?xi64>
    %s = tensor.dim %ids, %c1 : tensor<?x?xi64>
    %e = llm.embedding %wte[%ids] : (tensor<50x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
    %x = llm.positional_encoding learned %e table %wpe : (tensor<?x?x8xf32>, tensor<16x8xf32>) -> tensor<?x?x8xf32>
    %qkv = llm.linear %x, %wqkv layout in_out : (tensor<?x?x8xf32>, tensor<8x24xf32>) -> tensor<?x?x24xf32>
    %q = tensor.extract_slice %qkv[0, 0, 0] [%b, %s, 8] [1, 1, 1] : tensor<?x?x24xf32> to tensor<?x?x8xf32>
    %k = tensor.extract_slice %qkv[0, 0, 8] [%b, %s, 8] [1, 1, 1] : tensor<?x?x24xf32> to tensor<?x?x8xf32>
    %v = tensor.extract_slice %qkv[0, 0, 16] [%b, %s, 8] [1, 1, 1] : tensor<?x?x24xf32> to tensor<?x?x8xf32>
    %a = llm.attention %q, %k, %v {causal, num_heads = 2 : i64, scale = 0.5 : f64} : (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
    %r = arith.addf %x, %a : tensor<?x?x8xf32>
    %n = llm.layer_norm %r weight %g : (tensor<?x?x8xf32>, tensor<8xf32>) -> tensor<?x?x8xf32>
    %logits = llm.linear %n, %wte : (tensor<?x?x8xf32>, tensor<50x8xf32>) -> tensor<?x?x50xf32>
    return %logits : tensor<?x?x50xf32>
  }
}

// -----

// LLaMA-style: RoPE reads the absolute positions and the GQA caches hold
// the KV heads; without a norm before the head the logits are gathered
// after it.

// CHECK-LABEL: func.func @prefill(
// CHECK-SAME: tensor<?x1x32x4xf32> {llm.input = "cache.key.0"}
// CHECK-SAME: tensor<?x1x32x4xf32> {llm.input = "cache.value.0"}
// CHECK: %[[P:.*]] = linalg.generic
// CHECK: llm.rope {{.*}} positions %[[P]]
// CHECK: llm.rope {{.*}} positions %[[P]]
// CHECK: llm.attention {{.*}} cache({{.*}}) {causal, num_heads = 2 : i64, num_kv_heads = 1 : i64}
// CHECK: %[[HEAD:.*]] = llm.linear
// CHECK: linalg.generic
// CHECK: tensor.extract %[[HEAD]]
// CHECK: } -> tensor<?x1x20xf32>
// CHECK-LABEL: func.func @decode(
module attributes {llm.max_positions = 32 : i64} {
  func.func @forward(%ids: tensor<?x?xi64> {llm.input = "input_ids"},
                     %emb: tensor<20x8xf32> {llm.param = "emb"},
                     %wq: tensor<8x8xf32> {llm.param = "q"},
                     %wk: tensor<4x8xf32> {llm.param = "k"},
                     %wv: tensor<4x8xf32> {llm.param = "v"},
                     %head: tensor<20x8xf32> {llm.param = "head"}) -> tensor<?x?x20xf32> {
    %x = llm.embedding %emb[%ids] : (tensor<20x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
    %q = llm.linear %x, %wq : (tensor<?x?x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
    %k = llm.linear %x, %wk : (tensor<?x?x8xf32>, tensor<4x8xf32>) -> tensor<?x?x4xf32>
    %v = llm.linear %x, %wv : (tensor<?x?x8xf32>, tensor<4x8xf32>) -> tensor<?x?x4xf32>
    %qr = llm.rope %q {head_dim = 4 : i64} : (tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
    %kr = llm.rope %k {head_dim = 4 : i64} : (tensor<?x?x4xf32>) -> tensor<?x?x4xf32>
    %a = llm.attention %qr, %kr, %v {causal, num_heads = 2 : i64, num_kv_heads = 1 : i64} : (tensor<?x?x8xf32>, tensor<?x?x4xf32>, tensor<?x?x4xf32>) -> tensor<?x?x8xf32>
    %logits = llm.linear %a, %head : (tensor<?x?x8xf32>, tensor<20x8xf32>) -> tensor<?x?x20xf32>
    return %logits : tensor<?x?x20xf32>
  }
}

// -----

// An encoder (bidirectional attention) is not a decoder: refused (left
// alone with if-decoder, see llm-derive-generation-if-decoder.mlir).

module {
  // expected-error @+1 {{cannot derive generation entry points from 'forward': an attention is not plain causal self-attention}}
  func.func @forward(%ids: tensor<1x4xi64> {llm.input = "input_ids"},
                     %emb: tensor<20x8xf32> {llm.param = "emb"}) -> tensor<1x4x20xf32> {
    %x = llm.embedding %emb[%ids] : (tensor<20x8xf32>, tensor<1x4xi64>) -> tensor<1x4x8xf32>
    %a = llm.attention %x, %x, %x {num_heads = 2 : i64} : (tensor<1x4x8xf32>, tensor<1x4x8xf32>, tensor<1x4x8xf32>) -> tensor<1x4x8xf32>
    %logits = llm.linear %a, %emb : (tensor<1x4x8xf32>, tensor<20x8xf32>) -> tensor<1x4x20xf32>
    return %logits : tensor<1x4x20xf32>
  }
}

// -----

// A second input (an attention mask) cannot be given to generation steps.

module {
  // expected-error @+1 {{input #1 ('attention_mask') is not the only token-id input}}
  func.func @forward(%ids: tensor<1x4xi64> {llm.input = "input_ids"},
                     %mask: tensor<1x4xi64> {llm.input = "attention_mask"},
                     %emb: tensor<20x8xf32> {llm.param = "emb"}) -> tensor<1x4x20xf32> {
    %x = llm.embedding %emb[%ids] : (tensor<20x8xf32>, tensor<1x4xi64>) -> tensor<1x4x8xf32>
    %a = llm.attention %x, %x, %x {causal, num_heads = 2 : i64} : (tensor<1x4x8xf32>, tensor<1x4x8xf32>, tensor<1x4x8xf32>) -> tensor<1x4x8xf32>
    %logits = llm.linear %a, %emb : (tensor<1x4x8xf32>, tensor<20x8xf32>) -> tensor<1x4x20xf32>
    return %logits : tensor<1x4x20xf32>
  }
}

// -----

// Positions computed in the graph (an ONNX export's position ids) would
// restart at 0 every step: refused.

module {
  // expected-error @+1 {{looks up a table with ids it computes}}
  func.func @forward(%ids: tensor<1x4xi64> {llm.input = "input_ids"},
                     %emb: tensor<20x8xf32> {llm.param = "emb"},
                     %wpe: tensor<16x8xf32> {llm.param = "wpe"}) -> tensor<1x4x20xf32> {
    %p = arith.constant dense<[[0, 1, 2, 3]]> : tensor<1x4xi64>
    %x = llm.embedding %emb[%ids] : (tensor<20x8xf32>, tensor<1x4xi64>) -> tensor<1x4x8xf32>
    %pe = llm.embedding %wpe[%p] : (tensor<16x8xf32>, tensor<1x4xi64>) -> tensor<1x4x8xf32>
    %h = arith.addf %x, %pe : tensor<1x4x8xf32>
    %a = llm.attention %h, %h, %h {causal, num_heads = 2 : i64} : (tensor<1x4x8xf32>, tensor<1x4x8xf32>, tensor<1x4x8xf32>) -> tensor<1x4x8xf32>
    %logits = llm.linear %a, %emb : (tensor<1x4x8xf32>, tensor<20x8xf32>) -> tensor<1x4x20xf32>
    return %logits : tensor<1x4x20xf32>
  }
}

// -----

// No sequence bound and no position table: the cache size is unknown.

module {
  // expected-error @+1 {{the KV cache capacity is unknown}}
  func.func @forward(%ids: tensor<1x4xi64> {llm.input = "input_ids"},
                     %emb: tensor<20x8xf32> {llm.param = "emb"}) -> tensor<1x4x20xf32> {
    %x = llm.embedding %emb[%ids] : (tensor<20x8xf32>, tensor<1x4xi64>) -> tensor<1x4x8xf32>
    %a = llm.attention %x, %x, %x {causal, num_heads = 2 : i64} : (tensor<1x4x8xf32>, tensor<1x4x8xf32>, tensor<1x4x8xf32>) -> tensor<1x4x8xf32>
    %logits = llm.linear %a, %emb : (tensor<1x4x8xf32>, tensor<20x8xf32>) -> tensor<1x4x20xf32>
    return %logits : tensor<1x4x20xf32>
  }
}

// -----

// A table computed from positions in the graph (RoPE's angles as ONNX
// exports them) would restart at 0 every step: refused.

module attributes {llm.max_positions = 16 : i64} {
  // expected-error @+1 {{it computes values from positions in the graph}}
  func.func @forward(%ids: tensor<1x4xi64> {llm.input = "input_ids"},
                     %emb: tensor<20x8xf32> {llm.param = "emb"}) -> tensor<1x4x20xf32> {
    %x = llm.embedding %emb[%ids] : (tensor<20x8xf32>, tensor<1x4xi64>) -> tensor<1x4x8xf32>
    %e = tensor.empty() : tensor<1x4x8xf32>
    %angles = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel"]} outs(%e : tensor<1x4x8xf32>) {
    ^bb0(%out: f32):
      %i = linalg.index 1 : index
      %c = arith.index_cast %i : index to i64
      %f = arith.sitofp %c : i64 to f32
      linalg.yield %f : f32
    } -> tensor<1x4x8xf32>
    %q = arith.addf %x, %angles : tensor<1x4x8xf32>
    %a = llm.attention %q, %x, %x {causal, num_heads = 2 : i64} : (tensor<1x4x8xf32>, tensor<1x4x8xf32>, tensor<1x4x8xf32>) -> tensor<1x4x8xf32>
    %logits = llm.linear %a, %emb : (tensor<1x4x8xf32>, tensor<20x8xf32>) -> tensor<1x4x20xf32>
    return %logits : tensor<1x4x20xf32>
  }
}

// -----

// Position ids built in the graph from the sequence length (as torch
// exports Range(0, seq) for RoPE's angles) are replaced by the absolute
// positions cache_position[b] + s.

// CHECK-LABEL: func.func @prefill(
// CHECK-SAME: %[[IDS:[a-z0-9]+]]: tensor<?x?xi64> {llm.input = "input_ids"}
// CHECK-SAME: %[[POS:[a-z0-9]+]]: tensor<?xi64> {llm.input = "cache_position"}
// CHECK: %[[P:.*]] = linalg.generic {{.*}} ins(%[[POS]] : tensor<?xi64>)
// CHECK: linalg.generic {{.*}} ins(%[[P]] : tensor<?x?xi64>)
// CHECK: arith.sitofp
// CHECK-LABEL: func.func @decode(
module attributes {llm.max_positions = 16 : i64} {
  func.func @forward(%ids: tensor<?x?xi64> {llm.input = "input_ids"},
                     %emb: tensor<20x8xf32> {llm.param = "emb"}) -> tensor<?x?x20xf32> {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %b = tensor.dim %ids, %c0 : tensor<?x?xi64>
    %s = tensor.dim %ids, %c1 : tensor<?x?xi64>
    %e = tensor.empty(%s) : tensor<?xi64>
    %iota = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} outs(%e : tensor<?xi64>) {
    ^bb0(%out: i64):
      %i = linalg.index 0 : index
      %v = arith.index_cast %i : index to i64
      linalg.yield %v : i64
    } -> tensor<?xi64>
    %row = tensor.expand_shape %iota [[0, 1]] output_shape [1, %s] : tensor<?xi64> into tensor<1x?xi64>
    %e2 = tensor.empty(%b, %s) : tensor<?x?xi64>
    %pids = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%row : tensor<1x?xi64>) outs(%e2 : tensor<?x?xi64>) {
    ^bb0(%in: i64, %out: i64):
      linalg.yield %in : i64
    } -> tensor<?x?xi64>
    %e3 = tensor.empty(%b, %s) : tensor<?x?x8xf32>
    %angles = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1)>, affine_map<(d0, d1, d2) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel"]} ins(%pids : tensor<?x?xi64>) outs(%e3 : tensor<?x?x8xf32>) {
    ^bb0(%in: i64, %out: f32):
      %f = arith.sitofp %in : i64 to f32
      linalg.yield %f : f32
    } -> tensor<?x?x8xf32>
    %x = llm.embedding %emb[%ids] : (tensor<20x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
    %q = arith.addf %x, %angles : tensor<?x?x8xf32>
    %a = llm.attention %q, %x, %x {causal, num_heads = 2 : i64} : (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
    %logits = llm.linear %a, %emb : (tensor<?x?x8xf32>, tensor<20x8xf32>) -> tensor<?x?x20xf32>
    return %logits : tensor<?x?x20xf32>
  }
}
