func.func @f() -> tensor<2xf32> {
  %0 = llm.gelu %1 : tensor<2xf32>
  %1 = arith.constant dense<1.0> : tensor<2xf32>
  return %0 : tensor<2xf32>
}
