// RUN: llm-opt %s --split-input-file --pass-pipeline="builtin.module(func.func(llm-vectorize-elementwise{vector-width=16}))" | FileCheck %s
// RUN: llm-opt %s --split-input-file --pass-pipeline="builtin.module(func.func(llm-vectorize-elementwise{vector-width=16 parallel=false}))" | FileCheck %s --check-prefix=SERIAL

// A static inner dim that is a multiple of the width: an scf.parallel over
// the rows, full vectors only.

// CHECK-LABEL: func.func @static_inner(
// CHECK: scf.parallel (%[[I:.*]]) =
// CHECK: scf.for %[[J:.*]] = %{{.*}} to %c768{{.*}} step %c16
// CHECK: %[[A:.*]] = vector.load %{{.*}}[%[[I]], %[[J]]] : memref<?x768xf32>, vector<16xf32>
// CHECK: %[[B:.*]] = vector.load %{{.*}}[%[[I]], %[[J]]] : memref<?x768xf32>, vector<16xf32>
// CHECK: %[[S:.*]] = arith.addf %[[A]], %[[B]] : vector<16xf32>
// CHECK: vector.store %[[S]], %{{.*}}[%[[I]], %[[J]]] : memref<?x768xf32>, vector<16xf32>
// CHECK-NOT: vector.mask
// CHECK-NOT: linalg.generic
// CHECK: return

