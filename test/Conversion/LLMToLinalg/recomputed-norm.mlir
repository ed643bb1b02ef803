// RUN: llm-opt %s --convert-llm-to-linalg --cse --split-input-file | FileCheck %s

// A norm llm-recompute-norms cloned for the backward (llm.recomputed) keeps
// the mark on its first reduction, so CSE leaves both computations: two
// sums over the input, two normalizing generics.

// CHECK-LABEL: func.func @marked(
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]{{.*}}ins(%arg0 :
// CHECK: %[[A:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]{{.*}}ins(%arg0, %{{.*}}, %{{.*}}, %arg1, %arg2 :
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]{{.*}}ins(%arg0 : {{.*}} attrs = {llm.recomputed}
// CHECK: %[[B:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]{{.*}}ins(%arg0, %{{.*}}, %{{.*}}, %arg1, %arg2 :
// CHECK: return %[[A]], %[[B]] :
func.func @marked(%x: tensor<3x16xf32>, %g: tensor<16xf32>, %b: tensor<16xf32>) -> (tensor<3x16xf32>, tensor<3x16xf32>) {
  %0 = llm.layer_norm %x weight %g bias %b : (tensor<3x16xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<3x16xf32>
  %1 = llm.layer_norm %x weight %g bias %b {llm.recomputed} : (tensor<3x16xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<3x16xf32>
  return %0, %1 : tensor<3x16xf32>, tensor<3x16xf32>
}

// -----

// Unmarked, the two are one after CSE (the same for RMSNorm, marked: two).

// CHECK-LABEL: func.func @unmarked(
// CHECK-COUNT-1: linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]{{.*}}ins(%arg0, %{{.*}}, %{{.*}}, %arg1, %arg2 :
// CHECK-NOT: ins(%arg0, %{{.*}}, %{{.*}}, %arg1, %arg2 :
// CHECK: return %[[N:.*]], %[[N]] :
func.func @unmarked(%x: tensor<3x16xf32>, %g: tensor<16xf32>, %b: tensor<16xf32>) -> (tensor<3x16xf32>, tensor<3x16xf32>) {
  %0 = llm.layer_norm %x weight %g bias %b : (tensor<3x16xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<3x16xf32>
  %1 = llm.layer_norm %x weight %g bias %b : (tensor<3x16xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<3x16xf32>
  return %0, %1 : tensor<3x16xf32>, tensor<3x16xf32>
}

// -----

// CHECK-LABEL: func.func @rms_marked(
// CHECK-COUNT-2: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]{{.*}}ins(%arg0 :
// CHECK: return %[[A:.*]], %[[B:.*]] :
func.func @rms_marked(%x: tensor<3x16xf32>, %g: tensor<16xf32>) -> (tensor<3x16xf32>, tensor<3x16xf32>) {
  %0 = llm.rms_norm %x weight %g : (tensor<3x16xf32>, tensor<16xf32>) -> tensor<3x16xf32>
  %1 = llm.rms_norm %x weight %g {llm.recomputed} : (tensor<3x16xf32>, tensor<16xf32>) -> tensor<3x16xf32>
  return %0, %1 : tensor<3x16xf32>, tensor<3x16xf32>
}
