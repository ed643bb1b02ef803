// RUN: llm-opt %s | FileCheck %s
// Round trips: the printed form parses back to the same text, and so does
// the generic form.
// RUN: llm-opt %s | llm-opt | FileCheck %s
// RUN: llm-opt %s --mlir-print-op-generic | llm-opt | FileCheck %s
// RUN: llm-opt %s -o %t.1
// RUN: llm-opt %t.1 -o %t.2
// RUN: diff %t.1 %t.2

// CHECK-LABEL: func.func @embedding
func.func @embedding(%table: tensor<97x32xf32>, %ids: tensor<?x?xi64>,
                     %ids32: tensor<5xi32>)
    -> (tensor<?x?x32xf32>, tensor<5x32xf32>) {
  // CHECK: llm.embedding %{{.*}}[%{{.*}}] : (tensor<97x32xf32>, tensor<?x?xi64>) -> tensor<?x?x32xf32>
  %0 = llm.embedding %table[%ids] : (tensor<97x32xf32>, tensor<?x?xi64>) -> tensor<?x?x32xf32>
  // CHECK: llm.embedding %{{.*}}[%{{.*}}] : (tensor<97x32xf32>, tensor<5xi32>) -> tensor<5x32xf32>
  %1 = llm.embedding %table[%ids32] : (tensor<97x32xf32>, tensor<5xi32>) -> tensor<5x32xf32>
  return %0, %1 : tensor<?x?x32xf32>, tensor<5x32xf32>
}

// CHECK-LABEL: func.func @positional_encoding
func.func @positional_encoding(%x: tensor<2x16x64xf32>, %wpe: tensor<1024x64xf32>,
                               %pos: tensor<2x16xi64>, %pos1: tensor<16xi64>)
    -> (tensor<2x16x64xf32>, tensor<2x16x64xf32>, tensor<2x16x64xf32>) {
  // CHECK: llm.positional_encoding learned %{{.*}} table %{{.*}} : (tensor<2x16x64xf32>, tensor<1024x64xf32>) -> tensor<2x16x64xf32>
  %0 = llm.positional_encoding learned %x table %wpe : (tensor<2x16x64xf32>, tensor<1024x64xf32>) -> tensor<2x16x64xf32>
  // CHECK: llm.positional_encoding learned %{{.*}} table %{{.*}} positions %{{.*}} : (tensor<2x16x64xf32>, tensor<1024x64xf32>, tensor<2x16xi64>) -> tensor<2x16x64xf32>
  %1 = llm.positional_encoding learned %x table %wpe positions %pos : (tensor<2x16x64xf32>, tensor<1024x64xf32>, tensor<2x16xi64>) -> tensor<2x16x64xf32>
  // CHECK: llm.positional_encoding sinusoidal %{{.*}} positions %{{.*}} : (tensor<2x16x64xf32>, tensor<16xi64>) -> tensor<2x16x64xf32>
  %2 = llm.positional_encoding sinusoidal %x positions %pos1 : (tensor<2x16x64xf32>, tensor<16xi64>) -> tensor<2x16x64xf32>
  return %0, %1, %2 : tensor<2x16x64xf32>, tensor<2x16x64xf32>, tensor<2x16x64xf32>
}

// CHECK-LABEL: func.func @rope
func.func @rope(%q: tensor<1x?x256xf32>, %pos: tensor<1x?xi64>)
    -> (tensor<1x?x256xf32>, tensor<1x?x256xf32>) {
  // CHECK: llm.rope %{{.*}} {head_dim = 64 : i64, theta = 5.000000e+05 : f64} : (tensor<1x?x256xf32>) -> tensor<1x?x256xf32>
  %0 = llm.rope %q {head_dim = 64 : i64, theta = 5.0e+05 : f64} : (tensor<1x?x256xf32>) -> tensor<1x?x256xf32>
  // CHECK: llm.rope %{{.*}} positions %{{.*}} {head_dim = 64 : i64, interleaved, rotary_dim = 32 : i64} : (tensor<1x?x256xf32>, tensor<1x?xi64>) -> tensor<1x?x256xf32>
  %1 = llm.rope %q positions %pos {head_dim = 64 : i64, rotary_dim = 32 : i64, interleaved} : (tensor<1x?x256xf32>, tensor<1x?xi64>) -> tensor<1x?x256xf32>
  return %0, %1 : tensor<1x?x256xf32>, tensor<1x?x256xf32>
}

