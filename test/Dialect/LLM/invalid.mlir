// RUN: llm-opt %s -split-input-file -verify-diagnostics
// One case per verifier rule of the llm ops. The shape rules live in each
// op's result-type inference (shared with the builders), so a violation reports
// the rule and then that the result type could not be inferred.

func.func @embedding_table_rank(%t: tensor<97xf32>, %ids: tensor<4xi64>) {
  // expected-error @+2 {{'llm.embedding' op table must have rank 2 [vocab, dim], got rank 1}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.embedding %t[%ids] : (tensor<97xf32>, tensor<4xi64>) -> tensor<4x97xf32>
  return
}

// -----

func.func @embedding_float_ids(%t: tensor<97x8xf32>, %ids: tensor<4xf32>) {
  // expected-error @+1 {{operand #1 must be ranked tensor of 32-bit signless integer or 64-bit signless integer values}}
  %0 = "llm.embedding"(%t, %ids) : (tensor<97x8xf32>, tensor<4xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @embedding_wrong_result(%t: tensor<97x8xf32>, %ids: tensor<4xi64>) {
  // expected-error @+2 {{'llm.embedding' op inferred type(s) 'tensor<4x8xf32>' are incompatible with return type(s) of operation 'tensor<4x9xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.embedding %t[%ids] : (tensor<97x8xf32>, tensor<4xi64>) -> tensor<4x9xf32>
  return
}

// -----

func.func @pe_rank(%x: tensor<64xf32>, %t: tensor<16x64xf32>) {
  // expected-error @+2 {{input must have rank >= 2 [..., seq, dim], got rank 1}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.positional_encoding learned %x table %t : (tensor<64xf32>, tensor<16x64xf32>) -> tensor<64xf32>
  return
}

// -----

func.func @pe_learned_needs_table(%x: tensor<1x4x64xf32>) {
  // expected-error @+2 {{learned positional encoding requires a table}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.positional_encoding learned %x : (tensor<1x4x64xf32>) -> tensor<1x4x64xf32>
  return
}

// -----

func.func @pe_sinusoidal_no_table(%x: tensor<1x4x64xf32>, %t: tensor<16x64xf32>) {
  // expected-error @+2 {{sinusoidal positional encoding takes no table}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.positional_encoding sinusoidal %x table %t : (tensor<1x4x64xf32>, tensor<16x64xf32>) -> tensor<1x4x64xf32>
  return
}

// -----

func.func @pe_sinusoidal_odd_dim(%x: tensor<1x4x63xf32>) {
  // expected-error @+2 {{sinusoidal positional encoding needs a static even dim, got 63}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.positional_encoding sinusoidal %x : (tensor<1x4x63xf32>) -> tensor<1x4x63xf32>
  return
}

// -----

func.func @pe_table_rank(%x: tensor<1x4x64xf32>, %t: tensor<16x64x1xf32>) {
  // expected-error @+2 {{table must have rank 2 [max_positions, dim]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.positional_encoding learned %x table %t : (tensor<1x4x64xf32>, tensor<16x64x1xf32>) -> tensor<1x4x64xf32>
  return
}

// -----

func.func @pe_table_dim(%x: tensor<1x4x64xf32>, %t: tensor<16x32xf32>) {
  // expected-error @+2 {{table dim 32 does not match the input dim 64}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.positional_encoding learned %x table %t : (tensor<1x4x64xf32>, tensor<16x32xf32>) -> tensor<1x4x64xf32>
  return
}

// -----

func.func @pe_table_too_short(%x: tensor<1x32x64xf32>, %t: tensor<16x64xf32>) {
  // expected-error @+2 {{table has 16 positions, fewer than the sequence length 32}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.positional_encoding learned %x table %t : (tensor<1x32x64xf32>, tensor<16x64xf32>) -> tensor<1x32x64xf32>
  return
}

// -----

func.func @pe_table_element_type(%x: tensor<1x4x64xf32>, %t: tensor<16x64xf16>) {
  // expected-error @+2 {{table element type 'f16' does not match the input element type 'f32'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.positional_encoding learned %x table %t : (tensor<1x4x64xf32>, tensor<16x64xf16>) -> tensor<1x4x64xf32>
  return
}

// -----

func.func @pe_positions_shape(%x: tensor<2x4x64xf32>, %p: tensor<2x5xi64>) {
  // expected-error @+2 {{positions must have shape [2x4] or [4], got [2x5]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.positional_encoding sinusoidal %x positions %p : (tensor<2x4x64xf32>, tensor<2x5xi64>) -> tensor<2x4x64xf32>
  return
}

// -----

func.func @rope_rank(%x: tensor<64xf32>) {
  // expected-error @+2 {{input must have rank >= 2 [..., seq, heads * head_dim], got rank 1}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.rope %x {head_dim = 16 : i64} : (tensor<64xf32>) -> tensor<64xf32>
  return
}

// -----

func.func @rope_odd_head_dim(%x: tensor<1x4x63xf32>) {
  // expected-error @+2 {{head_dim must be positive and even, got 21}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.rope %x {head_dim = 21 : i64} : (tensor<1x4x63xf32>) -> tensor<1x4x63xf32>
  return
}

// -----

func.func @rope_heads_do_not_divide(%x: tensor<1x4x72xf32>) {
  // expected-error @+2 {{feature dim 72 is not a static multiple of head_dim 16}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.rope %x {head_dim = 16 : i64} : (tensor<1x4x72xf32>) -> tensor<1x4x72xf32>
  return
}

// -----

func.func @rope_rotary_dim(%x: tensor<1x4x64xf32>) {
  // expected-error @+2 {{rotary_dim must be even and in (0, head_dim = 16], got 24}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.rope %x {head_dim = 16 : i64, rotary_dim = 24 : i64} : (tensor<1x4x64xf32>) -> tensor<1x4x64xf32>
  return
}

// -----

func.func @rope_theta(%x: tensor<1x4x64xf32>) {
  // expected-error @+2 {{theta must be positive and finite, got -1}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.rope %x {head_dim = 16 : i64, theta = -1.0 : f64} : (tensor<1x4x64xf32>) -> tensor<1x4x64xf32>
  return
}

// -----

func.func @layer_norm_weight_shape(%x: tensor<2x64xf32>, %w: tensor<32xf32>) {
  // expected-error @+2 {{'llm.layer_norm' op weight must have shape [64], got [32]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.layer_norm %x weight %w : (tensor<2x64xf32>, tensor<32xf32>) -> tensor<2x64xf32>
  return
}

// -----

func.func @layer_norm_bias_shape(%x: tensor<2x64xf32>, %w: tensor<64xf32>, %b: tensor<1x64xf32>) {
  // expected-error @+2 {{'llm.layer_norm' op bias must have shape [64], got [1x64]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.layer_norm %x weight %w bias %b : (tensor<2x64xf32>, tensor<64xf32>, tensor<1x64xf32>) -> tensor<2x64xf32>
  return
}

// -----

func.func @layer_norm_weight_type(%x: tensor<2x64xf32>, %w: tensor<64xbf16>) {
  // expected-error @+2 {{weight element type 'bf16' does not match the input element type 'f32'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.layer_norm %x weight %w : (tensor<2x64xf32>, tensor<64xbf16>) -> tensor<2x64xf32>
  return
}

// -----

func.func @layer_norm_epsilon(%x: tensor<2x64xf32>) {
  // expected-error @+2 {{epsilon must be non-negative and finite, got -1}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.layer_norm %x {epsilon = -1.0 : f64} : (tensor<2x64xf32>) -> tensor<2x64xf32>
  return
}

// -----

func.func @layer_norm_scalar(%x: tensor<f32>) {
  // expected-error @+2 {{'llm.layer_norm' op input must have rank >= 1}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.layer_norm %x : (tensor<f32>) -> tensor<f32>
  return
}

// -----

func.func @rms_norm_weight_shape(%x: tensor<2x7x64xf32>, %w: tensor<65xf32>) {
  // expected-error @+2 {{'llm.rms_norm' op weight must have shape [64], got [65]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.rms_norm %x weight %w : (tensor<2x7x64xf32>, tensor<65xf32>) -> tensor<2x7x64xf32>
  return
}

// -----

func.func @rms_norm_result_type(%x: tensor<2x7x64xf32>) {
  // expected-error @+2 {{'llm.rms_norm' op inferred type(s) 'tensor<2x7x64xf32>' are incompatible with return type(s) of operation 'tensor<2x7x64xf16>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.rms_norm %x : (tensor<2x7x64xf32>) -> tensor<2x7x64xf16>
  return
}

// -----

func.func @linear_weight_rank(%x: tensor<2x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+2 {{weight must have rank 2, got rank 1}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.linear %x, %w : (tensor<2x64xf32>, tensor<64xf32>) -> tensor<2x64xf32>
  return
}

// -----

func.func @linear_in_features(%x: tensor<2x64xf32>, %w: tensor<128x32xf32>) {
  // expected-error @+2 {{weight [128x32] (out_in) projects 32 features but the input has 64}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.linear %x, %w : (tensor<2x64xf32>, tensor<128x32xf32>) -> tensor<2x128xf32>
  return
}

// -----

func.func @linear_in_out_layout(%x: tensor<2x64xf32>, %w: tensor<128x64xf32>) {
  // expected-error @+2 {{weight [128x64] (in_out) projects 128 features but the input has 64}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.linear %x, %w layout in_out : (tensor<2x64xf32>, tensor<128x64xf32>) -> tensor<2x64xf32>
  return
}

// -----

func.func @linear_bias(%x: tensor<2x64xf32>, %w: tensor<128x64xf32>, %b: tensor<64xf32>) {
  // expected-error @+2 {{'llm.linear' op bias must have shape [128], got [64]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.linear %x, %w bias %b : (tensor<2x64xf32>, tensor<128x64xf32>, tensor<64xf32>) -> tensor<2x128xf32>
  return
}

// -----

func.func @linear_element_type(%x: tensor<2x64xf32>, %w: tensor<128x64xf16>) {
  // expected-error @+2 {{weight element type 'f16' does not match the input element type 'f32'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.linear %x, %w : (tensor<2x64xf32>, tensor<128x64xf16>) -> tensor<2x128xf32>
  return
}

// -----

func.func @attention_rank(%q: tensor<4x64xf32>, %k: tensor<1x4x64xf32>, %v: tensor<1x4x64xf32>) {
  // expected-error @+2 {{query must have rank 3 [batch, seq, features], got rank 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.attention %q, %k, %v {num_heads = 4 : i64} : (tensor<4x64xf32>, tensor<1x4x64xf32>, tensor<1x4x64xf32>) -> tensor<4x64xf32>
  return
}

// -----

func.func @attention_batch(%q: tensor<2x4x64xf32>, %k: tensor<3x4x64xf32>, %v: tensor<3x4x64xf32>) {
  // expected-error @+2 {{query, key and value batch sizes differ: 2, 3, 3}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.attention %q, %k, %v {num_heads = 4 : i64} : (tensor<2x4x64xf32>, tensor<3x4x64xf32>, tensor<3x4x64xf32>) -> tensor<2x4x64xf32>
  return
}

// -----

func.func @attention_kv_length(%q: tensor<1x4x64xf32>, %k: tensor<1x5x64xf32>, %v: tensor<1x6x64xf32>) {
  // expected-error @+2 {{key and value sequence lengths differ: 5 vs 6}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.attention %q, %k, %v {num_heads = 4 : i64} : (tensor<1x4x64xf32>, tensor<1x5x64xf32>, tensor<1x6x64xf32>) -> tensor<1x4x64xf32>
  return
}

// -----

func.func @attention_num_heads(%q: tensor<1x4x64xf32>, %k: tensor<1x4x64xf32>, %v: tensor<1x4x64xf32>) {
  // expected-error @+2 {{num_heads must be positive, got 0}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.attention %q, %k, %v {num_heads = 0 : i64} : (tensor<1x4x64xf32>, tensor<1x4x64xf32>, tensor<1x4x64xf32>) -> tensor<1x4x64xf32>
  return
}

// -----

func.func @attention_kv_heads_divide(%q: tensor<1x4x64xf32>, %k: tensor<1x4x48xf32>, %v: tensor<1x4x48xf32>) {
  // expected-error @+2 {{num_kv_heads (3) must be positive and divide num_heads (4)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.attention %q, %k, %v {num_heads = 4 : i64, num_kv_heads = 3 : i64} : (tensor<1x4x64xf32>, tensor<1x4x48xf32>, tensor<1x4x48xf32>) -> tensor<1x4x64xf32>
  return
}

// -----

func.func @attention_heads_divide_dmodel(%q: tensor<1x4x60xf32>, %k: tensor<1x4x60xf32>, %v: tensor<1x4x60xf32>) {
  // expected-error @+2 {{query features 60 are not a static multiple of num_heads 8}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.attention %q, %k, %v {num_heads = 8 : i64} : (tensor<1x4x60xf32>, tensor<1x4x60xf32>, tensor<1x4x60xf32>) -> tensor<1x4x60xf32>
  return
}

// -----

func.func @attention_key_features(%q: tensor<1x4x64xf32>, %k: tensor<1x4x32xf32>, %v: tensor<1x4x32xf32>) {
  // expected-error @+2 {{key features 32 must equal num_kv_heads * head_dim = 4 * 16}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.attention %q, %k, %v {num_heads = 4 : i64} : (tensor<1x4x64xf32>, tensor<1x4x32xf32>, tensor<1x4x32xf32>) -> tensor<1x4x64xf32>
  return
}

// -----

func.func @attention_value_features(%q: tensor<1x4x64xf32>, %k: tensor<1x4x32xf32>, %v: tensor<1x4x33xf32>) {
  // expected-error @+2 {{value features 33 are not a static multiple of num_kv_heads 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.attention %q, %k, %v {num_heads = 4 : i64, num_kv_heads = 2 : i64} : (tensor<1x4x64xf32>, tensor<1x4x32xf32>, tensor<1x4x33xf32>) -> tensor<1x4x64xf32>
  return
}

// -----

func.func @attention_mask_broadcast(%q: tensor<2x4x64xf32>, %k: tensor<2x6x64xf32>, %v: tensor<2x6x64xf32>, %m: tensor<2x1x1x4xf32>) {
  // expected-error @+2 {{mask [2x1x1x4] does not broadcast to the scores [2x4x4x6]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.attention %q, %k, %v mask %m {num_heads = 4 : i64} : (tensor<2x4x64xf32>, tensor<2x6x64xf32>, tensor<2x6x64xf32>, tensor<2x1x1x4xf32>) -> tensor<2x4x64xf32>
  return
}

// -----

func.func @attention_mask_rank(%q: tensor<2x4x64xf32>, %k: tensor<2x6x64xf32>, %v: tensor<2x6x64xf32>, %m: tensor<1x2x1x1x6xi1>) {
  // expected-error @+2 {{mask must have rank <= 4, got rank 5}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.attention %q, %k, %v mask %m {num_heads = 4 : i64} : (tensor<2x4x64xf32>, tensor<2x6x64xf32>, tensor<2x6x64xf32>, tensor<1x2x1x1x6xi1>) -> tensor<2x4x64xf32>
  return
}

// -----

func.func @attention_mask_type(%q: tensor<2x4x64xf32>, %k: tensor<2x6x64xf32>, %v: tensor<2x6x64xf32>, %m: tensor<4x6xf16>) {
  // expected-error @+2 {{mask element type must be i1 or 'f32', got 'f16'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.attention %q, %k, %v mask %m {num_heads = 4 : i64} : (tensor<2x4x64xf32>, tensor<2x6x64xf32>, tensor<2x6x64xf32>, tensor<4x6xf16>) -> tensor<2x4x64xf32>
  return
}

// -----

func.func @attention_scale(%q: tensor<1x4x64xf32>, %k: tensor<1x4x64xf32>, %v: tensor<1x4x64xf32>) {
  // expected-error @+2 {{scale must be positive and finite, got 0}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.attention %q, %k, %v {num_heads = 4 : i64, scale = 0.0 : f64} : (tensor<1x4x64xf32>, tensor<1x4x64xf32>, tensor<1x4x64xf32>) -> tensor<1x4x64xf32>
  return
}

// -----

func.func @attention_element_types(%q: tensor<1x4x64xf32>, %k: tensor<1x4x64xf16>, %v: tensor<1x4x64xf32>) {
  // expected-error @+2 {{query, key and value must have the same element type}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.attention %q, %k, %v {num_heads = 4 : i64} : (tensor<1x4x64xf32>, tensor<1x4x64xf16>, tensor<1x4x64xf32>) -> tensor<1x4x64xf32>
  return
}

// -----

func.func @attention_partial_cache(%q: tensor<1x1x64xf32>, %k: tensor<1x1x64xf32>, %v: tensor<1x1x64xf32>, %kc: tensor<1x4x32x16xf32>) {
  // expected-error @+2 {{a KV cache needs k_cache, v_cache and cache_position together}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = "llm.attention"(%q, %k, %v, %kc) <{num_heads = 4 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 0, 1, 0, 0>}> : (tensor<1x1x64xf32>, tensor<1x1x64xf32>, tensor<1x1x64xf32>, tensor<1x4x32x16xf32>) -> tensor<1x1x64xf32>
  return
}

// -----

func.func @attention_cache_shape(%q: tensor<1x1x64xf32>, %k: tensor<1x1x64xf32>, %v: tensor<1x1x64xf32>,
                                 %kc: tensor<1x4x32x8xf32>, %vc: tensor<1x4x32x16xf32>, %p: tensor<1xi64>) {
  // expected-error @+2 {{k_cache must have shape [1x4x?x16] (batch, kv heads, capacity, head_dim), got [1x4x32x8]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0:3 = llm.attention %q, %k, %v cache(%kc, %vc, %p) {num_heads = 4 : i64} : (tensor<1x1x64xf32>, tensor<1x1x64xf32>, tensor<1x1x64xf32>, tensor<1x4x32x8xf32>, tensor<1x4x32x16xf32>, tensor<1xi64>) -> (tensor<1x1x64xf32>, tensor<1x4x32x8xf32>, tensor<1x4x32x16xf32>)
  return
}

// -----

func.func @attention_cache_capacity(%q: tensor<1x1x64xf32>, %k: tensor<1x1x64xf32>, %v: tensor<1x1x64xf32>,
                                    %kc: tensor<1x4x32x16xf32>, %vc: tensor<1x4x16x16xf32>, %p: tensor<1xi64>) {
  // expected-error @+2 {{k_cache and v_cache capacities differ}}
  // expected-error @+1 {{failed to infer returned types}}
  %0:3 = llm.attention %q, %k, %v cache(%kc, %vc, %p) {num_heads = 4 : i64} : (tensor<1x1x64xf32>, tensor<1x1x64xf32>, tensor<1x1x64xf32>, tensor<1x4x32x16xf32>, tensor<1x4x16x16xf32>, tensor<1xi64>) -> (tensor<1x1x64xf32>, tensor<1x4x32x16xf32>, tensor<1x4x16x16xf32>)
  return
}

// -----

func.func @attention_cache_position(%q: tensor<2x1x64xf32>, %k: tensor<2x1x64xf32>, %v: tensor<2x1x64xf32>,
                                    %kc: tensor<2x4x32x16xf32>, %vc: tensor<2x4x32x16xf32>, %p: tensor<1xi64>) {
  // expected-error @+2 {{cache_position must have shape [2], got [1]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0:3 = llm.attention %q, %k, %v cache(%kc, %vc, %p) {num_heads = 4 : i64} : (tensor<2x1x64xf32>, tensor<2x1x64xf32>, tensor<2x1x64xf32>, tensor<2x4x32x16xf32>, tensor<2x4x32x16xf32>, tensor<1xi64>) -> (tensor<2x1x64xf32>, tensor<2x4x32x16xf32>, tensor<2x4x32x16xf32>)
  return
}

// -----

func.func @attention_cache_results(%q: tensor<1x1x64xf32>, %k: tensor<1x1x64xf32>, %v: tensor<1x1x64xf32>,
                                   %kc: tensor<1x4x32x16xf32>, %vc: tensor<1x4x32x16xf32>, %p: tensor<1xi64>) {
  // expected-error @+2 {{'llm.attention' op inferred type(s) 'tensor<1x1x64xf32>', 'tensor<1x4x32x16xf32>', 'tensor<1x4x32x16xf32>' are incompatible with return type(s) of operation 'tensor<1x1x64xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.attention %q, %k, %v cache(%kc, %vc, %p) {num_heads = 4 : i64} : (tensor<1x1x64xf32>, tensor<1x1x64xf32>, tensor<1x1x64xf32>, tensor<1x4x32x16xf32>, tensor<1x4x32x16xf32>, tensor<1xi64>) -> tensor<1x1x64xf32>
  return
}

// -----

func.func @attention_cache_mask(%q: tensor<1x1x64xf32>, %k: tensor<1x1x64xf32>, %v: tensor<1x1x64xf32>,
                                %kc: tensor<1x4x32x16xf32>, %vc: tensor<1x4x32x16xf32>, %p: tensor<1xi64>, %m: tensor<1x1x1x2xi1>) {
  // An explicit mask covers the cache capacity, not the new tokens.
  // expected-error @+2 {{mask [1x1x1x2] does not broadcast to the scores [1x4x1x32]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0:3 = llm.attention %q, %k, %v mask %m cache(%kc, %vc, %p) {num_heads = 4 : i64} : (tensor<1x1x64xf32>, tensor<1x1x64xf32>, tensor<1x1x64xf32>, tensor<1x1x1x2xi1>, tensor<1x4x32x16xf32>, tensor<1x4x32x16xf32>, tensor<1xi64>) -> (tensor<1x1x64xf32>, tensor<1x4x32x16xf32>, tensor<1x4x32x16xf32>)
  return
}

// -----

func.func @glu_not_gated(%g: tensor<2x64xf32>, %u: tensor<2x64xf32>) {
  // expected-error @+1 {{'llm.glu' op activation gelu is not gated (swiglu or geglu)}}
  %0 = llm.glu gelu %g, %u : tensor<2x64xf32>
  return
}

// -----

func.func @glu_types_differ(%g: tensor<2x64xf32>, %u: tensor<2x32xf32>) {
  // expected-error @+1 {{'llm.glu' op all non-scalar operands/results must have the same shape and base type}}
  %0 = "llm.glu"(%g, %u) <{activation = #llm<activation swiglu>}> : (tensor<2x64xf32>, tensor<2x32xf32>) -> tensor<2x64xf32>
  return
}

// -----

func.func @ffn_gated_needs_gate(%x: tensor<2x64xf32>, %u: tensor<128x64xf32>, %d: tensor<64x128xf32>) {
  // expected-error @+2 {{gated activation swiglu requires a gate weight}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.ffn swiglu %x up %u down %d : (tensor<2x64xf32>, tensor<128x64xf32>, tensor<64x128xf32>) -> tensor<2x64xf32>
  return
}

// -----

func.func @ffn_plain_no_gate(%x: tensor<2x64xf32>, %u: tensor<128x64xf32>, %d: tensor<64x128xf32>) {
  // expected-error @+2 {{activation relu is not gated and takes no gate weight}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.ffn relu %x up %u gate %u down %d : (tensor<2x64xf32>, tensor<128x64xf32>, tensor<128x64xf32>, tensor<64x128xf32>) -> tensor<2x64xf32>
  return
}

// -----

func.func @ffn_gate_bias_needs_gate(%x: tensor<2x64xf32>, %u: tensor<128x64xf32>, %b: tensor<128xf32>, %d: tensor<64x128xf32>) {
  // expected-error @+2 {{a gate bias requires a gate weight}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = "llm.ffn"(%x, %u, %b, %d) <{activation = #llm<activation gelu>, operandSegmentSizes = array<i32: 1, 1, 0, 0, 1, 1, 0>}> : (tensor<2x64xf32>, tensor<128x64xf32>, tensor<128xf32>, tensor<64x128xf32>) -> tensor<2x64xf32>
  return
}

// -----

func.func @ffn_up_shape(%x: tensor<2x64xf32>, %u: tensor<128x32xf32>, %d: tensor<64x128xf32>) {
  // expected-error @+2 {{up weight [128x32] (out_in) must map 64 to ? features}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.ffn gelu %x up %u down %d : (tensor<2x64xf32>, tensor<128x32xf32>, tensor<64x128xf32>) -> tensor<2x64xf32>
  return
}

// -----

func.func @ffn_gate_shape(%x: tensor<2x64xf32>, %u: tensor<128x64xf32>, %g: tensor<96x64xf32>, %d: tensor<64x128xf32>) {
  // expected-error @+2 {{gate weight [96x64] (out_in) must map 64 to 128 features}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.ffn geglu %x up %u gate %g down %d : (tensor<2x64xf32>, tensor<128x64xf32>, tensor<96x64xf32>, tensor<64x128xf32>) -> tensor<2x64xf32>
  return
}

// -----

func.func @ffn_down_shape(%x: tensor<2x64xf32>, %u: tensor<64x128xf32>, %d: tensor<64x128xf32>) {
  // expected-error @+2 {{down weight [64x128] (in_out) must map 128 to 64 features}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.ffn gelu_tanh %x up %u down %d layout in_out : (tensor<2x64xf32>, tensor<64x128xf32>, tensor<64x128xf32>) -> tensor<2x64xf32>
  return
}

// -----

func.func @ffn_weight_rank(%x: tensor<2x64xf32>, %u: tensor<128xf32>, %d: tensor<64x128xf32>) {
  // expected-error @+2 {{up weight must have rank 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.ffn silu %x up %u down %d : (tensor<2x64xf32>, tensor<128xf32>, tensor<64x128xf32>) -> tensor<2x64xf32>
  return
}

// -----

func.func @ffn_down_bias(%x: tensor<2x64xf32>, %u: tensor<128x64xf32>, %d: tensor<64x128xf32>, %b: tensor<128xf32>) {
  // expected-error @+2 {{down bias must have shape [64], got [128]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.ffn relu %x up %u down %d bias %b : (tensor<2x64xf32>, tensor<128x64xf32>, tensor<64x128xf32>, tensor<128xf32>) -> tensor<2x64xf32>
  return
}

// -----

func.func @ffn_weight_type(%x: tensor<2x64xf32>, %u: tensor<128x64xbf16>, %d: tensor<64x128xf32>) {
  // expected-error @+2 {{up weight element type 'bf16' does not match the input element type 'f32'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.ffn relu %x up %u down %d : (tensor<2x64xf32>, tensor<128x64xbf16>, tensor<64x128xf32>) -> tensor<2x64xf32>
  return
}

// -----

func.func @softmax_axis(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{'llm.softmax' op axis 2 is out of range for rank 2}}
  %0 = llm.softmax %x {axis = 2 : i64} : tensor<2x3xf32>
  return
}

// -----

func.func @softmax_negative_axis(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{'llm.softmax' op axis -3 is out of range for rank 2}}
  %0 = llm.softmax %x {axis = -3 : i64} : tensor<2x3xf32>
  return
}

// -----

func.func @gelu_integer(%x: tensor<2x3xi32>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of 16-bit float or bfloat16 type or 32-bit float or 64-bit float values}}
  %0 = "llm.gelu"(%x) : (tensor<2x3xi32>) -> tensor<2x3xi32>
  return
}

