// RUN: llm-opt %s --llm-fuse-attention --cse -split-input-file | FileCheck %s
// RUN: llm-opt %s --llm-fuse-attention="query-tile=32 key-tile=16" --cse -split-input-file | FileCheck %s --check-prefix=TILES
// RUN: llm-opt %s --llm-fuse-attention -split-input-file --convert-llm-to-linalg --canonicalize | FileCheck %s --check-prefix=LOWERED
// RUN: not llm-opt %s --llm-fuse-attention="key-tile=0" -split-input-file 2>&1 | FileCheck %s --check-prefix=BAD
// The tiled online-softmax form of llm.attention. Numerics against PyTorch,
// with several tiles, masks and caches, are in test/e2e/op-numerics.test
// (with and without this pass).

// BAD: llm-fuse-attention: the tile sizes must be positive

// Causal self-attention with grouped queries: a loop over query tiles and,
// inside, over key tiles. Tiles are min(64, length); the key loop stops at
// the tile's last query (causal), and the running max, sum and output are
// carried through it.
// CHECK-LABEL: func.func @causal_gqa
// CHECK-DAG: %[[C64:.*]] = arith.constant 64 : index
// CHECK-DAG: %[[Q:.*]] = tensor.expand_shape %arg0 {{.*}} into tensor<?x?x2x4x16xf32>
// CHECK-DAG: %[[K:.*]] = tensor.expand_shape %arg1 {{.*}} into tensor<?x?x2x16xf32>
// CHECK-DAG: %[[QT:.*]] = arith.minui %{{.*}}, %[[C64]] : index
// CHECK-DAG: %[[KT:.*]] = arith.minui %{{.*}}, %[[C64]] : index
// CHECK: %[[OUT:.*]] = scf.for %{{.*}} iter_args(%[[ACC_OUT:.*]] = %{{.*}}) -> (tensor<?x?x2x4x16xf32>)
// CHECK: %[[ROW:.*]] = arith.minui
// CHECK: %[[QS:.*]] = tensor.extract_slice %[[Q]][0, %[[ROW]], 0, 0, 0] [%{{.*}}, %[[QT]], 2, 4, 16]
// CHECK: %[[SLOT:.*]] = tensor.extract_slice %[[ACC_OUT]][0, %[[ROW]], 0, 0, 0] [%{{.*}}, %[[QT]], 2, 4, 16]
// CHECK: %[[ZERO:.*]] = linalg.fill {{.*}} outs(%[[SLOT]]
// The causal limit of the tile's last query bounds the key tiles visited.
// CHECK: %[[LAST:.*]] = arith.addi %[[ROW]], %[[QT]]
// CHECK: %[[LIMIT:.*]] = arith.addi %[[LAST]]
// CHECK: %[[END:.*]] = arith.minsi
// CHECK: %[[NK:.*]] = arith.ceildivui %[[END]]
// CHECK: %[[STATE:.*]]:3 = scf.for %{{.*}} to %[[NK]] {{.*}} iter_args(%[[MAX:.*]] = %{{.*}}, %[[SUM:.*]] = %{{.*}}, %[[ACC:.*]] = %[[ZERO]]) -> (tensor<?x2x4x?xf32>, tensor<?x2x4x?xf32>, tensor<?x?x2x4x16xf32>)
// CHECK: %[[FLOOR:.*]] = arith.muli
// CHECK: %[[COL:.*]] = arith.minui %[[FLOOR]]
// CHECK: %[[KS:.*]] = tensor.extract_slice %[[K]][0, %[[COL]], 0, 0] [%{{.*}}, %[[KT]], 2, 16]
// One [q tile x key tile] block of scores per head.
// CHECK: %[[S:.*]] = linalg.generic {{.*}} ins(%[[QS]], %[[KS]] : {{.*}}) outs(%{{.*}} : tensor<?x2x4x?x?xf32>)
// Keys an earlier tile counted, and future keys, are masked.
// CHECK: linalg.generic {{.*}} ins(%[[S]] : tensor<?x2x4x?x?xf32>)
// CHECK: arith.cmpi slt, %{{.*}}, %[[FLOOR]]
// CHECK: arith.cmpi sgt
// The tile's row maxima and the factor exp(max - max'); the sum and the
// output are rescaled in place by it before the new maximum is written over
// the old one (so that nothing reads the old maximum after that write).
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]
// CHECK: arith.maximumf
// CHECK: linalg.generic {{.*}} ins(%[[MAX]], %{{.*}} : tensor<?x2x4x?xf32>, tensor<?x2x4x?xf32>)
// CHECK: math.exp
// CHECK: linalg.generic {{.*}} outs(%[[SUM]] : tensor<?x2x4x?xf32>)
// CHECK: linalg.generic {{.*}} outs(%[[ACC]] : tensor<?x?x2x4x16xf32>)
// CHECK: %[[NEWMAX:.*]] = linalg.generic {{.*}} outs(%[[MAX]] : tensor<?x2x4x?xf32>)
// CHECK: math.exp
// Then the tile's probabilities add to the sum and the output.
// CHECK: %[[NEWSUM:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]
// CHECK: %[[NEWACC:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction"]
// CHECK: scf.yield %[[NEWMAX]], %[[NEWSUM]], %[[NEWACC]]
// out = acc / sum, into the output's rows of this tile.
// CHECK: %[[NORM:.*]] = linalg.generic {{.*}} ins(%[[STATE]]#1 : {{.*}}) outs(%[[STATE]]#2 : {{.*}})
// CHECK: arith.divf
// CHECK: %[[INS:.*]] = tensor.insert_slice %[[NORM]] into %[[ACC_OUT]][0, %[[ROW]], 0, 0, 0]
// CHECK: scf.yield %[[INS]]
// CHECK: tensor.collapse_shape %[[OUT]] {{\[\[}}0], [1], [2, 3, 4]] : tensor<?x?x2x4x16xf32> into tensor<?x?x128xf32>
// CHECK-NOT: llm.attention

