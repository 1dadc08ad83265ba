#include "comptoir/uplift/meta_learners.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "comptoir/status.h"
#include "comptoir/v1/uplift.pb.h"
#include "internal/registry.h"
#include "internal/strings.h"

namespace comptoir::uplift {
namespace {

// |f - b| below this: the rescale rule takes the link's slope at the base value.
constexpr double kFlatSpan = 1e-12;

constexpr MetaLearnerType kLearners[] = {MetaLearnerType::kSLearner, MetaLearnerType::kTLearner,
                                         MetaLearnerType::kXLearner, MetaLearnerType::kDRLearner,
                                         MetaLearnerType::kClassTransformation};

double Sigmoid(double z) { return z >= 0 ? 1.0 / (1.0 + std::exp(-z)) : std::exp(z) / (1.0 + std::exp(z)); }

bool KnownLearner(MetaLearnerType learner) {
  for (MetaLearnerType known : kLearners) {
    if (known == learner) return true;
  }
  return false;
}

std::int32_t ExpectedParts(const MetaLearnerSpec& spec) {
  const std::int32_t offers = spec.num_arms - 1;
  switch (spec.learner) {
    case MetaLearnerType::kSLearner: return 1;
    case MetaLearnerType::kTLearner: return spec.num_arms;
    case MetaLearnerType::kXLearner: return 2 * offers;
    case MetaLearnerType::kDRLearner:
    case MetaLearnerType::kClassTransformation: return offers;
  }
  return 0;
}

// What part k is, for error messages.
std::string RoleOf(const MetaLearnerSpec& spec, std::int32_t k) {
  const std::string part = absl::StrCat(MetaLearner::KindOf(spec.learner), " part ", k);
  switch (spec.learner) {
    case MetaLearnerType::kSLearner: return absl::StrCat(part, " (the response model of the design)");
    case MetaLearnerType::kTLearner: return absl::StrCat(part, " (the response model of arm ", k, ")");
    case MetaLearnerType::kXLearner:
      return absl::StrCat(part, " (offer ", k / 2 + 1, "'s effect regressor on ", k % 2 == 0 ? "control" : "treated",
                          " rows)");
    case MetaLearnerType::kDRLearner: return absl::StrCat(part, " (offer ", k + 1, "'s effect regressor)");
    case MetaLearnerType::kClassTransformation:
      return absl::StrCat(part, " (offer ", k + 1, "'s transformed-class classifier)");
  }
  return part;
}

Scorer::Output ExpectedOutput(const MetaLearnerSpec& spec) {
  switch (spec.learner) {
    case MetaLearnerType::kSLearner:
    case MetaLearnerType::kTLearner:
      return spec.binary_outcome ? Scorer::Output::kProbability : Scorer::Output::kPrediction;
    case MetaLearnerType::kXLearner:
    case MetaLearnerType::kDRLearner: return Scorer::Output::kPrediction;
    case MetaLearnerType::kClassTransformation: return Scorer::Output::kProbability;
  }
  return Scorer::Output::kPrediction;
}

const char* OutputName(Scorer::Output output) {
  return output == Scorer::Output::kProbability ? "a probability (a classifier)" : "a prediction (a regressor)";
}

// Raw-score contributions (rows x (cols + 1)) onto the output's scale, in place; see the header.
absl::Status ToOutputScale(Scorer::Link link, absl::Span<const double> score, RowMatrix& c, std::string_view role) {
  if (link == Scorer::Link::kIdentity) return absl::OkStatus();
  if (link == Scorer::Link::kNone) {
    return absl::FailedPreconditionError(absl::StrCat(
        internal::Sv(role), "'s score is not a function of its contributions (a calibrated classifier?): its reasons "
                            "cannot be put on the effect's scale"));
  }
  const Eigen::Index cols = c.cols() - 1;
  for (Eigen::Index i = 0; i < c.rows(); ++i) {
    const double s = score[static_cast<std::size_t>(i)];
    const double base = c(i, cols);
    const double span = c.row(i).head(cols).sum();
    const double at_base = link == Scorer::Link::kExp ? std::exp(base) : Sigmoid(base);
    const double slope = std::abs(span) > kFlatSpan          ? (s - at_base) / span
                         : link == Scorer::Link::kExp ? at_base
                                                      : at_base * (1 - at_base);
    c.row(i).head(cols) *= slope;
    c(i, cols) = at_base;
  }
  return absl::OkStatus();
}

absl::Status Corrupt(const absl::Status& status) {
  if (IsModelFormatError(status)) return status;
  return MarkModelFormatError(absl::DataLossError(absl::StrCat("meta-learner model: ", status.message())));
}

}  // namespace

const char* MetaLearner::KindOf(MetaLearnerType learner) {
  switch (learner) {
    case MetaLearnerType::kSLearner: return kSLearnerKind;
    case MetaLearnerType::kTLearner: return kTLearnerKind;
    case MetaLearnerType::kXLearner: return kXLearnerKind;
    case MetaLearnerType::kDRLearner: return kDRLearnerKind;
    case MetaLearnerType::kClassTransformation: return kClassTransformationKind;
  }
  return "unknown meta-learner";
}

RowMatrix MetaLearner::Design(const Eigen::Ref<const RowMatrix>& X, std::int32_t arm, std::int32_t num_arms) {
  const Eigen::Index p = X.cols(), offers = num_arms - 1;
  RowMatrix design(X.rows(), p + offers + offers * p);
  design.leftCols(p) = X;
  for (Eigen::Index k = 0; k < offers; ++k) {
    const double indicator = arm == k + 1 ? 1.0 : 0.0;
    design.col(p + k).setConstant(indicator);
    // indicator * x, not a copy or zero: 0 * NaN stays NaN as in the design the part was fitted on.
    design.middleCols(p + offers + k * p, p).array() = indicator * X.array();
  }
  return design;
}

absl::StatusOr<MetaLearner> MetaLearner::Create(const MetaLearnerSpec& spec, std::vector<std::string> parts,
                                                FeatureSchema schema) {
  if (!KnownLearner(spec.learner)) return absl::InvalidArgumentError("unknown meta-learner type");
  std::vector<Part> loaded;
  loaded.reserve(parts.size());
  for (std::size_t k = 0; k < parts.size(); ++k) {
    Part part;
    COMPTOIR_ASSIGN_OR_RETURN(part.model,
                              internal::LoadNestedScorer(parts[k], RoleOf(spec, static_cast<std::int32_t>(k))));
    part.bytes = std::move(parts[k]);
    loaded.push_back(std::move(part));
  }
  return Build(spec, std::move(loaded), std::move(schema));
}

absl::StatusOr<MetaLearner> MetaLearner::Build(const MetaLearnerSpec& spec, std::vector<Part> parts, FeatureSchema schema) {
  const char* kind = KindOf(spec.learner);
  if (!KnownLearner(spec.learner)) return absl::InvalidArgumentError("unknown meta-learner type");
  if (spec.num_arms < 2) return absl::InvalidArgumentError(absl::StrCat(kind, ": num_arms must be >= 2, got ", spec.num_arms));
  const std::int32_t offers = spec.num_arms - 1;
  if (spec.learner == MetaLearnerType::kClassTransformation && !spec.binary_outcome) {
    return absl::InvalidArgumentError("class_transformation takes a binary outcome only");
  }
  if (spec.learner == MetaLearnerType::kXLearner) {
    if (static_cast<std::int32_t>(spec.blend.size()) != offers) {
      return absl::InvalidArgumentError(absl::StrCat("x_learner: ", spec.blend.size(), " blend weights for ", offers, " offers"));
    }
    for (double g : spec.blend) {
      if (!(g >= 0 && g <= 1)) return absl::InvalidArgumentError(absl::StrCat("x_learner: blend weight ", g, " is not in [0, 1]"));
    }
  } else if (!spec.blend.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(kind, " takes no blend weights"));
  }
  const std::int32_t expected = ExpectedParts(spec);
  if (static_cast<std::int32_t>(parts.size()) != expected) {
    return absl::InvalidArgumentError(absl::StrCat(kind, " with ", spec.num_arms, " arms has ", expected, " parts, got ", parts.size()));
  }
  // The outer feature count, from the first part (the S-learner's design has p (1 + K) + K columns).
  std::int32_t p = parts[0].model->num_features();
  if (spec.learner == MetaLearnerType::kSLearner) {
    if ((p - offers) % (offers + 1) != 0 || p - offers < offers + 1) {
      return absl::InvalidArgumentError(absl::StrCat(RoleOf(spec, 0), " takes ", p, " columns, which is no design of ", offers,
                                                     " offers (p features + K indicators + K p interactions)"));
    }
    p = (p - offers) / (offers + 1);
  }
  const std::int32_t part_features = spec.learner == MetaLearnerType::kSLearner ? p + offers + offers * p : p;
  for (std::size_t k = 0; k < parts.size(); ++k) {
    const Scorer& model = *parts[k].model;
    const std::string role = RoleOf(spec, static_cast<std::int32_t>(k));
    if (model.output() != ExpectedOutput(spec)) {
      return absl::InvalidArgumentError(absl::StrCat(role, " gives ", OutputName(model.output()), "; ", kind, " with a ",
                                                     spec.binary_outcome ? "binary" : "continuous", " outcome needs ",
                                                     OutputName(ExpectedOutput(spec))));
    }
    if (model.num_features() != part_features) {
      return absl::InvalidArgumentError(
          absl::StrCat(role, " takes ", model.num_features(), " features, the learner's parts ", part_features));
    }
  }
  if (schema.feature_names.empty()) {
    for (std::int32_t j = 0; j < p; ++j) schema.feature_names.push_back(absl::StrCat("x", j));
  }
  if (schema.arm_names.empty()) {
    schema.arm_names.type = TypedValues::Type::kString;
    schema.arm_names.values.push_back("control");
    for (std::int32_t k = 1; k <= offers; ++k) schema.arm_names.values.push_back(absl::StrCat("offer ", k));
  }
  if (schema.arm_names.size() != spec.num_arms) {
    return absl::InvalidArgumentError(absl::StrCat(schema.arm_names.size(), " arm names for ", spec.num_arms, " arms"));
  }
  COMPTOIR_RETURN_IF_ERROR(schema.Validate(p));

