// A tiny GPT-2-style decoder (learned positions, causal attention, tied
// head, sequence bound 16): llm-compile derives prefill and decode.
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