// TILES-LABEL: func.func @causal_gqa
// TILES-DAG: arith.constant 32 : index
// TILES-DAG: arith.constant 16 : index

// LOWERED-LABEL: func.func @causal_gqa
// LOWERED-COUNT-2: scf.for
// LOWERED-NOT: llm.
func.func @causal_gqa(%q: tensor<?x?x128xf32>, %k: tensor<?x?x32xf32>, %v: tensor<?x?x32xf32>) -> tensor<?x?x128xf32> {
  %0 = llm.attention %q, %k, %v {causal, num_heads = 8 : i64, num_kv_heads = 2 : i64} : (tensor<?x?x128xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>) -> tensor<?x?x128xf32>
  return %0 : tensor<?x?x128xf32>
}

// -----

// Not causal (BERT): every key tile is visited, and the padding mask
// [b, 1, 1, k] is sliced to the tile's keys.
// CHECK-LABEL: func.func @padding_mask
// CHECK: scf.for
// CHECK-NOT: arith.minsi
// CHECK: scf.for
// CHECK: %[[COL:.*]] = arith.minui
// CHECK: tensor.extract_slice %arg3[0, 0, 0, %[[COL]]] [%{{.*}}, 1, 1, %{{.*}}]
// CHECK-NOT: arith.cmpi sgt
// CHECK: scf.yield
func.func @padding_mask(%q: tensor<?x?x64xf32>, %k: tensor<?x?x64xf32>, %v: tensor<?x?x64xf32>, %m: tensor<?x1x1x?xf32>) -> tensor<?x?x64xf32> {
  %0 = llm.attention %q, %k, %v mask %m {num_heads = 4 : i64} : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x1x1x?xf32>) -> tensor<?x?x64xf32>
  return %0 : tensor<?x?x64xf32>
}

// -----

// Decode with a KV cache: the new rows go into the caches first, then one
// query row (a static tile of 1) attends to key tiles of the rows in use.
// CHECK-LABEL: func.func @decode
// CHECK: %[[CACHES:.*]]:3 = scf.for
// CHECK: tensor.insert_slice
// CHECK: %[[KEYS:.*]] = tensor.extract_slice %[[CACHES]]#0[0, 0, 0, 0] [%{{.*}}, 2, %[[CACHES]]#2, 16]
// CHECK: arith.minui %[[CACHES]]#2, %{{.*}} : index
// CHECK: scf.for
// CHECK: scf.for
// CHECK: tensor.extract_slice %[[KEYS]][0, 0, %{{.*}}, 0]
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<?x2x2x1x?xf32>)
// CHECK: return %{{.*}}, %[[CACHES]]#0, %[[CACHES]]#1
func.func @decode(%q: tensor<?x1x64xf32>, %k: tensor<?x1x32xf32>, %v: tensor<?x1x32xf32>,
                  %kc: tensor<?x2x32x16xf32>, %vc: tensor<?x2x32x16xf32>, %p: tensor<?xi64>)
    -> (tensor<?x1x64xf32>, tensor<?x2x32x16xf32>, tensor<?x2x32x16xf32>) {
  %0:3 = llm.attention %q, %k, %v cache(%kc, %vc, %p) {causal, num_heads = 4 : i64, num_kv_heads = 2 : i64} : (tensor<?x1x64xf32>, tensor<?x1x32xf32>, tensor<?x1x32xf32>, tensor<?x2x32x16xf32>, tensor<?x2x32x16xf32>, tensor<?xi64>) -> (tensor<?x1x64xf32>, tensor<?x2x32x16xf32>, tensor<?x2x32x16xf32>)
  return %0#0, %0#1, %0#2 : tensor<?x1x64xf32>, tensor<?x2x32x16xf32>, tensor<?x2x32x16xf32>
}
