// RUN: llm-opt --llm-plan-memory=max-seq=8 --split-input-file %s | FileCheck %s
// RUN: llm-opt --llm-plan-memory --split-input-file %s | FileCheck %s --check-prefix=NOBOUND
// RUN: llm-opt --llm-plan-memory="max-seq=8 results=false" --split-input-file %s | FileCheck %s --check-prefix=NORESULTS

// Three [B, S, 4] f32 buffers (128 bytes per sequence at S = 8) in a
// chain and the result, a fourth, live from its allocation to the return:
// at most two live at once. x dies where z is born, so z takes x's slot,
// and the result y's, which is dead by then: the arena holds two slots per
// sequence (placed in order of birth; longest-lived first would need
// three). The [4, 4] buffer t (64 bytes) does not scale with B, yet
// planned with the others it fits in y's slot, dead by then, above z's:
// at B x 128, which stays clear of z for every B. No fixed part is needed
// (planned apart, the arena would be 64 + B x 256 bytes). The result is
// returned as a view of the arena.

// CHECK: module attributes {llm.arenas = {forward = {bytes_per_sequence = 256 : i64, fixed_bytes = 0 : i64, left_allocated = 0 : i64, live_bytes = 256 : i64, max_seq = 8 : i64, planned = 5 : i64, result_bytes = 128 : i64, total_bytes = 576 : i64}}}
// CHECK-LABEL: func.func @forward(
// CHECK-SAME: %[[IDS:[a-z0-9]+]]: memref<?x?xi64> {llm.input = "input_ids"}
// CHECK-SAME: %[[ARENA:[a-z0-9]+]]: memref<?xi8> {llm.input = "arena"}) -> memref<?x?x4xf32>
// CHECK: %[[B:.*]] = memref.dim %[[IDS]], %c0
// x at 0.
// CHECK: %[[X:.*]] = memref.view %[[ARENA]][%c0{{.*}}][%{{.*}}, %{{.*}}] : memref<?xi8> to memref<?x?x4xf32>
// y at B x 128 (the bytes per sequence of x's slot).
// CHECK: %[[YOFF:.*]] = arith.muli %[[B]], %c128 : index
// CHECK: %[[Y:.*]] = memref.view %[[ARENA]][%[[YOFF]]]
// CHECK: linalg.copy ins(%[[X]] : {{.*}}) outs(%[[Y]] :
// z reuses x's slot: x is dead once copied into y.
// CHECK: %[[Z:.*]] = memref.view %[[ARENA]][%c0{{.*}}]
// CHECK: linalg.copy ins(%[[Y]] : {{.*}}) outs(%[[Z]] :
// t in y's slot.
// CHECK: %[[TOFF:.*]] = arith.muli %[[B]], %c128{{.*}} : index
// CHECK: memref.view %[[ARENA]][%[[TOFF]]][] : memref<?xi8> to memref<4x4xf32>
// The result in y's slot too (t is dead once copied).
// CHECK: %[[OOFF:.*]] = arith.muli %[[B]], %c128{{.*}} : index
// CHECK: %[[OUT:.*]] = memref.view %[[ARENA]][%[[OOFF]]]
// CHECK-NOT: memref.alloc
// CHECK-NOT: memref.dealloc
// CHECK: return %[[OUT]]
// NORESULTS: module attributes {llm.arenas = {forward = {bytes_per_sequence = 256 : i64, fixed_bytes = 0 : i64, left_allocated = 1 : i64, live_bytes = 256 : i64, max_seq = 8 : i64, planned = 4 : i64, result_bytes = 0 : i64, total_bytes = 448 : i64}}}
// NORESULTS: %[[OUT:.*]] = memref.alloc
// NORESULTS-NOT: memref.dealloc
// NORESULTS: return %[[OUT]]
// NOBOUND: module attributes {llm.arenas = {forward = {bytes_per_sequence = 0 : i64, fixed_bytes = 64 : i64, left_allocated = 4 : i64, live_bytes = 64 : i64, max_seq = 0 : i64, planned = 1 : i64, result_bytes = 0 : i64, total_bytes = 64 : i64}}}
// NOBOUND-COUNT-3: memref.dealloc
func.func @forward(%ids: memref<?x?xi64> {llm.input = "input_ids"},
                   %w: memref<4x4xf32> {llm.param = "w"}) -> memref<?x?x4xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %b = memref.dim %ids, %c0 : memref<?x?xi64>
  %s = memref.dim %ids, %c1 : memref<?x?xi64>
  %x = memref.alloc(%b, %s) {alignment = 64 : i64} : memref<?x?x4xf32>
  linalg.fill ins(%zero : f32) outs(%x : memref<?x?x4xf32>)
  %y = memref.alloc(%b, %s) {alignment = 64 : i64} : memref<?x?x4xf32>
  linalg.copy ins(%x : memref<?x?x4xf32>) outs(%y : memref<?x?x4xf32>)
  %z = memref.alloc(%b, %s) {alignment = 64 : i64} : memref<?x?x4xf32>
  linalg.copy ins(%y : memref<?x?x4xf32>) outs(%z : memref<?x?x4xf32>)
  %t = memref.alloc() {alignment = 64 : i64} : memref<4x4xf32>
  linalg.copy ins(%w : memref<4x4xf32>) outs(%t : memref<4x4xf32>)
  %out = memref.alloc(%b, %s) {alignment = 64 : i64} : memref<?x?x4xf32>
  linalg.copy ins(%z : memref<?x?x4xf32>) outs(%out : memref<?x?x4xf32>)
  memref.dealloc %x : memref<?x?x4xf32>
  memref.dealloc %y : memref<?x?x4xf32>
  memref.dealloc %z : memref<?x?x4xf32>
  memref.dealloc %t : memref<4x4xf32>
  return %out : memref<?x?x4xf32>
}

