//===- ManifestTest.cpp - Tests of the manifest.json parser ---------------===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//
//
// The fake model's manifest parses into the expected structure; each
// malformed field, taken one at a time from that valid manifest, is refused
// with a message naming the field.
//
//===----------------------------------------------------------------------===//

#include "llm/runtime/Manifest.h"

#include "RuntimeTestUtils.h"

#include <functional>

using namespace llm::rt;
using namespace llm::rt::test;

namespace {

TEST(ManifestTest, ParsesTheFakeModelManifest) {
  Expected<Manifest> manifest =
      parseManifest(getFakeManifest().dump(), "manifest.json");
  ASSERT_TRUE(manifest) << manifest.message();
  EXPECT_EQ(manifest->format, "llm-opt-artifact");
  EXPECT_EQ(manifest->abiVersion, 2);
  EXPECT_EQ(manifest->library, "libmodel.so");
  EXPECT_EQ(manifest->target.triple, "x86_64-pc-linux-gnu");
  EXPECT_EQ(manifest->target.cpu, "generic");
  EXPECT_EQ(manifest->model.family, "fake");
  EXPECT_EQ(manifest->model.vocabSize, 11);
  EXPECT_EQ(manifest->model.maxPositions, 8);
  EXPECT_EQ(manifest->arenaBytes, 0u);
  ASSERT_EQ(manifest->entryPoints.size(), 1u);
  const EntryPoint *forward = manifest->findEntryPoint("forward");
  ASSERT_NE(forward, nullptr);
  EXPECT_EQ(manifest->findEntryPoint("backward"), nullptr);
  EXPECT_EQ(forward->symbol, "llm_forward");
  ASSERT_EQ(forward->inputs.size(), 3u);
  EXPECT_EQ(forward->inputs[0].name, "input_ids");
  EXPECT_EQ(forward->inputs[0].kind, InputKind::Tokens);
  EXPECT_EQ(forward->inputs[0].dtype, ElementType::I64);
  EXPECT_EQ(forward->inputs[0].shape, (std::vector<int64_t>{-1, -1}));
  EXPECT_EQ(forward->inputs[1].name, "transformer.wte.weight");
  EXPECT_EQ(forward->inputs[1].kind, InputKind::Param);
  EXPECT_EQ(forward->inputs[1].dtype, ElementType::F32);
  EXPECT_EQ(forward->inputs[1].shape, (std::vector<int64_t>{11, 4}));
  ASSERT_EQ(forward->results.size(), 1u);
  EXPECT_EQ(forward->results[0].name, "logits");
  EXPECT_EQ(forward->results[0].shape, (std::vector<int64_t>{-1, -1, 11}));
}

TEST(ManifestTest, OptionalFieldsAndExtraDescriptiveKeys) {
  Json json = getFakeManifest();
  json.erase("arena_bytes");
  json["model"].erase("max_positions"); // No bound: models without a table.
  json["target"].erase("cpu");
  json["target"].erase("features");
  json["target"]["abi"] = "lp64"; // Extra keys are fine in target and model.
  json["model"]["hidden_size"] = 4;
  json["entry_points"][0]["inputs"].push_back(
      {{"name", "transformer.wte.weight"},
       {"kind", "param"},
       {"dtype", "f32"},
       {"shape", {11, 4}}}); // A tied param may repeat a name.
  Expected<Manifest> manifest = parseManifest(json.dump(), "m.json");
  ASSERT_TRUE(manifest) << manifest.message();
  EXPECT_EQ(manifest->arenaBytes, 0u);
  EXPECT_EQ(manifest->model.maxPositions, 0);
  EXPECT_EQ(manifest->target.cpu, "");
  EXPECT_EQ(manifest->entryPoints[0].inputs.size(), 4u);
  EXPECT_FALSE(manifest->model.classifiesFirstToken);
  json["model"]["num_labels"] = 2;
  json["model"]["classify_token"] = "first";
  Expected<Manifest> classifier = parseManifest(json.dump(), "m.json");
  ASSERT_TRUE(classifier) << classifier.message();
  EXPECT_EQ(classifier->model.numLabels, 2);
  EXPECT_TRUE(classifier->model.classifiesFirstToken);
  EXPECT_EQ(classifier->model.typeVocabSize, 0);
  // A BERT pretraining step: segment ids and next-sentence labels.
  json["model"]["type_vocab_size"] = 2;
  json["entry_points"][0]["inputs"].push_back(
      {{"name", "next_sentence_labels"},
       {"kind", "next_sentence_labels"},
       {"dtype", "i64"},
       {"shape", {-1}}});
  Expected<Manifest> pairs = parseManifest(json.dump(), "m.json");
  ASSERT_TRUE(pairs) << pairs.message();
  EXPECT_EQ(pairs->model.typeVocabSize, 2);
  EXPECT_EQ(pairs->entryPoints[0].inputs.back().kind,
            InputKind::NextSentenceLabels);
  EXPECT_STREQ(getInputKindName(InputKind::NextSentenceLabels),
               "next_sentence_labels");
  // An arena: fixed bytes plus bytes per sequence.
  json["entry_points"][0]["inputs"].push_back({{"name", "arena"},
                                                {"kind", "arena"},
                                                {"dtype", "u8"},
                                                {"shape", {-1}}});
  json["entry_points"][0]["arena"] = {{"fixed_bytes", 128},
                                      {"bytes_per_sequence", 4096},
                                      {"max_seq", 8},
                                      {"total_bytes", 9000},
                                      {"live_bytes", 4000}};
  Expected<Manifest> arena = parseManifest(json.dump(), "m.json");
  ASSERT_TRUE(arena) << arena.message();
  const EntryPoint &withArena = arena->entryPoints[0];
  EXPECT_EQ(withArena.inputs.back().kind, InputKind::Arena);
  EXPECT_EQ(withArena.inputs.back().dtype, ElementType::U8);
  EXPECT_EQ(withArena.getArenaBytes(1), 128u + 4096u);
  EXPECT_EQ(withArena.getArenaBytes(3), 128u + 3 * 4096u);
  EXPECT_EQ(withArena.getArenaBytes(INT64_MAX), 0u); // Overflow.
}

TEST(ManifestTest, ElementTypeAndKindNames) {
  EXPECT_STREQ(getElementTypeName(ElementType::BF16), "bf16");
  EXPECT_EQ(getElementTypeSize(ElementType::I64), 8u);
  EXPECT_EQ(getElementTypeSize(ElementType::F16), 2u);
  EXPECT_STREQ(getInputKindName(InputKind::Mask), "mask");
}

TEST(ManifestTest, ConcatenatedParams) {
  // The table's 11 rows from three tensors, then packed; the bias from two.
  Json json = getFakeManifest();
  Json &wte = json["entry_points"][0]["inputs"][1];
  wte["name"] = "q+k+v";
  wte["concat"] = makeConcat(0, {{"q", 4}, {"k", 4}, {"v", 3}});
  wte["packing"] = {{"panel", 4}, {"layout", "out_in"}};
  Json &bias = json["entry_points"][0]["inputs"][2];
  bias["concat"] = makeConcat(0, {{"b0", 1}, {"b1", 3}});
  Expected<Manifest> manifest = parseManifest(json.dump(), "manifest.json");
  ASSERT_TRUE(manifest) << manifest.message();
  const InputSpec &table = manifest->entryPoints[0].inputs[1];
  ASSERT_TRUE(table.concat);
  EXPECT_EQ(table.concat->axis, 0);
  ASSERT_EQ(table.concat->parts.size(), 3u);
  EXPECT_EQ(table.concat->parts[0].name, "q");
  EXPECT_EQ(table.concat->parts[1].name, "k");
  EXPECT_EQ(table.concat->parts[2].name, "v");
  EXPECT_EQ(table.concat->parts[2].size, 3);
  EXPECT_EQ(table.shape, (std::vector<int64_t>{11, 4}));
  EXPECT_EQ(table.getBufferShape(), (std::vector<int64_t>{3, 4, 4}));
  const InputSpec &b = manifest->entryPoints[0].inputs[2];
  ASSERT_TRUE(b.concat);
  EXPECT_EQ(b.concat->parts[1], (ConcatPart{"b1", 3}));
  EXPECT_FALSE(b.packing);
  EXPECT_FALSE(manifest->entryPoints[0].inputs[0].concat);

  // Along the columns, and bound twice under one name.
  json = getFakeManifest();
  Json &columns = json["entry_points"][0]["inputs"][1];
  columns["concat"] = makeConcat(1, {{"a", 1}, {"b", 2}, {"c", 1}});
  json["entry_points"][0]["inputs"].push_back(columns);
  manifest = parseManifest(json.dump(), "manifest.json");
  ASSERT_TRUE(manifest) << manifest.message();
  EXPECT_EQ(manifest->entryPoints[0].inputs[1].concat->axis, 1);
  EXPECT_EQ(manifest->entryPoints[0].inputs[3].concat,
            manifest->entryPoints[0].inputs[1].concat);
}

/// One malformed manifest: a change to the valid one and the expected
/// message parts.
struct BadManifest {
  const char *label;
  std::function<void(Json &)> mutate;
  std::vector<std::string> parts;
};

Json &entry(Json &j) { return j["entry_points"][0]; }
Json &input(Json &j, int i = 1) { return entry(j)["inputs"][i]; }
Json &result(Json &j) { return entry(j)["results"][0]; }

const std::vector<BadManifest> &getBadManifests() {
  static const std::vector<BadManifest> cases = {
      // Top level.
      {"root",
       [](Json &j) { j = Json::array(); },
       {"must be a JSON object, got an array"}},
      {"unknown",
       [](Json &j) { j["entrypoints"] = 1; },
       {"unknown field 'entrypoints'"}},
      {"format missing",
       [](Json &j) { j.erase("format"); },
       {"missing field 'format'"}},
      {"format type",
       [](Json &j) { j["format"] = 3; },
       {"field 'format' must be a string, got 3"}},
      {"format value",
       [](Json &j) { j["format"] = "onnx"; },
       {"field 'format' is 'onnx', expected 'llm-opt-artifact'"}},
      {"abi missing",
       [](Json &j) { j.erase("abi_version"); },
       {"missing field 'abi_version'"}},
      {"abi string",
       [](Json &j) { j["abi_version"] = "1"; },
       {"field 'abi_version' must be an integer, got \"1\""}},
      {"abi float",
       [](Json &j) { j["abi_version"] = 1.5; },
       {"field 'abi_version' must be an integer, got 1.5"}},
      {"abi value",
       [](Json &j) { j["abi_version"] = 1; },
       {"field 'abi_version' is 1, but this runtime implements ABI version "
        "2"}},
      {"abi huge",
       [](Json &j) { j["abi_version"] = UINT64_MAX; },
       {"field 'abi_version' is 18446744073709551615, too large for int64"}},
      {"library missing",
       [](Json &j) { j.erase("library"); },
       {"missing field 'library'"}},
      {"library type",
       [](Json &j) { j["library"] = Json::array(); },
       {"field 'library' must be a string, got an array"}},
      {"library empty",
       [](Json &j) { j["library"] = ""; },
       {"field 'library' must not be empty"}},
      {"library absolute",
       [](Json &j) { j["library"] = "/lib/libc.so.6"; },
       {"field 'library' is the absolute path '/lib/libc.so.6'"}},
      {"library dotdot",
       [](Json &j) { j["library"] = "sub/../../x.so"; },
       {"field 'library' 'sub/../../x.so' has a '..' component"}},
      {"library nul",
       [](Json &j) { j["library"] = std::string("a\0b", 3); },
       {"field 'library' contains a NUL character"}},
      {"target missing",
       [](Json &j) { j.erase("target"); },
       {"missing field 'target'"}},
      {"target type",
       [](Json &j) { j["target"] = "x86"; },
       {"field 'target' must be an object, got \"x86\""}},
      {"triple missing",
       [](Json &j) { j["target"].erase("triple"); },
       {"missing field 'target.triple'"}},
      {"triple type",
       [](Json &j) { j["target"]["triple"] = 5; },
       {"field 'target.triple' must be a string, got 5"}},
      {"cpu type",
       [](Json &j) { j["target"]["cpu"] = nullptr; },
       {"field 'target.cpu' must be a string, got null"}},
      {"features type",
       [](Json &j) { j["target"]["features"] = {"+avx"}; },
       {"field 'target.features' must be a string, got an array"}},
      {"model missing",
       [](Json &j) { j.erase("model"); },
       {"missing field 'model'"}},
      {"model type",
       [](Json &j) { j["model"] = Json::array(); },
       {"field 'model' must be an object, got an array"}},
      {"family missing",
       [](Json &j) { j["model"].erase("family"); },
       {"missing field 'model.family'"}},
      {"family type",
       [](Json &j) { j["model"]["family"] = true; },
       {"field 'model.family' must be a string, got true"}},
      {"classify token",
       [](Json &j) { j["model"]["classify_token"] = "middle"; },
       {"model.classify_token must be \"first\" or \"last\", got "
        "'middle'"}},
      {"vocab missing",
       [](Json &j) { j["model"].erase("vocab_size"); },
       {"missing field 'model.vocab_size'"}},
      {"vocab type",
       [](Json &j) { j["model"]["vocab_size"] = "11"; },
       {"field 'model.vocab_size' must be an integer, got \"11\""}},
      {"vocab zero",
       [](Json &j) { j["model"]["vocab_size"] = 0; },
       {"field 'model.vocab_size' must be at least 1, got 0"}},
      {"vocab negative",
       [](Json &j) { j["model"]["vocab_size"] = -5; },
       {"field 'model.vocab_size' must be at least 1, got -5"}},
      {"positions float",
       [](Json &j) { j["model"]["max_positions"] = 8.0; },
       {"field 'model.max_positions' must be an integer, got 8.0"}},
      {"positions zero",
       [](Json &j) { j["model"]["max_positions"] = 0; },
       {"field 'model.max_positions' must be at least 1, got 0"}},
      {"arena negative",
       [](Json &j) { j["arena_bytes"] = -1; },
       {"field 'arena_bytes' must be at least 0, got -1"}},
      {"arena type",
       [](Json &j) { j["arena_bytes"] = "0"; },
       {"field 'arena_bytes' must be an integer, got \"0\""}},
      {"entries missing",
       [](Json &j) { j.erase("entry_points"); },
       {"missing field 'entry_points'"}},
      {"entries type",
       [](Json &j) { j["entry_points"] = Json::object(); },
       {"field 'entry_points' must be an array, got an object"}},
      {"entries empty",
       [](Json &j) { j["entry_points"] = Json::array(); },
       {"field 'entry_points' must not be empty"}},
      // Entry points.
      {"entry type",
       [](Json &j) { j["entry_points"][0] = 5; },
       {"field 'entry_points[0]' must be an object, got 5"}},
      {"entry unknown",
       [](Json &j) { entry(j)["layout"] = "nhwc"; },
       {"unknown field 'entry_points[0].layout'"}},
      {"entry name missing",
       [](Json &j) { entry(j).erase("name"); },
       {"missing field 'entry_points[0].name'"}},
      {"entry name empty",
       [](Json &j) { entry(j)["name"] = ""; },
       {"field 'entry_points[0].name' must not be empty"}},
      {"entry name type",
       [](Json &j) { entry(j)["name"] = 1; },
       {"field 'entry_points[0].name' must be a string, got 1"}},
      {"symbol missing",
       [](Json &j) { entry(j).erase("symbol"); },
       {"missing field 'entry_points[0].symbol'"}},
      {"symbol digit",
       [](Json &j) { entry(j)["symbol"] = "1llm"; },
       {"field 'entry_points[0].symbol' must be a C identifier, got '1llm'"}},
      {"symbol dash",
       [](Json &j) { entry(j)["symbol"] = "llm-forward"; },
       {"must be a C identifier, got 'llm-forward'"}},
      {"symbol type",
       [](Json &j) { entry(j)["symbol"] = Json::object(); },
       {"field 'entry_points[0].symbol' must be a string, got an object"}},
      {"inputs missing",
       [](Json &j) { entry(j).erase("inputs"); },
       {"missing field 'entry_points[0].inputs'"}},
      {"inputs type",
       [](Json &j) { entry(j)["inputs"] = "x"; },
       {"field 'entry_points[0].inputs' must be an array, got \"x\""}},
      {"results missing",
       [](Json &j) { entry(j).erase("results"); },
       {"missing field 'entry_points[0].results'"}},
      {"results empty",
       [](Json &j) { entry(j)["results"] = Json::array(); },
       {"field 'entry_points[0].results' must not be empty"}},
      {"entry name dup",
       [](Json &j) {
         Json copy = entry(j);
         copy["symbol"] = "llm_forward2";
         j["entry_points"].push_back(copy);
       },
       {"field 'entry_points[1].name' 'forward' repeats the name of entry "
        "point 0"}},
      {"entry symbol dup",
       [](Json &j) {
         Json copy = entry(j);
         copy["name"] = "forward2";
         j["entry_points"].push_back(copy);
       },
       {"field 'entry_points[1].symbol' 'llm_forward' repeats the symbol of "
        "entry point 0"}},
      // Inputs.
      {"input type",
       [](Json &j) { input(j) = Json::array(); },
       {"field 'entry_points[0].inputs[1]' must be an object, got an array"}},
      {"input unknown",
       [](Json &j) { input(j)["layout"] = "in_out"; },
       {"unknown field 'entry_points[0].inputs[1].layout'"}},
      {"input name missing",
       [](Json &j) { input(j).erase("name"); },
       {"missing field 'entry_points[0].inputs[1].name'"}},
      {"input name empty",
       [](Json &j) { input(j)["name"] = ""; },
       {"field 'entry_points[0].inputs[1].name' must not be empty"}},
      {"input name type",
       [](Json &j) { input(j)["name"] = 7; },
       {"field 'entry_points[0].inputs[1].name' must be a string, got 7"}},
      {"kind missing",
       [](Json &j) { input(j).erase("kind"); },
       {"missing field 'entry_points[0].inputs[1].kind'"}},
      {"kind value",
       [](Json &j) { input(j)["kind"] = "weight"; },
       {"field 'entry_points[0].inputs[1].kind' must be one of tokens, mask, "
        "segments, param, positions, lengths, kv_cache, labels, optimizer, "
        "optimizer_state, teacher_logits, distill, next_sentence_labels, "
        "arena, got 'weight'"}},
      {"arena dtype",
       [](Json &j) {
         input(j) = {{"name", "arena"}, {"kind", "arena"}, {"dtype", "f32"},
                     {"shape", {-1}}};
         entry(j)["arena"] = {{"fixed_bytes", 0}, {"bytes_per_sequence", 64}};
       },
       {"arena 'arena' must be u8 of shape [-1], got f32 [-1]"}},
      {"arena sizes missing",
       [](Json &j) {
         input(j) = {{"name", "arena"}, {"kind", "arena"}, {"dtype", "u8"},
                     {"shape", {-1}}};
       },
       {"has an arena input but no 'arena' sizes"}},
      {"arena without input",
       [](Json &j) {
         entry(j)["arena"] = {{"fixed_bytes", 0}, {"bytes_per_sequence", 64}};
       },
       {"has 'arena' sizes but no arena input"}},
      {"arena bytes negative",
       [](Json &j) {
         input(j) = {{"name", "arena"}, {"kind", "arena"}, {"dtype", "u8"},
                     {"shape", {-1}}};
         entry(j)["arena"] = {{"fixed_bytes", -1}, {"bytes_per_sequence", 64}};
       },
       {"field 'entry_points[0].arena.fixed_bytes' must be at least 0, got "
        "-1"}},
      {"optimizer shape",
       [](Json &j) {
         input(j) = {{"name", "optimizer"}, {"kind", "optimizer"},
                     {"dtype", "f32"}, {"shape", {7}}};
       },
       {"optimizer 'optimizer' must be f32 of shape [8], got f32 [7]"}},
      {"labels dtype",
       [](Json &j) {
         input(j) = {{"name", "labels"}, {"kind", "labels"},
                     {"dtype", "f32"}, {"shape", {-1, -1}}};
       },
       {"labels 'labels' must be i64 of shape [batch, seq], got f32 [-1, -1]"}},
      {"optimizer_state dynamic",
       [](Json &j) {
         input(j) = {{"name", "adam.m.w"}, {"kind", "optimizer_state"},
                     {"dtype", "f32"}, {"shape", {-1, 4}}};
       },
       {"optimizer_state 'adam.m.w' must be f32 with a static shape, got f32 "
        "[-1, 4]"}},
      {"positions dtype",
       [](Json &j) {
         input(j) = {{"name", "cache_position"}, {"kind", "positions"},
                     {"dtype", "i32"}, {"shape", {-1}}};
       },
       {"field 'entry_points[0].inputs[1]' positions 'cache_position' must "
        "be i64 of shape [batch], got i32 [-1]"}},
      {"lengths rank",
       [](Json &j) {
         input(j) = {{"name", "lengths"}, {"kind", "lengths"},
                     {"dtype", "i64"}, {"shape", {-1, 1}}};
       },
       {"lengths 'lengths' must be i64 of shape [batch], got i64 [-1, 1]"}},
      {"next sentence labels rank",
       [](Json &j) {
         input(j) = {{"name", "next_sentence_labels"},
                     {"kind", "next_sentence_labels"},
                     {"dtype", "i64"},
                     {"shape", {-1, -1}}};
       },
       {"next_sentence_labels 'next_sentence_labels' must be i64 of shape "
        "[batch], got i64 [-1, -1]"}},
      {"type vocab zero",
       [](Json &j) { j["model"]["type_vocab_size"] = 0; },
       {"field 'model.type_vocab_size' must be at least 1, got 0"}},
      {"kv_cache dynamic",
       [](Json &j) {
         input(j) = {{"name", "cache.key.0"}, {"kind", "kv_cache"},
                     {"dtype", "f32"}, {"shape", {-1, 2, -1, 8}}};
       },
       {"field 'entry_points[0].inputs[1].shape' of kv_cache 'cache.key.0' "
        "must be [batch, kv_heads, capacity, head_dim] with static sizes "
        "after batch, got [-1, 2, -1, 8]"}},
      {"kv_cache dtype",
       [](Json &j) {
         input(j) = {{"name", "cache.key.0"}, {"kind", "kv_cache"},
                     {"dtype", "i64"}, {"shape", {-1, 2, 4, 8}}};
       },
       {"of kv_cache 'cache.key.0' must be f32, f16 or bf16, got i64"}},
      {"kind type",
       [](Json &j) { input(j)["kind"] = 2; },
       {"field 'entry_points[0].inputs[1].kind' must be a string, got 2"}},
      {"dtype missing",
       [](Json &j) { input(j).erase("dtype"); },
       {"missing field 'entry_points[0].inputs[1].dtype'"}},
      {"dtype value",
       [](Json &j) { input(j)["dtype"] = "f64"; },
       {"field 'entry_points[0].inputs[1].dtype' must be one of f32, f16, "
        "bf16, i64, i32, got 'f64'"}},
      {"dtype case", [](Json &j) { input(j)["dtype"] = "F32"; }, {"got 'F32'"}},
      {"shape missing",
       [](Json &j) { input(j).erase("shape"); },
       {"missing field 'entry_points[0].inputs[1].shape'"}},
      {"shape type",
       [](Json &j) { input(j)["shape"] = "[11, 4]"; },
       {"field 'entry_points[0].inputs[1].shape' must be an array"}},
      {"shape float",
       [](Json &j) {
         input(j)["shape"] = {11, 4.5};
       },
       {"field 'entry_points[0].inputs[1].shape[1]' must be an integer >= -1 "
        "(-1 is dynamic), got 4.5"}},
      {"shape string",
       [](Json &j) {
         input(j)["shape"] = {"11", 4};
       },
       {"field 'entry_points[0].inputs[1].shape[0]' must be an integer"}},
      {"shape negative",
       [](Json &j) {
         input(j)["shape"] = {11, -2};
       },
       {"field 'entry_points[0].inputs[1].shape[1]' must be >= -1 (-1 is "
        "dynamic), got -2"}},
      {"shape huge",
       [](Json &j) {
         input(j)["shape"] = {11, UINT64_MAX};
       },
       {"field 'entry_points[0].inputs[1].shape[1]' must be an integer"}},
      {"shape overflow",
       [](Json &j) {
         input(j)["shape"] = {int64_t(1) << 40, int64_t(1) << 40};
       },
       {"field 'entry_points[0].inputs[1].shape' describes more bytes than "
        "int64 can count"}},
      {"shape rank",
       [](Json &j) { input(j)["shape"] = std::vector<int64_t>(33, 1); },
       {"field 'entry_points[0].inputs[1].shape' has rank 33, over the limit "
        "of 32"}},
      {"param dynamic",
       [](Json &j) {
         input(j)["shape"] = {-1, 4};
       },
       {"field 'entry_points[0].inputs[1].shape' of param "
        "'transformer.wte.weight' must be static, got [-1, 4]"}},
      {"param dtype",
       [](Json &j) { input(j)["dtype"] = "i64"; },
       {"field 'entry_points[0].inputs[1].dtype' of param "
        "'transformer.wte.weight' must be f32, f16 or bf16, got i64"}},
      {"tokens dtype",
       [](Json &j) { input(j, 0)["dtype"] = "f32"; },
       {"field 'entry_points[0].inputs[0].dtype' of tokens 'input_ids' must "
        "be i64 or i32, got f32"}},
      {"tokens rank",
       [](Json &j) {
         input(j, 0)["shape"] = {-1, -1, -1};
       },
       {"field 'entry_points[0].inputs[0].shape' of tokens 'input_ids' must "
        "have rank 2 ([batch, seq]), got [-1, -1, -1]"}},
      {"mask rank",
       [](Json &j) {
         input(j)["kind"] = "mask";
         input(j)["dtype"] = "i64";
         input(j)["shape"] = {-1};
       },
       {"of mask 'transformer.wte.weight' must have rank 2"}},
      {"input dup",
       [](Json &j) { entry(j)["inputs"].push_back(input(j, 0)); },
       {"field 'entry_points[0].inputs[3].name' 'input_ids' repeats the name "
        "of input 0"}},
      {"param dup shape",
       [](Json &j) {
         Json copy = input(j);
         copy["shape"] = {4, 11};
         entry(j)["inputs"].push_back(copy);
       },
       {"field 'entry_points[0].inputs[3]' binds param "
        "'transformer.wte.weight' again with another dtype or shape than "
        "input 1"}},
      // Results.
      {"result type",
       [](Json &j) { result(j) = nullptr; },
       {"field 'entry_points[0].results[0]' must be an object, got null"}},
      {"result unknown",
       [](Json &j) { result(j)["owner"] = "callee"; },
       {"unknown field 'entry_points[0].results[0].owner'"}},
      {"result name",
       [](Json &j) { result(j).erase("name"); },
       {"missing field 'entry_points[0].results[0].name'"}},
      {"result dtype",
       [](Json &j) { result(j)["dtype"] = "float"; },
       {"field 'entry_points[0].results[0].dtype' must be one of"}},
      {"result shape",
       [](Json &j) {
         result(j)["shape"] = {-1, -3, 11};
       },
       {"field 'entry_points[0].results[0].shape[1]' must be >= -1"}},
      {"packing on tokens",
       [](Json &j) {
         input(j, 0)["packing"] = {{"panel", 4}, {"layout", "out_in"}};
       },
       {"field 'entry_points[0].inputs[0].packing' is only allowed on params"}},
      {"packing panel",
       [](Json &j) {
         input(j, 1)["packing"] = {{"panel", 0}, {"layout", "out_in"}};
       },
       {"field 'entry_points[0].inputs[1].packing.panel' must be at least 1"}},
      {"packing layout",
       [](Json &j) {
         input(j, 1)["packing"] = {{"panel", 4}, {"layout", "rows"}};
       },
       {"field 'entry_points[0].inputs[1].packing.layout' must be in_out or "
        "out_in, got 'rows'"}},
      {"packing unknown",
       [](Json &j) {
         input(j, 1)["packing"] = {{"panel", 4}, {"layout", "out_in"}, {"x", 1}};
       },
       {"unknown field 'entry_points[0].inputs[1].packing.x'"}},
      {"packing rank",
       [](Json &j) {
         input(j, 2)["packing"] = {{"panel", 4}, {"layout", "out_in"}};
       },
       {"field 'entry_points[0].inputs[2].packing' needs an f32 param of rank "
        "2, got f32 [4]"}},
      {"packing huge",
       [](Json &j) {
         // 2^62 + 2^42 bytes as is, 2^63 once padded to two panels.
         input(j, 1)["packing"] = {{"panel", 1 << 20}, {"layout", "out_in"}};
         input(j, 1)["shape"] = {(1 << 20) + 1, int64_t(1) << 40};
       },
       {"makes a buffer too large"}},
      {"concat on tokens",
       [](Json &j) {
         input(j, 0)["concat"] = makeConcat(0, {{"a", 1}, {"b", 1}});
       },
       {"field 'entry_points[0].inputs[0].concat' is only allowed on params"}},
      {"concat type",
       [](Json &j) { input(j)["concat"] = 0; },
       {"field 'entry_points[0].inputs[1].concat' must be an object, got 0"}},
      {"concat unknown",
       [](Json &j) {
         input(j)["concat"] = makeConcat(0, {{"a", 5}, {"b", 6}});
         input(j)["concat"]["dim"] = 0;
       },
       {"unknown field 'entry_points[0].inputs[1].concat.dim'"}},
      {"concat dtype",
       [](Json &j) {
         input(j)["dtype"] = "bf16";
         input(j)["concat"] = makeConcat(0, {{"a", 5}, {"b", 6}});
       },
       {"field 'entry_points[0].inputs[1].concat' needs an f32 param of rank "
        "1 or 2, got bf16 [11, 4]"}},
      {"concat rank",
       [](Json &j) {
         input(j)["shape"] = {11, 4, 1};
         input(j)["concat"] = makeConcat(0, {{"a", 5}, {"b", 6}});
       },
       {"field 'entry_points[0].inputs[1].concat' needs an f32 param of rank "
        "1 or 2, got f32 [11, 4, 1]"}},
      {"concat axis missing",
       [](Json &j) {
         input(j)["concat"] = makeConcat(0, {{"a", 5}, {"b", 6}});
         input(j)["concat"].erase("axis");
       },
       {"missing field 'entry_points[0].inputs[1].concat.axis'"}},
      {"concat axis negative",
       [](Json &j) {
         input(j)["concat"] = makeConcat(-1, {{"a", 5}, {"b", 6}});
       },
       {"field 'entry_points[0].inputs[1].concat.axis' must be at least 0, "
        "got -1"}},
      {"concat axis range",
       [](Json &j) {
         input(j)["concat"] = makeConcat(2, {{"a", 5}, {"b", 6}});
       },
       {"field 'entry_points[0].inputs[1].concat.axis' is 2, but the param "
        "has rank 2"}},
      {"concat axis bias",
       [](Json &j) {
         input(j, 2)["concat"] = makeConcat(1, {{"a", 2}, {"b", 2}});
       },
       {"field 'entry_points[0].inputs[2].concat.axis' is 1, but the param "
        "has rank 1"}},
      {"concat parts type",
       [](Json &j) {
         input(j)["concat"] = makeConcat(0, {});
         input(j)["concat"]["parts"] = "q,k,v";
       },
       {"field 'entry_points[0].inputs[1].concat.parts' must be an array"}},
      {"concat one part",
       [](Json &j) {
         input(j)["concat"] = makeConcat(0, {{"a", 11}});
       },
       {"field 'entry_points[0].inputs[1].concat.parts' must list at least "
        "two tensors, got 1"}},
      {"concat part type",
       [](Json &j) {
         input(j)["concat"] = makeConcat(0, {{"a", 5}, {"b", 6}});
         input(j)["concat"]["parts"][1] = "b";
       },
       {"field 'entry_points[0].inputs[1].concat.parts[1]' must be an "
        "object, got \"b\""}},
      {"concat part unknown",
       [](Json &j) {
         input(j)["concat"] = makeConcat(0, {{"a", 5}, {"b", 6}});
         input(j)["concat"]["parts"][0]["dtype"] = "f16";
       },
       {"unknown field 'entry_points[0].inputs[1].concat.parts[0].dtype'"}},
      {"concat part name",
       [](Json &j) {
         input(j)["concat"] = makeConcat(0, {{"a", 5}, {"", 6}});
       },
       {"field 'entry_points[0].inputs[1].concat.parts[1].name' must not be "
        "empty"}},
      {"concat part size",
       [](Json &j) {
         input(j)["concat"] = makeConcat(0, {{"a", 11}, {"b", 0}});
       },
       {"field 'entry_points[0].inputs[1].concat.parts[1].size' must be at "
        "least 1, got 0"}},
      {"concat part size missing",
       [](Json &j) {
         input(j)["concat"] = makeConcat(0, {{"a", 5}, {"b", 6}});
         input(j)["concat"]["parts"][1].erase("size");
       },
       {"missing field 'entry_points[0].inputs[1].concat.parts[1].size'"}},
      {"concat duplicate part",
       [](Json &j) {
         input(j)["concat"] = makeConcat(0, {{"a", 5}, {"b", 1}, {"a", 5}});
       },
       {"field 'entry_points[0].inputs[1].concat.parts[2].name' 'a' repeats "
        "the name of part 0"}},
      {"concat sizes short",
       [](Json &j) {
         input(j)["concat"] = makeConcat(1, {{"a", 1}, {"b", 2}});
       },
       {"field 'entry_points[0].inputs[1].concat.parts' sizes sum to 3, not "
        "4 (dimension 1 of the shape [11, 4])"}},
      {"concat sizes over",
       [](Json &j) {
         input(j)["concat"] = makeConcat(0, {{"a", 6}, {"b", INT64_MAX}});
       },
       {"field 'entry_points[0].inputs[1].concat.parts' sizes sum to more "
        "than 11 (dimension 0 of the shape [11, 4])"}},
      {"concat tied differently",
       [](Json &j) {
         Json copy = input(j);
         copy["concat"] = makeConcat(0, {{"a", 5}, {"b", 6}});
         entry(j)["inputs"].push_back(copy);
       },
       {"field 'entry_points[0].inputs[3]' binds param "
        "'transformer.wte.weight' again with another concatenation than "
        "input 1"}},
      {"result dup",
       [](Json &j) { entry(j)["results"].push_back(result(j)); },
       {"field 'entry_points[0].results[1].name' 'logits' repeats another "
        "result's name"}},
  };
  return cases;
}

TEST(ManifestTest, EveryMalformedFieldIsNamed) {
  for (const BadManifest &bad : getBadManifests()) {
    SCOPED_TRACE(bad.label);
    Json json = getFakeManifest();
    bad.mutate(json);
    Expected<Manifest> manifest = parseManifest(json.dump(), "dir/m.json");
    ASSERT_FALSE(manifest) << "accepted: " << json.dump();
    EXPECT_EQ(manifest.getStatus().code(), ErrorCode::Artifact);
    EXPECT_EQ(manifest.message().rfind("dir/m.json: ", 0), 0u)
        << manifest.message();
    expectContains(manifest.message(), bad.parts);
  }
}

TEST(ManifestTest, MalformedJson) {
  struct Case {
    std::string text;
    std::string part;
  } cases[] = {
      {"", "is not valid JSON"},
      {"{", "is not valid JSON"},
      {"{\"format\": \"llm-opt-artifact\",}", "is not valid JSON"},
      {std::string("{}\0{}", 5), "NUL byte at offset 2"},
      {"{\"format\": \"a\", \"format\": \"b\"}", "duplicate key 'format'"},
      {"{\"format\": \"\xff\"}", "is not valid JSON"},
      {"[1, 2]", "must be a JSON object, got an array"},
      {"17", "must be a JSON object, got 17"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.text);
    Expected<Manifest> manifest = parseManifest(c.text, "m.json");
    ASSERT_FALSE(manifest);
    EXPECT_EQ(manifest.getStatus().code(), ErrorCode::Artifact);
    expectContains(manifest.message(), {"m.json", c.part});
  }
}

TEST(ManifestTest, ReadManifestFromFile) {
  TempDir dir;
  writeTextFile(dir / "manifest.json", getFakeManifest().dump());
  Expected<Manifest> manifest = readManifest(dir / "manifest.json");
  ASSERT_TRUE(manifest) << manifest.message();
  EXPECT_EQ(manifest->model.vocabSize, 11);

  Expected<Manifest> missing = readManifest(dir / "nope.json");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.getStatus().code(), ErrorCode::Artifact);
  expectContains(missing.message(), {"nope.json", "cannot open"});

  Expected<Manifest> folder = readManifest(dir.str());
  ASSERT_FALSE(folder);
  expectContains(folder.message(), {"not a regular file"});
}

} // namespace