// CHECK-LABEL: func.func @norms
func.func @norms(%x: tensor<?x?x48xbf16>, %g: tensor<48xbf16>, %b: tensor<48xbf16>)
    -> (tensor<?x?x48xbf16>, tensor<?x?x48xbf16>, tensor<?x?x48xbf16>, tensor<?x?x48xbf16>) {
  // CHECK: llm.layer_norm %{{.*}} weight %{{.*}} bias %{{.*}} {epsilon = 1.250000e-01 : f64} : (tensor<?x?x48xbf16>, tensor<48xbf16>, tensor<48xbf16>) -> tensor<?x?x48xbf16>
  %0 = llm.layer_norm %x weight %g bias %b {epsilon = 0.125 : f64} : (tensor<?x?x48xbf16>, tensor<48xbf16>, tensor<48xbf16>) -> tensor<?x?x48xbf16>
  // CHECK: llm.layer_norm %{{.*}} : (tensor<?x?x48xbf16>) -> tensor<?x?x48xbf16>
  %1 = llm.layer_norm %x : (tensor<?x?x48xbf16>) -> tensor<?x?x48xbf16>
  // CHECK: llm.rms_norm %{{.*}} weight %{{.*}} : (tensor<?x?x48xbf16>, tensor<48xbf16>) -> tensor<?x?x48xbf16>
  %2 = llm.rms_norm %x weight %g : (tensor<?x?x48xbf16>, tensor<48xbf16>) -> tensor<?x?x48xbf16>
  // CHECK: llm.layer_norm %{{.*}} bias %{{.*}} : (tensor<?x?x48xbf16>, tensor<48xbf16>) -> tensor<?x?x48xbf16>
  %3 = llm.layer_norm %x bias %b : (tensor<?x?x48xbf16>, tensor<48xbf16>) -> tensor<?x?x48xbf16>
  return %0, %1, %2, %3 : tensor<?x?x48xbf16>, tensor<?x?x48xbf16>, tensor<?x?x48xbf16>, tensor<?x?x48xbf16>
}

// CHECK-LABEL: func.func @linear
func.func @linear(%x: tensor<?x?x768xf32>, %w: tensor<3072x768xf32>, %b: tensor<3072xf32>,
                  %c: tensor<768x2304xf32>, %x2: tensor<768xf32>)
    -> (tensor<?x?x3072xf32>, tensor<?x?x2304xf32>, tensor<3072xf32>) {
  // CHECK: llm.linear %{{.*}}, %{{.*}} bias %{{.*}} : (tensor<?x?x768xf32>, tensor<3072x768xf32>, tensor<3072xf32>) -> tensor<?x?x3072xf32>
  %0 = llm.linear %x, %w bias %b : (tensor<?x?x768xf32>, tensor<3072x768xf32>, tensor<3072xf32>) -> tensor<?x?x3072xf32>
  // CHECK: llm.linear %{{.*}}, %{{.*}} layout in_out : (tensor<?x?x768xf32>, tensor<768x2304xf32>) -> tensor<?x?x2304xf32>
  %1 = llm.linear %x, %c layout in_out : (tensor<?x?x768xf32>, tensor<768x2304xf32>) -> tensor<?x?x2304xf32>
  // CHECK: llm.linear %{{.*}}, %{{.*}} : (tensor<768xf32>, tensor<3072x768xf32>) -> tensor<3072xf32>
  %2 = llm.linear %x2, %w : (tensor<768xf32>, tensor<3072x768xf32>) -> tensor<3072xf32>
  return %0, %1, %2 : tensor<?x?x3072xf32>, tensor<?x?x2304xf32>, tensor<3072xf32>
}