// -----

func.func @cross_entropy_labels(%l: tensor<8x16x97xf32>, %y: tensor<8x15xi64>) {
  // expected-error @+2 {{labels must have shape [8x16], got [8x15]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.cross_entropy %l, %y : (tensor<8x16x97xf32>, tensor<8x15xi64>) -> tensor<f32>
  return
}

// -----

func.func @cross_entropy_smoothing(%l: tensor<8x97xf32>, %y: tensor<8xi64>) {
  // expected-error @+2 {{label_smoothing must be in [0, 1), got 1}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.cross_entropy %l, %y {label_smoothing = 1.0 : f64} : (tensor<8x97xf32>, tensor<8xi64>) -> tensor<f32>
  return
}

// -----

func.func @kl_div_target(%s: tensor<8x97xf32>, %t: tensor<8x96xf32>, %y: tensor<8xi64>, %temp: tensor<f32>) {
  // expected-error @+2 {{target must have the logits' shape [8x97], got [8x96]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.kl_div %s, %t, %y, %temp : (tensor<8x97xf32>, tensor<8x96xf32>, tensor<8xi64>, tensor<f32>) -> tensor<f32>
  return
}

// -----

func.func @kl_div_temperature(%s: tensor<8x97xf32>, %t: tensor<8x97xf32>, %y: tensor<8xi64>, %temp: tensor<1xf32>) {
  // expected-error @+2 {{temperature must be a rank-0 tensor}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.kl_div %s, %t, %y, %temp : (tensor<8x97xf32>, tensor<8x97xf32>, tensor<8xi64>, tensor<1xf32>) -> tensor<f32>
  return
}

