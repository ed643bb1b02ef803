//===- LLMToLinalg.h - llm to linalg conversion patterns --------*- C++ -*-===//
//
// The patterns that lower llm ops to linalg on tensors, one populate function
// per op family so that pipelines can lower a subset (for example, keep
// attention for a dedicated kernel and lower the rest).
//
//===----------------------------------------------------------------------===//

#ifndef LLM_CONVERSION_LLMTOLINALG_LLMTOLINALG_H
#define LLM_CONVERSION_LLMTOLINALG_LLMTOLINALG_H

#include <cstdint>

namespace mlir {
class RewritePatternSet;
} // namespace mlir

namespace mlir::llm {

/// llm.attention to contractions and a masked softmax; the KV-cache form
/// first writes the new keys and values into the caches.
void populateAttentionToLinalgPatterns(RewritePatternSet &patterns);
/// llm.attention as an online softmax over tiles of `keyTile` keys for each
/// tile of `queryTile` query rows (llm-fuse-attention); takes precedence
/// over the materializing pattern when both are present.
void populateFusedAttentionPatterns(RewritePatternSet &patterns,
                                    int64_t queryTile, int64_t keyTile);
/// llm.linear and llm.ffn to contractions with fused bias and activation.
void populateLinearToLinalgPatterns(RewritePatternSet &patterns);
/// llm.layer_norm and llm.rms_norm to reductions and an elementwise map.
void populateNormToLinalgPatterns(RewritePatternSet &patterns);
/// llm.embedding, llm.positional_encoding and llm.rope to gathers and maps.
void populateEmbeddingToLinalgPatterns(RewritePatternSet &patterns);
/// llm.gelu and llm.softmax to elementwise maps and reductions.
void populateElementwiseToLinalgPatterns(RewritePatternSet &patterns);
/// llm.cross_entropy to reductions.
void populateLossToLinalgPatterns(RewritePatternSet &patterns);

/// All of the above.
void populateLLMToLinalgPatterns(RewritePatternSet &patterns);

} // namespace mlir::llm

#endif // LLM_CONVERSION_LLMTOLINALG_LLMTOLINALG_H
