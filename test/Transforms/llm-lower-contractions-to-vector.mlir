// RUN: llm-opt %s --split-input-file --pass-pipeline="builtin.module(func.func(llm-lower-contractions-to-vector{vector-width=16 row-tile=6 col-vectors=4 dot-rows=4 dot-cols=6}))" | FileCheck %s

// A projection with the weight stored [in, out] (HF Conv1D): panels of 64
// columns in parallel, a 6x4 tile of vector<16xf32> accumulators carried
// through the K loop, a one-row tile for the rows left over.

// CHECK-LABEL: func.func @in_out(
// CHECK: memref.collapse_shape %{{.*}} {{\[\[}}0, 1], [2]] : memref<?x?x128xf32> into memref<?x128xf32>
// CHECK: scf.parallel (%[[J:.*]]) = (%{{.*}}) to (%{{.*}}) step (%{{.*}})
// CHECK: memref.alloca_scope
// CHECK: memref.alloca() {alignment = 64 : i64} : memref<256x64xf32>
// The panel's block of weight rows is packed first.
// CHECK: vector.load %{{.*}} : memref<128x192xf32>, vector<16xf32>
// CHECK: vector.store %{{.*}} : memref<256x64xf32>, vector<16xf32>
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c6
// CHECK-COUNT-24: vector.load %{{.*}} : memref<?x192xf32>, vector<16xf32>
// CHECK: scf.for {{.*}} iter_args
// CHECK-COUNT-4: vector.load %{{.*}} : memref<256x64xf32>, vector<16xf32>
// CHECK: memref.load
// CHECK: vector.broadcast
// CHECK-COUNT-4: vector.fma
// CHECK: scf.yield
// CHECK-COUNT-24: vector.store
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c1
// CHECK-COUNT-4: vector.fma
// CHECK: scf.reduce
// 192 is a multiple of 64: no scalar columns.
// CHECK-NOT: linalg.generic
func.func @in_out(%x: memref<?x?x128xf32>, %w: memref<128x192xf32>, %out: memref<?x?x192xf32>) {
  linalg.generic {
      indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>,
                       affine_map<(d0, d1, d2, d3) -> (d3, d2)>,
                       affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>],
      iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x?x128xf32>, memref<128x192xf32>) outs(%out : memref<?x?x192xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %c, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// The weight stored [out, in] (a tied LM head): groups of 6 weight rows in
// parallel, 4x6 vector accumulators along K, a horizontal sum, a scalar
// K tail; one-column groups for the 100 % 6 columns left over.

// CHECK-LABEL: func.func @out_in(
// CHECK: scf.parallel
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c4{{(_[0-9]+)?}} {
// CHECK: scf.for {{.*}} step %c16{{(_[0-9]+)?}} iter_args
// CHECK-COUNT-24: vector.fma
// CHECK: vector.reduction <add>, %{{.*}} fastmath<reassoc> : vector<16xf32> into f32
// CHECK: scf.parallel
// CHECK-NOT: linalg.generic
func.func @out_in(%x: memref<?x64xf32>, %w: memref<100x64xf32>, %out: memref<?x100xf32>) {
  linalg.generic {
      indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                       affine_map<(d0, d1, d2) -> (d1, d2)>,
                       affine_map<(d0, d1, d2) -> (d0, d1)>],
      iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x64xf32>, memref<100x64xf32>) outs(%out : memref<?x100xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %c, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Columns past the last 64-wide panel get a scalar contraction.

// CHECK-LABEL: func.func @ragged_columns(
// CHECK: scf.parallel
// CHECK: %[[SUB:.*]] = memref.subview
// CHECK: linalg.generic
func.func @ragged_columns(%x: memref<?x8xf32>, %w: memref<8x70xf32>, %out: memref<?x70xf32>) {
  linalg.generic {
      indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                       affine_map<(d0, d1, d2) -> (d2, d1)>,
                       affine_map<(d0, d1, d2) -> (d0, d1)>],
      iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x8xf32>, memref<8x70xf32>) outs(%out : memref<?x70xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %c, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Not a projection (f16 accumulation, here): left alone.

// CHECK-LABEL: func.func @not_f32(
// CHECK-NOT: vector.
// CHECK: linalg.generic
func.func @not_f32(%x: memref<?x8xf16>, %w: memref<8x70xf16>, %out: memref<?x70xf16>) {
  linalg.generic {
      indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                       affine_map<(d0, d1, d2) -> (d2, d1)>,
                       affine_map<(d0, d1, d2) -> (d0, d1)>],
      iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x8xf16>, memref<8x70xf16>) outs(%out : memref<?x70xf16>) {
  ^bb0(%a: f16, %b: f16, %c: f16):
    %p = arith.mulf %a, %b : f16
    %s = arith.addf %c, %p : f16
    linalg.yield %s : f16
  }
  return
}

// -----

// A weight packed by llm-pack-weights ([ceil(N/64), K, 64]): no copy, each
// panel's block of rows read in place, x's row tiles read interleaved; 100 = 64 + 36 columns, so one full
// panel in parallel, then a partial one of 3 vectors, the last masked to 4
// lanes.

// CHECK-LABEL: func.func @panels(
// CHECK-NOT: memref.alloca
// x's full row tiles are interleaved once: xp[t][k][r] = x[6t + r][k].
// CHECK: %[[XP:.*]] = memref.alloc(%{{.*}}) {alignment = 64 : i64} : memref<?x32x6xf32>
// CHECK: scf.parallel
// CHECK: memref.store %{{.*}}, %[[XP]]
// CHECK: scf.parallel
// CHECK: memref.subview %{{.*}} : memref<2x32x64xf32> to memref<?x64xf32, strided<[64, 1], offset: ?>>
// CHECK: scf.for {{.*}} iter_args
// CHECK-COUNT-4: vector.load %{{.*}} : memref<?x64xf32, strided<[64, 1], offset: ?>>, vector<16xf32>
// CHECK-COUNT-24: vector.fma
// CHECK: scf.reduce
// CHECK: vector.constant_mask [4] : vector<16xi1>
// CHECK: vector.maskedload
// CHECK: scf.for {{.*}} iter_args
// CHECK-COUNT-3: vector.load %{{.*}} : memref<?x64xf32, strided<[64, 1], offset: ?>>, vector<16xf32>
// CHECK: vector.maskedstore
// CHECK: memref.dealloc %[[XP]]
// CHECK-NOT: linalg.generic
func.func @panels(%x: memref<?x32xf32>, %w: memref<2x32x64xf32>, %out: memref<?x100xf32>) {
  linalg.generic {
      indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                       affine_map<(d0, d1, d2) -> (d1 floordiv 64, d2, d1 mod 64)>,
                       affine_map<(d0, d1, d2) -> (d0, d1)>],
      iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x32xf32>, memref<2x32x64xf32>) outs(%out : memref<?x100xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %c, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// An llm.epilogue update of the output (llm-fuse-epilogue) after a packed
// projection: K = 2048 is two blocks of 1024, the first in a loop without
// it, the last applying tanh(acc) * g to the accumulators before the one
// store (g loaded at the same element, masked in the partial panel).

// CHECK-LABEL: func.func @panels_epilogue(
// CHECK-SAME: %[[G:[^:]*]]: memref<?x100xf32>)
// CHECK: scf.parallel
// CHECK: scf.parallel
// CHECK: scf.for %{{.*}} = %{{.*}} to %c1024{{.*}} step %c1024
// CHECK-NOT: math.tanh
// CHECK: scf.for {{.*}} iter_args
// CHECK-COUNT-24: vector.fma
// CHECK-NOT: math.tanh
// CHECK: scf.for {{.*}} iter_args
// CHECK-NOT: math.tanh
// CHECK: scf.for {{.*}} iter_args
// CHECK-COUNT-24: vector.fma
// CHECK: scf.yield
// CHECK-NEXT: }
// CHECK-NEXT: vector.load %[[G]]
// CHECK-NEXT: math.tanh %{{.*}} : vector<16xf32>
// CHECK-NEXT: arith.mulf %{{.*}} : vector<16xf32>
// CHECK-NEXT: vector.store
// CHECK: scf.reduce
// CHECK: vector.maskedload %[[G]]
// CHECK: math.tanh
// CHECK: vector.maskedstore
// CHECK-NOT: linalg.generic
func.func @panels_epilogue(%x: memref<?x2048xf32>, %w: memref<2x2048x64xf32>, %out: memref<?x100xf32>, %g: memref<?x100xf32>) {
  linalg.generic {
      indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                       affine_map<(d0, d1, d2) -> (d1 floordiv 64, d2, d1 mod 64)>,
                       affine_map<(d0, d1, d2) -> (d0, d1)>],
      iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x2048xf32>, memref<2x2048x64xf32>) outs(%out : memref<?x100xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %c, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {
      indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>],
      iterator_types = ["parallel", "parallel"]}
      ins(%g : memref<?x100xf32>) outs(%out : memref<?x100xf32>) attrs = {llm.epilogue} {
  ^bb0(%gate: f32, %acc: f32):
    %t = math.tanh %acc : f32
    %m = arith.mulf %t, %gate : f32
    linalg.yield %m : f32
  }
  return
}

// -----

// The dot-product kernel ([out, in], not packed) finishes no register tile
// of outputs: the epilogue stays a loop of its own after it.

// CHECK-LABEL: func.func @dot_epilogue(
// CHECK: vector.reduction
// CHECK: linalg.generic
// CHECK-SAME: llm.epilogue
// CHECK: math.tanh %{{.*}} : f32
func.func @dot_epilogue(%x: memref<?x64xf32>, %w: memref<100x64xf32>, %out: memref<?x100xf32>) {
  linalg.generic {
      indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                       affine_map<(d0, d1, d2) -> (d1, d2)>,
                       affine_map<(d0, d1, d2) -> (d0, d1)>],
      iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x64xf32>, memref<100x64xf32>) outs(%out : memref<?x100xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %c, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {
      indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>],
      iterator_types = ["parallel", "parallel"]}
      outs(%out : memref<?x100xf32>) attrs = {llm.epilogue} {
  ^bb0(%acc: f32):
    %t = math.tanh %acc : f32
    linalg.yield %t : f32
  }
  return
}
