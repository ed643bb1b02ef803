// RUN: llm-opt %s --split-input-file --convert-llm-to-linalg --convert-elementwise-to-linalg --llm-fuse-elementwise-ops --llm-fuse-norm --canonicalize --cse | FileCheck %s
// RUN: llm-opt %s --split-input-file --convert-llm-to-linalg --convert-elementwise-to-linalg --llm-fuse-elementwise-ops --llm-fuse-norm=remarks=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=REMARK
// Rows of 64 floats are 256 bytes: 3 of them fit 1000 bytes, none fits 200.
// RUN: llm-opt %s --split-input-file --convert-llm-to-linalg --convert-elementwise-to-linalg --llm-fuse-elementwise-ops --llm-fuse-norm="remarks=true max-tile-bytes=1000" -o /dev/null 2>&1 | FileCheck %s --check-prefix=SMALL
// RUN: llm-opt %s --split-input-file --convert-llm-to-linalg --convert-elementwise-to-linalg --llm-fuse-elementwise-ops --llm-fuse-norm="remarks=true max-tile-bytes=200" 2>&1 | FileCheck %s --check-prefix=TINY

// LayerNorm of a function argument: one scf.forall over tiles of 1 x 8
// rows holds the row sums, the per-row scalars and the normalization;
// nothing walks the whole input outside it.

