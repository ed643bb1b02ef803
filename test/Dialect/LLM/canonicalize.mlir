// RUN: llm-opt %s -canonicalize -split-input-file | FileCheck %s
// Every fold and canonicalization of the llm ops, and the cases where each
// must not fire.

// CHECK-LABEL: func.func @linear_zero_bias
func.func @linear_zero_bias(%x: tensor<2x8xf32>, %w: tensor<4x8xf32>) -> tensor<2x4xf32> {
  %b = arith.constant dense<0.0> : tensor<4xf32>
  // CHECK: llm.linear %{{.*}}, %{{.*}} : (tensor<2x8xf32>, tensor<4x8xf32>) -> tensor<2x4xf32>
  %0 = llm.linear %x, %w bias %b : (tensor<2x8xf32>, tensor<4x8xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

// CHECK-LABEL: func.func @linear_nonzero_bias
func.func @linear_nonzero_bias(%x: tensor<2x8xf32>, %w: tensor<4x8xf32>) -> tensor<2x4xf32> {
  %b = arith.constant dense<[0.0, 0.0, 1.0, 0.0]> : tensor<4xf32>
  // CHECK: llm.linear %{{.*}}, %{{.*}} bias %{{.*}} :
  %0 = llm.linear %x, %w bias %b : (tensor<2x8xf32>, tensor<4x8xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

// CHECK-LABEL: func.func @layer_norm_identity_affine
func.func @layer_norm_identity_affine(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %g = arith.constant dense<1.0> : tensor<8xf32>
  %b = arith.constant dense<0.0> : tensor<8xf32>
  // CHECK: llm.layer_norm %{{.*}} : (tensor<2x8xf32>) -> tensor<2x8xf32>
  %0 = llm.layer_norm %x weight %g bias %b : (tensor<2x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  return %0 : tensor<2x8xf32>
}

// -----

// CHECK-LABEL: func.func @layer_norm_keeps_real_weight
func.func @layer_norm_keeps_real_weight(%x: tensor<2x8xf32>, %g: tensor<8xf32>) -> tensor<2x8xf32> {
  %b = arith.constant dense<0.0> : tensor<8xf32>
  // CHECK: llm.layer_norm %{{.*}} weight %{{.*}} : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  %0 = llm.layer_norm %x weight %g bias %b : (tensor<2x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  return %0 : tensor<2x8xf32>
}

// -----

// CHECK-LABEL: func.func @rms_norm_unit_weight
func.func @rms_norm_unit_weight(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %g = arith.constant dense<1.0> : tensor<8xf32>
  // CHECK: llm.rms_norm %{{.*}} : (tensor<2x8xf32>) -> tensor<2x8xf32>
  %0 = llm.rms_norm %x weight %g : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  return %0 : tensor<2x8xf32>
}

// -----

// CHECK-LABEL: func.func @ffn_zero_biases
func.func @ffn_zero_biases(%x: tensor<2x8xf32>, %u: tensor<16x8xf32>, %d: tensor<8x16xf32>, %db: tensor<8xf32>) -> tensor<2x8xf32> {
  %ub = arith.constant dense<0.0> : tensor<16xf32>
  // CHECK: llm.ffn gelu %{{.*}} up %{{.*}} down %{{.*}} bias %{{.*}} : (tensor<2x8xf32>, tensor<16x8xf32>, tensor<8x16xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  %0 = llm.ffn gelu %x up %u bias %ub down %d bias %db : (tensor<2x8xf32>, tensor<16x8xf32>, tensor<16xf32>, tensor<8x16xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  return %0 : tensor<2x8xf32>
}

// -----

// CHECK-LABEL: func.func @ffn_zero_gate_bias
func.func @ffn_zero_gate_bias(%x: tensor<2x8xf32>, %u: tensor<16x8xf32>, %g: tensor<16x8xf32>, %d: tensor<8x16xf32>) -> tensor<2x8xf32> {
  %gb = arith.constant dense<0.0> : tensor<16xf32>
  // CHECK: llm.ffn swiglu %{{.*}} up %{{.*}} gate %{{.*}} down %{{.*}} : (tensor<2x8xf32>, tensor<16x8xf32>, tensor<16x8xf32>, tensor<8x16xf32>) -> tensor<2x8xf32>
  %0 = llm.ffn swiglu %x up %u gate %g bias %gb down %d : (tensor<2x8xf32>, tensor<16x8xf32>, tensor<16x8xf32>, tensor<16xf32>, tensor<8x16xf32>) -> tensor<2x8xf32>
  return %0 : tensor<2x8xf32>
}

// -----

// CHECK-LABEL: func.func @pe_default_positions
func.func @pe_default_positions(%x: tensor<2x4x8xf32>, %t: tensor<16x8xf32>) -> tensor<2x4x8xf32> {
  %p = arith.constant dense<[[0, 1, 2, 3], [0, 1, 2, 3]]> : tensor<2x4xi64>
  // CHECK: llm.positional_encoding learned %{{.*}} table %{{.*}} : (tensor<2x4x8xf32>, tensor<16x8xf32>) -> tensor<2x4x8xf32>
  %0 = llm.positional_encoding learned %x table %t positions %p : (tensor<2x4x8xf32>, tensor<16x8xf32>, tensor<2x4xi64>) -> tensor<2x4x8xf32>
  return %0 : tensor<2x4x8xf32>
}

// -----

// CHECK-LABEL: func.func @pe_offset_positions
func.func @pe_offset_positions(%x: tensor<1x4x8xf32>) -> tensor<1x4x8xf32> {
  %p = arith.constant dense<[5, 6, 7, 8]> : tensor<4xi64>
  // CHECK: llm.positional_encoding sinusoidal %{{.*}} positions %{{.*}} :
  %0 = llm.positional_encoding sinusoidal %x positions %p : (tensor<1x4x8xf32>, tensor<4xi64>) -> tensor<1x4x8xf32>
  return %0 : tensor<1x4x8xf32>
}

// -----

// CHECK-LABEL: func.func @rope_defaults
func.func @rope_defaults(%x: tensor<1x4x32xf32>) -> tensor<1x4x32xf32> {
  %p = arith.constant dense<[0, 1, 2, 3]> : tensor<4xi32>
  // CHECK: llm.rope %{{.*}} {head_dim = 16 : i64} : (tensor<1x4x32xf32>) -> tensor<1x4x32xf32>
  %0 = llm.rope %x positions %p {head_dim = 16 : i64, rotary_dim = 16 : i64} : (tensor<1x4x32xf32>, tensor<4xi32>) -> tensor<1x4x32xf32>
  return %0 : tensor<1x4x32xf32>
}

// -----

// CHECK-LABEL: func.func @rope_partial_rotary
func.func @rope_partial_rotary(%x: tensor<1x4x32xf32>) -> tensor<1x4x32xf32> {
  // CHECK: llm.rope %{{.*}} {head_dim = 16 : i64, rotary_dim = 8 : i64}
  %0 = llm.rope %x {head_dim = 16 : i64, rotary_dim = 8 : i64} : (tensor<1x4x32xf32>) -> tensor<1x4x32xf32>
  return %0 : tensor<1x4x32xf32>
}

// -----

// CHECK-LABEL: func.func @attention_defaults
func.func @attention_defaults(%q: tensor<1x4x64xf32>, %k: tensor<1x4x64xf32>, %v: tensor<1x4x64xf32>)
    -> (tensor<1x4x64xf32>, tensor<1x4x64xf32>) {
  %keep = arith.constant dense<true> : tensor<4x4xi1>
  %zero = arith.constant dense<0.0> : tensor<1x1x1x4xf32>
  // 1/sqrt(16) = 0.25 is the default scale; 4 KV heads is the default.
  // CHECK: llm.attention %{{.*}}, %{{.*}}, %{{.*}} {causal, num_heads = 4 : i64} : (tensor<1x4x64xf32>, tensor<1x4x64xf32>, tensor<1x4x64xf32>) -> tensor<1x4x64xf32>
  %0 = llm.attention %q, %k, %v mask %keep {causal, num_heads = 4 : i64, num_kv_heads = 4 : i64, scale = 0.25 : f64} : (tensor<1x4x64xf32>, tensor<1x4x64xf32>, tensor<1x4x64xf32>, tensor<4x4xi1>) -> tensor<1x4x64xf32>
  // CHECK: llm.attention %{{.*}}, %{{.*}}, %{{.*}} {num_heads = 4 : i64} : (tensor<1x4x64xf32>, tensor<1x4x64xf32>, tensor<1x4x64xf32>) -> tensor<1x4x64xf32>
  %1 = llm.attention %q, %k, %v mask %zero {num_heads = 4 : i64} : (tensor<1x4x64xf32>, tensor<1x4x64xf32>, tensor<1x4x64xf32>, tensor<1x1x1x4xf32>) -> tensor<1x4x64xf32>
  return %0, %1 : tensor<1x4x64xf32>, tensor<1x4x64xf32>
}

// -----

// CHECK-LABEL: func.func @attention_keeps_real_mask_and_scale
func.func @attention_keeps_real_mask_and_scale(%q: tensor<1x4x64xf32>, %k: tensor<1x4x64xf32>, %v: tensor<1x4x64xf32>,
                                               %m: tensor<1x1x1x4xf32>) -> tensor<1x4x64xf32> {
  // CHECK: llm.attention %{{.*}}, %{{.*}}, %{{.*}} mask %{{.*}} {num_heads = 4 : i64, num_kv_heads = 2 : i64, scale = 1.250000e-01 : f64}
  %k2 = tensor.extract_slice %k[0, 0, 0] [1, 4, 32] [1, 1, 1] : tensor<1x4x64xf32> to tensor<1x4x32xf32>
  %v2 = tensor.extract_slice %v[0, 0, 0] [1, 4, 32] [1, 1, 1] : tensor<1x4x64xf32> to tensor<1x4x32xf32>
  %0 = llm.attention %q, %k2, %v2 mask %m {num_heads = 4 : i64, num_kv_heads = 2 : i64, scale = 0.125 : f64} : (tensor<1x4x64xf32>, tensor<1x4x32xf32>, tensor<1x4x32xf32>, tensor<1x1x1x4xf32>) -> tensor<1x4x64xf32>
  return %0 : tensor<1x4x64xf32>
}

// -----

// CHECK-LABEL: func.func @softmax_negative_axis
func.func @softmax_negative_axis(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // CHECK: llm.softmax %{{.*}} {axis = 1 : i64} : tensor<2x3xf32>
  %0 = llm.softmax %x {axis = -1 : i64} : tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// CHECK-LABEL: func.func @softmax_single_element_axis
func.func @softmax_single_element_axis(%x: tensor<4x1xf32>) -> tensor<4x1xf32> {
  // CHECK: %[[ONE:.*]] = arith.constant dense<1.000000e+00> : tensor<4x1xf32>
  // CHECK-NOT: llm.softmax
  // CHECK: return %[[ONE]]
  %0 = llm.softmax %x {axis = 1 : i64} : tensor<4x1xf32>
  return %0 : tensor<4x1xf32>
}

// -----

// CHECK-LABEL: func.func @softmax_dynamic_axis_kept
func.func @softmax_dynamic_axis_kept(%x: tensor<4x?xf32>) -> tensor<4x?xf32> {
  // CHECK: llm.softmax
  %0 = llm.softmax %x {axis = 1 : i64} : tensor<4x?xf32>
  return %0 : tensor<4x?xf32>
}

// -----

// CHECK-LABEL: func.func @gelu_constant_folds
func.func @gelu_constant_folds() -> (tensor<3xf32>, tensor<2xf32>) {
  // gelu(0) = 0, gelu(1) = 0.8413447461, gelu(-1) = -0.1586552539 (exact erf
  // form; printed as the nearest f32); tanh form: gelu(1) = 0.8411919906,
  // gelu(2) = 1.9545976685.
  // CHECK-DAG: arith.constant dense<[0.000000e+00, 0.841344773, -0.158655256]> : tensor<3xf32>
  // CHECK-DAG: arith.constant dense<[8.411920e-01, 1.95459771]> : tensor<2xf32>
  // CHECK-NOT: llm.gelu
  %c = arith.constant dense<[0.0, 1.0, -1.0]> : tensor<3xf32>
  %0 = llm.gelu %c : tensor<3xf32>
  %d = arith.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %1 = llm.gelu %d approximate tanh : tensor<2xf32>
  return %0, %1 : tensor<3xf32>, tensor<2xf32>
}

// -----

// CHECK-LABEL: func.func @gelu_splat_folds
func.func @gelu_splat_folds() -> tensor<2x2xf32> {
  // CHECK: arith.constant dense<0.841344773> : tensor<2x2xf32>
  %c = arith.constant dense<1.0> : tensor<2x2xf32>
  %0 = llm.gelu %c : tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}
