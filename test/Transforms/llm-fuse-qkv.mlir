// RUN: llm-opt %s --split-input-file --llm-fuse-qkv | FileCheck %s
// RUN: llm-opt %s --split-input-file --llm-fuse-qkv=gate-up=false | FileCheck %s --check-prefix=NOGATEUP

// LLaMA's Q, K and V (grouped-query: K and V narrower), no biases: one
// projection over a parameter the runtime concatenates from the three
// checkpoint tensors, and a slice of it per old result. The old arguments
// are gone.

// CHECK-LABEL: func.func @llama(
// CHECK-SAME: %[[X:[^:]*]]: tensor<?x?x32xf32>,
// CHECK-SAME: %[[W:[^:]*]]: tensor<64x32xf32> {llm.concat = {axis = 0 : i64, parts = ["l.q.weight", "l.k.weight", "l.v.weight"], sizes = array<i64: 32, 16, 16>}, llm.param = "l.q.weight+l.k.weight+l.v.weight"},
// CHECK-SAME: %{{[^:]*}}: tensor<32x32xf32> {llm.param = "l.o.weight"})
// CHECK: %[[QKV:.*]] = llm.linear %[[X]], %[[W]] : (tensor<?x?x32xf32>, tensor<64x32xf32>) -> tensor<?x?x64xf32>
// CHECK: %[[Q:.*]] = tensor.extract_slice %[[QKV]][0, 0, 0] [%{{.*}}, %{{.*}}, 32] [1, 1, 1]
// CHECK: %[[K:.*]] = tensor.extract_slice %[[QKV]][0, 0, 32] [%{{.*}}, %{{.*}}, 16] [1, 1, 1]
// CHECK: %[[V:.*]] = tensor.extract_slice %[[QKV]][0, 0, 48] [%{{.*}}, %{{.*}}, 16] [1, 1, 1]
// CHECK: llm.attention %[[Q]], %[[K]], %[[V]]
// CHECK-COUNT-1: llm.linear
func.func @llama(%x: tensor<?x?x32xf32>,
                 %wq: tensor<32x32xf32> {llm.param = "l.q.weight"},
                 %wk: tensor<16x32xf32> {llm.param = "l.k.weight"},
                 %wv: tensor<16x32xf32> {llm.param = "l.v.weight"},
                 %wo: tensor<32x32xf32> {llm.param = "l.o.weight"}) -> tensor<?x?x32xf32> {
  %q = llm.linear %x, %wq : (tensor<?x?x32xf32>, tensor<32x32xf32>) -> tensor<?x?x32xf32>
  %k = llm.linear %x, %wk : (tensor<?x?x32xf32>, tensor<16x32xf32>) -> tensor<?x?x16xf32>
  %v = llm.linear %x, %wv : (tensor<?x?x32xf32>, tensor<16x32xf32>) -> tensor<?x?x16xf32>
  %a = llm.attention %q, %k, %v {causal, num_heads = 4 : i64, num_kv_heads = 2 : i64} : (tensor<?x?x32xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>) -> tensor<?x?x32xf32>
  %o = llm.linear %a, %wo : (tensor<?x?x32xf32>, tensor<32x32xf32>) -> tensor<?x?x32xf32>
  return %o : tensor<?x?x32xf32>
}

// -----

// BERT's, with biases: the biases are concatenated too. A weight stored
// [in, out] concatenates along its columns (axis 1).

