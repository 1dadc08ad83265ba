#include "comptoir/simulate/simulator.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "comptoir/status.h"
#include "internal/parallel.h"
#include "internal/rng.h"

namespace comptoir::simulate {
namespace {

using data::EventKind;
using internal::CounterRng;

// Disjoint stream families, so catalogue, customers and campaign draws never overlap.
constexpr std::uint64_t kCatalogueStream = 1ULL << 62;
constexpr std::uint64_t kCustomerStream = 1ULL << 61;
constexpr std::uint64_t kCampaignStream = 1ULL << 60;
constexpr std::int64_t kDay = 86'400;
constexpr double kPi = 3.141592653589793;
constexpr std::int32_t kChoiceCandidates = 4;

double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Walker/Vose alias table: O(1) draws from a fixed discrete distribution.
class AliasTable {
 public:
  AliasTable() = default;
  explicit AliasTable(const std::vector<double>& weights) {
    const std::size_t n = weights.size();
    probability_.assign(n, 0.0);
    alias_.assign(n, 0);
    if (n == 0) return;
    const double total = std::accumulate(weights.begin(), weights.end(), 0.0);
    std::vector<double> scaled(n);
    std::vector<std::int32_t> small, large;
    for (std::size_t i = 0; i < n; ++i) {
      scaled[i] = weights[i] * static_cast<double>(n) / total;
      (scaled[i] < 1.0 ? small : large).push_back(static_cast<std::int32_t>(i));
    }
    while (!small.empty() && !large.empty()) {
      const std::int32_t s = small.back(), l = large.back();
      small.pop_back();
      probability_[s] = scaled[s];
      alias_[s] = l;
      scaled[l] -= 1.0 - scaled[s];
      if (scaled[l] < 1.0) {
        large.pop_back();
        small.push_back(l);
      }
    }
    for (std::int32_t i : large) probability_[i] = 1.0;
    for (std::int32_t i : small) probability_[i] = 1.0;
  }
  std::int32_t Sample(CounterRng& rng) const {
    const auto i = static_cast<std::int32_t>(rng.UniformInt(probability_.size()));
    return rng.Uniform() < probability_[i] ? i : alias_[i];
  }
  bool empty() const { return probability_.empty(); }

 private:
  std::vector<double> probability_;
  std::vector<std::int32_t> alias_;
};

// Everything shared by all customers; read-only once built.
struct World {
  const SimulatorConfig& config;
  std::int32_t dim;
  std::vector<float> category_centroid;   // categories x dim
  std::vector<float> category_peak_hour;
  std::vector<float> category_log_price;
  std::vector<std::uint8_t> category_consumable;
  AliasTable category_prior;
  std::vector<float> item_vector;         // items x dim
  std::vector<float> item_log_price;
  std::vector<std::vector<std::int32_t>> items_by_category;
  std::vector<AliasTable> category_items;  // popularity within a category
  std::vector<std::int32_t> consumables;
  AliasTable consumable_prior;

  explicit World(const SimulatorConfig& c) : config(c), dim(c.taste_dim) {}

