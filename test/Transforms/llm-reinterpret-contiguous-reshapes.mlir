// RUN: llm-opt %s --split-input-file --pass-pipeline="builtin.module(func.func(llm-reinterpret-contiguous-reshapes))" | FileCheck %s

// One dynamic dim split into two dynamic ones (a torch reshape of [b*s] to
// [b, s]): the same buffer with sizes [%b, %s] and strides [%s, 1].

// CHECK-LABEL: func.func @split_dynamic(
// CHECK-SAME: %[[X:.*]]: memref<?xf32>, %[[B:.*]]: index, %[[S:.*]]: index)
// CHECK: %[[R:.*]] = memref.reinterpret_cast %[[X]] to offset: [0], sizes: [%[[B]], %[[S]]], strides: [%[[S]], 1] : memref<?xf32> to memref<?x?xf32>
// CHECK-NOT: memref.expand_shape
// CHECK: return %[[R]]
func.func @split_dynamic(%x: memref<?xf32>, %b: index, %s: index) -> memref<?x?xf32> {
  %e = memref.expand_shape %x [[0, 1]] output_shape [%b, %s] : memref<?xf32> into memref<?x?xf32>
  return %e : memref<?x?xf32>
}

// -----

// Static trailing sizes fold into constant strides: [?, 12, 64] -> strides
// [768, 64, 1].

// CHECK-LABEL: func.func @heads(
// CHECK: memref.reinterpret_cast %{{.*}} to offset: [0], sizes: [%{{.*}}, 12, 64], strides: [768, 64, 1] : memref<?x768xf32> to memref<?x12x64xf32>
func.func @heads(%x: memref<?x768xf32>, %n: index) -> memref<?x12x64xf32> {
  %e = memref.expand_shape %x [[0], [1, 2]] output_shape [%n, 12, 64] : memref<?x768xf32> into memref<?x12x64xf32>
  return %e : memref<?x12x64xf32>
}

// -----

// A strided source: the reinterpretation starts from its base buffer at
// its offset, and its strides stay on the innermost dim of each group.

// CHECK-LABEL: func.func @strided(
// CHECK-SAME: %[[X:[^:]*]]: memref<?xf32, strided<[2]>>, %[[B:[^:]*]]: index, %[[S:[^:]*]]: index)
// CHECK: %[[BASE:.*]], %{{.*}}, %{{.*}}, %{{.*}} = memref.extract_strided_metadata %[[X]]
// CHECK: %[[ROW:.*]] = arith.muli %{{.*}}, %[[S]] : index
// CHECK: memref.reinterpret_cast %[[BASE]] to offset: [0], sizes: [%[[B]], %[[S]]], strides: [%[[ROW]], 2]
// CHECK-NOT: memref.expand_shape
func.func @strided(%x: memref<?xf32, strided<[2]>>, %b: index, %s: index) -> memref<?x?xf32, strided<[?, 2]>> {
  %e = memref.expand_shape %x [[0, 1]] output_shape [%b, %s] : memref<?xf32, strided<[2]>> into memref<?x?xf32, strided<[?, 2]>>
  return %e : memref<?x?xf32, strided<[?, 2]>>
}

// -----

// K out of a fused Q/K/V projection's [?, 128] output (llm-fuse-qkv), split
// into [b, s, heads, head_dim]: rows stay 128 apart, from the slice's offset.

// CHECK-LABEL: func.func @qkv_slice(
// CHECK: %[[BASE:.*]], %[[OFF:.*]], %{{.*}}:2, %{{.*}}:2 = memref.extract_strided_metadata
// CHECK: %[[BS:.*]] = arith.muli %c128, %{{.*}} : index
// CHECK: memref.reinterpret_cast %[[BASE]] to offset: [%[[OFF]]], sizes: [%{{.*}}, %{{.*}}, 4, 16], strides: [%[[BS]], 128, 16, 1]
// CHECK-NOT: memref.expand_shape
func.func @qkv_slice(%x: memref<?x64xf32, strided<[128, 1], offset: ?>>, %b: index, %s: index) -> memref<?x?x4x16xf32, strided<[?, 128, 16, 1], offset: ?>> {
  %e = memref.expand_shape %x [[0, 1], [2, 3]] output_shape [%b, %s, 4, 16] : memref<?x64xf32, strided<[128, 1], offset: ?>> into memref<?x?x4x16xf32, strided<[?, 128, 16, 1], offset: ?>>
  return %e : memref<?x?x4x16xf32, strided<[?, 128, 16, 1], offset: ?>>
}