// CHECK-LABEL: func.func @bert(
// CHECK-SAME: %[[W:[^:]*]]: tensor<96x32xf32> {llm.concat = {axis = 0 : i64, parts = ["q.weight", "k.weight", "v.weight"], sizes = array<i64: 32, 32, 32>}, llm.param = "q.weight+k.weight+v.weight"},
// CHECK-SAME: %[[B:[^:]*]]: tensor<96xf32> {llm.concat = {axis = 0 : i64, parts = ["q.bias", "k.bias", "v.bias"], sizes = array<i64: 32, 32, 32>}, llm.param = "q.bias+k.bias+v.bias"})
// CHECK: llm.linear %{{.*}}, %[[W]] bias %[[B]]
// CHECK-COUNT-3: tensor.extract_slice
func.func @bert(%x: tensor<?x?x32xf32>,
                %wq: tensor<32x32xf32> {llm.param = "q.weight"}, %bq: tensor<32xf32> {llm.param = "q.bias"},
                %wk: tensor<32x32xf32> {llm.param = "k.weight"}, %bk: tensor<32xf32> {llm.param = "k.bias"},
                %wv: tensor<32x32xf32> {llm.param = "v.weight"}, %bv: tensor<32xf32> {llm.param = "v.bias"})
    -> (tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>) {
  %q = llm.linear %x, %wq bias %bq : (tensor<?x?x32xf32>, tensor<32x32xf32>, tensor<32xf32>) -> tensor<?x?x32xf32>
  %k = llm.linear %x, %wk bias %bk : (tensor<?x?x32xf32>, tensor<32x32xf32>, tensor<32xf32>) -> tensor<?x?x32xf32>
  %v = llm.linear %x, %wv bias %bv : (tensor<?x?x32xf32>, tensor<32x32xf32>, tensor<32xf32>) -> tensor<?x?x32xf32>
  return %q, %k, %v : tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>
}

// CHECK-LABEL: func.func @in_out(
// CHECK-SAME: tensor<32x80xf32> {llm.concat = {axis = 1 : i64, parts = ["a", "b"], sizes = array<i64: 48, 32>}, llm.param = "a+b"}
// CHECK: llm.linear {{.*}} layout in_out : (tensor<?x32xf32>, tensor<32x80xf32>) -> tensor<?x80xf32>
func.func @in_out(%x: tensor<?x32xf32>, %a: tensor<32x48xf32> {llm.param = "a"}, %b: tensor<32x32xf32> {llm.param = "b"}) -> (tensor<?x48xf32>, tensor<?x32xf32>) {
  %ya = llm.linear %x, %a layout in_out : (tensor<?x32xf32>, tensor<32x48xf32>) -> tensor<?x48xf32>
  %yb = llm.linear %x, %b layout in_out : (tensor<?x32xf32>, tensor<32x32xf32>) -> tensor<?x32xf32>
  return %ya, %yb : tensor<?x48xf32>, tensor<?x32xf32>
}

// -----

// Not fused: different inputs; one with a bias and one without; a weight
// that is not a parameter; a weight also read elsewhere keeps its argument.

// CHECK-LABEL: func.func @mixed(
// CHECK-NOT: llm.concat
// CHECK-COUNT-6: llm.linear
func.func @mixed(%x: tensor<?x32xf32>, %y: tensor<?x32xf32>,
                 %a: tensor<32x32xf32> {llm.param = "a"}, %b: tensor<32x32xf32> {llm.param = "b"},
                 %c: tensor<32x32xf32> {llm.param = "c"}, %bc: tensor<32xf32> {llm.param = "bc"},
                 %d: tensor<32x32xf32>)
    -> (tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>) {
  %1 = llm.linear %x, %a : (tensor<?x32xf32>, tensor<32x32xf32>) -> tensor<?x32xf32>
  %2 = llm.linear %y, %b : (tensor<?x32xf32>, tensor<32x32xf32>) -> tensor<?x32xf32>
  %3 = llm.linear %y, %c bias %bc : (tensor<?x32xf32>, tensor<32x32xf32>, tensor<32xf32>) -> tensor<?x32xf32>
  %4 = llm.linear %y, %d : (tensor<?x32xf32>, tensor<32x32xf32>) -> tensor<?x32xf32>
  %5 = llm.linear %x, %d : (tensor<?x32xf32>, tensor<32x32xf32>) -> tensor<?x32xf32>
  %6 = llm.linear %x, %a : (tensor<?x32xf32>, tensor<32x32xf32>) -> tensor<?x32xf32>
  return %1, %2, %3, %4, %5, %6 : tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>
}

// CHECK-LABEL: func.func @shared(
// CHECK-SAME: %{{[^:]*}}: tensor<64x32xf32> {llm.concat
// CHECK-SAME: %[[A:[^:]*]]: tensor<32x32xf32> {llm.param = "a"}
// CHECK: llm.embedding %[[A]]
func.func @shared(%x: tensor<?x32xf32>, %ids: tensor<?xi64>, %a: tensor<32x32xf32> {llm.param = "a"}, %b: tensor<32x32xf32> {llm.param = "b"}) -> (tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>) {
  %1 = llm.linear %x, %a : (tensor<?x32xf32>, tensor<32x32xf32>) -> tensor<?x32xf32>
  %2 = llm.linear %x, %b : (tensor<?x32xf32>, tensor<32x32xf32>) -> tensor<?x32xf32>
  %3 = llm.embedding %a[%ids] : (tensor<32x32xf32>, tensor<?xi64>) -> tensor<?x32xf32>
  return %1, %2, %3 : tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>
}