// -----

func.func @kl_div_labels(%s: tensor<8x97xf32>, %t: tensor<8x97xf32>, %y: tensor<7xi64>, %temp: tensor<f32>) {
  // expected-error @+2 {{labels must have shape [8], got [7]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.kl_div %s, %t, %y, %temp : (tensor<8x97xf32>, tensor<8x97xf32>, tensor<7xi64>, tensor<f32>) -> tensor<f32>
  return
}

// -----

func.func @cross_entropy_scalar_logits(%l: tensor<f32>, %y: tensor<i64>) {
  // expected-error @+2 {{logits must have rank >= 1 [..., classes]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.cross_entropy %l, %y : (tensor<f32>, tensor<i64>) -> tensor<f32>
  return
}

// -----

func.func @cross_entropy_none_result(%l: tensor<8x97xf32>, %y: tensor<8xi64>) {
  // expected-error @+2 {{'llm.cross_entropy' op inferred type(s) 'tensor<8xf32>' are incompatible with return type(s) of operation 'tensor<f32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = llm.cross_entropy %l, %y reduction none : (tensor<8x97xf32>, tensor<8xi64>) -> tensor<f32>
  return
}

// -----

// expected-error @+1 {{'llm.param' of argument #0 must be a non-empty string}}
func.func @param_name_not_string(%w: tensor<4xf32> {llm.param = 3 : i64}) {
  return
}