// CHECK-LABEL: func.func @layer_norm(
// CHECK-SAME: %[[X:[^:]*]]: tensor<?x?x64xf32>
// CHECK-NOT: linalg.generic
// CHECK: %[[LOOP:.*]] = scf.forall (%[[I:.*]], %[[J:.*]]) = (0, 0) to (%{{.*}}, %{{.*}}) step (1, 8) shared_outs(%[[OUT:.*]] = %{{.*}})
// CHECK: %[[ROWS:.*]] = tensor.extract_slice %[[X]][%[[I]], %[[J]], 0] [1, %{{.*}}, 64] [1, 1, 1]
// CHECK: linalg.fill
// CHECK: %[[SUM:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[ROWS]] : tensor<1x?x64xf32>)
// CHECK: %[[MEAN:.*]] = linalg.generic {{.*}} ins(%[[SUM]] : tensor<1x?xf32>)
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[ROWS]], %[[MEAN]] : tensor<1x?x64xf32>, tensor<1x?xf32>)
// CHECK: %[[NORM:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel"]} ins(%[[ROWS]], %{{.*}}, %[[MEAN]], %{{.*}}, %{{.*}} :
// CHECK: scf.forall.in_parallel
// CHECK-NEXT: tensor.parallel_insert_slice %[[NORM]] into %[[OUT]][%[[I]], %[[J]], 0]
// CHECK-NOT: linalg.generic
// CHECK: return %[[LOOP]]
// REMARK: [[@LINE+7]]:8: remark: norm fused over tiles of 8 rows (7 producers fused)
// SMALL: [[@LINE+6]]:8: remark: norm fused over tiles of 3 rows (7 producers fused)
// TINY: [[@LINE+5]]:8: remark: norm not fused: a row of 256 bytes exceeds max-tile-bytes
// TINY-LABEL: func.func @layer_norm(
// TINY-NOT: scf.forall
// TINY: return
func.func @layer_norm(%x: tensor<?x?x64xf32>, %g: tensor<64xf32>, %b: tensor<64xf32>) -> tensor<?x?x64xf32> {
  %y = llm.layer_norm %x weight %g bias %b : (tensor<?x?x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
  return %y : tensor<?x?x64xf32>
}

// -----

// RMSNorm over a 2-D input: tiles of 8 rows.

// CHECK-LABEL: func.func @rms_norm(
// CHECK-NOT: linalg.generic
// CHECK: scf.forall (%{{.*}}) = (0) to (%{{.*}}) step (8)
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]}
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]}
// CHECK: scf.forall.in_parallel
// CHECK-NOT: linalg.generic
// CHECK: return
// REMARK: [[@LINE+2]]:8: remark: norm fused over tiles of 8 rows
func.func @rms_norm(%x: tensor<?x64xf32>, %g: tensor<64xf32>) -> tensor<?x64xf32> {
  %y = llm.rms_norm %x weight %g : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

// A residual add whose sum is also returned stays a loop of its own (the
// tiles would compute it again for each use); the norm reads it once.

// CHECK-LABEL: func.func @residual(
// CHECK-SAME: %[[X:[^:]*]]: tensor<?x?x64xf32>, %[[R:[^:]*]]: tensor<?x?x64xf32>
// CHECK: %[[H:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel"]} ins(%[[X]], %[[R]] :
// CHECK: arith.addf
// CHECK: %[[LOOP:.*]] = scf.forall
// The tiles read the sum, never its operands.
// CHECK-NOT: tensor.extract_slice %[[X]]
// CHECK-NOT: tensor.extract_slice %[[R]]
// CHECK: tensor.extract_slice %[[H]]
// CHECK-NOT: tensor.extract_slice %[[X]]
// CHECK-NOT: tensor.extract_slice %[[R]]
// CHECK: scf.forall.in_parallel
// CHECK: return %[[H]], %[[LOOP]]
func.func @residual(%x: tensor<?x?x64xf32>, %r: tensor<?x?x64xf32>, %g: tensor<64xf32>, %b: tensor<64xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>) {
  %h = arith.addf %x, %r : tensor<?x?x64xf32>
  %y = llm.layer_norm %h weight %g bias %b : (tensor<?x?x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
  return %h, %y : tensor<?x?x64xf32>, tensor<?x?x64xf32>
}

// -----

// The norm of a projection: the projection stays outside the tiles. Nothing
// reads the projection after the norm, so the tiles write their rows over
// it (its buffer is the norm's) and read them from there.

// CHECK-LABEL: func.func @projection(
// CHECK: %[[P:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
// CHECK: scf.forall {{.*}} shared_outs(%[[OUT:.*]] = %[[P]])
// CHECK-NOT: tensor.extract_slice %[[P]]
// CHECK: tensor.extract_slice %[[OUT]]
// CHECK-NOT: tensor.extract_slice %[[P]]
// CHECK-NOT: "reduction"]} ins(%{{.*}}, %arg1
// CHECK: scf.forall.in_parallel
func.func @projection(%x: tensor<?x?x32xf32>, %w: tensor<64x32xf32>, %g: tensor<64xf32>) -> tensor<?x?x64xf32> {
  %p = llm.linear %x, %w : (tensor<?x?x32xf32>, tensor<64x32xf32>) -> tensor<?x?x64xf32>
  %y = llm.rms_norm %p weight %g : (tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
  return %y : tensor<?x?x64xf32>
}

// -----

// Softmax: the max is not a sum, so it stays a pass of its own; the
// exponentials, their sum and the division share the tiles.

// CHECK-LABEL: func.func @softmax(
// CHECK: %[[MAX:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK: arith.maximumf
// CHECK: scf.forall
// CHECK: tensor.extract_slice %[[MAX]]
// CHECK: math.exp
// CHECK: "reduction"]}
// CHECK: arith.divf
// CHECK: scf.forall.in_parallel
func.func @softmax(%x: tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
  %y = llm.softmax %x : tensor<?x?x64xf32>
  return %y : tensor<?x?x64xf32>
}

// -----

// A training step's loss gradient: the softmax of the logits, which the loss
// read before it and nothing reads after, overwrites them. Where the logits
// are read after the softmax (returned here), it writes rows of its own.

// CHECK-LABEL: func.func @softmax_over_logits(
// CHECK: %[[L:.*]] = linalg.generic {{.*}} "reduction"]}
// CHECK: %[[MAX:.*]] = linalg.generic {{.*}} ins(%[[L]] :
// CHECK: scf.forall {{.*}} shared_outs(%[[OUT:.*]] = %[[L]])
// CHECK-NOT: tensor.extract_slice %[[L]]
// CHECK: tensor.extract_slice %[[OUT]]
// CHECK-NOT: tensor.extract_slice %[[L]]
// CHECK: scf.forall.in_parallel
func.func @softmax_over_logits(%x: tensor<?x?x32xf32>, %w: tensor<64x32xf32>, %labels: tensor<?x?xi64>) -> (tensor<f32>, tensor<?x?x64xf32>) {
  %l = llm.linear %x, %w : (tensor<?x?x32xf32>, tensor<64x32xf32>) -> tensor<?x?x64xf32>
  %loss = llm.cross_entropy %l, %labels : (tensor<?x?x64xf32>, tensor<?x?xi64>) -> tensor<f32>
  %y = llm.softmax %l : tensor<?x?x64xf32>
  return %loss, %y : tensor<f32>, tensor<?x?x64xf32>
}

// CHECK-LABEL: func.func @logits_read_after(
// CHECK: %[[E:.*]] = tensor.empty({{.*}}) : tensor<?x?x64xf32>
// CHECK: %[[L:.*]] = linalg.generic {{.*}} "reduction"]}
// CHECK: scf.forall {{.*}} shared_outs(%{{.*}} = %[[E]])
// CHECK: tensor.extract_slice %[[L]]
// CHECK: scf.forall.in_parallel
// CHECK: return %[[L]],
func.func @logits_read_after(%x: tensor<?x?x32xf32>, %w: tensor<64x32xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>) {
  %l = llm.linear %x, %w : (tensor<?x?x32xf32>, tensor<64x32xf32>) -> tensor<?x?x64xf32>
  %y = llm.softmax %l : tensor<?x?x64xf32>
  return %l, %y : tensor<?x?x64xf32>, tensor<?x?x64xf32>
}