// CHECK-LABEL: func.func @attention
func.func @attention(%q: tensor<2x?x128xf32>, %k: tensor<2x?x32xf32>, %v: tensor<2x?x32xf32>,
                     %pad: tensor<2x1x1x?xf32>, %keep: tensor<?x?xi1>)
    -> (tensor<2x?x128xf32>, tensor<2x?x128xf32>) {
  // CHECK: llm.attention %{{.*}}, %{{.*}}, %{{.*}} {causal, num_heads = 8 : i64, num_kv_heads = 2 : i64} : (tensor<2x?x128xf32>, tensor<2x?x32xf32>, tensor<2x?x32xf32>) -> tensor<2x?x128xf32>
  %0 = llm.attention %q, %k, %v {causal, num_heads = 8 : i64, num_kv_heads = 2 : i64} : (tensor<2x?x128xf32>, tensor<2x?x32xf32>, tensor<2x?x32xf32>) -> tensor<2x?x128xf32>
  // CHECK: llm.attention %{{.*}}, %{{.*}}, %{{.*}} mask %{{.*}} {num_heads = 8 : i64, num_kv_heads = 2 : i64, scale = 1.250000e-01 : f64} : (tensor<2x?x128xf32>, tensor<2x?x32xf32>, tensor<2x?x32xf32>, tensor<2x1x1x?xf32>) -> tensor<2x?x128xf32>
  %1 = llm.attention %q, %k, %v mask %pad {num_heads = 8 : i64, num_kv_heads = 2 : i64, scale = 0.125 : f64} : (tensor<2x?x128xf32>, tensor<2x?x32xf32>, tensor<2x?x32xf32>, tensor<2x1x1x?xf32>) -> tensor<2x?x128xf32>
  return %0, %1 : tensor<2x?x128xf32>, tensor<2x?x128xf32>
}

// CHECK-LABEL: func.func @attention_grad
func.func @attention_grad(%q: tensor<2x?x128xf32>, %k: tensor<2x?x32xf32>, %v: tensor<2x?x32xf32>,
                          %o: tensor<2x?x128xf32>, %do: tensor<2x?x128xf32>, %keep: tensor<2x1x1x?xi1>)
    -> (tensor<2x?x128xf32>, tensor<2x?x32xf32>, tensor<2x?x32xf32>) {
  // CHECK: llm.attention_grad %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} mask %{{.*}} {causal, num_heads = 8 : i64, num_kv_heads = 2 : i64} : (tensor<2x?x128xf32>, tensor<2x?x32xf32>, tensor<2x?x32xf32>, tensor<2x?x128xf32>, tensor<2x?x128xf32>, tensor<2x1x1x?xi1>) -> (tensor<2x?x128xf32>, tensor<2x?x32xf32>, tensor<2x?x32xf32>)
  %dq, %dk, %dv = llm.attention_grad %q, %k, %v, %o, %do mask %keep {causal, num_heads = 8 : i64, num_kv_heads = 2 : i64} : (tensor<2x?x128xf32>, tensor<2x?x32xf32>, tensor<2x?x32xf32>, tensor<2x?x128xf32>, tensor<2x?x128xf32>, tensor<2x1x1x?xi1>) -> (tensor<2x?x128xf32>, tensor<2x?x32xf32>, tensor<2x?x32xf32>)
  return %dq, %dk, %dv : tensor<2x?x128xf32>, tensor<2x?x32xf32>, tensor<2x?x32xf32>
}

// CHECK-LABEL: func.func @attention_kv_cache
func.func @attention_kv_cache(%q: tensor<1x1x64xf32>, %k: tensor<1x1x16xf32>, %v: tensor<1x1x16xf32>,
                              %kc: tensor<1x1x128x16xf32>, %vc: tensor<1x1x128x16xf32>,
                              %pos: tensor<1xi64>, %m: tensor<1x128xi1>)
    -> (tensor<1x1x64xf32>, tensor<1x1x128x16xf32>, tensor<1x1x128x16xf32>) {
  // CHECK: %{{.*}}, %{{.*}}:2 = llm.attention %{{.*}}, %{{.*}}, %{{.*}} mask %{{.*}} cache(%{{.*}}, %{{.*}}, %{{.*}}) {causal, num_heads = 4 : i64, num_kv_heads = 1 : i64} : (tensor<1x1x64xf32>, tensor<1x1x16xf32>, tensor<1x1x16xf32>, tensor<1x128xi1>, tensor<1x1x128x16xf32>, tensor<1x1x128x16xf32>, tensor<1xi64>) -> (tensor<1x1x64xf32>, tensor<1x1x128x16xf32>, tensor<1x1x128x16xf32>)
  %o, %kc2, %vc2 = llm.attention %q, %k, %v mask %m cache(%kc, %vc, %pos) {causal, num_heads = 4 : i64, num_kv_heads = 1 : i64} : (tensor<1x1x64xf32>, tensor<1x1x16xf32>, tensor<1x1x16xf32>, tensor<1x128xi1>, tensor<1x1x128x16xf32>, tensor<1x1x128x16xf32>, tensor<1xi64>) -> (tensor<1x1x64xf32>, tensor<1x1x128x16xf32>, tensor<1x1x128x16xf32>)
  return %o, %kc2, %vc2 : tensor<1x1x64xf32>, tensor<1x1x128x16xf32>, tensor<1x1x128x16xf32>
}

