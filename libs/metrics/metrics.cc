#include "parley/metrics/metrics.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace parley::metrics {
namespace {

std::string RenderLabels(const Labels& labels, const std::string& extra_name = "",
                         const std::string& extra_value = "") {
  Labels all = labels;
  if (!extra_name.empty()) all[extra_name] = extra_value;
  if (all.empty()) return "";
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : all) {
    std::string escaped = absl::StrReplaceAll(v, {{"\\", "\\\\"}, {"\"", "\\\""}, {"\n", "\\n"}});
    absl::StrAppend(&out, first ? "" : ",", k, "=\"", escaped, "\"");
    first = false;
  }
  return out + "}";
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i] = 0;
}

void Histogram::Observe(double seconds) {
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), seconds) - bounds_.begin();
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<uint64_t>(std::max(0.0, seconds) * 1e6),
                        std::memory_order_relaxed);
}

uint64_t Histogram::CumulativeCount(size_t i) const {
  uint64_t total = 0;
  for (size_t b = 0; b <= i && b <= bounds_.size(); ++b) total += buckets_[b].load();
  return total;
}

double Histogram::sum() const { return static_cast<double>(sum_micros_.load()) / 1e6; }

Registry& Registry::Default() {
  static Registry* registry = new Registry();
  return *registry;
}

Registry::Family& Registry::GetFamily(const std::string& name, const std::string& type,
                                      const std::string& help) {
  Family& family = families_[name];
  if (family.type.empty()) {
    family.type = type;
    family.help = help;
  }
  return family;
}

Counter& Registry::GetCounter(const std::string& name, const std::string& help,
                              const Labels& labels) {
  absl::MutexLock lock(&mu_);
  auto& slot = GetFamily(name, "counter", help).counters[labels];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Gauge& Registry::GetGauge(const std::string& name, const std::string& help, const Labels& labels) {
  absl::MutexLock lock(&mu_);
  auto& slot = GetFamily(name, "gauge", help).gauges[labels];
  if (!slot) slot = std::make_unique<Gauge>();
  return *slot;
}

Histogram& Registry::GetHistogram(const std::string& name, const std::string& help,
                                  const Labels& labels) {
  absl::MutexLock lock(&mu_);
  auto& slot = GetFamily(name, "histogram", help).histograms[labels];
  if (!slot) {
    slot = std::make_unique<Histogram>(
        std::vector<double>{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
                            5, 10});
  }
  return *slot;
}

std::string Registry::Render() const {
  absl::MutexLock lock(&mu_);
  std::string out;
  for (const auto& [name, family] : families_) {
    absl::StrAppend(&out, "# HELP ", name, " ", family.help, "\n# TYPE ", name, " ", family.type,
                    "\n");
    for (const auto& [labels, c] : family.counters) {
      absl::StrAppend(&out, name, RenderLabels(labels), " ", c->value(), "\n");
    }
    for (const auto& [labels, g] : family.gauges) {
      absl::StrAppend(&out, name, RenderLabels(labels), " ", g->value(), "\n");
    }
    for (const auto& [labels, h] : family.histograms) {
      const auto& bounds = h->bounds();
      for (size_t i = 0; i < bounds.size(); ++i) {
        absl::StrAppend(&out, name, "_bucket", RenderLabels(labels, "le", absl::StrCat(bounds[i])),
                        " ", h->CumulativeCount(i), "\n");
      }
      uint64_t total = h->CumulativeCount(bounds.size());
      absl::StrAppend(&out, name, "_bucket", RenderLabels(labels, "le", "+Inf"), " ", total, "\n");
      absl::StrAppend(&out, name, "_sum", RenderLabels(labels), " ", h->sum(), "\n");
      absl::StrAppend(&out, name, "_count", RenderLabels(labels), " ", total, "\n");
    }
  }
  return out;
}

}  // namespace parley::metrics
