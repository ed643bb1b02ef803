// RUN: llm-opt %s -split-input-file -verify-diagnostics
// Every llm op in generic form with a wrong operand count, a wrong operand
// type and a missing or ill-typed attribute: the structural checks ODS
// generates run before any shape rule and name the problem.

func.func @embedding_count(%t: tensor<97x8xf32>) {
  // expected-error @+1 {{'llm.embedding' op expected 2 operands, but found 1}}
  %0 = "llm.embedding"(%t) : (tensor<97x8xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @embedding_unranked(%t: tensor<*xf32>, %ids: tensor<4xi64>) {
  // expected-error @+1 {{'llm.embedding' op operand #0 must be ranked tensor of 16-bit float or bfloat16 type or 32-bit float or 64-bit float values, but got 'tensor<*xf32>'}}
  %0 = "llm.embedding"(%t, %ids) : (tensor<*xf32>, tensor<4xi64>) -> tensor<4x8xf32>
  return
}

// -----

func.func @pe_missing_kind(%x: tensor<1x4x8xf32>) {
  // expected-error @+1 {{'llm.positional_encoding' op requires attribute 'kind'}}
  %0 = "llm.positional_encoding"(%x) <{operandSegmentSizes = array<i32: 1, 0, 0>}> : (tensor<1x4x8xf32>) -> tensor<1x4x8xf32>
  return
}

// -----

func.func @pe_segments(%x: tensor<1x4x8xf32>) {
  // expected-error @+1 {{'llm.positional_encoding' op operand count (1) does not match with the total size (2) specified in attribute 'operandSegmentSizes'}}
  %0 = "llm.positional_encoding"(%x) <{kind = #llm<positional_encoding_kind sinusoidal>, operandSegmentSizes = array<i32: 1, 1, 0>}> : (tensor<1x4x8xf32>) -> tensor<1x4x8xf32>
  return
}

// -----

func.func @pe_float_positions(%x: tensor<1x4x8xf32>, %p: tensor<4xf32>) {
  // expected-error @+1 {{'llm.positional_encoding' op operand #1 must be ranked tensor of 32-bit signless integer or 64-bit signless integer values, but got 'tensor<4xf32>'}}
  %0 = "llm.positional_encoding"(%x, %p) <{kind = #llm<positional_encoding_kind sinusoidal>, operandSegmentSizes = array<i32: 1, 0, 1>}> : (tensor<1x4x8xf32>, tensor<4xf32>) -> tensor<1x4x8xf32>
  return
}

// -----

func.func @rope_missing_head_dim(%x: tensor<1x4x8xf32>) {
  // expected-error @+1 {{'llm.rope' op requires attribute 'head_dim'}}
  %0 = "llm.rope"(%x) : (tensor<1x4x8xf32>) -> tensor<1x4x8xf32>
  return
}

// -----

func.func @rope_head_dim_type(%x: tensor<1x4x8xf32>) {
  // expected-error @+1 {{invalid properties}}
  %0 = "llm.rope"(%x) <{head_dim = 4.0 : f32}> : (tensor<1x4x8xf32>) -> tensor<1x4x8xf32>
  return
}

// -----

func.func @rope_integer_input(%x: tensor<1x4x8xi32>) {
  // expected-error @+1 {{'llm.rope' op operand #0 must be ranked tensor of 16-bit float or bfloat16 type or 32-bit float or 64-bit float values, but got 'tensor<1x4x8xi32>'}}
  %0 = "llm.rope"(%x) <{head_dim = 4 : i64}> : (tensor<1x4x8xi32>) -> tensor<1x4x8xi32>
  return
}

// -----

func.func @layer_norm_epsilon_type(%x: tensor<2x8xf32>) {
  // expected-error @+1 {{invalid properties}}
  %0 = "llm.layer_norm"(%x) <{epsilon = 1 : i64, operandSegmentSizes = array<i32: 1, 0, 0>}> : (tensor<2x8xf32>) -> tensor<2x8xf32>
  return
}

// -----

func.func @layer_norm_results(%x: tensor<2x8xf32>) {
  // expected-error @+1 {{'llm.layer_norm' op requires one result}}
  %0:2 = "llm.layer_norm"(%x) <{operandSegmentSizes = array<i32: 1, 0, 0>}> : (tensor<2x8xf32>) -> (tensor<2x8xf32>, tensor<2x8xf32>)
  return
}

// -----

func.func @rms_norm_count(%x: tensor<2x8xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{'llm.rms_norm' op operand group starting at #1 requires 0 or 1 element, but found 2}}
  %0 = "llm.rms_norm"(%x, %w, %w) : (tensor<2x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  return
}

// -----

func.func @linear_count(%x: tensor<2x8xf32>) {
  // expected-error @+1 {{'llm.linear' op expected 2 or more operands, but found 1}}
  %0 = "llm.linear"(%x) : (tensor<2x8xf32>) -> tensor<2x4xf32>
  return
}

// -----

func.func @linear_layout_type(%x: tensor<2x8xf32>, %w: tensor<4x8xf32>) {
  // expected-error @+1 {{invalid properties}}
  %0 = "llm.linear"(%x, %w) <{weight_layout = 3 : i32}> : (tensor<2x8xf32>, tensor<4x8xf32>) -> tensor<2x4xf32>
  return
}

// -----

func.func @linear_integer_weight(%x: tensor<2x8xf32>, %w: tensor<4x8xi8>) {
  // expected-error @+1 {{'llm.linear' op operand #1 must be ranked tensor of 16-bit float or bfloat16 type or 32-bit float or 64-bit float values, but got 'tensor<4x8xi8>'}}
  %0 = "llm.linear"(%x, %w) : (tensor<2x8xf32>, tensor<4x8xi8>) -> tensor<2x4xf32>
  return
}

// -----

func.func @attention_missing_heads(%q: tensor<1x4x8xf32>) {
  // expected-error @+1 {{'llm.attention' op requires attribute 'num_heads'}}
  %0 = "llm.attention"(%q, %q, %q) <{operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0, 0>}> : (tensor<1x4x8xf32>, tensor<1x4x8xf32>, tensor<1x4x8xf32>) -> tensor<1x4x8xf32>
  return
}

// -----

func.func @attention_count(%q: tensor<1x4x8xf32>) {
  // expected-error @+1 {{'llm.attention' op expected 3 or more operands, but found 2}}
  %0 = "llm.attention"(%q, %q) <{num_heads = 2 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0, 0>}> : (tensor<1x4x8xf32>, tensor<1x4x8xf32>) -> tensor<1x4x8xf32>
  return
}

// -----

func.func @attention_causal_type(%q: tensor<1x4x8xf32>) {
  // expected-error @+1 {{invalid properties}}
  %0 = "llm.attention"(%q, %q, %q) <{causal = 1 : i64, num_heads = 2 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0, 0>}> : (tensor<1x4x8xf32>, tensor<1x4x8xf32>, tensor<1x4x8xf32>) -> tensor<1x4x8xf32>
  return
}

// -----

func.func @attention_integer_mask(%q: tensor<1x4x8xf32>, %m: tensor<4x4xi32>) {
  // expected-error @+1 {{'llm.attention' op operand #3 must be ranked tensor of 1-bit signless integer or 16-bit float or bfloat16 type or 32-bit float or 64-bit float values, but got 'tensor<4x4xi32>'}}
  %0 = "llm.attention"(%q, %q, %q, %m) <{num_heads = 2 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0, 0>}> : (tensor<1x4x8xf32>, tensor<1x4x8xf32>, tensor<1x4x8xf32>, tensor<4x4xi32>) -> tensor<1x4x8xf32>
  return
}

// -----

func.func @ffn_missing_activation(%x: tensor<2x8xf32>, %u: tensor<16x8xf32>, %d: tensor<8x16xf32>) {
  // expected-error @+1 {{'llm.ffn' op requires attribute 'activation'}}
  %0 = "llm.ffn"(%x, %u, %d) <{operandSegmentSizes = array<i32: 1, 1, 0, 0, 0, 1, 0>}> : (tensor<2x8xf32>, tensor<16x8xf32>, tensor<8x16xf32>) -> tensor<2x8xf32>
  return
}

// -----

func.func @ffn_activation_type(%x: tensor<2x8xf32>, %u: tensor<16x8xf32>, %d: tensor<8x16xf32>) {
  // expected-error @+1 {{invalid properties}}
  %0 = "llm.ffn"(%x, %u, %d) <{activation = "gelu", operandSegmentSizes = array<i32: 1, 1, 0, 0, 0, 1, 0>}> : (tensor<2x8xf32>, tensor<16x8xf32>, tensor<8x16xf32>) -> tensor<2x8xf32>
  return
}

// -----

func.func @ffn_unknown_activation(%x: tensor<2x8xf32>) {
  // expected-error @+2 {{expected ::mlir::llm::Activation to be one of: relu, gelu, gelu_tanh, silu, swiglu, geglu}}
  // expected-error @+1 {{failed to parse LLM_ActivationAttr parameter 'value' which is to be a `::mlir::llm::Activation`}}
  %0 = llm.ffn mish %x up %x down %x : (tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  return
}

// -----

func.func @gelu_count(%x: tensor<2x8xf32>) {
  // expected-error @+1 {{'llm.gelu' op requires a single operand}}
  %0 = "llm.gelu"(%x, %x) : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  return
}

// -----

func.func @gelu_result_type(%x: tensor<2x8xf32>) {
  // expected-error @+1 {{'llm.gelu' op requires the same type for all operands and results}}
  %0 = "llm.gelu"(%x) : (tensor<2x8xf32>) -> tensor<2x8xf16>
  return
}

// -----

func.func @softmax_axis_type(%x: tensor<2x8xf32>) {
  // expected-error @+1 {{invalid properties}}
  %0 = "llm.softmax"(%x) <{axis = "last"}> : (tensor<2x8xf32>) -> tensor<2x8xf32>
  return
}

// -----

func.func @cross_entropy_count(%l: tensor<2x8xf32>) {
  // expected-error @+1 {{'llm.cross_entropy' op expected 2 operands, but found 1}}
  %0 = "llm.cross_entropy"(%l) : (tensor<2x8xf32>) -> tensor<f32>
  return
}

// -----

func.func @cross_entropy_float_labels(%l: tensor<2x8xf32>, %y: tensor<2xf32>) {
  // expected-error @+1 {{'llm.cross_entropy' op operand #1 must be ranked tensor of 32-bit signless integer or 64-bit signless integer values, but got 'tensor<2xf32>'}}
  %0 = "llm.cross_entropy"(%l, %y) : (tensor<2x8xf32>, tensor<2xf32>) -> tensor<f32>
  return
}

// -----

func.func @absurd_shape(%x: tensor<9223372036854775807xf32>, %w: tensor<4x9223372036854775807xf32>) {
  // expected-error @+1 {{'llm.linear' op operand #0 of type 'tensor<9223372036854775807xf32>' holds more bytes than a 64-bit size can count}}
  %0 = llm.linear %x, %w : (tensor<9223372036854775807xf32>, tensor<4x9223372036854775807xf32>) -> tensor<4xf32>
  return
}

// -----

func.func @absurd_result(%x: tensor<4611686018427387904x2xf32>) {
  // expected-error @+1 {{'llm.gelu' op operand #0 of type 'tensor<4611686018427387904x2xf32>' holds more bytes than a 64-bit size can count}}
  %0 = llm.gelu %x : tensor<4611686018427387904x2xf32>
  return
}
