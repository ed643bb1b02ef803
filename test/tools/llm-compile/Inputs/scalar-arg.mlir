func.func @forward(%x: tensor<4xf32>, %n: index) -> tensor<4xf32> {
  %0 = llm.gelu %x : tensor<4xf32>
  return %0 : tensor<4xf32>
}