// SERIAL-LABEL: func.func @static_inner(
// SERIAL-NOT: scf.parallel
// SERIAL: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c1
// SERIAL: scf.for %{{.*}} = %{{.*}} to %c768{{.*}} step %c16
// SERIAL: arith.addf %{{.*}}, %{{.*}} : vector<16xf32>
func.func @static_inner(%a: memref<?x768xf32>, %b: memref<?x768xf32>, %out: memref<?x768xf32>) {
  linalg.generic {
      indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>,
                       affine_map<(d0, d1) -> (d0, d1)>,
                       affine_map<(d0, d1) -> (d0, d1)>],
      iterator_types = ["parallel", "parallel"]}
      ins(%a, %b : memref<?x768xf32>, memref<?x768xf32>) outs(%out : memref<?x768xf32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %s = arith.addf %x, %y : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// A static inner dim below the width: one masked step, constants splat.

// CHECK-LABEL: func.func @static_odd(
// CHECK: scf.parallel (%[[I:.*]]) =
// CHECK-NOT: scf.for
// CHECK: %[[M:.*]] = vector.create_mask %c7{{.*}} : vector<16xi1>
// CHECK: %[[X:.*]] = vector.maskedload %{{.*}}[%[[I]], %{{.*}}], %[[M]], %{{.*}} : memref<?x7xf32>, vector<16xi1>, vector<16xf32> into vector<16xf32>
// CHECK: %[[C:.*]] = arith.constant dense<2.000000e+00> : vector<16xf32>
// CHECK: %[[Y:.*]] = arith.mulf %[[X]], %[[C]] : vector<16xf32>
// CHECK: vector.maskedstore %{{.*}}[%[[I]], %{{.*}}], %[[M]], %[[Y]]
func.func @static_odd(%a: memref<?x7xf32>, %out: memref<?x7xf32>) {
  %c = arith.constant 2.0 : f32
  linalg.generic {
      indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>,
                       affine_map<(d0, d1) -> (d0, d1)>],
      iterator_types = ["parallel", "parallel"]}
      ins(%a : memref<?x7xf32>) outs(%out : memref<?x7xf32>) {
  ^bb0(%x: f32, %o: f32):
    %s = arith.mulf %x, %c : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// A dynamic inner dim, the output also read: nothing for an empty row, full
// vectors up to n - n % 16, then a masked step when anything is left.

// CHECK-LABEL: func.func @dynamic_inner(
// CHECK: %[[N:.*]] = memref.dim %{{.*}}, %c1
// CHECK: scf.parallel (%[[I:.*]]) =
// CHECK: %[[NONEMPTY:.*]] = arith.cmpi ult, %{{.*}}, %[[N]]
// CHECK: scf.if %[[NONEMPTY]] {
// CHECK: %[[Q:.*]] = arith.divui %[[N]], %c16
// CHECK: %[[MAIN:.*]] = arith.muli %[[Q]], %c16
// CHECK: scf.for %[[J:.*]] = %{{.*}} to %[[MAIN]] step %c16
// CHECK: %[[X:.*]] = vector.load %{{.*}}[%[[I]], %[[J]]]
// CHECK: %[[O:.*]] = vector.load %{{.*}}[%[[I]], %[[J]]]
// CHECK: math.fma %[[X]], %[[X]], %[[O]] : vector<16xf32>
// CHECK: vector.store
// CHECK: %[[REST:.*]] = arith.cmpi ult, %[[MAIN]], %[[N]]
// CHECK: scf.if %[[REST]] {
// CHECK: %[[COUNT:.*]] = arith.subi %[[N]], %[[MAIN]]
// CHECK: %[[M:.*]] = vector.create_mask %[[COUNT]] : vector<16xi1>
// CHECK: vector.maskedload %{{.*}}[%[[I]], %[[MAIN]]], %[[M]]
// CHECK: vector.maskedload %{{.*}}[%[[I]], %[[MAIN]]], %[[M]]
// CHECK: math.fma
// CHECK: vector.maskedstore %{{.*}}[%[[I]], %[[MAIN]]], %[[M]]
func.func @dynamic_inner(%a: memref<?x?xf32>, %out: memref<?x?xf32>) {
  linalg.generic {
      indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>,
                       affine_map<(d0, d1) -> (d0, d1)>],
      iterator_types = ["parallel", "parallel"]}
      ins(%a : memref<?x?xf32>) outs(%out : memref<?x?xf32>) {
  ^bb0(%x: f32, %o: f32):
    %s = math.fma %x, %x, %o : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Broadcast operands: the row's mean is loaded once per row and broadcast,
// the per-column gamma read as a vector.

// CHECK-LABEL: func.func @broadcast(
// CHECK: scf.parallel (%[[B:.*]], %[[S:.*]]) =
// CHECK: %[[M:.*]] = memref.load %{{.*}}[%[[B]], %[[S]]] : memref<?x?xf32>
// CHECK: scf.for %[[J:.*]] = %{{.*}} to %c64{{.*}} step %c16
// CHECK: %[[X:.*]] = vector.load %{{.*}}[%[[B]], %[[S]], %[[J]]] : memref<?x?x64xf32>, vector<16xf32>
// CHECK: %[[G:.*]] = vector.load %{{.*}}[%[[J]]] : memref<64xf32>, vector<16xf32>
// CHECK: %[[MV:.*]] = vector.broadcast %[[M]] : f32 to vector<16xf32>
// CHECK: %[[D:.*]] = arith.subf %[[X]], %[[MV]] : vector<16xf32>
// CHECK: arith.mulf %[[D]], %[[G]] : vector<16xf32>
func.func @broadcast(%x: memref<?x?x64xf32>, %mean: memref<?x?xf32>, %gamma: memref<64xf32>, %out: memref<?x?x64xf32>) {
  linalg.generic {
      indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>,
                       affine_map<(d0, d1, d2) -> (d0, d1)>,
                       affine_map<(d0, d1, d2) -> (d2)>,
                       affine_map<(d0, d1, d2) -> (d0, d1, d2)>],
      iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%x, %mean, %gamma : memref<?x?x64xf32>, memref<?x?xf32>, memref<64xf32>) outs(%out : memref<?x?x64xf32>) {
  ^bb0(%a: f32, %m: f32, %g: f32, %o: f32):
    %d = arith.subf %a, %m : f32
    %s = arith.mulf %d, %g : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Causal masking: the innermost index becomes the step's index plus
// [0, ..., 15], an outer index the scalar iv, broadcast for the compare.

// CHECK-LABEL: func.func @causal_mask(
// CHECK: scf.parallel (%{{.*}}, %{{.*}}, %[[Q:.*]]) =
// CHECK: scf.for %[[J:.*]] =
// CHECK: %[[X:.*]] = vector.load
// CHECK: %[[LANES:.*]] = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]> : vector<16xindex>
// CHECK: %[[JV:.*]] = vector.broadcast %[[J]] : index to vector<16xindex>
// CHECK: %[[K:.*]] = arith.addi %[[JV]], %[[LANES]] : vector<16xindex>
// CHECK: %[[QV:.*]] = vector.broadcast %[[Q]] : index to vector<16xindex>
// CHECK: %[[C:.*]] = arith.cmpi sgt, %[[K]], %[[QV]] : vector<16xindex>
// CHECK: %[[NINF:.*]] = arith.constant dense<0xFF800000> : vector<16xf32>
// CHECK: %[[R:.*]] = arith.select %[[C]], %[[NINF]], %[[X]] : vector<16xi1>, vector<16xf32>
// CHECK: vector.store %[[R]]
// CHECK: scf.if
// CHECK: vector.maskedstore
func.func @causal_mask(%s: memref<?x4x?x?xf32>, %out: memref<?x4x?x?xf32>) {
  %ninf = arith.constant 0xFF800000 : f32
  linalg.generic {
      indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>,
                       affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>],
      iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%s : memref<?x4x?x?xf32>) outs(%out : memref<?x4x?x?xf32>) {
  ^bb0(%x: f32, %o: f32):
    %i = linalg.index 2 : index
    %j = linalg.index 3 : index
    %c = arith.cmpi sgt, %j, %i : index
    %r = arith.select %c, %ninf, %x : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// A gather by index (the embedding): the row index is uniform, the columns
// a contiguous vector of the table.

// CHECK-LABEL: func.func @embedding(
// CHECK: %[[ID:.*]] = memref.load %{{.*}} : memref<?x?xi64>
// CHECK: %[[ROW:.*]] = arith.index_cast %[[ID]] : i64 to index
// CHECK: scf.for %[[J:.*]] =
// CHECK: vector.load %{{.*}}[%[[ROW]], %[[J]]] : memref<100x64xf32>, vector<16xf32>
// CHECK-NOT: linalg.generic
func.func @embedding(%ids: memref<?x?xi64>, %table: memref<100x64xf32>, %out: memref<?x?x64xf32>) {
  linalg.generic {
      indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1)>,
                       affine_map<(d0, d1, d2) -> (d0, d1, d2)>],
      iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%ids : memref<?x?xi64>) outs(%out : memref<?x?x64xf32>) {
  ^bb0(%id: i64, %o: f32):
    %row = arith.index_cast %id : i64 to index
    %col = linalg.index 2 : index
    %v = memref.load %table[%row, %col] : memref<100x64xf32>
    linalg.yield %v : f32
  }
  return
}

// -----

// A row sum: a vector accumulator from -0.0 along the row, one horizontal
// reduction folded into the output.

// CHECK-LABEL: func.func @row_sum(
// CHECK: scf.parallel (%[[B:.*]], %[[S:.*]]) =
// CHECK: %[[ZERO:.*]] = arith.constant dense<-0.000000e+00> : vector<16xf32>
// CHECK: %[[ACC:.*]] = scf.for %[[J:.*]] = %{{.*}} to %c768{{.*}} step %c16{{.*}} iter_args(%[[A:.*]] = %[[ZERO]]) -> (vector<16xf32>) {
// CHECK: %[[X:.*]] = vector.load %{{.*}}[%[[B]], %[[S]], %[[J]]]
// CHECK: %[[NEXT:.*]] = arith.addf %[[A]], %[[X]] : vector<16xf32>
// CHECK: scf.yield %[[NEXT]]
// CHECK: %[[SUM:.*]] = vector.reduction <add>, %[[ACC]] fastmath<reassoc> : vector<16xf32> into f32
// CHECK: %[[OLD:.*]] = memref.load %{{.*}}[%[[B]], %[[S]]]
// CHECK: %[[NEW:.*]] = arith.addf %[[OLD]], %[[SUM]] : f32
// CHECK: memref.store %[[NEW]], %{{.*}}[%[[B]], %[[S]]]
func.func @row_sum(%x: memref<?x?x768xf32>, %out: memref<?x?xf32>) {
  linalg.generic {
      indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>,
                       affine_map<(d0, d1, d2) -> (d0, d1)>],
      iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x : memref<?x?x768xf32>) outs(%out : memref<?x?xf32>) {
  ^bb0(%a: f32, %o: f32):
    %s = arith.addf %o, %a : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// A row max over a dynamic row: from -inf, the masked lanes of the last
// step replaced by -inf before they are folded in.

// CHECK-LABEL: func.func @row_max(
// CHECK: %[[NINF:.*]] = arith.constant dense<0xFF800000> : vector<16xf32>
// CHECK: %[[ACC:.*]] = scf.for {{.*}} iter_args(%[[A:.*]] = %[[NINF]]) -> (vector<16xf32>) {
// CHECK: arith.maximumf %{{.*}}, %[[A]] : vector<16xf32>
// CHECK: %[[TAIL:.*]] = scf.if %{{.*}} -> (vector<16xf32>) {
// CHECK: %[[M:.*]] = vector.create_mask
// CHECK: %[[X:.*]] = vector.maskedload %{{.*}}, %[[M]]
// CHECK: %[[XM:.*]] = arith.select %[[M]], %[[X]], %[[NINF]]
// CHECK: %[[T:.*]] = arith.maximumf %[[XM]], %[[ACC]] : vector<16xf32>
// CHECK: scf.yield %[[T]]
// CHECK: } else {
// CHECK: scf.yield %[[ACC]]
// CHECK: %[[MAX:.*]] = vector.reduction <maximumf>, %[[TAIL]] : vector<16xf32> into f32
// CHECK: %[[OLD:.*]] = memref.load
// CHECK: arith.maximumf %[[MAX]], %[[OLD]] : f32
// CHECK: memref.store
func.func @row_max(%x: memref<?x?xf32>, %out: memref<?xf32>) {
  linalg.generic {
      indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>,
                       affine_map<(d0, d1) -> (d0)>],
      iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x?xf32>) outs(%out : memref<?xf32>) {
  ^bb0(%a: f32, %o: f32):
    %s = arith.maximumf %a, %o : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// The variance's sum of (x - mean)^2 over a static row of 100 = 6 x 16 + 4:
// the elementwise ops run on vectors before the fold, the last 4 masked.

// CHECK-LABEL: func.func @variance(
// CHECK: %[[MEAN:.*]] = memref.load
// CHECK: %[[ZERO:.*]] = arith.constant dense<-0.000000e+00> : vector<16xf32>
// CHECK: %[[ACC:.*]] = scf.for %{{.*}} = %{{.*}} to %c96 step %c16{{.*}} iter_args(%[[A:.*]] = %[[ZERO]])
// CHECK: %[[X:.*]] = vector.load
// CHECK: %[[MV:.*]] = vector.broadcast %[[MEAN]]
// CHECK: %[[D:.*]] = arith.subf %[[X]], %[[MV]] : vector<16xf32>
// CHECK: %[[SQ:.*]] = arith.mulf %[[D]], %[[D]] : vector<16xf32>
// CHECK: arith.addf %[[A]], %[[SQ]] : vector<16xf32>
// CHECK: %[[M:.*]] = vector.create_mask %c4 : vector<16xi1>
// CHECK: vector.maskedload %{{.*}}[%{{.*}}, %{{.*}}, %c96], %[[M]]
// CHECK: %[[SQ2:.*]] = arith.mulf
// CHECK: %[[SQM:.*]] = arith.select %[[M]], %[[SQ2]], %[[ZERO]]
// CHECK: %[[LAST:.*]] = arith.addf %[[ACC]], %[[SQM]] : vector<16xf32>
// CHECK: vector.reduction <add>, %[[LAST]] fastmath<reassoc>
func.func @variance(%x: memref<?x?x100xf32>, %mean: memref<?x?xf32>, %out: memref<?x?xf32>) {
  linalg.generic {
      indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>,
                       affine_map<(d0, d1, d2) -> (d0, d1)>,
                       affine_map<(d0, d1, d2) -> (d0, d1)>],
      iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %mean : memref<?x?x100xf32>, memref<?x?xf32>) outs(%out : memref<?x?xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %d = arith.subf %a, %m : f32
    %q = arith.mulf %d, %d : f32
    %s = arith.addf %o, %q : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// linalg.fill of a buffer: splat stores.

// CHECK-LABEL: func.func @fill(
// CHECK: scf.parallel
// CHECK: vector.store %{{.*}} : memref<?x?xf32>, vector<16xf32>
// CHECK: vector.maskedstore
// CHECK-NOT: linalg.fill
func.func @fill(%out: memref<?x?xf32>) {
  %ninf = arith.constant 0xFF800000 : f32
  linalg.fill ins(%ninf : f32) outs(%out : memref<?x?xf32>)
  return
}

// -----

// Left alone: a transpose (the input's vectors would be strided).

// CHECK-LABEL: func.func @transpose(
// CHECK-NOT: vector.
// CHECK: linalg.generic
func.func @transpose(%a: memref<?x64xf32>, %out: memref<64x?xf32>) {
  linalg.generic {
      indexing_maps = [affine_map<(d0, d1) -> (d1, d0)>,
                       affine_map<(d0, d1) -> (d0, d1)>],
      iterator_types = ["parallel", "parallel"]}
      ins(%a : memref<?x64xf32>) outs(%out : memref<64x?xf32>) {
  ^bb0(%x: f32, %o: f32):
    linalg.yield %x : f32
  }
  return
}

// -----

// Left alone: an input with a dynamic inner stride.

// CHECK-LABEL: func.func @strided(
// CHECK-NOT: vector.
// CHECK: linalg.generic
func.func @strided(%a: memref<?x?xf32, strided<[?, ?]>>, %out: memref<?x?xf32>) {
  linalg.generic {
      indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>,
                       affine_map<(d0, d1) -> (d0, d1)>],
      iterator_types = ["parallel", "parallel"]}
      ins(%a : memref<?x?xf32, strided<[?, ?]>>) outs(%out : memref<?x?xf32>) {
  ^bb0(%x: f32, %o: f32):
    linalg.yield %x : f32
  }
  return
}

// -----

// Left alone: a reduction that is not the innermost loop.

// CHECK-LABEL: func.func @reduction_not_innermost(
// CHECK-NOT: vector.
// CHECK: linalg.generic
func.func @reduction_not_innermost(%x: memref<?x?xf32>, %out: memref<?xf32>) {
  linalg.generic {
      indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>,
                       affine_map<(d0, d1) -> (d1)>],
      iterator_types = ["reduction", "parallel"]}
      ins(%x : memref<?x?xf32>) outs(%out : memref<?xf32>) {
  ^bb0(%a: f32, %o: f32):
    %s = arith.addf %o, %a : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Left alone: an integer division by a varying divisor (which the
// masked-off lanes of the last step could make zero).

// CHECK-LABEL: func.func @int_divide(
// CHECK-NOT: vector.
// CHECK: linalg.generic
func.func @int_divide(%a: memref<?x?xi32>, %b: memref<?x?xi32>, %out: memref<?x?xi32>) {
  linalg.generic {
      indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>,
                       affine_map<(d0, d1) -> (d0, d1)>,
                       affine_map<(d0, d1) -> (d0, d1)>],
      iterator_types = ["parallel", "parallel"]}
      ins(%a, %b : memref<?x?xi32>, memref<?x?xi32>) outs(%out : memref<?x?xi32>) {
  ^bb0(%x: i32, %y: i32, %o: i32):
    %q = arith.divsi %x, %y : i32
    linalg.yield %q : i32
  }
  return
}

// -----

// Left alone: the row's output also read by the body besides the fold.

// CHECK-LABEL: func.func @output_read_twice(
// CHECK-NOT: vector.
// CHECK: linalg.generic
func.func @output_read_twice(%x: memref<?x?xf32>, %out: memref<?xf32>) {
  linalg.generic {
      indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>,
                       affine_map<(d0, d1) -> (d0)>],
      iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x?xf32>) outs(%out : memref<?xf32>) {
  ^bb0(%a: f32, %o: f32):
    %d = arith.subf %a, %o : f32
    %s = arith.addf %o, %d : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Left alone: an input that is a shifted view of the output.

// CHECK-LABEL: func.func @aliasing(
// CHECK-NOT: vector.
// CHECK: linalg.generic
func.func @aliasing(%buf: memref<8x?xf32>) {
  %in = memref.subview %buf[1, 0] [7, 16] [1, 1] : memref<8x?xf32> to memref<7x16xf32, strided<[?, 1], offset: ?>>
  %out = memref.subview %buf[0, 0] [7, 16] [1, 1] : memref<8x?xf32> to memref<7x16xf32, strided<[?, 1]>>
  linalg.generic {
      indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>,
                       affine_map<(d0, d1) -> (d0, d1)>],
      iterator_types = ["parallel", "parallel"]}
      ins(%in : memref<7x16xf32, strided<[?, 1], offset: ?>>) outs(%out : memref<7x16xf32, strided<[?, 1]>>) {
  ^bb0(%x: f32, %o: f32):
    linalg.yield %x : f32
  }
  return
}
