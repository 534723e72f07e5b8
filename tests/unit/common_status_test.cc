#include <gtest/gtest.h>

#include "common/status.h"

// GCC 12 at -O2 reports the Status alternative of a Result<int> that holds an int as "may be used
// uninitialized" when the variant is destroyed (a false positive of its std::variant analysis).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace kpipe {
namespace {

TEST(Status, CarriesKindAndCode) {
  Status ok = Status::success();
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.code(), StatusCode::kOk);
  Status st = Status::fatal("taken", StatusCode::kAlreadyExists);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.kind(), ErrorKind::kFatal);
  EXPECT_EQ(st.code(), StatusCode::kAlreadyExists);
  EXPECT_STREQ(Status::code_name(st.code()), "already exists");
  EXPECT_EQ(Status::retriable("x").code(), StatusCode::kUnknown);
  st.with_context("writing");
  EXPECT_EQ(st.message(), "writing: taken");
  EXPECT_EQ(st.code(), StatusCode::kAlreadyExists);
}

TEST(Result, RefusesAnOkStatus) {
  Result<int> r = Status::success();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
  EXPECT_NE(r.status().message().find("OK status"), std::string::npos);
  Result<int> v = 7;
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 7);
  EXPECT_TRUE(v.status().ok());
}

}  // namespace
}  // namespace kpipe
