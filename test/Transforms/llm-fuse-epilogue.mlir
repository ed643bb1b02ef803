// RUN: llm-opt %s --split-input-file --convert-llm-to-linalg --llm-fuse-epilogue | FileCheck %s

// The residual add after an output projection: the accumulator starts at
// bias + residual, and the add is gone.

#id = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-LABEL: func.func @residual(
// CHECK-SAME: %[[X:[^:]*]]: tensor<?x64xf32>, %[[R:[^:]*]]: tensor<?x32xf32>, %[[W:[^:]*]]: tensor<64x32xf32>, %[[B:[^:]*]]: tensor<32xf32>)
// CHECK: %[[BIAS:.*]] = linalg.generic {{.*}} ins(%[[B]] : tensor<32xf32>)
// CHECK: %[[START:.*]] = linalg.generic {{.*}} ins(%[[BIAS]], %[[R]] : tensor<?x32xf32>, tensor<?x32xf32>)
// CHECK-NEXT: ^bb0(%[[S0:.*]]: f32, %[[S1:.*]]: f32, %{{.*}}: f32):
// CHECK-NEXT: %[[SUM:.*]] = arith.addf %[[S0]], %[[S1]] : f32
// CHECK-NEXT: linalg.yield %[[SUM]]
// CHECK: %[[Y:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[X]], %[[W]] : tensor<?x64xf32>, tensor<64x32xf32>) outs(%[[START]] : tensor<?x32xf32>)
// CHECK-NOT: linalg.generic
// CHECK: return %[[Y]]
func.func @residual(%x: tensor<?x64xf32>, %r: tensor<?x32xf32>, %w: tensor<64x32xf32>, %b: tensor<32xf32>) -> tensor<?x32xf32> {
  %y = llm.linear %x, %w bias %b layout in_out : (tensor<?x64xf32>, tensor<64x32xf32>, tensor<32xf32>) -> tensor<?x32xf32>
  %s = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%r, %y : tensor<?x32xf32>, tensor<?x32xf32>) outs(%r : tensor<?x32xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %t = arith.addf %a, %c : f32
    linalg.yield %t : f32
  } -> tensor<?x32xf32>
  return %s : tensor<?x32xf32>
}

// -----

// GPT-2's MLP with its residual: tanh-GELU becomes an in-place epilogue of
// c_fc, the residual add part of c_proj's starting value.

#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @gpt2_mlp(
// CHECK: %[[FC:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
// CHECK: %[[ACT:.*]] = linalg.generic {indexing_maps = [#{{.*}}], iterator_types = ["parallel", "parallel", "parallel"]} outs(%[[FC]] : tensor<?x?x256xf32>) attrs = {llm.epilogue} {
// CHECK-NEXT: ^bb0(%{{.*}}: f32):
// CHECK: math.tanh
// CHECK: %[[START:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %[[H:[^ ]*]] : tensor<?x?x64xf32>, tensor<?x?x64xf32>)
// CHECK: arith.addf
// CHECK: %[[OUT:.*]] = linalg.generic {{.*}} ins(%[[ACT]], %{{.*}} : tensor<?x?x256xf32>, tensor<256x64xf32>) outs(%[[START]] : tensor<?x?x64xf32>)
// CHECK: return %[[OUT]]
func.func @gpt2_mlp(%h: tensor<?x?x64xf32>, %fc: tensor<64x256xf32>, %fcb: tensor<256xf32>, %pr: tensor<256x64xf32>, %prb: tensor<64xf32>) -> tensor<?x?x64xf32> {
  %f = llm.ffn gelu_tanh %h up %fc bias %fcb down %pr bias %prb layout in_out : (tensor<?x?x64xf32>, tensor<64x256xf32>, tensor<256xf32>, tensor<256x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
  %s = linalg.generic {indexing_maps = [#id3, #id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%h, %f : tensor<?x?x64xf32>, tensor<?x?x64xf32>) outs(%h : tensor<?x?x64xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %t = arith.addf %a, %c : f32
    linalg.yield %t : f32
  } -> tensor<?x?x64xf32>
  return %s : tensor<?x?x64xf32>
}

// -----

// LLaMA's SwiGLU: silu(gate) * up becomes an epilogue of the gate
// projection (the later one), reading the up projection's output.

// CHECK-LABEL: func.func @swiglu(
// CHECK: %[[UP:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
// CHECK: %[[GATE:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
// CHECK: %[[HID:.*]] = linalg.generic {{.*}} ins(%[[UP]] : tensor<1x?x172xf32>) outs(%[[GATE]] : tensor<1x?x172xf32>) attrs = {llm.epilogue} {
// CHECK-NEXT: ^bb0(%[[U:.*]]: f32, %[[G:.*]]: f32):
// CHECK: %[[NEG:.*]] = arith.negf %[[G]]
// CHECK: math.exp %[[NEG]]
// CHECK: arith.mulf %{{.*}}, %[[U]] : f32
// CHECK: linalg.generic {{.*}} ins(%[[HID]], %{{.*}} : tensor<1x?x172xf32>, tensor<64x172xf32>)
func.func @swiglu(%x: tensor<1x?x64xf32>, %wu: tensor<172x64xf32>, %wg: tensor<172x64xf32>, %wd: tensor<64x172xf32>) -> tensor<1x?x64xf32> {
  %y = llm.ffn swiglu %x up %wu gate %wg down %wd : (tensor<1x?x64xf32>, tensor<172x64xf32>, tensor<172x64xf32>, tensor<64x172xf32>) -> tensor<1x?x64xf32>
  return %y : tensor<1x?x64xf32>
}

// -----

// Not fused: the projection's output is also returned, so the add must not
// change it, and the activation must not overwrite it.

#id = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-LABEL: func.func @other_use(
// CHECK-NOT: llm.epilogue
// CHECK: %[[Y:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %[[Y]] : tensor<?x32xf32>, tensor<?x32xf32>)
// CHECK: arith.addf
// CHECK: linalg.generic {{.*}} ins(%[[Y]] : tensor<?x32xf32>)
// CHECK: math.tanh
// CHECK-NOT: llm.epilogue
func.func @other_use(%x: tensor<?x64xf32>, %r: tensor<?x32xf32>, %w: tensor<64x32xf32>) -> (tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>) {
  %y = llm.linear %x, %w layout in_out : (tensor<?x64xf32>, tensor<64x32xf32>) -> tensor<?x32xf32>
  %s = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%r, %y : tensor<?x32xf32>, tensor<?x32xf32>) outs(%r : tensor<?x32xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %t = arith.addf %a, %c : f32
    linalg.yield %t : f32
  } -> tensor<?x32xf32>
  %t = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%y : tensor<?x32xf32>) outs(%r : tensor<?x32xf32>) {
  ^bb0(%a: f32, %o: f32):
    %u = math.tanh %a : f32
    linalg.yield %u : f32
  } -> tensor<?x32xf32>
  return %y, %s, %t : tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>
}