// -----

// expected-error @+1 {{unknown llm argument attribute 'llm.weight'}}
func.func @unknown_arg_attr(%w: tensor<4xf32> {llm.weight = "w"}) {
  return
}

// -----

// expected-error @+1 {{'llm.packed' of argument #0 describes a 2x32x64xf32 panel array but the argument is 'tensor<3x32x64xf32>'}}
func.func @packed_wrong_shape(%w: tensor<3x32x64xf32> {llm.packed = {layout = "out_in", panel = 64 : i64, shape = array<i64: 100, 32>}, llm.param = "w"}) {
  return
}

// -----

// expected-error @+1 {{'llm.packed' of argument #0 has layout 'rows'; it must be in_out or out_in}}
func.func @packed_bad_layout(%w: tensor<2x32x64xf32> {llm.packed = {layout = "rows", panel = 64 : i64, shape = array<i64: 100, 32>}, llm.param = "w"}) {
  return
}

// -----

// expected-error @+1 {{'llm.packed' of argument #0 must be {panel = P : i64, layout = "in_out" | "out_in", shape = array<i64: r, c>}}}
func.func @packed_not_dict(%w: tensor<2x32x64xf32> {llm.packed = 64 : i64, llm.param = "w"}) {
  return
}

// -----

// expected-error @+1 {{'llm.packed' of argument #0 has panel 0; it must be positive}}
func.func @packed_zero_panel(%w: tensor<2x32x64xf32> {llm.packed = {layout = "out_in", panel = 0 : i64, shape = array<i64: 100, 32>}, llm.param = "w"}) {
  return
}

