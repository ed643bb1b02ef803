func.func @f(%x: tensor<9223372036854775807xf32>) {
  %0 = llm.gelu %x : tensor<9223372036854775807xf32>
  return
}
