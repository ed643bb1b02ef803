func.func @forward(%q: tensor<1x1x64xf32>, %kc: tensor<1x4x32x16xf32>, %p: tensor<1xi64>) -> tensor<1x1x64xf32> {
  %0:3 = llm.attention %q, %q, %q cache(%kc, %kc, %p) {num_heads = 4 : i64} : (tensor<1x1x64xf32>, tensor<1x1x64xf32>, tensor<1x1x64xf32>, tensor<1x4x32x16xf32>, tensor<1x4x32x16xf32>, tensor<1xi64>) -> (tensor<1x1x64xf32>, tensor<1x4x32x16xf32>, tensor<1x4x32x16xf32>)
  return %0#0 : tensor<1x1x64xf32>
}
