#include "catalogue.h"

#include <cmath>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "comptoir/status.h"

namespace comptoir::serve {
namespace {

// One CSV record (RFC 4180: quoted fields may hold commas, doubled quotes and line breaks) from
// `text` at `pos`, which moves past the record's line end. False at the end of the text.
absl::StatusOr<bool> NextRecord(std::string_view text, std::size_t& pos, std::int64_t line, std::vector<std::string>& fields) {
  fields.clear();
  if (pos >= text.size()) return false;
  std::string field;
  bool quoted = false, was_quoted = false;
  while (pos < text.size()) {
    const char c = text[pos++];
    if (quoted) {
      if (c != '"') {
        field.push_back(c);
      } else if (pos < text.size() && text[pos] == '"') {
        field.push_back('"');
        ++pos;
      } else {
        quoted = false;
      }
      continue;
    }
    if (c == '"' && field.empty() && !was_quoted) {
      quoted = was_quoted = true;
    } else if (c == ',') {
      fields.push_back(std::move(field));
      field.clear();
      was_quoted = false;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && pos < text.size() && text[pos] == '\n') ++pos;
      break;
    } else {
      field.push_back(c);
    }
  }
  if (quoted) return absl::InvalidArgumentError(absl::StrCat("line ", line, ": a quoted field is not closed"));
  fields.push_back(std::move(field));
  return true;
}

int ColumnOf(const std::vector<std::string>& header, std::string_view name) {
  for (std::size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const ShopCatalogue>> ShopCatalogue::Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open the catalogue ", path));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("cannot read the catalogue ", path));
  auto catalogue = Parse(text.str());
  if (!catalogue.ok()) {
    return absl::Status(catalogue.status().code(), absl::StrCat("catalogue ", path, ": ", catalogue.status().message()));
  }
  return catalogue;
}

absl::StatusOr<std::shared_ptr<const ShopCatalogue>> ShopCatalogue::Parse(std::string_view text) {
  auto catalogue = std::make_shared<ShopCatalogue>();
  std::size_t pos = 0;
  std::int64_t line = 1;
  std::vector<std::string> header, fields;
  COMPTOIR_ASSIGN_OR_RETURN(const bool has_header, NextRecord(text, pos, line, header));
  const int item_column = has_header ? ColumnOf(header, "item_id") : -1;
  const int category_column = has_header ? ColumnOf(header, "category") : -1;
  const int price_column = has_header ? ColumnOf(header, "price") : -1;
  if (item_column < 0 || category_column < 0) {
    return absl::InvalidArgumentError("the first line must name the columns, among them item_id and category (and optionally price)");
  }
  catalogue->has_prices_ = price_column >= 0;
  for (;;) {
    ++line;
    COMPTOIR_ASSIGN_OR_RETURN(const bool more, NextRecord(text, pos, line, fields));
    if (!more) break;
    if (fields.size() == 1 && fields[0].empty()) continue;  // blank line
    if (fields.size() != header.size()) {
      return absl::InvalidArgumentError(absl::StrCat("line ", line, " has ", fields.size(), " fields, the header ", header.size()));
    }
    const std::string& item = fields[static_cast<std::size_t>(item_column)];
    if (item.empty()) return absl::InvalidArgumentError(absl::StrCat("line ", line, ": empty item_id"));
    Entry entry;
    const std::string& category = fields[static_cast<std::size_t>(category_column)];
    if (!category.empty()) {
      const auto [it, added] = catalogue->category_ids_.emplace(category, static_cast<std::int32_t>(catalogue->category_names_.size()));
      if (added) catalogue->category_names_.push_back(category);
      entry.category = it->second;
    }
    if (price_column >= 0) {
      const std::string& price = fields[static_cast<std::size_t>(price_column)];
      double value = 0.0;
      if (!price.empty() && (!absl::SimpleAtod(price, &value) || !std::isfinite(value) || value < 0 || value > 3e38)) {
        return absl::InvalidArgumentError(absl::StrCat("line ", line, ": price '", price, "' is not a non-negative number"));
      }
      entry.price = static_cast<float>(value);
    }
    if (!catalogue->item_category_.emplace(item, entry).second) {
      return absl::InvalidArgumentError(absl::StrCat("line ", line, ": item '", item, "' is listed twice"));
    }
  }
  return std::shared_ptr<const ShopCatalogue>(std::move(catalogue));
}

std::int32_t ShopCatalogue::FindCategory(std::string_view name) const {
  const auto it = category_ids_.find(std::string(name));
  return it == category_ids_.end() ? -1 : it->second;
}

std::shared_ptr<const data::Catalogue> ShopCatalogue::AlignTo(const Model& model) const {
  const recommend::Recommender* recommender = model.AsRecommender();
  if (recommender == nullptr) return nullptr;
  const auto num_items = static_cast<std::size_t>(recommender->num_items());
  auto aligned = std::make_shared<data::Catalogue>();
  aligned->category.assign(num_items, -1);
  aligned->price.assign(num_items, 0.0f);
  for (std::size_t dense = 0; dense < num_items; ++dense) {
    const auto it = item_category_.find(model.ids().ItemId(static_cast<std::int32_t>(dense)));
    if (it == item_category_.end()) continue;
    aligned->category[dense] = it->second.category;
    aligned->price[dense] = it->second.price;
  }
  return aligned;
}

}  // namespace comptoir::serve