  MetaLearner learner;
  learner.spec_ = spec;
  learner.num_features_ = p;
  learner.parts_ = std::move(parts);
  learner.schema_ = std::move(schema);
  learner.plans_.resize(static_cast<std::size_t>(offers));
  for (std::int32_t k = 1; k <= offers; ++k) {
    OfferPlan& plan = learner.plans_[static_cast<std::size_t>(k - 1)];
    switch (spec.learner) {
      case MetaLearnerType::kSLearner: plan.terms = {{0, k, 1.0}, {0, 0, -1.0}}; break;
      case MetaLearnerType::kTLearner: plan.terms = {{k, -1, 1.0}, {0, -1, -1.0}}; break;
      case MetaLearnerType::kXLearner: {
        const double g = spec.blend[static_cast<std::size_t>(k - 1)];
        plan.terms = {{2 * (k - 1), -1, g}, {2 * (k - 1) + 1, -1, 1 - g}};
        break;
      }
      case MetaLearnerType::kDRLearner: plan.terms = {{k - 1, -1, 1.0}}; break;
      case MetaLearnerType::kClassTransformation:
        plan.terms = {{k - 1, -1, 2.0}};
        plan.constant = -1.0;
        break;
    }
  }
  return learner;
}

absl::Status MetaLearner::CheckInput(const Eigen::Ref<const RowMatrix>& X) const {
  if (X.cols() != num_features_) {
    return absl::InvalidArgumentError(
        absl::StrCat("X has ", X.cols(), " features, the ", KindOf(spec_.learner), " was fitted on ", num_features_));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<double>> MetaLearner::PartScore(const Term& term, const Eigen::Ref<const RowMatrix>& X,
                                                           const ExecutionOptions& options) const {
  const Scorer& model = part(term.part);
  if (term.design_arm < 0) return model.Score(X, options);
  return model.Score(Design(X, term.design_arm, spec_.num_arms), options);
}

absl::StatusOr<RowMatrix> MetaLearner::PartContributions(const Term& term, const Eigen::Ref<const RowMatrix>& X,
                                                         const ExecutionOptions& options) const {
  const Scorer& model = part(term.part);
  const std::string role = RoleOf(spec_, term.part);
  RowMatrix design;
  if (term.design_arm >= 0) design = Design(X, term.design_arm, spec_.num_arms);
  const Eigen::Ref<const RowMatrix> input = term.design_arm >= 0 ? Eigen::Ref<const RowMatrix>(design) : X;
  COMPTOIR_ASSIGN_OR_RETURN(RowMatrix c, model.Contributions(input, options));
  COMPTOIR_ASSIGN_OR_RETURN(const std::vector<double> score, model.Score(input, options));
  if (c.rows() != X.rows() || c.cols() != input.cols() + 1 || static_cast<Eigen::Index>(score.size()) != X.rows()) {
    return absl::InternalError(absl::StrCat(role, " answered ", c.rows(), " x ", c.cols(), " contributions for ", X.rows(),
                                            " rows of ", input.cols(), " features"));
  }
  COMPTOIR_RETURN_IF_ERROR(ToOutputScale(model.link(), score, c, role));
  if (term.design_arm < 0) return c;
  // Design columns back onto the features they are built from; the indicators onto the base.
  const Eigen::Index p = num_features_, offers = spec_.num_arms - 1;
  RowMatrix out(X.rows(), p + 1);
  out.leftCols(p) = c.leftCols(p);
  for (Eigen::Index k = 0; k < offers; ++k) out.leftCols(p) += c.middleCols(p + offers + k * p, p);
  out.col(p) = c.col(c.cols() - 1) + c.middleCols(p, offers).rowwise().sum();
  return out;
}

absl::StatusOr<RowMatrix> MetaLearner::Effect(const Eigen::Ref<const RowMatrix>& X, const ExecutionOptions& options) const {
  COMPTOIR_RETURN_IF_ERROR(options.Validate());
  COMPTOIR_RETURN_IF_ERROR(CheckInput(X));
  // Each (part, design) is scored once: the T-learner's control model serves every offer.
  struct Scored {
    std::int32_t part, design_arm;
    std::vector<double> score;
  };
  std::vector<Scored> scored;
  RowMatrix out(X.rows(), num_offers());
  for (std::size_t k = 0; k < plans_.size(); ++k) {
    const OfferPlan& plan = plans_[k];
    for (std::size_t t = 0; t < plan.terms.size(); ++t) {
      const Term& term = plan.terms[t];
      const std::vector<double>* score = nullptr;
      for (const Scored& s : scored) {
        if (s.part == term.part && s.design_arm == term.design_arm) score = &s.score;
      }
      if (score == nullptr) {
        COMPTOIR_ASSIGN_OR_RETURN(std::vector<double> values, PartScore(term, X, options));
        scored.push_back({term.part, term.design_arm, std::move(values)});
        score = &scored.back().score;
      }
      const auto column = static_cast<Eigen::Index>(k);
      // The Python learners' arithmetic: w0 s0 + w1 s1 (+ constant), left to right.
      for (Eigen::Index i = 0; i < X.rows(); ++i) {
        const double value = term.weight * (*score)[static_cast<std::size_t>(i)];
        out(i, column) = t == 0 ? value : out(i, column) + value;
      }
    }
    if (plan.constant != 0) out.col(static_cast<Eigen::Index>(k)).array() += plan.constant;
  }
  return out;
}

absl::StatusOr<RowMatrix> MetaLearner::Contributions(const Eigen::Ref<const RowMatrix>& X, std::int32_t offer,
                                                     const ExecutionOptions& options) const {
  COMPTOIR_RETURN_IF_ERROR(options.Validate());
  COMPTOIR_RETURN_IF_ERROR(CheckInput(X));
  if (offer < 1 || offer > num_offers()) {
    return absl::InvalidArgumentError(absl::StrCat("offer must be in 1..", num_offers(), ", got ", offer));
  }
  const OfferPlan& plan = plans_[static_cast<std::size_t>(offer - 1)];
  RowMatrix out;
  for (std::size_t t = 0; t < plan.terms.size(); ++t) {
    const Term& term = plan.terms[t];
    COMPTOIR_ASSIGN_OR_RETURN(const RowMatrix c, PartContributions(term, X, options));
    if (t == 0) {
      out = term.weight * c.array();
    } else {
      out.array() += term.weight * c.array();
    }
  }
  if (plan.constant != 0) out.col(out.cols() - 1).array() += plan.constant;
  return out;
}

absl::StatusOr<RowMatrix> MetaLearner::ArmOutcomes(const Eigen::Ref<const RowMatrix>& X, const ExecutionOptions& options) const {
  if (spec_.learner != MetaLearnerType::kTLearner && spec_.learner != MetaLearnerType::kSLearner) {
    return absl::FailedPreconditionError(
        absl::StrCat("a ", KindOf(spec_.learner), " models effects, not the outcome under each arm"));
  }
  COMPTOIR_RETURN_IF_ERROR(options.Validate());
  COMPTOIR_RETURN_IF_ERROR(CheckInput(X));
  RowMatrix out(X.rows(), spec_.num_arms);
  for (std::int32_t a = 0; a < spec_.num_arms; ++a) {
    const Term term = spec_.learner == MetaLearnerType::kTLearner ? Term{a, -1, 1.0} : Term{0, a, 1.0};
    COMPTOIR_ASSIGN_OR_RETURN(const std::vector<double> score, PartScore(term, X, options));
    out.col(a) = Eigen::Map<const Eigen::VectorXd>(score.data(), static_cast<Eigen::Index>(score.size()));
  }
  return out;
}

absl::Status MetaLearner::set_schema(FeatureSchema schema) {
  COMPTOIR_RETURN_IF_ERROR(schema.Validate(num_features_));
  if (schema.arm_names.size() != spec_.num_arms) {
    return absl::InvalidArgumentError(absl::StrCat(schema.arm_names.size(), " arm names for ", spec_.num_arms, " arms"));
  }
  schema_ = std::move(schema);
  return absl::OkStatus();
}

absl::Status MetaLearner::set_training_profile(features::FeatureProfile profile) {
  if (profile.num_features() != num_features_) {
    return absl::InvalidArgumentError(
        absl::StrCat("a training profile of ", profile.num_features(), " features for ", num_features_));
  }
  training_profile_ = std::move(profile);
  return absl::OkStatus();
}

absl::StatusOr<io::ModelFile> MetaLearner::ToModelFile() const {
  io::ModelFile file(KindOf(spec_.learner));
  v1::MetaLearnerConfig c;
  c.set_learner(static_cast<v1::MetaLearnerType>(spec_.learner));
  c.set_binary_outcome(spec_.binary_outcome);
  c.set_num_arms(spec_.num_arms);
  c.mutable_blend()->Add(spec_.blend.begin(), spec_.blend.end());
  c.set_num_features(num_features_);
  c.set_num_parts(num_parts());
  file.set_config(c.SerializeAsString());
  for (std::int32_t k = 0; k < num_parts(); ++k) {
    COMPTOIR_RETURN_IF_ERROR(file.AddBlob(absl::StrCat("part_", k), part_bytes(k)));
  }
  COMPTOIR_RETURN_IF_ERROR(schema_.AppendTo(file));
  COMPTOIR_RETURN_IF_ERROR(training_profile_.AddTo(file));
  return file;
}

absl::StatusOr<MetaLearner> MetaLearner::FromModelFile(const io::ModelFile& file) {
  MetaLearnerSpec spec;
  bool known = false;
  for (MetaLearnerType learner : kLearners) {
    if (file.model_kind() == KindOf(learner)) spec.learner = learner, known = true;
  }
  if (!known) {
    return MarkModelFormatError(absl::FailedPreconditionError(
        absl::StrCat("model file holds a '", file.model_kind(), "' model, not a meta-learner")));
  }
  const char* kind = KindOf(spec.learner);
  v1::MetaLearnerConfig c;
  if (!c.ParseFromString(file.config())) return Corrupt(absl::DataLossError("the config does not parse"));
  if (static_cast<std::int32_t>(c.learner()) != static_cast<std::int32_t>(spec.learner)) {
    return Corrupt(absl::DataLossError(absl::StrCat("a '", kind, "' file whose config names learner ", c.learner())));
  }
  spec.binary_outcome = c.binary_outcome();
  spec.num_arms = c.num_arms();
  spec.blend.assign(c.blend().begin(), c.blend().end());
  if (spec.num_arms < 2 || spec.num_arms > 1 << 16 || c.num_parts() != ExpectedParts(spec)) {
    return Corrupt(absl::DataLossError(absl::StrCat("a ", kind, " of ", spec.num_arms, " arms and ", c.num_parts(), " parts")));
  }
  std::vector<Part> parts;
  for (std::int32_t k = 0; k < c.num_parts(); ++k) {
    COMPTOIR_ASSIGN_OR_RETURN(const std::string_view bytes, file.Blob(absl::StrCat("part_", k)));
    Part part;
    absl::StatusOr<std::unique_ptr<Scorer>> model = internal::LoadNestedScorer(bytes, RoleOf(spec, k));
    if (!model.ok()) return Corrupt(model.status());
    part.model = *std::move(model);
    part.bytes = std::string(bytes);
    parts.push_back(std::move(part));
  }
  absl::StatusOr<FeatureSchema> schema = FeatureSchema::ReadFrom(file, c.num_features());
  if (!schema.ok()) return Corrupt(schema.status());
  absl::StatusOr<MetaLearner> learner = Build(spec, std::move(parts), *std::move(schema));
  if (!learner.ok()) return Corrupt(learner.status());
  if (learner->num_features_ != c.num_features()) {
    return Corrupt(absl::DataLossError(absl::StrCat("the config says ", c.num_features(), " features, the parts take ",
                                                    learner->num_features_)));
  }
  absl::StatusOr<features::FeatureProfile> profile = features::FeatureProfile::FromModelFile(file, c.num_features());
  if (!profile.ok()) return Corrupt(profile.status());
  learner->training_profile_ = *std::move(profile);
  return learner;
}

}  // namespace comptoir::uplift
