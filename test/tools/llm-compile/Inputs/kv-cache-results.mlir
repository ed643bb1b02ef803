func.func @decode(%q: tensor<1x1x64xf32>, %k: tensor<1x1x64xf32>, %v: tensor<1x1x64xf32>, %kc: tensor<1x4x32x16xf32>, %vc: tensor<1x4x32x16xf32>, %p: tensor<1xi64>) -> (tensor<1x1x64xf32>, tensor<1x4x32x16xf32>, tensor<1x4x32x16xf32>) {
  %0:3 = llm.attention %q, %k, %v cache(%kc, %vc, %p) {causal, num_heads = 4 : i64} : (tensor<1x1x64xf32>, tensor<1x1x64xf32>, tensor<1x1x64xf32>, tensor<1x4x32x16xf32>, tensor<1x4x32x16xf32>, tensor<1xi64>) -> (tensor<1x1x64xf32>, tensor<1x4x32x16xf32>, tensor<1x4x32x16xf32>)
  return %0#0, %0#1, %0#2 : tensor<1x1x64xf32>, tensor<1x4x32x16xf32>, tensor<1x4x32x16xf32>
}