// -----

// Sizes that are not linear in the batch (B x B), sizes from an argument
// no llm.input names, and a buffer passed to a call keep their
// allocations; a function with nothing to plan gets no arena.

// CHECK-LABEL: func.func @forward(
// CHECK-NOT: arena
// CHECK-COUNT-3: memref.alloc
// NOBOUND: func.func private @consume
// NOBOUND-NOT: arena
func.func private @consume(memref<4xf32>)
func.func @forward(%ids: memref<?x?xi64> {llm.input = "input_ids"},
                   %other: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %b = memref.dim %ids, %c0 : memref<?x?xi64>
  %n = memref.dim %other, %c0 : memref<?xf32>
  %square = memref.alloc(%b, %b) : memref<?x?xf32>
  %unknown = memref.alloc(%n) : memref<?xf32>
  %passed = memref.alloc() : memref<4xf32>
  func.call @consume(%passed) : (memref<4xf32>) -> ()
  memref.dealloc %square : memref<?x?xf32>
  memref.dealloc %unknown : memref<?xf32>
  memref.dealloc %passed : memref<4xf32>
  return
}

// -----

// An integer argument without llm.input is the token ids (as llm-compile's
// manifest takes it), so B and S come from it; a size divided by a
// constant (a kernel's row tiles: floor(B * S / 6) x 6 rows of 8 floats)
// is planned at its upper bound, B * S * 32 bytes: 256 per sequence at 8.

// CHECK: llm.arenas = {forward = {bytes_per_sequence = 256 : i64, fixed_bytes = 0 : i64, left_allocated = 0 : i64, live_bytes = 256 : i64, max_seq = 8 : i64, planned = 1 : i64, result_bytes = 0 : i64, total_bytes = 256 : i64}}
// CHECK-LABEL: func.func @forward(
// CHECK-SAME: %{{.*}}: memref<?x?xi64>, %{{.*}}: memref<?xi8> {llm.input = "arena"})
func.func @forward(%ids: memref<?x?xi64>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c6 = arith.constant 6 : index
  %b = memref.dim %ids, %c0 : memref<?x?xi64>
  %s = memref.dim %ids, %c1 : memref<?x?xi64>
  %rows = arith.muli %b, %s : index
  %tiles = arith.divui %rows, %c6 : index
  %scratch = memref.alloc(%tiles) : memref<?x6x8xf32>
  memref.dealloc %scratch : memref<?x6x8xf32>
  return
}

// -----

// A buffer lives from the first op that reads or writes it, not from its
// allocation: views and shapes only compute addresses. Both buffers are
// allocated up front, but %b is first written after %a's last read, so
// they share their 32 bytes per sequence (offset 0 each).

// CHECK: llm.arenas = {forward = {bytes_per_sequence = 64 : i64, fixed_bytes = 0 : i64, left_allocated = 0 : i64, live_bytes = 64 : i64, max_seq = 8 : i64, planned = 2 : i64, result_bytes = 0 : i64, total_bytes = 128 : i64}}
// CHECK-LABEL: func.func @forward(
// CHECK-COUNT-2: memref.view %arg1[%c0_{{[0-9]+}}][
func.func @forward(%ids: memref<?x?xi64>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = memref.dim %ids, %c0 : memref<?x?xi64>
  %s = memref.dim %ids, %c1 : memref<?x?xi64>
  %a = memref.alloc(%b, %s) : memref<?x?x2xf32>
  %later = memref.alloc(%b, %s) : memref<?x?x2xf32>
  %flat = memref.collapse_shape %later [[0, 1, 2]] : memref<?x?x2xf32> into memref<?xf32>
  %n = memref.dim %flat, %c0 : memref<?xf32>
  %one = arith.constant 1.0 : f32
  linalg.fill ins(%one : f32) outs(%a : memref<?x?x2xf32>)
  %x = memref.load %a[%c0, %c0, %c0] : memref<?x?x2xf32>
  linalg.fill ins(%x : f32) outs(%flat : memref<?xf32>)
  memref.dealloc %a : memref<?x?x2xf32>
  memref.dealloc %later : memref<?x?x2xf32>
  return
}

// -----

// A tile of a dynamic length (llm-fuse-attention's min(S, 4) keys) is
// planned at the constant it is clamped to: a [B, S, 4] f32 tile of
// scores per query row holds 8 x 4 x 4 = 128 bytes per sequence at S = 8
// and the [B, 4, 4] one 64, both live at once; min(S, B) has no constant
// bound and keeps its allocation.