// -----

// LLaMA's SwiGLU MLP: the gate and up projections become one over [gate;
// up], llm.glu of the output's halves, and the down projection alone.

// CHECK-LABEL: func.func @swiglu(
// CHECK-SAME: %[[X:[^:]*]]: tensor<?x?x32xf32>,
// CHECK-SAME: %[[W:[^:]*]]: tensor<128x32xf32> {llm.concat = {axis = 0 : i64, parts = ["mlp.gate_proj.weight", "mlp.up_proj.weight"], sizes = array<i64: 64, 64>}, llm.param = "mlp.gate_proj.weight+mlp.up_proj.weight"},
// CHECK-SAME: %[[D:[^:]*]]: tensor<32x64xf32> {llm.param = "mlp.down_proj.weight"})
// CHECK: %[[GU:.*]] = llm.linear %[[X]], %[[W]] : (tensor<?x?x32xf32>, tensor<128x32xf32>) -> tensor<?x?x128xf32>
// CHECK: %[[G:.*]] = tensor.extract_slice %[[GU]][0, 0, 0] [%{{.*}}, %{{.*}}, 64] [1, 1, 1]
// CHECK: %[[U:.*]] = tensor.extract_slice %[[GU]][0, 0, 64] [%{{.*}}, %{{.*}}, 64] [1, 1, 1]
// CHECK: %[[H:.*]] = llm.glu swiglu %[[G]], %[[U]] : tensor<?x?x64xf32>
// CHECK: %[[Y:.*]] = llm.linear %[[H]], %[[D]] : (tensor<?x?x64xf32>, tensor<32x64xf32>) -> tensor<?x?x32xf32>
// CHECK: return %[[Y]]
// NOGATEUP-LABEL: func.func @swiglu(
// NOGATEUP-NOT: llm.concat
// NOGATEUP: llm.ffn swiglu
func.func @swiglu(%x: tensor<?x?x32xf32>,
                  %wg: tensor<64x32xf32> {llm.param = "mlp.gate_proj.weight"},
                  %wu: tensor<64x32xf32> {llm.param = "mlp.up_proj.weight"},
                  %wd: tensor<32x64xf32> {llm.param = "mlp.down_proj.weight"}) -> tensor<?x?x32xf32> {
  %y = llm.ffn swiglu %x up %wu gate %wg down %wd : (tensor<?x?x32xf32>, tensor<64x32xf32>, tensor<64x32xf32>, tensor<32x64xf32>) -> tensor<?x?x32xf32>
  return %y : tensor<?x?x32xf32>
}

// GeGLU with biases stored [in, out]: the weights join along their columns,
// the biases too, and the down projection keeps its bias and layout.

// CHECK-LABEL: func.func @geglu_in_out(
// CHECK-SAME: tensor<16x48xf32> {llm.concat = {axis = 1 : i64, parts = ["g", "u"], sizes = array<i64: 24, 24>}, llm.param = "g+u"}
// CHECK-SAME: tensor<48xf32> {llm.concat = {axis = 0 : i64, parts = ["gb", "ub"], sizes = array<i64: 24, 24>}, llm.param = "gb+ub"}
// CHECK: llm.linear {{.*}} bias {{.*}} layout in_out : (tensor<5x16xf32>, tensor<16x48xf32>, tensor<48xf32>) -> tensor<5x48xf32>
// CHECK: llm.glu geglu {{.*}} : tensor<5x24xf32>
// CHECK: llm.linear {{.*}} bias {{.*}} layout in_out : (tensor<5x24xf32>, tensor<24x16xf32>, tensor<16xf32>) -> tensor<5x16xf32>
func.func @geglu_in_out(%x: tensor<5x16xf32>,
                        %wg: tensor<16x24xf32> {llm.param = "g"}, %bg: tensor<24xf32> {llm.param = "gb"},
                        %wu: tensor<16x24xf32> {llm.param = "u"}, %bu: tensor<24xf32> {llm.param = "ub"},
                        %wd: tensor<24x16xf32> {llm.param = "d"}, %bd: tensor<16xf32> {llm.param = "db"}) -> tensor<5x16xf32> {
  %y = llm.ffn geglu %x up %wu bias %bu gate %wg bias %bg down %wd bias %bd layout in_out : (tensor<5x16xf32>, tensor<16x24xf32>, tensor<24xf32>, tensor<16x24xf32>, tensor<24xf32>, tensor<24x16xf32>, tensor<16xf32>) -> tensor<5x16xf32>
  return %y : tensor<5x16xf32>
}

