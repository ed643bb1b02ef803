// For llm-compile --stats: at the sequence bound 16 and batch 1, the
// embedding and the norm each write 16 x 8 floats (512 bytes) that the
// function does not return; the logits it returns do not count.
module attributes {llm.max_positions = 16 : i64} {
func.func @forward(%ids: tensor<?x?xi64> {llm.input = "input_ids"},
                   %wte: tensor<11x8xf32> {llm.param = "wte"},
                   %w: tensor<11x8xf32> {llm.param = "head"}) -> tensor<?x?x11xf32> {
  %h = llm.embedding %wte[%ids] : (tensor<11x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  %n = llm.rms_norm %h : (tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
  %l = llm.linear %n, %w : (tensor<?x?x8xf32>, tensor<11x8xf32>) -> tensor<?x?x11xf32>
  return %l : tensor<?x?x11xf32>
}
}
