// The storefront simulator: arrays out, owned by NumPy (no copies beyond the simulation itself).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "comptoir/simulate/simulator.h"
#include "arrays.h"
#include "status_translation.h"

namespace comptoir::python {
namespace {

py::array_t<std::uint8_t> KindsToNumpy(std::vector<data::EventKind>&& kinds) {
  std::vector<std::uint8_t> codes(kinds.size());
  std::memcpy(codes.data(), kinds.data(), kinds.size());
  return MoveToNumpy(std::move(codes));
}

}  // namespace

void RegisterSimulate(py::module_& m) {
  py::module_ sim = m.def_submodule("simulate", "the built-in storefront simulator");
  py::class_<simulate::SimulatorConfig>(sim, "SimulatorConfig")
      .def(py::init<>())
      .def_readwrite("num_customers", &simulate::SimulatorConfig::num_customers)
      .def_readwrite("num_items", &simulate::SimulatorConfig::num_items)
      .def_readwrite("num_categories", &simulate::SimulatorConfig::num_categories)
      .def_readwrite("num_days", &simulate::SimulatorConfig::num_days)
      .def_readwrite("start_timestamp", &simulate::SimulatorConfig::start_timestamp)
      .def_readwrite("popularity_exponent", &simulate::SimulatorConfig::popularity_exponent)
      .def_readwrite("taste_dim", &simulate::SimulatorConfig::taste_dim)
      .def_readwrite("sessions_per_customer", &simulate::SimulatorConfig::sessions_per_customer)
      .def_readwrite("activity_shape", &simulate::SimulatorConfig::activity_shape)
      .def_readwrite("mean_session_views", &simulate::SimulatorConfig::mean_session_views)
      .def_readwrite("intent_drift", &simulate::SimulatorConfig::intent_drift)
      .def_readwrite("consumable_fraction", &simulate::SimulatorConfig::consumable_fraction)
      .def_readwrite("promo_discounts", &simulate::SimulatorConfig::promo_discounts)
      .def_readwrite("campaign_days", &simulate::SimulatorConfig::campaign_days);
  sim.def(
      "simulate",
      [](const simulate::SimulatorConfig& config, std::uint64_t seed, int num_threads, const py::object& on_progress) {
        ExecutionOptions options;
        options.seed = seed;
        options.num_threads = num_threads;
        simulate::SimulatedData data = RunReleasingGil(
            [&](ProgressCallback progress) {
              options.progress = std::move(progress);
              return simulate::Simulate(config, options);
            },
            on_progress);
        const auto customers = static_cast<py::ssize_t>(config.num_customers);
        const auto arms = static_cast<py::ssize_t>(data.campaign.num_arms);
        py::dict events, catalogue, campaign;
        events["session"] = MoveToNumpy(std::move(data.events.session));
        events["user"] = MoveToNumpy(std::move(data.events.user));
        events["item"] = MoveToNumpy(std::move(data.events.item));
        events["timestamp"] = MoveToNumpy(std::move(data.events.timestamp));
        events["kind"] = KindsToNumpy(std::move(data.events.kind));
        events["value"] = MoveToNumpy(std::move(data.events.value));
        events["quantity"] = MoveToNumpy(std::move(data.events.quantity));
        catalogue["category"] = MoveToNumpy(std::move(data.catalogue.category));
        catalogue["price"] = MoveToNumpy(std::move(data.catalogue.price));
        catalogue["in_stock"] = MoveToNumpy(std::move(data.catalogue.in_stock));
        catalogue["margin"] = MoveToNumpy(std::move(data.catalogue.margin));
        catalogue["consumable"] = MoveToNumpy(std::move(data.item_consumable));
        campaign["discounts"] = data.campaign.discounts;
        campaign["start_timestamp"] = data.campaign.start_timestamp;
        campaign["arm"] = MoveToNumpy(std::move(data.campaign.arm));
        campaign["converted"] = MoveToNumpy(std::move(data.campaign.converted));
        campaign["spend"] = MoveToNumpy(std::move(data.campaign.spend));
        campaign["true_conversion"] = MoveToNumpy(std::move(data.campaign.true_conversion), {customers, arms});
        campaign["true_spend"] = MoveToNumpy(std::move(data.campaign.true_spend), {customers, arms});
        py::dict out;
        out["events"] = events;
        out["catalogue"] = catalogue;
        out["customer_attributes"] = MoveToNumpy(std::move(data.customers.attributes), {customers, simulate::kNumCustomerAttributes});
        out["customer_attribute_names"] = std::vector<std::string>(std::begin(simulate::kCustomerAttributeNames), std::end(simulate::kCustomerAttributeNames));
        out["campaign"] = campaign;
        out["consumable_cycle_days"] = MoveToNumpy(std::move(data.consumable_cycle_days));
        out["consumable_item"] = MoveToNumpy(std::move(data.consumable_item));
        out["num_sessions"] = data.num_sessions;
        return out;
      },
      py::arg("config"), py::arg("seed") = 42, py::arg("num_threads") = 0, py::arg("on_progress") = py::none());
}

}  // namespace comptoir::python
