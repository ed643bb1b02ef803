// RUN: llm-opt --llm-raise-positions --split-input-file %s | FileCheck %s

// GPT-2's position lookup as torch exports it: wpe[Range(0, seq)] broadcast
// over the batch, negative ids wrapped, added to the token embedding.

// CHECK-LABEL: func.func @gpt2_positions(
// CHECK-SAME: %[[IDS:[a-z0-9]+]]: tensor<?x?xi64>, %[[WTE:[a-z0-9]+]]: tensor<101x64xf32>, %[[WPE:[a-z0-9]+]]: tensor<32x64xf32>
// CHECK: %[[TOK:.*]] = llm.embedding %[[WTE]][%[[IDS]]]
// CHECK: %[[X:.*]] = llm.positional_encoding learned %[[TOK]] table %[[WPE]] : (tensor<?x?x64xf32>, tensor<32x64xf32>) -> tensor<?x?x64xf32>
// CHECK: return %[[X]]
func.func @gpt2_positions(%ids: tensor<?x?xi64>, %wte: tensor<101x64xf32>, %wpe: tensor<32x64xf32>) -> tensor<?x?x64xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c0_i64 = arith.constant 0 : i64
  %c32_i64 = arith.constant 32 : i64
  %b = tensor.dim %ids, %c0 : tensor<?x?xi64>
  %s = tensor.dim %ids, %c1 : tensor<?x?xi64>
  %n = arith.maxsi %s, %c0 : index
  %e = tensor.empty(%n) : tensor<?xi64>
  %iota = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} outs(%e : tensor<?xi64>) {
  ^bb0(%out: i64):
    %i = linalg.index 0 : index
    %v = arith.index_cast %i : index to i64
    linalg.yield %v : i64
  } -> tensor<?xi64>
  %row = tensor.expand_shape %iota [[0, 1]] output_shape [1, %n] : tensor<?xi64> into tensor<1x?xi64>
  %e2 = tensor.empty(%b, %n) : tensor<?x?xi64>
  %pids = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%row : tensor<1x?xi64>) outs(%e2 : tensor<?x?xi64>) {
  ^bb0(%in: i64, %out: i64):
    linalg.yield %in : i64
  } -> tensor<?x?xi64>
  %wrapped = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%pids : tensor<?x?xi64>) outs(%e2 : tensor<?x?xi64>) {
  ^bb0(%in: i64, %out: i64):
    %neg = arith.cmpi slt, %in, %c0_i64 : i64
    %up = arith.addi %in, %c32_i64 : i64
    %sel = arith.select %neg, %up, %in : i64
    linalg.yield %sel : i64
  } -> tensor<?x?xi64>
  %tok = llm.embedding %wte[%ids] : (tensor<101x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
  %pe = llm.embedding %wpe[%wrapped] : (tensor<32x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
  %e3 = tensor.empty(%b, %s) : tensor<?x?x64xf32>
  %x = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel"]} ins(%tok, %pe : tensor<?x?x64xf32>, tensor<?x?x64xf32>) outs(%e3 : tensor<?x?x64xf32>) {
  ^bb0(%in: f32, %in_1: f32, %out: f32):
    %sum = arith.addf %in, %in_1 : f32
    linalg.yield %sum : f32
  } -> tensor<?x?x64xf32>
  return %x : tensor<?x?x64xf32>
}

// -----

// Near miss: the iota runs over the batch dim, not the sequence: these are
// not the token positions, and the lookup stays.

// CHECK-LABEL: func.func @batch_iota(
// CHECK-NOT: llm.positional_encoding
// CHECK: llm.embedding
// CHECK: llm.embedding
func.func @batch_iota(%ids: tensor<?x?xi64>, %wte: tensor<101x64xf32>, %wpe: tensor<32x64xf32>) -> tensor<?x?x64xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = tensor.dim %ids, %c0 : tensor<?x?xi64>
  %s = tensor.dim %ids, %c1 : tensor<?x?xi64>
  %e = tensor.empty(%b) : tensor<?xi64>
  %iota = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} outs(%e : tensor<?xi64>) {
  ^bb0(%out: i64):
    %i = linalg.index 0 : index
    %v = arith.index_cast %i : index to i64
    linalg.yield %v : i64
  } -> tensor<?xi64>
  %row = tensor.expand_shape %iota [[0, 1]] output_shape [1, %b] : tensor<?xi64> into tensor<1x?xi64>
  %e2 = tensor.empty(%b, %b) : tensor<?x?xi64>
  %pids = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%row : tensor<1x?xi64>) outs(%e2 : tensor<?x?xi64>) {
  ^bb0(%in: i64, %out: i64):
    linalg.yield %in : i64
  } -> tensor<?x?xi64>
  %tok = llm.embedding %wte[%ids] : (tensor<101x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
  %pe = llm.embedding %wpe[%pids] : (tensor<32x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
  %e3 = tensor.empty(%b, %s) : tensor<?x?x64xf32>
  %x = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel"]} ins(%tok, %pe : tensor<?x?x64xf32>, tensor<?x?x64xf32>) outs(%e3 : tensor<?x?x64xf32>) {
  ^bb0(%in: f32, %in_1: f32, %out: f32):
    %sum = arith.addf %in, %in_1 : f32
    linalg.yield %sum : f32
  } -> tensor<?x?x64xf32>
  return %x : tensor<?x?x64xf32>
}
