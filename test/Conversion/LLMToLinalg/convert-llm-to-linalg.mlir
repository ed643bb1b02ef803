// RUN: llm-opt %s --convert-llm-to-linalg -split-input-file -verify-diagnostics | FileCheck %s
// The structure each op family lowers to. Numerics are checked end to end
// against PyTorch in test/e2e; these tests pin the form of the lowering.

// CHECK-LABEL: func.func @linear_bias_in_out
// CHECK-NOT: llm.
// The bias broadcast initializes the accumulator; no transposed weight copy.
// CHECK: %[[INIT:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel"]{{.*}} ins(%{{.*}} : tensor<192xf32>)
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "reduction"]{{.*}} ins(%{{.*}}, %{{.*}} : tensor<?x?x64xf32>, tensor<64x192xf32>) outs(%[[INIT]]
func.func @linear_bias_in_out(%x: tensor<?x?x64xf32>, %w: tensor<64x192xf32>, %b: tensor<192xf32>) -> tensor<?x?x192xf32> {
  %0 = llm.linear %x, %w bias %b layout in_out : (tensor<?x?x64xf32>, tensor<64x192xf32>, tensor<192xf32>) -> tensor<?x?x192xf32>
  return %0 : tensor<?x?x192xf32>
}

// -----

// CHECK-LABEL: func.func @layer_norm
// Mean and variance are reductions over the last dim, then one map.
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]
// CHECK: math.rsqrt
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]{{.*}} ins(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<3x16xf32>, tensor<3xf32>, tensor<3xf32>, tensor<16xf32>, tensor<16xf32>)
// CHECK-NOT: llm.
func.func @layer_norm(%x: tensor<3x16xf32>, %g: tensor<16xf32>, %b: tensor<16xf32>) -> tensor<3x16xf32> {
  %0 = llm.layer_norm %x weight %g bias %b : (tensor<3x16xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<3x16xf32>
  return %0 : tensor<3x16xf32>
}

// -----

// CHECK-LABEL: func.func @bf16_rms_norm
// Reduced precision computes in f32 and rounds once at the end.
// CHECK: arith.extf %{{.*}} : bf16 to f32
// CHECK: arith.truncf %{{.*}} : f32 to bf16
func.func @bf16_rms_norm(%x: tensor<2x8xbf16>, %g: tensor<8xbf16>) -> tensor<2x8xbf16> {
  %0 = llm.rms_norm %x weight %g : (tensor<2x8xbf16>, tensor<8xbf16>) -> tensor<2x8xbf16>
  return %0 : tensor<2x8xbf16>
}

// -----

// CHECK-LABEL: func.func @attention_gqa
// Heads split without copies: q -> [b, s, kv, group, d], k/v -> [b, s, kv, d].
// CHECK-DAG: tensor.expand_shape %{{.*}} {{\[\[}}0], [1], [2, 3, 4]] output_shape [%{{.*}}, %{{.*}}, 2, 4, 16] : tensor<?x?x128xf32> into tensor<?x?x2x4x16xf32>
// CHECK-DAG: tensor.expand_shape %{{.*}} {{\[\[}}0], [1], [2, 3]] output_shape [%{{.*}}, %{{.*}}, 2, 16] : tensor<?x?x32xf32> into tensor<?x?x2x16xf32>
// Scores are [b, kv, group, q, k], masked causally from the loop indices.
// CHECK: linalg.generic {{.*}}outs(%{{.*}} : tensor<?x2x4x?x?xf32>)
// CHECK: arith.cmpi sgt
// CHECK: tensor.collapse_shape %{{.*}} {{\[\[}}0], [1], [2, 3, 4]] : tensor<?x?x2x4x16xf32> into tensor<?x?x128xf32>
// CHECK-NOT: llm.
func.func @attention_gqa(%q: tensor<?x?x128xf32>, %k: tensor<?x?x32xf32>, %v: tensor<?x?x32xf32>) -> tensor<?x?x128xf32> {
  %0 = llm.attention %q, %k, %v {causal, num_heads = 8 : i64, num_kv_heads = 2 : i64} : (tensor<?x?x128xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>) -> tensor<?x?x128xf32>
  return %0 : tensor<?x?x128xf32>
}

// -----

// CHECK-LABEL: func.func @embedding
// A gather with the id clamped into the table.
// CHECK: linalg.generic
// CHECK: arith.index_cast
// CHECK: arith.maxsi
// CHECK: arith.minsi
// CHECK: tensor.extract %{{.*}}[%{{.*}}, %{{.*}}] : tensor<97x8xf32>
func.func @embedding(%t: tensor<97x8xf32>, %ids: tensor<?x?xi64>) -> tensor<?x?x8xf32> {
  %0 = llm.embedding %t[%ids] : (tensor<97x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  return %0 : tensor<?x?x8xf32>
}

// -----

// CHECK-LABEL: func.func @ffn_swiglu
// Three contractions; the gate's SiLU and the product are one map.
// CHECK-COUNT-2: iterator_types = ["parallel", "parallel", "parallel", "reduction"]
// CHECK: math.exp
// CHECK: arith.mulf
// CHECK: iterator_types = ["parallel", "parallel", "parallel", "reduction"]
// CHECK-NOT: llm.
func.func @ffn_swiglu(%x: tensor<1x7x64xf32>, %u: tensor<172x64xf32>, %g: tensor<172x64xf32>, %d: tensor<64x172xf32>) -> tensor<1x7x64xf32> {
  %0 = llm.ffn swiglu %x up %u gate %g down %d : (tensor<1x7x64xf32>, tensor<172x64xf32>, tensor<172x64xf32>, tensor<64x172xf32>) -> tensor<1x7x64xf32>
  return %0 : tensor<1x7x64xf32>
}

// -----

// CHECK-LABEL: func.func @glu
// One map: GELU of the gate (erf) times up, no contraction.
// CHECK: linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "parallel"]
// CHECK-SAME: ins(%{{.*}}, %{{.*}} : tensor<4x9xf32>, tensor<4x9xf32>)
// CHECK: math.erf
// CHECK: arith.mulf
// CHECK-NOT: llm.
func.func @glu(%g: tensor<4x9xf32>, %u: tensor<4x9xf32>) -> tensor<4x9xf32> {
  %0 = llm.glu geglu %g, %u : tensor<4x9xf32>
  return %0 : tensor<4x9xf32>
}

// -----

// CHECK-LABEL: func.func @gelu_and_softmax
// CHECK: math.erf
// CHECK: arith.maximumf
// CHECK: math.exp
// CHECK: arith.divf
func.func @gelu_and_softmax(%x: tensor<4x9xf32>) -> tensor<4x9xf32> {
  %0 = llm.gelu %x : tensor<4x9xf32>
  %1 = llm.softmax %0 {axis = 1 : i64} : tensor<4x9xf32>
  return %1 : tensor<4x9xf32>
}

// -----

// CHECK-LABEL: func.func @cross_entropy_mean
// CHECK: arith.cmpi ne
// CHECK: math.log
// CHECK: arith.divf
// CHECK-NOT: llm.
func.func @cross_entropy_mean(%l: tensor<4x9xf32>, %y: tensor<4xi64>) -> tensor<f32> {
  %0 = llm.cross_entropy %l, %y : (tensor<4x9xf32>, tensor<4xi64>) -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

// KL divergence at a temperature: one pass over the classes sums both
// exponentials and the teacher-weighted difference; ignored positions are
// masked out of the mean.
// CHECK-LABEL: func.func @kl_div
// CHECK-SAME: %[[S:[^:]*]]: tensor<4x9xf32>, %[[T:[^:]*]]: tensor<4x9xf32>, %{{[^:]*}}: tensor<4xi64>, %[[TEMP:[^:]*]]: tensor<f32>
// CHECK: %[[TV:.*]] = tensor.extract %[[TEMP]][]
// CHECK: arith.maximumf
// CHECK: arith.maximumf
// CHECK: linalg.generic {{.*}} ins(%[[S]], %[[T]], %{{.*}}, %{{.*}} : tensor<4x9xf32>, tensor<4x9xf32>, tensor<4xf32>, tensor<4xf32>) outs({{.*}} : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>)
// CHECK: arith.divf %{{.*}}, %[[TV]]
// CHECK: math.exp
// CHECK: arith.cmpi ne
// CHECK: math.log
// CHECK: arith.select
// CHECK-NOT: llm.
func.func @kl_div(%s: tensor<4x9xf32>, %t: tensor<4x9xf32>, %y: tensor<4xi64>, %temp: tensor<f32>) -> tensor<f32> {
  %0 = llm.kl_div %s, %t, %y, %temp : (tensor<4x9xf32>, tensor<4x9xf32>, tensor<4xi64>, tensor<f32>) -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

// With a KV cache: a loop over the batch writes each sequence's new rows
// into the caches at its (clamped) position, transposing heads in the same
// write; attention then reads cache rows [0, end) and masks rows past each
// sequence's end.
// CHECK-LABEL: func.func @kv_cache
// CHECK-SAME: %[[Q:[^:]*]]: tensor<?x1x64xf32>, %[[K:[^:]*]]: tensor<?x1x32xf32>, %[[V:[^:]*]]: tensor<?x1x32xf32>, %[[KC:[^:]*]]: tensor<?x2x32x16xf32>, %[[VC:[^:]*]]: tensor<?x2x32x16xf32>, %[[P:[^:]*]]: tensor<?xi64>
// CHECK: %[[LOOP:.*]]:3 = scf.for %[[B:.*]] = {{.*}} iter_args(%[[KACC:.*]] = %[[KC]], %[[VACC:.*]] = %[[VC]], %[[END:.*]] = %{{.*}})
// CHECK: tensor.extract %[[P]][%[[B]]]
// CHECK: arith.maxsi
// CHECK: %[[START:.*]] = arith.minsi
// CHECK: %[[KSLOT:.*]] = tensor.extract_slice %[[KACC]][%[[B]], 0, %[[START]], 0] [1, 2, 1, 16]
// CHECK: %[[KT:.*]] = linalg.transpose ins(%{{.*}} : tensor<1x2x16xf32>) outs(%[[KSLOT]] : tensor<2x1x16xf32>) permutation = [1, 0, 2]
// CHECK: %[[KNEW:.*]] = tensor.insert_slice %[[KT]] into %[[KACC]][%[[B]], 0, %[[START]], 0] [1, 2, 1, 16]
// CHECK: %[[VNEW:.*]] = tensor.insert_slice %{{.*}} into %[[VACC]]
// CHECK: scf.yield %[[KNEW]], %[[VNEW]], %{{.*}}
// CHECK: %[[KEYS:.*]] = tensor.extract_slice %[[LOOP]]#0[0, 0, 0, 0] [%{{.*}}, 2, %[[LOOP]]#2, 16]
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %[[KEYS]] : tensor<?x1x2x2x16xf32>, tensor<?x2x?x16xf32>)
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %[[P]] : tensor<?x2x2x1x?xf32>, tensor<?xi64>)
// CHECK: arith.cmpi sge
// CHECK: arith.cmpi sgt
// CHECK: return %{{.*}}, %[[LOOP]]#0, %[[LOOP]]#1
// CHECK-NOT: llm.
func.func @kv_cache(%q: tensor<?x1x64xf32>, %k: tensor<?x1x32xf32>, %v: tensor<?x1x32xf32>,
                    %kc: tensor<?x2x32x16xf32>, %vc: tensor<?x2x32x16xf32>, %p: tensor<?xi64>)
    -> (tensor<?x1x64xf32>, tensor<?x2x32x16xf32>, tensor<?x2x32x16xf32>) {
  %0:3 = llm.attention %q, %k, %v cache(%kc, %vc, %p) {causal, num_heads = 4 : i64, num_kv_heads = 2 : i64} : (tensor<?x1x64xf32>, tensor<?x1x32xf32>, tensor<?x1x32xf32>, tensor<?x2x32x16xf32>, tensor<?x2x32x16xf32>, tensor<?xi64>) -> (tensor<?x1x64xf32>, tensor<?x2x32x16xf32>, tensor<?x2x32x16xf32>)
  return %0#0, %0#1, %0#2 : tensor<?x1x64xf32>, tensor<?x2x32x16xf32>, tensor<?x2x32x16xf32>
}
