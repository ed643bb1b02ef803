// RUN: llm-opt --llm-drop-in-place-results --split-input-file --verify-diagnostics %s | FileCheck %s

// A cache updated in place (returned as the argument itself, through a cast
// or a loop that carries it unchanged) stops being a result.

// CHECK-LABEL: func.func @step(
// CHECK-SAME: -> memref<2xf32> {
// CHECK: return %{{.*}} : memref<2xf32>
func.func @step(%logits: memref<2xf32>, %cache: memref<4x8xf32> {llm.input = "cache.key.0"},
                %n: index)
    -> (memref<2xf32>, memref<4x8xf32> {llm.in_place = "cache.key.0"}) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %f = arith.constant 1.0 : f32
  %r = scf.for %i = %c0 to %n step %c1 iter_args(%c = %cache) -> (memref<4x8xf32>) {
    memref.store %f, %c[%i, %i] : memref<4x8xf32>
    scf.yield %c : memref<4x8xf32>
  }
  return %logits, %r : memref<2xf32>, memref<4x8xf32>
}

// -----

// A result in its own buffer would be a copy per call: an error.

// expected-error @+1 {{result #1 of 'copied' must update input "cache.key.0" in place, but bufferization gave it its own buffer}}
func.func @copied(%logits: memref<2xf32>, %cache: memref<4x8xf32> {llm.input = "cache.key.0"})
    -> (memref<2xf32>, memref<4x8xf32> {llm.in_place = "cache.key.0"}) {
  %copy = memref.alloc() : memref<4x8xf32>
  memref.copy %cache, %copy : memref<4x8xf32> to memref<4x8xf32>
  return %logits, %copy : memref<2xf32>, memref<4x8xf32>
}