// CHECK-LABEL: func.func @ffn
func.func @ffn(%x: tensor<1x7x64xf32>, %wu: tensor<172x64xf32>, %wg: tensor<172x64xf32>,
               %wd: tensor<64x172xf32>, %fc: tensor<64x256xf32>, %fcb: tensor<256xf32>,
               %proj: tensor<256x64xf32>, %projb: tensor<64xf32>)
    -> (tensor<1x7x64xf32>, tensor<1x7x64xf32>) {
  // CHECK: llm.ffn swiglu %{{.*}} up %{{.*}} gate %{{.*}} down %{{.*}} : (tensor<1x7x64xf32>, tensor<172x64xf32>, tensor<172x64xf32>, tensor<64x172xf32>) -> tensor<1x7x64xf32>
  %0 = llm.ffn swiglu %x up %wu gate %wg down %wd : (tensor<1x7x64xf32>, tensor<172x64xf32>, tensor<172x64xf32>, tensor<64x172xf32>) -> tensor<1x7x64xf32>
  // CHECK: llm.ffn gelu_tanh %{{.*}} up %{{.*}} bias %{{.*}} down %{{.*}} bias %{{.*}} layout in_out : (tensor<1x7x64xf32>, tensor<64x256xf32>, tensor<256xf32>, tensor<256x64xf32>, tensor<64xf32>) -> tensor<1x7x64xf32>
  %1 = llm.ffn gelu_tanh %x up %fc bias %fcb down %proj bias %projb layout in_out : (tensor<1x7x64xf32>, tensor<64x256xf32>, tensor<256xf32>, tensor<256x64xf32>, tensor<64xf32>) -> tensor<1x7x64xf32>
  return %0, %1 : tensor<1x7x64xf32>, tensor<1x7x64xf32>
}

// CHECK-LABEL: func.func @glu
func.func @glu(%g: tensor<1x7x172xf32>, %u: tensor<1x7x172xf32>, %h: tensor<?x8xf16>)
    -> (tensor<1x7x172xf32>, tensor<?x8xf16>) {
  // CHECK: llm.glu swiglu %{{.*}}, %{{.*}} : tensor<1x7x172xf32>
  %0 = llm.glu swiglu %g, %u : tensor<1x7x172xf32>
  // CHECK: llm.glu geglu %{{.*}}, %{{.*}} : tensor<?x8xf16>
  %1 = llm.glu geglu %h, %h : tensor<?x8xf16>
  return %0, %1 : tensor<1x7x172xf32>, tensor<?x8xf16>
}

