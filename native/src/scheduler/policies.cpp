// The three scheduling policies (rules in scheduler.h, next to the Policy enum).
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "policy.h"

namespace infeng::sched {

Policy policy_from_name(std::string_view name) {
  if (name == "fcfs_lru") return Policy::FcfsLru;
  if (name == "affinity_prefetch") return Policy::AffinityPrefetch;
  if (name == "cost_aware") return Policy::CostAware;
  throw std::invalid_argument("scheduler option policy: unknown policy '" + std::string(name) +
                              "' (fcfs_lru, affinity_prefetch, cost_aware)");
}

const char* policy_name(Policy p) {
  switch (p) {
    case Policy::FcfsLru: return "fcfs_lru";
    case Policy::AffinityPrefetch: return "affinity_prefetch";
    case Policy::CostAware: return "cost_aware";
  }
  return "?";
}

namespace detail {
namespace {

bool lru_before(const AdapterSlot& a, int ia, const AdapterSlot& b, int ib) {
  if (a.last_use != b.last_use) return a.last_use < b.last_use;
  return ia < ib;
}

// Starving requests first, in submission order; the rest keep the queue's order.
void starving_first(const std::vector<QueuedView>& q, std::vector<int>& out) {
  out.clear();
  for (int i = 0; i < static_cast<int>(q.size()); ++i)
    if (q[i].starving) out.push_back(i);
  for (int i = 0; i < static_cast<int>(q.size()); ++i)
    if (!q[i].starving) out.push_back(i);
}

class FcfsLru final : public PolicyRules {
 public:
  void order(const std::vector<QueuedView>& q, std::vector<int>& out) const override {
    out.resize(q.size());
    for (int i = 0; i < static_cast<int>(q.size()); ++i) out[i] = i;
  }
  bool has_starvation_bound() const override { return false; }
  bool admits_unloaded(const QueuedView&) const override { return true; }
  bool prefetches() const override { return false; }
  bool evict_before(const AdapterSlot& a, int ia, const AdapterSlot& b, int ib,
                    std::int64_t) const override {
    return lru_before(a, ia, b, ib);
  }
  void on_admit(AdapterSlot&, std::int64_t) const override {}
};

class AffinityPrefetch final : public PolicyRules {
 public:
  void order(const std::vector<QueuedView>& q, std::vector<int>& out) const override {
    starving_first(q, out);
  }
  bool has_starvation_bound() const override { return true; }
  // Affinity: only a starving request may make the step wait for a load; any other joins
  // when its adapters are resident (or already in the step), which prefetch arranges.
  bool admits_unloaded(const QueuedView& q) const override { return q.starving; }
  bool prefetches() const override { return true; }
  bool evict_before(const AdapterSlot& a, int ia, const AdapterSlot& b, int ib,
                    std::int64_t) const override {
    return lru_before(a, ia, b, ib);
  }
  void on_admit(AdapterSlot&, std::int64_t) const override {}
};

class CostAware final : public PolicyRules {
 public:
  explicit CostAware(double decay) : decay_(decay) {}
  void order(const std::vector<QueuedView>& q, std::vector<int>& out) const override {
    starving_first(q, out);
    const auto first_fresh = std::find_if(out.begin(), out.end(), [&](int i) { return !q[i].starving; });
    std::stable_sort(first_fresh, out.end(), [&](int a, int b) {
      return q[a].size_tokens < q[b].size_tokens;
    });
  }
  bool has_starvation_bound() const override { return true; }
  // Unpack always overlaps decode: nobody joins before its adapters are in.
  bool admits_unloaded(const QueuedView&) const override { return false; }
  bool prefetches() const override { return true; }
  // Keep what is used often and costly to bring back. Capacity counts adapters, so every
  // adapter takes one slot and the size term of frequency × cost / size is 1.
  bool evict_before(const AdapterSlot& a, int ia, const AdapterSlot& b, int ib,
                    std::int64_t step) const override {
    const double sa = aged(a, step) * a.reload_cost_s;
    const double sb = aged(b, step) * b.reload_cost_s;
    if (sa != sb) return sa < sb;
    return lru_before(a, ia, b, ib);
  }
  void on_admit(AdapterSlot& a, std::int64_t step) const override {
    a.freq = aged(a, step) + 1.0;
    a.freq_step = step;
  }

 private:
  double aged(const AdapterSlot& a, std::int64_t step) const {
    const auto age = static_cast<double>(std::max<std::int64_t>(0, step - a.freq_step));
    return a.freq * std::pow(decay_, age);
  }
  double decay_;
};

}  // namespace

std::unique_ptr<PolicyRules> make_policy(const SchedulerConfig& c) {
  switch (c.policy) {
    case Policy::FcfsLru: return std::make_unique<FcfsLru>();
    case Policy::AffinityPrefetch: return std::make_unique<AffinityPrefetch>();
    case Policy::CostAware: return std::make_unique<CostAware>(c.frequency_decay);
  }
  throw std::invalid_argument("scheduler option policy: unknown value");
}

}  // namespace detail
}  // namespace infeng::sched
