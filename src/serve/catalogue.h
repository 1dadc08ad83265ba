// The shop's product feed as the service reads it (`--catalogue PATH`): a CSV with a header naming
// `item_id` and `category` columns, and optionally `price`, one row per item in the shop's ids. It
// lets /v1/recommend keep to the categories (and price band) a page asks for. Models are trained
// on a snapshot of the catalogue; the feed is read again on every reload, so items and categories
// follow the shop without retraining.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "comptoir/data/events.h"
#include "comptoir/model.h"

namespace comptoir::serve {

class ShopCatalogue {
 public:
  // InvalidArgument naming the line and the problem (missing columns, a bad price, an item twice).
  static absl::StatusOr<std::shared_ptr<const ShopCatalogue>> Read(const std::string& path);
  static absl::StatusOr<std::shared_ptr<const ShopCatalogue>> Parse(std::string_view text);

  // The category's dense id, or -1 when no item of the feed is in it.
  std::int32_t FindCategory(std::string_view name) const;
  std::size_t num_items() const { return item_category_.size(); }
  std::size_t num_categories() const { return category_names_.size(); }
  bool has_prices() const { return has_prices_; }

  // The feed in `model`'s dense item order, for RecommendFilters::catalogue. Items of the model
  // that the feed does not list get no category and price 0: a category rule leaves them out.
  std::shared_ptr<const data::Catalogue> AlignTo(const Model& model) const;

 private:
  struct Entry {
    std::int32_t category = -1;
    float price = 0.0f;
  };
  std::unordered_map<std::string, Entry> item_category_;
  std::unordered_map<std::string, std::int32_t> category_ids_;
  std::vector<std::string> category_names_;
  bool has_prices_ = false;
};

}  // namespace comptoir::serve