// CHECK-LABEL: func.func @ffn_all_activations
func.func @ffn_all_activations(%x: tensor<3x8xf16>, %u: tensor<16x8xf16>, %g: tensor<16x8xf16>,
                               %gb: tensor<16xf16>, %d: tensor<8x16xf16>)
    -> (tensor<3x8xf16>, tensor<3x8xf16>, tensor<3x8xf16>, tensor<3x8xf16>, tensor<3x8xf16>) {
  // CHECK: llm.ffn relu
  %0 = llm.ffn relu %x up %u down %d : (tensor<3x8xf16>, tensor<16x8xf16>, tensor<8x16xf16>) -> tensor<3x8xf16>
  // CHECK: llm.ffn gelu %
  %1 = llm.ffn gelu %x up %u down %d : (tensor<3x8xf16>, tensor<16x8xf16>, tensor<8x16xf16>) -> tensor<3x8xf16>
  // CHECK: llm.ffn silu
  %2 = llm.ffn silu %x up %u down %d : (tensor<3x8xf16>, tensor<16x8xf16>, tensor<8x16xf16>) -> tensor<3x8xf16>
  // CHECK: llm.ffn geglu %{{.*}} up %{{.*}} gate %{{.*}} bias %{{.*}} down
  %3 = llm.ffn geglu %x up %u gate %g bias %gb down %d : (tensor<3x8xf16>, tensor<16x8xf16>, tensor<16x8xf16>, tensor<16xf16>, tensor<8x16xf16>) -> tensor<3x8xf16>
  // CHECK: llm.ffn swiglu
  %4 = llm.ffn swiglu %x up %u gate %g down %d : (tensor<3x8xf16>, tensor<16x8xf16>, tensor<16x8xf16>, tensor<8x16xf16>) -> tensor<3x8xf16>
  return %0, %1, %2, %3, %4 : tensor<3x8xf16>, tensor<3x8xf16>, tensor<3x8xf16>, tensor<3x8xf16>, tensor<3x8xf16>
}

// CHECK-LABEL: func.func @activations
func.func @activations(%x: tensor<?x3072xf32>) -> (tensor<?x3072xf32>, tensor<?x3072xf32>, tensor<?x3072xf32>) {
  // CHECK: llm.gelu %{{.*}} : tensor<?x3072xf32>
  %0 = llm.gelu %x : tensor<?x3072xf32>
  // CHECK: llm.gelu %{{.*}} approximate tanh : tensor<?x3072xf32>
  %1 = llm.gelu %x approximate tanh : tensor<?x3072xf32>
  // CHECK: llm.softmax %{{.*}} {axis = 0 : i64} : tensor<?x3072xf32>
  %2 = llm.softmax %x {axis = 0 : i64} : tensor<?x3072xf32>
  return %0, %1, %2 : tensor<?x3072xf32>, tensor<?x3072xf32>, tensor<?x3072xf32>
}

// CHECK-LABEL: func.func @kl_div
func.func @kl_div(%s: tensor<8x?x97xf32>, %t: tensor<8x?x97xf32>, %y: tensor<8x?xi64>, %temp: tensor<f32>) -> tensor<f32> {
  // CHECK: llm.kl_div %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {ignore_index = 0 : i64} : (tensor<8x?x97xf32>, tensor<8x?x97xf32>, tensor<8x?xi64>, tensor<f32>) -> tensor<f32>
  %0 = llm.kl_div %s, %t, %y, %temp {ignore_index = 0 : i64} : (tensor<8x?x97xf32>, tensor<8x?x97xf32>, tensor<8x?xi64>, tensor<f32>) -> tensor<f32>
  return %0 : tensor<f32>
}

// CHECK-LABEL: func.func @cross_entropy
func.func @cross_entropy(%logits: tensor<8x?x97xf32>, %labels: tensor<8x?xi64>)
    -> (tensor<f32>, tensor<f32>, tensor<8x?xf32>) {
  // CHECK: llm.cross_entropy %{{.*}}, %{{.*}} : (tensor<8x?x97xf32>, tensor<8x?xi64>) -> tensor<f32>
  %0 = llm.cross_entropy %logits, %labels : (tensor<8x?x97xf32>, tensor<8x?xi64>) -> tensor<f32>
  // CHECK: llm.cross_entropy %{{.*}}, %{{.*}} reduction sum {ignore_index = 0 : i64, label_smoothing = 1.000000e-01 : f64} : (tensor<8x?x97xf32>, tensor<8x?xi64>) -> tensor<f32>
  %1 = llm.cross_entropy %logits, %labels reduction sum {ignore_index = 0 : i64, label_smoothing = 0.1 : f64} : (tensor<8x?x97xf32>, tensor<8x?xi64>) -> tensor<f32>
  // CHECK: llm.cross_entropy %{{.*}}, %{{.*}} reduction none : (tensor<8x?x97xf32>, tensor<8x?xi64>) -> tensor<8x?xf32>
  %2 = llm.cross_entropy %logits, %labels reduction none : (tensor<8x?x97xf32>, tensor<8x?xi64>) -> tensor<8x?xf32>
  return %0, %1, %2 : tensor<f32>, tensor<f32>, tensor<8x?xf32>
}
