// RUN: llm-opt %s --pass-pipeline="builtin.module(func.func(llm-copies-to-linalg))" | FileCheck %s

// A copy out of a strided view (a slice of a concatenation, say) would lower
// to a call to memrefCopy; as linalg.copy it becomes loops.

// CHECK-LABEL: func.func @strided_copy(
// CHECK: linalg.copy ins(%{{.*}} : memref<?x4xf32, strided<[8, 1], offset: ?>>) outs(%{{.*}} : memref<?x4xf32>)
// CHECK-NOT: memref.copy
func.func @strided_copy(%src: memref<?x4xf32, strided<[8, 1], offset: ?>>, %dst: memref<?x4xf32>) {
  memref.copy %src, %dst : memref<?x4xf32, strided<[8, 1], offset: ?>> to memref<?x4xf32>
  return
}