// Without a sequence bound only the [B, 4, min(S, 4)] block is planned.
// NOBOUND: llm.arenas = {forward = {bytes_per_sequence = 64 : i64, fixed_bytes = 0 : i64, left_allocated = 2 : i64
// CHECK: llm.arenas = {forward = {bytes_per_sequence = 192 : i64, fixed_bytes = 0 : i64, left_allocated = 1 : i64, live_bytes = 192 : i64, max_seq = 8 : i64, planned = 2 : i64, result_bytes = 0 : i64, total_bytes = 192 : i64}}
func.func @forward(%ids: memref<?x?xi64>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %b = memref.dim %ids, %c0 : memref<?x?xi64>
  %s = memref.dim %ids, %c1 : memref<?x?xi64>
  %tile = arith.minui %s, %c4 : index
  %scores = memref.alloc(%b, %s, %tile) : memref<?x?x?xf32>
  %block = memref.alloc(%b, %tile) : memref<?x4x?xf32>
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%scores : memref<?x?x?xf32>)
  linalg.fill ins(%zero : f32) outs(%block : memref<?x4x?xf32>)
  %first = memref.load %scores[%c0, %c0, %c0] : memref<?x?x?xf32>
  memref.store %first, %block[%c0, %c0, %c0] : memref<?x4x?xf32>
  %odd = arith.minsi %s, %b : index
  %unbounded = memref.alloc(%odd) : memref<?xf32>
  memref.dealloc %scores : memref<?x?x?xf32>
  memref.dealloc %block : memref<?x4x?xf32>
  memref.dealloc %unbounded : memref<?xf32>
  return
}

// -----

// A buffer private to one iteration of a parallel loop (a tile of
// llm-fuse-norm's statistics: min(8, rows left) floats) goes on the stack,
// viewed with its own size, and so does one that grows with S, at its
// bound (8 floats at max-seq 8). One over 256 KiB (a tile of 8 rows of
// 16384 floats, 512 KiB) keeps its allocation and is counted as left
// allocated, as is, without a sequence bound, the one growing with S. None
// is in the arena (the [4] buffer outside the loop is).

// CHECK: llm.arenas = {tiles = {bytes_per_sequence = 0 : i64, fixed_bytes = 64 : i64, left_allocated = 1 : i64, live_bytes = 16 : i64, max_seq = 8 : i64, planned = 1 : i64, result_bytes = 0 : i64, total_bytes = 16 : i64}}
// CHECK-LABEL: func.func @tiles(
// CHECK: scf.parallel
// CHECK: %[[N:.*]] = affine.min
// CHECK: %[[STACK:.*]] = memref.alloca() {alignment = 64 : i64} : memref<8xf32>
// CHECK: %[[TILE:.*]] = memref.reinterpret_cast %[[STACK]] to offset: [0], sizes: [1, %[[N]]], strides: [%{{.*}}, 1] : memref<8xf32> to memref<1x?xf32>
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%[[TILE]] : memref<1x?xf32>)
// CHECK-NOT: memref.dealloc %[[TILE]]
// CHECK: %[[OPEN:.*]] = memref.alloca() {alignment = 64 : i64} : memref<8xf32>
// CHECK: memref.reinterpret_cast %[[OPEN]] to offset: [0], sizes: [%{{.*}}], strides: [1] : memref<8xf32> to memref<?xf32>
// CHECK: %[[BIG:.*]] = memref.alloc() : memref<8x16384xf32>
// CHECK: memref.dealloc %[[BIG]]
// NOBOUND: llm.arenas = {tiles = {bytes_per_sequence = 0 : i64, fixed_bytes = 64 : i64, left_allocated = 2 : i64
// NOBOUND: memref.alloca() {alignment = 64 : i64} : memref<8xf32>
// NOBOUND: memref.alloc(%{{.*}}) : memref<?xf32>
#tile = affine_map<(d0)[s0] -> (8, s0 - d0)>
func.func @tiles(%ids: memref<?x?xi64> {llm.input = "input_ids"}) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %zero = arith.constant 0.0 : f32
  %s = memref.dim %ids, %c1 : memref<?x?xi64>
  %t = memref.alloc() : memref<4xf32>
  linalg.fill ins(%zero : f32) outs(%t : memref<4xf32>)
  memref.dealloc %t : memref<4xf32>
  scf.parallel (%i) = (%c0) to (%s) step (%c8) {
    %n = affine.min #tile(%i)[%s]
    %stats = memref.alloc(%n) : memref<1x?xf32>
    linalg.fill ins(%zero : f32) outs(%stats : memref<1x?xf32>)
    memref.dealloc %stats : memref<1x?xf32>
    %open = memref.alloc(%s) : memref<?xf32>
    linalg.fill ins(%zero : f32) outs(%open : memref<?xf32>)
    memref.dealloc %open : memref<?xf32>
    %big = memref.alloc() : memref<8x16384xf32>
    linalg.fill ins(%zero : f32) outs(%big : memref<8x16384xf32>)
    memref.dealloc %big : memref<8x16384xf32>
    scf.reduce
  }
  return
}
