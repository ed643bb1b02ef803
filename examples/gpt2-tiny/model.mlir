// A GPT-2-style decoder written in the llm dialect: 2 layers, d_model 64,
// 4 heads, byte-level vocabulary of 256, context 64. Pre-LN blocks with
// learned positions, tanh-GELU MLPs and a tied LM head, with the parameter
// names and layouts (Conv1D weights stored [in, out]) of Hugging Face's GPT-2
// checkpoints. Weights are function arguments; `llm.param` names the tensor
// each one binds to; `llm.input` names the runtime input. Batch and
// sequence are dynamic.
module attributes {llm.family = "gpt2"} {
func.func @forward(
    %ids: tensor<?x?xi64> {llm.input = "input_ids"},
    %wte: tensor<256x64xf32> {llm.param = "transformer.wte.weight"},
    %wpe: tensor<64x64xf32> {llm.param = "transformer.wpe.weight"},
    %ln1_w0: tensor<64xf32> {llm.param = "transformer.h.0.ln_1.weight"},
    %ln1_b0: tensor<64xf32> {llm.param = "transformer.h.0.ln_1.bias"},
    %attn_w0: tensor<64x192xf32> {llm.param = "transformer.h.0.attn.c_attn.weight"},
    %attn_b0: tensor<192xf32> {llm.param = "transformer.h.0.attn.c_attn.bias"},
    %proj_w0: tensor<64x64xf32> {llm.param = "transformer.h.0.attn.c_proj.weight"},
    %proj_b0: tensor<64xf32> {llm.param = "transformer.h.0.attn.c_proj.bias"},
    %ln2_w0: tensor<64xf32> {llm.param = "transformer.h.0.ln_2.weight"},
    %ln2_b0: tensor<64xf32> {llm.param = "transformer.h.0.ln_2.bias"},
    %fc_w0: tensor<64x256xf32> {llm.param = "transformer.h.0.mlp.c_fc.weight"},
    %fc_b0: tensor<256xf32> {llm.param = "transformer.h.0.mlp.c_fc.bias"},
    %mproj_w0: tensor<256x64xf32> {llm.param = "transformer.h.0.mlp.c_proj.weight"},
    %mproj_b0: tensor<64xf32> {llm.param = "transformer.h.0.mlp.c_proj.bias"},
    %ln1_w1: tensor<64xf32> {llm.param = "transformer.h.1.ln_1.weight"},
    %ln1_b1: tensor<64xf32> {llm.param = "transformer.h.1.ln_1.bias"},
    %attn_w1: tensor<64x192xf32> {llm.param = "transformer.h.1.attn.c_attn.weight"},
    %attn_b1: tensor<192xf32> {llm.param = "transformer.h.1.attn.c_attn.bias"},
    %proj_w1: tensor<64x64xf32> {llm.param = "transformer.h.1.attn.c_proj.weight"},
    %proj_b1: tensor<64xf32> {llm.param = "transformer.h.1.attn.c_proj.bias"},
    %ln2_w1: tensor<64xf32> {llm.param = "transformer.h.1.ln_2.weight"},
    %ln2_b1: tensor<64xf32> {llm.param = "transformer.h.1.ln_2.bias"},
    %fc_w1: tensor<64x256xf32> {llm.param = "transformer.h.1.mlp.c_fc.weight"},
    %fc_b1: tensor<256xf32> {llm.param = "transformer.h.1.mlp.c_fc.bias"},
    %mproj_w1: tensor<256x64xf32> {llm.param = "transformer.h.1.mlp.c_proj.weight"},
    %mproj_b1: tensor<64xf32> {llm.param = "transformer.h.1.mlp.c_proj.bias"},
    %lnf_w: tensor<64xf32> {llm.param = "transformer.ln_f.weight"},
    %lnf_b: tensor<64xf32> {llm.param = "transformer.ln_f.bias"})
    -> tensor<?x?x256xf32> {
  %h0 = llm.embedding %wte[%ids] : (tensor<256x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
  %x0 = llm.positional_encoding learned %h0 table %wpe : (tensor<?x?x64xf32>, tensor<64x64xf32>) -> tensor<?x?x64xf32>
  // Block 0: pre-LN attention, then pre-LN MLP, each with a residual.
  %a0 = llm.layer_norm %x0 weight %ln1_w0 bias %ln1_b0 : (tensor<?x?x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
  %qkv0 = llm.linear %a0, %attn_w0 bias %attn_b0 layout in_out : (tensor<?x?x64xf32>, tensor<64x192xf32>, tensor<192xf32>) -> tensor<?x?x192xf32>
  %c0_0 = arith.constant 0 : index
  %c1_0 = arith.constant 1 : index
  %b0 = tensor.dim %qkv0, %c0_0 : tensor<?x?x192xf32>
  %s0 = tensor.dim %qkv0, %c1_0 : tensor<?x?x192xf32>
  %q0 = tensor.extract_slice %qkv0[0, 0, 0] [%b0, %s0, 64] [1, 1, 1] : tensor<?x?x192xf32> to tensor<?x?x64xf32>
  %k0 = tensor.extract_slice %qkv0[0, 0, 64] [%b0, %s0, 64] [1, 1, 1] : tensor<?x?x192xf32> to tensor<?x?x64xf32>
  %v0 = tensor.extract_slice %qkv0[0, 0, 128] [%b0, %s0, 64] [1, 1, 1] : tensor<?x?x192xf32> to tensor<?x?x64xf32>
  %att0 = llm.attention %q0, %k0, %v0 {causal, num_heads = 4 : i64} : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>) -> tensor<?x?x64xf32>
  %o0 = llm.linear %att0, %proj_w0 bias %proj_b0 layout in_out : (tensor<?x?x64xf32>, tensor<64x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
  %r0 = arith.addf %x0, %o0 : tensor<?x?x64xf32>
  %m0 = llm.layer_norm %r0 weight %ln2_w0 bias %ln2_b0 : (tensor<?x?x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
  %f0 = llm.ffn gelu_tanh %m0 up %fc_w0 bias %fc_b0 down %mproj_w0 bias %mproj_b0 layout in_out : (tensor<?x?x64xf32>, tensor<64x256xf32>, tensor<256xf32>, tensor<256x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
  %y0 = arith.addf %r0, %f0 : tensor<?x?x64xf32>
  // Block 1: pre-LN attention, then pre-LN MLP, each with a residual.
  %a1 = llm.layer_norm %y0 weight %ln1_w1 bias %ln1_b1 : (tensor<?x?x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
  %qkv1 = llm.linear %a1, %attn_w1 bias %attn_b1 layout in_out : (tensor<?x?x64xf32>, tensor<64x192xf32>, tensor<192xf32>) -> tensor<?x?x192xf32>
  %c0_1 = arith.constant 0 : index
  %c1_1 = arith.constant 1 : index
  %b1 = tensor.dim %qkv1, %c0_1 : tensor<?x?x192xf32>
  %s1 = tensor.dim %qkv1, %c1_1 : tensor<?x?x192xf32>
  %q1 = tensor.extract_slice %qkv1[0, 0, 0] [%b1, %s1, 64] [1, 1, 1] : tensor<?x?x192xf32> to tensor<?x?x64xf32>
  %k1 = tensor.extract_slice %qkv1[0, 0, 64] [%b1, %s1, 64] [1, 1, 1] : tensor<?x?x192xf32> to tensor<?x?x64xf32>
  %v1 = tensor.extract_slice %qkv1[0, 0, 128] [%b1, %s1, 64] [1, 1, 1] : tensor<?x?x192xf32> to tensor<?x?x64xf32>
  %att1 = llm.attention %q1, %k1, %v1 {causal, num_heads = 4 : i64} : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>) -> tensor<?x?x64xf32>
  %o1 = llm.linear %att1, %proj_w1 bias %proj_b1 layout in_out : (tensor<?x?x64xf32>, tensor<64x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
  %r1 = arith.addf %y0, %o1 : tensor<?x?x64xf32>
  %m1 = llm.layer_norm %r1 weight %ln2_w1 bias %ln2_b1 : (tensor<?x?x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
  %f1 = llm.ffn gelu_tanh %m1 up %fc_w1 bias %fc_b1 down %mproj_w1 bias %mproj_b1 layout in_out : (tensor<?x?x64xf32>, tensor<64x256xf32>, tensor<256xf32>, tensor<256x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
  %y1 = arith.addf %r1, %f1 : tensor<?x?x64xf32>
  %hf = llm.layer_norm %y1 weight %lnf_w bias %lnf_b : (tensor<?x?x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
  // The LM head is tied to the token embedding: logits = h * wte^T.
  %logits = llm.linear %hf, %wte : (tensor<?x?x64xf32>, tensor<256x64xf32>) -> tensor<?x?x256xf32>
  return %logits : tensor<?x?x256xf32>
}
}
