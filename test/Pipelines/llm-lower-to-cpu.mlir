// RUN: llm-opt %s --llm-lower-to-cpu | FileCheck %s
// RUN: llm-opt %s --llm-lower-to-cpu="parallel=false" | FileCheck %s --check-prefix=SERIAL

// The whole pipeline: llm on tensors in, the LLVM dialect out, with the C
// interface and the artifact ABI's entry points.

// CHECK-LABEL: llvm.func @forward(
// CHECK: omp.parallel
// CHECK-LABEL: llvm.func @_mlir_ciface_forward(
// CHECK-SAME: %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr)
// CHECK-LABEL: llvm.func @llm_forward(%{{.*}}: !llvm.ptr) -> i32
// The result descriptor comes last in args, first in the C interface.
// CHECK: %[[RES_SLOT:.*]] = llvm.getelementptr %{{.*}}[2] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK: %[[RES:.*]] = llvm.load %[[RES_SLOT]] : !llvm.ptr -> !llvm.ptr
// CHECK: llvm.call @_mlir_ciface_forward(%[[RES]],
// CHECK-LABEL: llvm.func @llm_abi_version() -> i32
// CHECK: llvm.mlir.constant(2 : i32)
// CHECK-LABEL: llvm.func @llm_set_num_threads(
// CHECK: llvm.call @omp_set_num_threads

// SERIAL-NOT: omp.
// SERIAL-LABEL: llvm.func @llm_set_num_threads(
// SERIAL-NEXT: llvm.return
func.func @forward(%x: tensor<?x8xf32>, %w: tensor<4x8xf32> {llm.param = "w"}) -> tensor<?x4xf32> {
  %0 = llm.linear %x, %w : (tensor<?x8xf32>, tensor<4x8xf32>) -> tensor<?x4xf32>
  %1 = llm.gelu %0 : tensor<?x4xf32>
  return %1 : tensor<?x4xf32>
}