// -----

// expected-error @+1 {{'llm.concat' of argument #0 has parts of 48 along axis 0 but the parameter has 64}}
func.func @concat_wrong_total(%w: tensor<64x32xf32> {llm.concat = {axis = 0 : i64, parts = ["q", "k"], sizes = array<i64: 32, 16>}, llm.param = "q+k"}) {
  return
}

// -----

// expected-error @+1 {{'llm.concat' of argument #0 must name distinct checkpoint tensors}}
func.func @concat_repeated_part(%w: tensor<64x32xf32> {llm.concat = {axis = 0 : i64, parts = ["q", "q"], sizes = array<i64: 32, 32>}, llm.param = "q+q"}) {
  return
}

// -----

// expected-error @+1 {{'llm.concat' of argument #0 must name at least two parts, each with a size}}
func.func @concat_one_part(%w: tensor<32x32xf32> {llm.concat = {axis = 0 : i64, parts = ["q"], sizes = array<i64: 32>}, llm.param = "q"}) {
  return
}

// -----

// expected-error @+1 {{'llm.concat' of argument #0 has axis 2 outside the parameter's rank 2}}
func.func @concat_bad_axis(%w: tensor<64x32xf32> {llm.concat = {axis = 2 : i64, parts = ["q", "k"], sizes = array<i64: 32, 32>}, llm.param = "q+k"}) {
  return
}

