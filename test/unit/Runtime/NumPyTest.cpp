//===- NumPyTest.cpp - Tests of the .npy writer ---------------------------===//
//
// Part of the llm-opt project.
//
//===----------------------------------------------------------------------===//

#include "llm/runtime/NumPy.h"

#include "RuntimeTestUtils.h"

#include <sys/stat.h>

using namespace llm::rt;
using namespace llm::rt::test;

namespace {

TEST(NumPyTest, HeaderFollowsFormatVersion1) {
  std::string header = getNpyHeader({2, 3, 11});
  ASSERT_EQ(header.size(), 128u);
  EXPECT_EQ(header.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_EQ(static_cast<uint8_t>(header[8]) | static_cast<uint8_t>(header[9])
                                                  << 8,
            118);
  EXPECT_EQ(header.substr(10).find(
                "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, "
                "11), }"),
            0u);
  EXPECT_EQ(header.back(), '\n');

  EXPECT_NE(getNpyHeader({5}).find("'shape': (5,), }"), std::string::npos);
  EXPECT_NE(getNpyHeader({}).find("'shape': (), }"), std::string::npos);
  EXPECT_EQ(getNpyHeader({123456789, 987654321, 5, 7, 9}).size() % 64, 0u);
}

TEST(NumPyTest, WritesHeaderAndData) {
  TempDir dir;
  std::vector<float> data = {1.0f, -2.5f, 3.25f, 0.0f, 5.0f, 6.0f};
  Status s = writeNpy(dir / "x.npy", data.data(), {1, 2, 3});
  ASSERT_TRUE(s.isOk()) << s.message();
  std::string bytes = readTextFile(dir / "x.npy");
  std::string header = getNpyHeader({1, 2, 3});
  ASSERT_EQ(bytes.size(), header.size() + 24);
  EXPECT_EQ(bytes.substr(0, header.size()), header);
  EXPECT_EQ(std::memcmp(bytes.data() + header.size(), data.data(), 24), 0);
  struct stat st;
  ASSERT_EQ(::stat((dir / "x.npy").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
}

TEST(NumPyTest, FailuresLeaveNothingBehind) {
  TempDir dir;
  float one = 1.0f;
  Status s = writeNpy(dir / "missing/x.npy", &one, {1});
  ASSERT_TRUE(s.isError());
  EXPECT_EQ(s.code(), ErrorCode::IO);
  expectContains(s.message(), {"missing/x.npy: cannot create a temporary "
                               "file in ",
                               "No such file or directory"});

  // A folder in the way: the rename fails and the temporary file goes.
  ASSERT_EQ(::mkdir((dir / "taken").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((dir / "taken/inner").c_str(), 0755), 0);
  s = writeNpy(dir / "taken", &one, {1});
  ASSERT_TRUE(s.isError());
  expectContains(s.message(), {"cannot rename"});
  size_t entries = 0;
  for (const auto &entry : fs::directory_iterator(dir.str())) {
    (void)entry;
    ++entries;
  }
  EXPECT_EQ(entries, 1u);

  s = writeNpy(dir / "bad.npy", &one, {2, -1});
  ASSERT_TRUE(s.isError());
  EXPECT_EQ(s.message(), dir / "bad.npy" + ": invalid shape [2, -1]");
  s = writeNpy(dir / "null.npy", nullptr, {2});
  ASSERT_TRUE(s.isError());
  EXPECT_FALSE(fs::exists(dir / "null.npy"));
}

} // namespace
