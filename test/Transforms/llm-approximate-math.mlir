// RUN: llm-opt %s --llm-approximate-math | FileCheck %s

// tanh (GELU) and exp (softmax) become arith polynomials: no libm call is
// left to stop the vectorizer.

// CHECK-LABEL: func.func @gelu_tanh_and_exp(
// CHECK-NOT: math.tanh
// CHECK-NOT: math.exp
// CHECK: arith.mulf
// CHECK: return
func.func @gelu_tanh_and_exp(%x: f32) -> (f32, f32) {
  %t = math.tanh %x : f32
  %e = math.exp %x : f32
  return %t, %e : f32, f32
}