  float Dot(const float* a, const float* b) const {
    float s = 0;
    for (std::int32_t d = 0; d < dim; ++d) s += a[d] * b[d];
    return s;
  }
};

struct Customer {
  std::vector<float> taste;
  double price_sensitivity = 1;
  double activity = 1;
  double preferred_hour = 12;
  bool weekend_shopper = false;
  std::int32_t sessions = 0;
};

void BuildCatalogue(World& world, data::Catalogue& catalogue, std::vector<std::uint8_t>& item_consumable,
                    std::uint64_t seed) {
  const SimulatorConfig& config = world.config;
  const std::int32_t categories = config.num_categories, items = config.num_items, dim = world.dim;
  CounterRng rng(seed, kCatalogueStream);
  world.category_centroid.resize(static_cast<std::size_t>(categories) * dim);
  for (float& v : world.category_centroid) v = static_cast<float>(rng.Normal());
  std::vector<double> category_weight(static_cast<std::size_t>(categories));
  for (std::int32_t c = 0; c < categories; ++c) {
    world.category_peak_hour.push_back(static_cast<float>(rng.Uniform(0, 24)));
    world.category_log_price.push_back(static_cast<float>(rng.Normal(3.2, 0.8)));
    world.category_consumable.push_back(rng.Uniform() < config.consumable_fraction);
    category_weight[c] = 1.0 / std::pow(c + 1.0, 0.7);
  }
  world.category_prior = AliasTable(category_weight);
  // Popularity ranks are a random permutation so that item ids carry no information.
  std::vector<std::int32_t> rank(static_cast<std::size_t>(items));
  std::iota(rank.begin(), rank.end(), 0);
  for (std::int32_t i = items - 1; i > 0; --i) std::swap(rank[i], rank[rng.UniformInt(static_cast<std::uint64_t>(i) + 1)]);
  world.items_by_category.assign(static_cast<std::size_t>(categories), {});
  std::vector<std::vector<double>> popularity(static_cast<std::size_t>(categories));
  world.item_vector.resize(static_cast<std::size_t>(items) * dim);
  item_consumable.assign(static_cast<std::size_t>(items), 0);
  std::vector<double> consumable_weight;
  for (std::int32_t i = 0; i < items; ++i) {
    const std::int32_t c = world.category_prior.Sample(rng);
    catalogue.category.push_back(c);
    for (std::int32_t d = 0; d < dim; ++d) {
      world.item_vector[static_cast<std::size_t>(i) * dim + d] =
          world.category_centroid[static_cast<std::size_t>(c) * dim + d] + 0.5f * static_cast<float>(rng.Normal());
    }
    const double log_price = world.category_log_price[c] + rng.Normal(0, 0.35);
    world.item_log_price.push_back(static_cast<float>(log_price));
    catalogue.price.push_back(static_cast<float>(std::round(std::exp(log_price) * 100.0) / 100.0));
    catalogue.in_stock.push_back(rng.Uniform() < 0.95);
    catalogue.margin.push_back(static_cast<float>(rng.Uniform(0.2, 0.5)));
    const double weight = 1.0 / std::pow(rank[i] + 1.0, config.popularity_exponent);
    world.items_by_category[c].push_back(i);
    popularity[c].push_back(weight);
    if (world.category_consumable[c]) {
      item_consumable[i] = 1;
      world.consumables.push_back(i);
      consumable_weight.push_back(weight);
    }
  }
  for (std::int32_t c = 0; c < categories; ++c) world.category_items.emplace_back(popularity[c]);
  world.consumable_prior = AliasTable(consumable_weight);
}

// A category for the next stretch of browsing: taste plus the hour's pull on each category.
std::int32_t ChooseCategory(const World& world, const Customer& customer, double hour, CounterRng& rng,
                            std::vector<double>& weights) {
  const std::int32_t categories = world.config.num_categories;
  weights.resize(static_cast<std::size_t>(categories));
  double total = 0;
  std::int32_t last_stocked = 0;
  for (std::int32_t c = 0; c < categories; ++c) {
    // A small catalogue can leave a category without items: nobody browses it.
    if (world.items_by_category[c].empty()) {
      weights[c] = 0;
      continue;
    }
    last_stocked = c;
    const double affinity = world.Dot(customer.taste.data(), world.category_centroid.data() + static_cast<std::size_t>(c) * world.dim) / std::sqrt(static_cast<double>(world.dim));
    const double time_of_day = 0.8 * std::cos(2 * kPi * (hour - world.category_peak_hour[c]) / 24.0);
    total += weights[c] = std::exp(affinity + time_of_day) / std::pow(c + 1.0, 0.7);
  }
  double u = rng.Uniform() * total;
  for (std::int32_t c = 0; c < categories; ++c) {
    if (weights[c] > 0 && (u -= weights[c]) <= 0) return c;
  }
  return last_stocked;
}

// A product within the category: a few popular candidates, the one that suits the customer wins.
std::int32_t ChooseItem(const World& world, const Customer& customer, std::int32_t category, CounterRng& rng,
                        double* affinity_out) {
  const std::vector<std::int32_t>& pool = world.items_by_category[category];
  std::int32_t best = -1;
  double best_utility = -1e300, best_affinity = 0;
  for (std::int32_t k = 0; k < kChoiceCandidates; ++k) {
    const std::int32_t item = pool[world.category_items[category].Sample(rng)];
    const double affinity = world.Dot(customer.taste.data(), world.item_vector.data() + static_cast<std::size_t>(item) * world.dim) / world.dim;
    const double relative_price = world.item_log_price[item] - world.category_log_price[category];
    // Gumbel noise makes this a draw from the softmax of utilities.
    const double utility = affinity - customer.price_sensitivity * relative_price - std::log(-std::log(1.0 - rng.Uniform()));
    if (utility > best_utility) best_utility = utility, best = item, best_affinity = affinity;
  }
  *affinity_out = best_affinity;
  return best;
}

struct ChunkOutput {
  data::EventColumns events;  // session ids local to the chunk, from 0
  std::int64_t sessions = 0;
};

void Emit(ChunkOutput& out, std::int64_t session, std::int32_t customer, std::int32_t item, std::int64_t time,
          EventKind kind, float value, float quantity) {
  data::EventColumns& e = out.events;
  e.session.push_back(session), e.user.push_back(customer), e.item.push_back(item), e.timestamp.push_back(time);
  e.kind.push_back(kind), e.value.push_back(value), e.quantity.push_back(quantity);
}

std::int64_t SessionStart(const World& world, const Customer& customer, double day, CounterRng& rng, double* hour) {
  std::int64_t whole_day = static_cast<std::int64_t>(day);
  const std::int64_t absolute_day = world.config.start_timestamp / kDay + whole_day;
  const std::int64_t weekday = ((absolute_day % 7) + 7 + 4) % 7;  // 0 = Sunday
  if (customer.weekend_shopper && weekday != 0 && weekday != 6 && rng.Uniform() < 0.6) {
    // To the coming Saturday, or the last one when the window ends first.
    whole_day += whole_day + (6 - weekday) < world.config.num_days ? 6 - weekday : -(weekday + 1);
    whole_day = std::max<std::int64_t>(whole_day, 0);
  }
  *hour = std::fmod(std::fmod(customer.preferred_hour + rng.Normal(0, 2.5), 24.0) + 24.0, 24.0);
  return world.config.start_timestamp + whole_day * kDay + static_cast<std::int64_t>(*hour * 3600.0);
}

void SimulateCustomer(const World& world, const data::Catalogue& catalogue, std::int32_t id, Customer& customer,
                      std::vector<float>& attributes, std::vector<float>& cycle, std::vector<std::int32_t>& consumable,
                      std::uint64_t seed, ChunkOutput& out, std::vector<double>& scratch,
                      std::vector<std::pair<std::int64_t, std::int32_t>>& starts, std::vector<std::int32_t>& cart) {
  const SimulatorConfig& config = world.config;
  CounterRng rng(seed, kCustomerStream + static_cast<std::uint64_t>(id));
  customer.taste.resize(static_cast<std::size_t>(world.dim));
  for (float& t : customer.taste) t = static_cast<float>(rng.Normal());
  customer.price_sensitivity = std::exp(rng.Normal(0.0, 0.5));
  // Mean-one log-normal activity: a few customers visit far more often than most.
  const double spread = 1.0 / std::sqrt(config.activity_shape);
  customer.activity = std::exp(rng.Normal(-0.5 * spread * spread, spread));
  customer.preferred_hour = rng.Uniform() < 0.5 ? rng.Normal(10.0, 2.0) : rng.Normal(20.0, 2.0);
  customer.weekend_shopper = rng.Uniform() < 0.3;
  float* attribute = attributes.data() + static_cast<std::size_t>(id) * kNumCustomerAttributes;
  attribute[0] = static_cast<float>(rng.UniformInt(6));
  attribute[1] = static_cast<float>(std::floor(rng.Uniform(0, 1500)));
  attribute[2] = static_cast<float>(customer.price_sensitivity * std::exp(rng.Normal(0, 0.3)));
  attribute[3] = static_cast<float>(std::fmod(customer.preferred_hour + 24.0, 24.0));
  attribute[4] = customer.weekend_shopper ? 1.0f : 0.0f;
  attribute[5] = static_cast<float>(rng.UniformInt(3));

  // Browsing sessions, generated in time order.
  const double expected = config.sessions_per_customer * customer.activity;
  std::int32_t sessions = 0;
  for (double t = rng.Exponential(1.0); t < expected; t += rng.Exponential(1.0)) ++sessions;  // Poisson(expected)
  starts.clear();
  for (std::int32_t s = 0; s < sessions; ++s) {
    double hour;
    starts.emplace_back(SessionStart(world, customer, rng.Uniform(0, config.num_days), rng, &hour), 0);
  }
  // Consumables: one item re-bought on a personal cycle, in short re-order sessions.
  cycle[id] = 0.0f;
  consumable[id] = -1;
  if (!world.consumables.empty() && rng.Uniform() < 0.4) {
    consumable[id] = world.consumables[world.consumable_prior.Sample(rng)];
    cycle[id] = static_cast<float>(rng.Uniform(7.0, 42.0));
    for (double day = rng.Uniform(0, cycle[id]); day < config.num_days; day += cycle[id] + rng.Normal(0, 1.0)) {
      double hour;
      starts.emplace_back(SessionStart(world, customer, day, rng, &hour), 1);
    }
  }
  std::sort(starts.begin(), starts.end());
  for (const auto& [start, reorder] : starts) {
    const std::int64_t session = out.sessions++;
    const double hour = static_cast<double>((start % kDay + kDay) % kDay) / 3600.0;
    std::int64_t time = start;
    if (reorder) {
      const std::int32_t item = consumable[id];
      const float price = catalogue.price[item];
      Emit(out, session, id, item, time, EventKind::kView, 0.0f, 1.0f);
      Emit(out, session, id, item, time += 20, EventKind::kCart, 0.0f, 1.0f);
      Emit(out, session, id, item, time += 40, EventKind::kPurchase, price, 1.0f);
      continue;
    }
    std::int32_t category = ChooseCategory(world, customer, hour, rng, scratch);
    const auto views = 1 + static_cast<std::int32_t>(rng.Exponential(1.0 / (config.mean_session_views - 1.0)));
    cart.clear();
    double relative_price_sum = 0;
    for (std::int32_t v = 0; v < views; ++v) {
      if (v > 0 && rng.Uniform() < config.intent_drift) category = ChooseCategory(world, customer, hour, rng, scratch);
      double affinity;
      const std::int32_t item = ChooseItem(world, customer, category, rng, &affinity);
      time += 5 + static_cast<std::int64_t>(rng.Exponential(1.0 / 45.0));
      Emit(out, session, id, item, time, EventKind::kView, 0.0f, 1.0f);
      const double relative_price = world.item_log_price[item] - world.category_log_price[category];
      if (catalogue.in_stock[item] && rng.Uniform() < Sigmoid(-2.2 + 1.5 * affinity - customer.price_sensitivity * relative_price)) {
        Emit(out, session, id, item, time += 10, EventKind::kCart, 0.0f, 1.0f);
        cart.push_back(item);
        relative_price_sum += relative_price;
      }
    }
    // Carts end in a purchase or are abandoned; dear carts are abandoned more often.
    if (!cart.empty() && rng.Uniform() < Sigmoid(0.2 - customer.price_sensitivity * relative_price_sum / static_cast<double>(cart.size()))) {
      time += 60 + static_cast<std::int64_t>(rng.Exponential(1.0 / 60.0));
      for (std::int32_t item : cart) {
        const float quantity = rng.Uniform() < 0.15 ? 2.0f : 1.0f;
        Emit(out, session, id, item, time, EventKind::kPurchase, catalogue.price[item] * quantity, quantity);
      }
    }
  }
  customer.sessions = static_cast<std::int32_t>(starts.size());
}

// Potential outcomes under every arm, from observable-driven latent traits (see header).
void RunCampaign(const SimulatorConfig& config, std::int32_t id, const Customer& customer, const float* attribute,
                 std::uint64_t seed, Campaign& campaign) {
  CounterRng rng(seed, kCampaignStream + static_cast<std::uint64_t>(id));
  const std::int32_t arms = campaign.num_arms;
  const double tenure_years = attribute[1] / 365.0;
  const double baseline = -2.4 + 0.5 * std::log1p(customer.sessions) + 0.15 * tenure_years - 0.4 * customer.price_sensitivity;
  // Long-standing, price-insensitive customers are the ones an offer annoys.
  const bool sleeping_dog = rng.Uniform() < Sigmoid(-2.5 + 0.8 * tenure_years - 1.5 * customer.price_sensitivity);
  const double basket_value = std::exp(rng.Normal(std::log(60.0), 0.5));
  for (std::int32_t a = 0; a < arms; ++a) {
    const double discount = campaign.discounts[a];
    const double logit = baseline + discount * 3.0 * customer.price_sensitivity - discount * (sleeping_dog ? 6.0 : 0.0);
    const double p = Sigmoid(logit);
    campaign.true_conversion[static_cast<std::size_t>(id) * arms + a] = static_cast<float>(p);
    campaign.true_spend[static_cast<std::size_t>(id) * arms + a] = static_cast<float>(p * basket_value * (1.0 - discount));
  }
  const auto arm = static_cast<std::int32_t>(rng.UniformInt(static_cast<std::uint64_t>(arms)));
  campaign.arm[id] = arm;
  const bool converted = rng.Uniform() < campaign.true_conversion[static_cast<std::size_t>(id) * arms + arm];
  campaign.converted[id] = converted;
  // Mean-one log-normal noise around the expected basket.
  campaign.spend[id] = converted ? static_cast<float>(basket_value * (1.0 - campaign.discounts[arm]) * std::exp(rng.Normal(-0.02, 0.2))) : 0.0f;
}

}  // namespace

absl::Status SimulatorConfig::Validate() const {
  if (num_customers <= 0 || num_items <= 0 || num_categories <= 0) {
    return absl::InvalidArgumentError("num_customers, num_items and num_categories must be positive");
  }
  if (num_categories > num_items) return absl::InvalidArgumentError("num_categories cannot exceed num_items");
  if (num_days <= 0 || campaign_days <= 0) return absl::InvalidArgumentError("num_days and campaign_days must be positive");
  if (!(popularity_exponent >= 0)) return absl::InvalidArgumentError("popularity_exponent must be >= 0");
  if (taste_dim <= 0 || taste_dim > 256) return absl::InvalidArgumentError("taste_dim must be in [1, 256]");
  if (!(sessions_per_customer > 0)) return absl::InvalidArgumentError("sessions_per_customer must be positive");
  if (!(activity_shape > 0)) return absl::InvalidArgumentError("activity_shape must be positive");
  if (!(mean_session_views > 1)) return absl::InvalidArgumentError("mean_session_views must be > 1");
  if (!(intent_drift >= 0 && intent_drift <= 1)) return absl::InvalidArgumentError("intent_drift must be in [0, 1]");
  if (!(consumable_fraction >= 0 && consumable_fraction <= 1)) return absl::InvalidArgumentError("consumable_fraction must be in [0, 1]");
  if (promo_discounts.empty() || promo_discounts[0] != 0.0) {
    return absl::InvalidArgumentError("promo_discounts must start with the control arm, 0.0");
  }
  for (double d : promo_discounts) {
    if (!(d >= 0 && d < 1)) return absl::InvalidArgumentError(absl::StrCat("discount ", d, " is outside [0, 1)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<SimulatedData> Simulate(const SimulatorConfig& config, const ExecutionOptions& options) {
  COMPTOIR_RETURN_IF_ERROR(config.Validate());
  COMPTOIR_RETURN_IF_ERROR(options.Validate());
  SimulatedData out;
  World world(config);
  BuildCatalogue(world, out.catalogue, out.item_consumable, options.seed);

  const std::int32_t n = config.num_customers;
  out.customers.num_attributes = kNumCustomerAttributes;
  out.customers.attributes.assign(static_cast<std::size_t>(n) * kNumCustomerAttributes, 0.0f);
  out.consumable_cycle_days.assign(static_cast<std::size_t>(n), 0.0f);
  out.consumable_item.assign(static_cast<std::size_t>(n), -1);
  Campaign& campaign = out.campaign;
  campaign.num_arms = static_cast<std::int32_t>(config.promo_discounts.size());
  campaign.discounts = config.promo_discounts;
  campaign.start_timestamp = config.start_timestamp + std::int64_t{config.num_days} * kDay;
  campaign.arm.assign(static_cast<std::size_t>(n), 0);
  campaign.converted.assign(static_cast<std::size_t>(n), 0);
  campaign.spend.assign(static_cast<std::size_t>(n), 0.0f);
  campaign.true_conversion.assign(static_cast<std::size_t>(n) * campaign.num_arms, 0.0f);
  campaign.true_spend.assign(static_cast<std::size_t>(n) * campaign.num_arms, 0.0f);

  constexpr std::int64_t kChunk = 512;
  std::vector<ChunkOutput> chunks(static_cast<std::size_t>(internal::NumChunks(n, kChunk)));
  ProgressReporter progress(options.progress, n, "simulate");
  COMPTOIR_RETURN_IF_ERROR(internal::ParallelForChunks(
      options.num_threads, n, kChunk,
      [&](std::int64_t chunk, std::int64_t begin, std::int64_t end) {
        ChunkOutput& local = chunks[chunk];
        local.events.Reserve(static_cast<std::size_t>((end - begin) * config.sessions_per_customer * (config.mean_session_views + 1)));
        Customer customer;
        std::vector<double> scratch;
        std::vector<std::pair<std::int64_t, std::int32_t>> starts;
        std::vector<std::int32_t> cart;
        for (std::int64_t c = begin; c < end; ++c) {
          const auto id = static_cast<std::int32_t>(c);
          SimulateCustomer(world, out.catalogue, id, customer, out.customers.attributes, out.consumable_cycle_days,
                           out.consumable_item, options.seed, local, scratch, starts, cart);
          RunCampaign(config, id, customer, out.customers.attributes.data() + c * kNumCustomerAttributes, options.seed, campaign);
        }
      },
      &progress));

  // Concatenate chunks in customer order; session ids become global.
  std::size_t total = 0;
  for (const ChunkOutput& chunk : chunks) total += chunk.events.size();
  out.events.Reserve(total);
  for (ChunkOutput& chunk : chunks) {
    data::EventColumns& e = chunk.events;
    for (std::int64_t& session : e.session) session += out.num_sessions;
    out.num_sessions += chunk.sessions;
    auto append = [](auto& to, auto& from) { to.insert(to.end(), from.begin(), from.end()); };
    append(out.events.session, e.session), append(out.events.user, e.user), append(out.events.item, e.item);
    append(out.events.timestamp, e.timestamp), append(out.events.kind, e.kind), append(out.events.value, e.value);
    append(out.events.quantity, e.quantity);
    chunk = ChunkOutput();
  }
  progress.Finish();
  return out;
}

}  // namespace comptoir::simulate
