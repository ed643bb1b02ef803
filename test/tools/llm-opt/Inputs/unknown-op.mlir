func.func @f(%x: tensor<2xf32>) {
  %0 = llm.transformer_block %x : tensor<2xf32>
  return
}