// -----

// Not fused: a consumer that reads the projection's output broadcast (a
// row reduction, as a norm's mean is), and one that reads its own output.

// CHECK-LABEL: func.func @not_elementwise(
// CHECK-NOT: llm.epilogue
// CHECK: return
func.func @not_elementwise(%x: tensor<?x64xf32>, %w: tensor<64x32xf32>, %acc: tensor<?xf32>) -> tensor<?xf32> {
  %y = llm.linear %x, %w layout in_out : (tensor<?x64xf32>, tensor<64x32xf32>) -> tensor<?x32xf32>
  %s = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>], iterator_types = ["parallel", "reduction"]} ins(%y : tensor<?x32xf32>) outs(%acc : tensor<?xf32>) {
  ^bb0(%a: f32, %o: f32):
    %t = arith.addf %a, %o : f32
    linalg.yield %t : f32
  } -> tensor<?xf32>
  return %s : tensor<?xf32>
}

// CHECK-LABEL: func.func @reads_own_output(
// CHECK-NOT: llm.epilogue
// CHECK: return
func.func @reads_own_output(%x: tensor<?x64xf32>, %w: tensor<64x32xf32>, %acc: tensor<?x32xf32>) -> tensor<?x32xf32> {
  %y = llm.linear %x, %w layout in_out : (tensor<?x64xf32>, tensor<64x32xf32>) -> tensor<?x32xf32>
  %s = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%y : tensor<?x32xf32>) outs(%acc : tensor<?x32xf32>) {
  ^bb0(%a: f32, %o: f32):
    %t = arith.mulf %a, %o : f32
    linalg.yield %t : f32
  } -> tensor<?x32xf32>
  return %s : tensor<?x32xf32>
}

// -----

// The residual is computed after the projection: the projection moves down
// to where both exist.

#id = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-LABEL: func.func @late_residual(
// CHECK: %[[R:.*]] = math.exp %{{.*}} : tensor<?x32xf32>
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %[[R]] : tensor<?x32xf32>, tensor<?x32xf32>)
// CHECK: %[[Y:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK-NEXT: ^bb0
// CHECK: return %[[Y]]
func.func @late_residual(%x: tensor<?x64xf32>, %z: tensor<?x32xf32>, %w: tensor<64x32xf32>) -> tensor<?x32xf32> {
  %y = llm.linear %x, %w layout in_out : (tensor<?x64xf32>, tensor<64x32xf32>) -> tensor<?x32xf32>
  %r = math.exp %z : tensor<?x32xf32>
  %s = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%y, %r : tensor<?x32xf32>, tensor<?x32xf32>) outs(%r : tensor<?x32xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %t = arith.addf %a, %c : f32
    linalg.yield %t : f32
  } -> tensor<?x32xf32>
  return %s : tensor<?x32xf32>
}
