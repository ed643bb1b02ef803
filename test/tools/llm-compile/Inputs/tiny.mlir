func.func @forward(%ids: tensor<?x?xi64>, %wte: tensor<11x8xf32> {llm.param = "wte"},
                   %w: tensor<11x8xf32> {llm.param = "head"}) -> tensor<?x?x11xf32> {
  %h = llm.embedding %wte[%ids] : (tensor<11x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  %n = llm.rms_norm %h : (tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
  %l = llm.linear %n, %w : (tensor<?x?x8xf32>, tensor<11x8xf32>) -> tensor<?x?x11xf32>
  return %l : tensor<?x?x11xf32>
}