// Not fused: a plain (ungated) FFN; a gate bias without an up bias; one
// tensor as both gate and up; a gate weight that is not a parameter.

// CHECK-LABEL: func.func @ffn_not_fused(
// CHECK-NOT: llm.concat
// CHECK-NOT: llm.glu
// CHECK-COUNT-4: llm.ffn
func.func @ffn_not_fused(%x: tensor<5x16xf32>,
                         %wu: tensor<24x16xf32> {llm.param = "u"}, %wg: tensor<24x16xf32> {llm.param = "g"},
                         %bg: tensor<24xf32> {llm.param = "gb"}, %wd: tensor<16x24xf32> {llm.param = "d"},
                         %other: tensor<24x16xf32>)
    -> (tensor<5x16xf32>, tensor<5x16xf32>, tensor<5x16xf32>, tensor<5x16xf32>) {
  %0 = llm.ffn gelu %x up %wu down %wd : (tensor<5x16xf32>, tensor<24x16xf32>, tensor<16x24xf32>) -> tensor<5x16xf32>
  %1 = llm.ffn swiglu %x up %wu gate %wg bias %bg down %wd : (tensor<5x16xf32>, tensor<24x16xf32>, tensor<24x16xf32>, tensor<24xf32>, tensor<16x24xf32>) -> tensor<5x16xf32>
  %2 = llm.ffn swiglu %x up %wu gate %wu down %wd : (tensor<5x16xf32>, tensor<24x16xf32>, tensor<24x16xf32>, tensor<16x24xf32>) -> tensor<5x16xf32>
  %3 = llm.ffn swiglu %x up %wu gate %other down %wd : (tensor<5x16xf32>, tensor<24x16xf32>, tensor<24x16xf32>, tensor<16x24xf32>) -> tensor<5x16xf32>
  return %0, %1, %2, %3 : tensor<5x16xf32>, tensor<5x16xf32>, tensor<5x16xf32>, tensor<5x16xf32>
}

// -----

// Not fused: a training step (the runtime owns its parameters as they are)
// and a private function (its signature is not the manifest's).

// CHECK-LABEL: func.func @train_step(
// CHECK-NOT: llm.concat
// CHECK-LABEL: func.func private @helper(
// CHECK-NOT: llm.concat
func.func @train_step(%x: tensor<?x32xf32>, %a: tensor<32x32xf32> {llm.param = "a"}, %b: tensor<32x32xf32> {llm.param = "b"}) -> (tensor<?x32xf32>, tensor<?x32xf32>) attributes {llm.unpacked_params} {
  %1 = llm.linear %x, %a : (tensor<?x32xf32>, tensor<32x32xf32>) -> tensor<?x32xf32>
  %2 = llm.linear %x, %b : (tensor<?x32xf32>, tensor<32x32xf32>) -> tensor<?x32xf32>
  return %1, %2 : tensor<?x32xf32>, tensor<?x32xf32>
}
func.func private @helper(%x: tensor<?x32xf32>, %a: tensor<32x32xf32> {llm.param = "a"}, %b: tensor<32x32xf32> {llm.param = "b"}) -> (tensor<?x32xf32>, tensor<?x32xf32>) {
  %1 = llm.linear %x, %a : (tensor<?x32xf32>, tensor<32x32xf32>) -> tensor<?x32xf32>
  %2 = llm.linear %x, %b : (tensor<?x32xf32>, tensor<32x32xf32>) -> tensor<?x32xf32>
  return %1, %2 : tensor<?x32xf32>, tensor<?x32xf32>
}
