// Found by fuzz_load_model: schema texts that are not UTF-8 made protobuf log to stderr (a silent
// library must not) and reached Python as bytes str() cannot decode. They are bytes on the wire
// now and checked by the reader: a damaged file, said in the status, nothing printed.
#include <string>

#include "comptoir/io/model_file.h"
#include "comptoir/schema.h"
#include "gtest/gtest.h"
#include "testing/status_matchers.h"

namespace comptoir {
namespace {

using ::testing::HasSubstr;

TEST(FeatureSchema, TextsThatAreNotUtf8AreDamagedFilesAndNothingIsLogged) {
  for (int where = 0; where < 3; ++where) {
    FeatureSchema schema;
    schema.feature_names = {"tenure", "caf\xc3\xa9"};
    schema.class_labels = {TypedValues::Type::kString, {"no", "yes"}};
    if (where == 0) schema.feature_names[0] = "ten\xffure";
    if (where == 1) schema.class_labels.values[1] = "y\xc0\xafs";
    if (where == 2) schema.categorical.push_back({1, {TypedValues::Type::kString, {"a", "\xed\xa0\x80"}}});
    io::ModelFile file("test");
    ASSERT_TRUE(schema.AppendTo(file).ok());
    ::testing::internal::CaptureStderr();
    const absl::StatusOr<FeatureSchema> read = FeatureSchema::ReadFrom(file, 2);
    EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
    ASSERT_FALSE(read.ok());
    EXPECT_TRUE(IsModelFormatError(read.status())) << read.status();
    EXPECT_THAT(std::string(read.status().message()), HasSubstr("not UTF-8"));
  }
  FeatureSchema fine;
  fine.feature_names = {"tenure", "caf\xc3\xa9"};
  io::ModelFile file("test");
  ASSERT_TRUE(fine.AppendTo(file).ok());
  EXPECT_TRUE(FeatureSchema::ReadFrom(file, 2).ok());
}

}  // namespace
}  // namespace comptoir