// -----

// expected-error @+1 {{'llm.concat' of argument #0 must be {axis = A : i64, parts = ["name", ...], sizes = array<i64: ...>}}}
func.func @concat_not_dict(%w: tensor<64x32xf32> {llm.concat = 0 : i64, llm.param = "q+k"}) {
  return
}

// -----

// Packed, the checkpoint-layout shape is the packing's: 64 = 32 + 32 rows.
func.func @concat_packed_ok(%w: tensor<1x32x64xf32> {llm.concat = {axis = 0 : i64, parts = ["q", "k"], sizes = array<i64: 32, 32>}, llm.packed = {layout = "out_in", panel = 64 : i64, shape = array<i64: 64, 32>}, llm.param = "q+k"}) {
  return
}

// -----

func.func @attention_grad_output(%q: tensor<1x4x64xf32>, %o: tensor<1x4x32xf32>) {
  // expected-error @+2 {{output must match the attention's result [1x4x64] x 'f32', got 'tensor<1x4x32xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %dq, %dk, %dv = llm.attention_grad %q, %q, %q, %o, %q {num_heads = 4 : i64} : (tensor<1x4x64xf32>, tensor<1x4x64xf32>, tensor<1x4x64xf32>, tensor<1x4x32xf32>, tensor<1x4x64xf32>) -> (tensor<1x4x64xf32>, tensor<1x4x64xf32>, tensor<1x4x64xf32>)
  return
}

// -----

func.func @attention_grad_heads(%q: tensor<1x4x64xf32>) {
  // expected-error @+2 {{num_kv_heads (3) must be positive and divide num_heads (4)}}
  // expected-error @+1 {{failed to infer returned types}}
  %dq, %dk, %dv = llm.attention_grad %q, %q, %q, %q, %q {num_heads = 4 : i64, num_kv_heads = 3 : i64} : (tensor<1x4x64xf32>, tensor<1x4x64xf32>, tensor<1x4x64xf32>, tensor<1x4x64xf32>, tensor<1x4x64xf32>) -> (tensor<1x4x64xf32>, tensor<1x4x64xf32>, tensor<1x4x64xf32>)
  return
}
