// Uplift evaluation and budgeted offer allocation.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "comptoir/eval/uplift.h"
#include "comptoir/promo/allocation.h"
#include "arrays.h"
#include "status_translation.h"

namespace comptoir::python {
namespace {

eval::UpliftMetric ParseMetric(const std::string& name) {
  if (name == "qini_coefficient_vs_perfect") return eval::UpliftMetric::kQiniCoefficientVsPerfect;
  if (name == "auuc_vs_perfect") return eval::UpliftMetric::kAuucVsPerfect;
  if (name == "qini_area_raw") return eval::UpliftMetric::kQiniAreaRaw;
  if (name == "auuc_raw") return eval::UpliftMetric::kAuucRaw;
  throw py::value_error("unknown uplift metric '" + name + "'");
}

// customers x offers value and cost matrices, checked to have the same shape.
promo::OfferMatrix OffersOf(const Array<double>& value, const Array<double>& cost) {
  if (value.ndim() != 2 || cost.ndim() != 2 || value.shape(0) != cost.shape(0) || value.shape(1) != cost.shape(1)) {
    throw py::value_error("value and cost must be 2-D arrays of the same shape (customers x offers)");
  }
  return {SpanOf(value), SpanOf(cost), static_cast<std::int64_t>(value.shape(0)), static_cast<std::int32_t>(value.shape(1))};
}

py::dict AllocationDict(const promo::Allocation& a) {
  py::dict out;
  out["offer"] = ToNumpy(a.offer);
  out["spend"] = a.spend;
  out["value"] = a.value;
  out["profit"] = a.profit();
  out["roi"] = a.roi();
  out["lp_bound"] = a.lp_bound;
  return out;
}

}  // namespace

void RegisterPromo(py::module_& m) {
  // Scores, treatment and outcomes arrive as float64 / int32 (a cast here is cheap next to the
  // sort, and lets users pass whatever numeric dtype pandas produced).
  py::module_ uplift = m.def_submodule("uplift_eval", "uplift and Qini evaluation");
  uplift.def("curves", [](const Array<double>& scores, const Array<std::int32_t>& treatment, const Array<double>& outcome) {
    const eval::UpliftCurves c = ValueOrThrow(eval::ComputeUpliftCurves(SpanOf(scores), SpanOf(treatment), SpanOf(outcome)));
    py::dict out;
    out["targeted"] = ToNumpy(c.targeted);
    out["qini"] = ToNumpy(c.qini);
    out["uplift"] = ToNumpy(c.uplift);
    out["qini_area_raw"] = eval::QiniAreaRaw(c);
    out["auuc_raw"] = eval::AuucRaw(c);
    out["qini_divide_by_last"] = eval::QiniDivideByLast(c);
    out["auuc_divide_by_last"] = eval::AuucDivideByLast(c);
    return out;
  });
  uplift.def("qini_coefficient_vs_perfect", [](const Array<double>& s, const Array<std::int32_t>& t, const Array<double>& y) {
    return ValueOrThrow(eval::QiniCoefficientVsPerfect(SpanOf(s), SpanOf(t), SpanOf(y)));
  });
  uplift.def("auuc_vs_perfect", [](const Array<double>& s, const Array<std::int32_t>& t, const Array<double>& y) {
    return ValueOrThrow(eval::AuucVsPerfect(SpanOf(s), SpanOf(t), SpanOf(y)));
  });
  uplift.def("uplift_at_k", [](const Array<double>& s, const Array<std::int32_t>& t, const Array<double>& y, double fraction) {
    return ValueOrThrow(eval::UpliftAtK(SpanOf(s), SpanOf(t), SpanOf(y), fraction));
  });
  uplift.def(
      "bootstrap",
      [](const std::string& metric, const Array<double>& s, const Array<std::int32_t>& t, const Array<double>& y,
         std::int32_t replicates, std::uint64_t seed, int num_threads) {
        ExecutionOptions options;
        options.seed = seed;
        options.num_threads = num_threads;
        const eval::UpliftMetric which = ParseMetric(metric);
        const eval::Interval interval = RunReleasingGil([&](ProgressCallback) {
          return eval::BootstrapUpliftMetric(which, SpanOf(s), SpanOf(t), SpanOf(y), replicates, options);
        });
        return py::make_tuple(interval.estimate, interval.lower, interval.upper);
      },
      py::arg("metric"), py::arg("scores"), py::arg("treatment"), py::arg("outcome"), py::arg("replicates") = 200,
      py::arg("seed") = 42, py::arg("num_threads") = 0);
  uplift.def("profit_curve", [](const Array<double>& s, const Array<std::int32_t>& t, const Array<double>& y,
                                const Array<double>& value, const Array<double>& cost) {
    const eval::ProfitCurve c = ValueOrThrow(eval::ComputeProfitCurve(SpanOf(s), SpanOf(t), SpanOf(y), SpanOf(value), SpanOf(cost)));
    return py::make_tuple(ToNumpy(c.spend), ToNumpy(c.incremental_profit));
  });

  py::module_ promo = m.def_submodule("promo", "budgeted offer allocation");
  py::class_<promo::BudgetPath>(promo, "BudgetPath")
      .def_property_readonly("spend", [](const promo::BudgetPath& p) { return ToNumpy(p.spend); })
      .def_property_readonly("value", [](const promo::BudgetPath& p) { return ToNumpy(p.value); })
      .def_property_readonly("customer", [](const promo::BudgetPath& p) { return ToNumpy(p.customer); })
      .def_property_readonly("from_offer", [](const promo::BudgetPath& p) { return ToNumpy(p.from_offer); })
      .def_property_readonly("to_offer", [](const promo::BudgetPath& p) { return ToNumpy(p.to_offer); })
      .def("value_at", &promo::BudgetPath::ValueAt, py::arg("budget"));
  promo.def(
      "solve_budget_path",
      [](const Array<double>& value, const Array<double>& cost, int num_threads) {
        const promo::OfferMatrix offers = OffersOf(value, cost);
        ExecutionOptions options;
        options.num_threads = num_threads;
        return RunReleasingGil([&](ProgressCallback) { return promo::SolveBudgetPath(offers, options); });
      },
      py::arg("value"), py::arg("cost"), py::arg("num_threads") = 0);
  promo.def(
      "allocate_at_budget",
      [](const promo::BudgetPath& path, std::int64_t num_customers, double budget, double min_value_per_spend) {
        return AllocationDict(ValueOrThrow(promo::AllocateAtBudget(path, num_customers, budget, min_value_per_spend)));
      },
      py::arg("path"), py::arg("num_customers"), py::arg("budget"), py::arg("min_value_per_spend") = 1.0);
  promo.def(
      "allocate_with_rules",
      [](const Array<double>& value, const Array<double>& cost, double budget, const Array<std::int64_t>& max_customers,
         const Array<std::int64_t>& min_customers, const Array<double>& margin_after_offer, double min_margin,
         const Array<std::int32_t>& contacts_so_far, std::int32_t max_contacts, double min_value_per_spend, int num_threads) {
        const promo::OfferMatrix offers = OffersOf(value, cost);
        promo::OfferRules rules;
        rules.max_customers = SpanOf(max_customers);
        rules.min_customers = SpanOf(min_customers);
        rules.margin_after_offer = SpanOf(margin_after_offer);
        rules.min_margin = min_margin;
        rules.contacts_so_far = SpanOf(contacts_so_far);
        rules.max_contacts = max_contacts;
        rules.min_value_per_spend = min_value_per_spend;
        ExecutionOptions options;
        options.num_threads = num_threads;
        const promo::RuledAllocation result =
            RunReleasingGil([&](ProgressCallback) { return promo::AllocateWithRules(offers, budget, rules, options); });
        py::dict out = AllocationDict(result.allocation);
        out["prices"] = ToNumpy(result.prices);
        out["customers_per_offer"] = ToNumpy(result.customers_per_offer);
        out["pairs_below_margin_floor"] = result.pairs_below_margin_floor;
        out["customers_at_contact_cap"] = result.customers_at_contact_cap;
        return out;
      },
      py::arg("value"), py::arg("cost"), py::arg("budget"), py::arg("max_customers"), py::arg("min_customers"),
      py::arg("margin_after_offer"), py::arg("min_margin"), py::arg("contacts_so_far"), py::arg("max_contacts"),
      py::arg("min_value_per_spend"), py::arg("num_threads"));
}

}  // namespace comptoir::python
